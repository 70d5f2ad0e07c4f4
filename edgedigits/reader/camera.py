"""The camera loop: frames from a source through the one frame pipeline, smoothed over time, out as JSON
lines, an MJPEG preview, a recording or a window; reconnects when a live camera drops."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from edgedigits.console import err
from edgedigits.errors import EdgeDigitsError
from edgedigits.reader.gate import REFRESH, GatedReader
from edgedigits.reader.outputs.debug import RecentFrames
from edgedigits.reader.outputs.live import LiveServer
from edgedigits.reader.outputs.mqtt import MqttOptions, MqttPublisher
from edgedigits.reader.outputs.preview import annotate
from edgedigits.reader.pipeline import FrameReading, TimedClassifier, read_frame
from edgedigits.reader.smoothing import Smoother
from edgedigits.reader.sources import open_source
from edgedigits.reader.vision import group_numbers
from edgedigits.reader.vision import reading as reading_text
from edgedigits.reader.vision.results import Trace
from edgedigits.runtime import store

MAX_BACKOFF = 10.0  # seconds between reconnection attempts, at most
FIRST_BACKOFF = 0.5
RECORD_FPS = 10.0  # a recording's frame rate when the source does not say


@dataclass
class CameraOptions:
    source: str
    json_lines: bool = False
    show: bool = False
    serve: str | None = None  # [HOST:]PORT
    token: str | None = None  # the preview's access token (one is generated when it binds beyond loopback)
    record: str | None = None
    roi: tuple | None = None
    max_fps: float | None = None
    max_frames: int | None = None
    smooth: int = 5
    min_confidence: float = 0.0
    page: str = "auto"  # find the sheets of paper in each frame ("off": read it whole)
    mqtt: MqttOptions | None = None  # publish changed readings (and Home Assistant discovery) to a broker
    debug: Path | None = None  # the stage pictures of the latest ``debug_frames`` frames go here
    debug_frames: int = 20
    gate: bool = True  # read again only what changed (``reader.gate``)
    refresh: float = REFRESH  # seconds: read the whole frame at least this often


class _Outputs:
    """Where each frame's reading goes: JSON lines, the live page, a recording and a window."""

    def __init__(self, options: CameraOptions, out, log, fps: float | None, model: str, collector=None):
        self.options, self.out, self.fps = options, out, fps
        self.last = None  # (frame, its detections): what "this reading is wrong" collects
        info = {"model": model, "source": options.source, "model_warning": store.fallback}
        self.server = None
        if options.serve:
            review, flag = None, None
            if collector:
                from edgedigits.crops.review import Review

                review, flag = Review(collector.root), lambda: self._flag(collector)
            self.server = LiveServer(options.serve, options.token, info, review, flag)
        if self.server:
            log.print(f"live page on {self.server.url}", markup=False, highlight=False)
        self.mqtt = MqttPublisher(options.mqtt, model, log) if options.mqtt else None
        self.writer = None

    def emit(self, frame, reading: FrameReading, ms: dict, index: int, fps: float | None, stop,
             reread: str = "full") -> None:
        line = {"frame": index, "timestamp": round(time.time(), 3),
                "digits": [d.to_json() for d in reading.detections], "numbers": [n.to_json() for n in reading.numbers],
                "fps": fps, "ms": ms, "reread": reread}
        if self.options.json_lines:
            self.out.write(json.dumps(line) + "\n")
            self.out.flush()
        if self.mqtt:
            self.mqtt.publish(line)
        if not (self.server or self.options.record or self.options.show):
            return
        view = annotate(frame, reading.detections, reading.numbers)
        if self.server:
            self.server.publish(view, line)
        if self.options.record:
            self._record(view)
        if self.options.show:
            _show(view, stop)

    def _flag(self, collector) -> int:
        last = self.last
        return collector.add(last[0], last[1], f"camera:{self.options.source}", every=True) if last else 0

    def model(self, name: str) -> None:
        """A model was loaded in place of the last one (SIGHUP)."""
        if self.server:
            self.server.info.update(model=name, model_warning=store.fallback)

    def _record(self, view) -> None:
        import cv2

        if self.writer is None:
            self.writer = cv2.VideoWriter(self.options.record, cv2.VideoWriter_fourcc(*"mp4v"), self.fps or RECORD_FPS,
                                          (view.shape[1], view.shape[0]))
            if not self.writer.isOpened():
                raise EdgeDigitsError(f"cannot write video {self.options.record}")
        self.writer.write(view)

    def state(self, state: str) -> None:
        if self.server:
            self.server.set_state(state)

    def close(self) -> None:
        if self.mqtt:
            self.mqtt.close()
        if self.writer is not None:
            self.writer.release()
        if self.server:
            self.server.close()
        self.out.flush()


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event, reload: threading.Event):
    """SIGINT and SIGTERM end the loop cleanly, SIGHUP asks for the model in use to be loaded again (in the main
    thread; elsewhere signals cannot be caught)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {s: signal.getsignal(s) for s in wanted}
    for sig in previous:
        signal.signal(sig, lambda number, _: (reload if number == getattr(signal, "SIGHUP", None) else stop).set())
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _reconnect(source, backoff: float, stop, log) -> float:
    """Wait ``backoff`` seconds, reopen a dropped live source; returns the next wait."""
    log.print(f"[yellow]camera dropped; reconnecting in {backoff:.1f} s[/]")
    stop.wait(backoff)
    try:
        source.reopen()
    except EdgeDigitsError as exc:
        log.print(f"[yellow]{exc}[/]")
    return min(backoff * 2, MAX_BACKOFF)


class _Reader:
    """A frame in, its reading out: through the motion gate unless it is off, smoothed over time; each frame
    actually read also goes to the debug pictures and the collector."""

    def __init__(self, options: CameraOptions, classifier, collector=None, debug=None):
        self.options, self.collector, self.debug = options, collector, debug
        self.timed, self.smoother = TimedClassifier(classifier), Smoother(window=options.smooth)
        self.gate = GatedReader(self._read, options.refresh, settle=self.smoother.update) if options.gate else None
        self.index, self.last = 0, None  # the frame's number; (the last frame read, its digits and rejects)

    def __call__(self, frame, index: int) -> tuple[FrameReading, str]:
        self.index = index
        if self.gate is not None:
            return self.gate(frame)
        reading = self._read(frame, None)
        detections = self.smoother.update(reading.detections)
        return FrameReading(detections, group_numbers(detections), reading.ms), "full"

    def _read(self, frame, band) -> FrameReading:
        roi = _within(self.options.roi, band)
        if roi is None:
            return FrameReading([], [], {"preprocess": 0.0, "infer": 0.0})
        trace = Trace(frame) if self.debug else None
        rejected = [] if self.collector else None
        reading = read_frame(frame, self.timed, roi or None, self.options.min_confidence, page=self.options.page,
                             trace=trace, rejected=rejected)
        if self.debug:
            self.debug.write(self.index, trace, reading.detections, reading_text(reading.numbers))
        if self.collector:
            self.collector.add(frame, reading.detections + rejected, f"camera:{self.options.source}")
            self.last = (frame, reading.detections + rejected)
        return reading


def _within(roi, band):
    """Where to read: the user's ``roi`` within the gate's ``band`` (either may be None: no bound); () for the
    whole frame, None when they do not meet."""
    if roi is None or band is None:
        return roi or band or ()
    x0, y0 = max(roi[0], band[0]), max(roi[1], band[1])
    x1, y1 = min(roi[0] + roi[2], band[0] + band[2]), min(roi[1] + roi[3], band[1] + band[3])
    return (x0, y0, x1 - x0, y1 - y0) if x1 > x0 and y1 > y0 else None


def _name(classifier) -> str | None:
    return getattr(classifier, "path", None) and classifier.path.name


def _reload(load, reader: _Reader, outputs: _Outputs, log) -> None:
    """SIGHUP: the model in use loaded again (``edgedigits models use`` may have changed it); on failure the
    running one stays."""
    try:
        classifier = load()
    except EdgeDigitsError as exc:
        log.print(f"[yellow]model not reloaded: {exc}[/]")
        return
    log.print(f"model reloaded: {_name(classifier)}", markup=False, highlight=False)
    outputs.model(_name(classifier))
    reader.timed = TimedClassifier(classifier)
    if reader.gate is not None:
        reader.gate.read_at = float("-inf")  # the next frame is read whole, by the new model


def run(options: CameraOptions, classifier, out=sys.stdout, log=None, collector=None, load=None) -> dict:
    """Read frames until the source ends, ``max_frames`` or a signal; returns the summary. A ``collector``
    (``crops.collect``) keeps the digits the model was unsure of; ``load()`` gives the model in use again, on
    SIGHUP."""
    log = log or err
    source = open_source(options.source)
    debug = RecentFrames(options.debug, options.debug_frames) if options.debug else None
    reader = _Reader(options, classifier, collector, debug)
    stop, reload = threading.Event(), threading.Event()
    frames, digits_total, started, backoff = 0, 0, time.perf_counter(), FIRST_BACKOFF
    outputs = None
    try:
        outputs = _Outputs(options, out, log, source.fps, _name(classifier), collector)
        with _stop_on_signals(stop, reload):
            while not stop.is_set() and (options.max_frames is None or frames < options.max_frames):
                if reload.is_set():
                    reload.clear()
                    if load:
                        _reload(load, reader, outputs, log)
                t0 = time.perf_counter()
                frame = source.read()
                capture_ms = (time.perf_counter() - t0) * 1000
                if frame is None:
                    if not source.live and not frames:
                        raise EdgeDigitsError(f"no frame could be read from {options.source}")
                    if not source.live:
                        outputs.state("ended")
                        break
                    outputs.state("lost")
                    backoff = _reconnect(source, backoff, stop, log)
                    continue
                backoff = FIRST_BACKOFF
                cpu = time.process_time()
                reading, reread = reader(frame, frames)
                cpu_ms = (time.process_time() - cpu) * 1000
                outputs.last = reader.last
                frames += 1
                digits_total += len(reading.detections)
                ms = {"capture": round(capture_ms, 3), **(reading.ms if reread != "none" else {}),
                      "total": round((time.perf_counter() - t0) * 1000, 3), "cpu": round(cpu_ms, 3)}
                elapsed = time.perf_counter() - started
                outputs.emit(frame, reading, ms, frames - 1, round(frames / elapsed, 2) if elapsed > 0 else None, stop,
                             reread)
                if options.max_fps:
                    stop.wait(max(0.0, 1.0 / options.max_fps - (time.perf_counter() - t0)))
    finally:
        source.close()
        if outputs is not None:
            outputs.close()
    return _summary(frames, digits_total, time.perf_counter() - started, stop.is_set(), log)


def _summary(frames: int, digits: int, elapsed: float, by_signal: bool, log) -> dict:
    summary = {"frames": frames, "seconds": round(elapsed, 3),
               "mean_fps": round(frames / elapsed, 2) if elapsed > 0 and frames else 0.0,
               "digits_per_frame": round(digits / frames, 3) if frames else 0.0, "stopped_by_signal": by_signal}
    log.print(f"{frames} frames in {elapsed:.1f} s: {summary['mean_fps']} fps, "
              f"{summary['digits_per_frame']} digits per frame")
    return summary


def _show(view, stop):
    import cv2

    try:
        cv2.imshow("edgedigits", view)
        if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
            stop.set()
    except cv2.error:
        raise EdgeDigitsError("--show needs OpenCV with GUI support (pip install opencv-python, not -headless)") from None
