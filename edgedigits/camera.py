"""Frames in, digits out: camera sources, temporal smoothing, JSON lines, MJPEG preview and recording."""

from __future__ import annotations

import collections
import json
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgedigits.errors import EdgeDigitsError
from edgedigits.vision import Detection, find_digits, group_numbers, iou

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}


# ---------------------------------------------------------------- sources


class Source:
    live = False
    fps: float | None = None

    def read(self) -> np.ndarray | None:  # None: no frame (end of file, or the camera dropped)
        raise NotImplementedError

    def reopen(self) -> None:
        pass

    def close(self) -> None:
        pass


class FolderSource(Source):
    def __init__(self, paths: list[Path]):
        self.paths = iter(paths)

    def read(self):
        import cv2

        for path in self.paths:
            frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if frame is not None:
                return frame
        return None


class OpenCVSource(Source):
    def __init__(self, target, live: bool):
        self.target, self.live = target, live
        self.cap = None
        self.reopen()

    def reopen(self):
        import cv2

        self.close()
        if isinstance(self.target, int) or str(self.target).startswith("/dev/video"):
            self.cap = cv2.VideoCapture(self.target, cv2.CAP_V4L2)
        else:
            self.cap = cv2.VideoCapture(self.target)
        if not self.cap.isOpened():
            raise EdgeDigitsError(f"cannot open video source {self.target}")
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and fps > 0 else None

    def read(self):
        ok, frame = self.cap.read()
        return frame if ok else None

    def close(self):
        if self.cap is not None:
            self.cap.release()
            self.cap = None


class PicameraSource(Source):
    live = True

    def __init__(self, size=(640, 480)):
        try:
            from picamera2 import Picamera2
        except ImportError:
            raise EdgeDigitsError(
                "picamera2 is not available: on Raspberry Pi OS run 'sudo apt install python3-picamera2' and create "
                "the venv with --system-site-packages"
            ) from None
        self.size = size
        self._cls = Picamera2
        self.cam = None
        self.reopen()

    def reopen(self):
        self.close()
        try:
            self.cam = self._cls()
            self.cam.configure(self.cam.create_preview_configuration(main={"size": self.size, "format": "RGB888"}))
            self.cam.start()
        except Exception as exc:  # libcamera errors come in several types
            raise EdgeDigitsError(f"cannot start the Pi camera: {exc}") from None

    def read(self):
        try:
            return self.cam.capture_array()  # RGB888 in picamera2 is BGR byte order, as OpenCV expects
        except Exception:
            return None

    def close(self):
        if self.cam is not None:
            self.cam.close()
            self.cam = None


def open_source(spec: str) -> Source:
    """picam, a V4L2 index or /dev/videoN, a video file, an rtsp/http URL, an image folder or one image."""
    if spec == "picam":
        return PicameraSource()
    if spec.isdigit():
        return OpenCVSource(int(spec), live=True)
    if spec.startswith("/dev/video"):
        return OpenCVSource(spec, live=True)
    if "://" in spec:
        return OpenCVSource(spec, live=True)
    path = Path(spec)
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise EdgeDigitsError(f"{path} holds no images")
        return FolderSource(images)
    if not path.exists():
        raise EdgeDigitsError(f"no such camera, file or folder: {spec}")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return FolderSource([path])
    return OpenCVSource(str(path), live=False)


# ---------------------------------------------------------------- smoothing


@dataclass
class Track:
    box: tuple
    votes: collections.deque
    missed: int = 0
    ident: int = 0


@dataclass
class Smoother:
    """Track boxes across frames by IoU and vote over the last ``window`` labels, so labels do not flicker."""

    window: int = 5
    min_iou: float = 0.3
    max_missed: int = 3
    tracks: list = field(default_factory=list)
    _next: int = 1

    def update(self, detections: list[Detection]) -> list[Detection]:
        if self.window <= 1:
            return detections
        pairs = sorted(((iou(d.box, t.box), i, j) for i, d in enumerate(detections) for j, t in enumerate(self.tracks)),
                       reverse=True)
        matched_d, matched_t = {}, set()
        for overlap, i, j in pairs:
            if overlap < self.min_iou:
                break
            if i not in matched_d and j not in matched_t:
                matched_d[i] = j
                matched_t.add(j)
        for j, track in enumerate(self.tracks):
            if j not in matched_t:
                track.missed += 1
        for i, det in enumerate(detections):
            if i in matched_d:
                track = self.tracks[matched_d[i]]
                track.box, track.missed = det.box, 0
            else:
                track = Track(det.box, collections.deque(maxlen=self.window), ident=self._next)
                self._next += 1
                self.tracks.append(track)
            track.votes.append((det.label, det.confidence or 0.0))
            scores = collections.Counter()
            for label, conf in track.votes:
                scores[label] += conf
            label = scores.most_common(1)[0][0]
            votes = [conf for lab, conf in track.votes if lab == label]
            det.label, det.confidence = label, sum(votes) / len(votes)
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return detections


# ---------------------------------------------------------------- drawing, serving, recording


def annotate(frame: np.ndarray, detections, numbers) -> np.ndarray:
    import cv2

    out = frame.copy() if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    scale = max(0.5, out.shape[0] / 640)
    for det in detections:
        x, y, w, h = det.box
        cv2.rectangle(out, (x, y), (x + w, y + h), (0, 200, 0), max(1, int(2 * scale)))
        cv2.putText(out, str(det.label), (x, max(12, y - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.7 * scale, (0, 0, 255),
                    max(1, int(2 * scale)))
    for num in numbers:
        x, y, w, h = num.box
        cv2.rectangle(out, (x - 4, y - 4), (x + w + 4, y + h + 4), (255, 128, 0), 1)
        cv2.putText(out, num.text, (x, y + h + int(22 * scale)), cv2.FONT_HERSHEY_SIMPLEX, 0.8 * scale,
                    (255, 128, 0), max(1, int(2 * scale)))
    return out


class MjpegServer:
    """The latest annotated frame as an MJPEG stream on http://HOST:PORT/ (127.0.0.1 unless told otherwise)."""

    def __init__(self, address: str):
        import http.server

        host, _, port = address.rpartition(":")
        host = host or "127.0.0.1"
        if not port.isdigit():
            raise EdgeDigitsError(f"--serve needs HOST:PORT or PORT, got {address!r}")
        self.jpeg, self.count = b"", 0
        self.cond = threading.Condition()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                sent = -1
                try:
                    while True:
                        with server.cond:  # the latest frame at once, then each new one
                            server.cond.wait_for(lambda: server.count != sent, timeout=5)
                            if server.count == sent:
                                continue
                            jpeg, sent = server.jpeg, server.count
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                         + str(len(jpeg)).encode() + b"\r\n\r\n" + jpeg + b"\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    return

        try:
            self.httpd = http.server.ThreadingHTTPServer((host, int(port)), Handler)
        except OSError as exc:
            raise EdgeDigitsError(f"cannot serve on {host}:{port}: {exc.strerror}") from None
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def publish(self, frame: np.ndarray) -> None:
        import cv2

        ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
        if ok:
            with self.cond:
                self.jpeg, self.count = jpeg.tobytes(), self.count + 1
                self.cond.notify_all()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class TimedClassifier:
    """Wraps a classifier and adds up the time spent in inference."""

    def __init__(self, classifier):
        self.classifier, self.seconds = classifier, 0.0

    def predict(self, digits):
        start = time.perf_counter()
        try:
            return self.classifier.predict(digits)
        finally:
            self.seconds += time.perf_counter() - start


def process(frame: np.ndarray, classifier: TimedClassifier, roi=None, min_confidence: float = 0.0):
    """Digits of one frame with boxes in full-frame coordinates; returns (detections, ms per stage)."""
    start = time.perf_counter()
    classifier.seconds = 0.0
    view = frame
    if roi:
        x, y, w, h = roi
        view = frame[y : y + h, x : x + w]
    detections = [d for d in find_digits(view, classifier=classifier) if d.confidence >= min_confidence]
    if roi:
        for d in detections:
            d.box = (d.box[0] + roi[0], d.box[1] + roi[1], d.box[2], d.box[3])
    total = time.perf_counter() - start
    return detections, {"preprocess": round((total - classifier.seconds) * 1000, 3),
                        "infer": round(classifier.seconds * 1000, 3)}


@dataclass
class CameraOptions:
    source: str
    json_lines: bool = False
    show: bool = False
    serve: str | None = None
    record: str | None = None
    roi: tuple | None = None
    max_fps: float | None = None
    max_frames: int | None = None
    smooth: int = 5
    min_confidence: float = 0.0


def run(options: CameraOptions, classifier, out=sys.stdout, log=None) -> dict:
    """Read frames until the source ends or a signal arrives; returns the summary."""
    import cv2

    from edgedigits.console import err

    log = log or err
    source = open_source(options.source)
    timed = TimedClassifier(classifier)
    smoother = Smoother(window=options.smooth)
    server = MjpegServer(options.serve) if options.serve else None
    if server:
        log.print(f"preview on {server.url}")
    writer = None
    stop = threading.Event()
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    if threading.current_thread() is threading.main_thread():
        for sig in previous:
            signal.signal(sig, lambda *_: stop.set())
    frames, digits_total, started, backoff = 0, 0, time.perf_counter(), 0.5
    try:
        while not stop.is_set() and (options.max_frames is None or frames < options.max_frames):
            t0 = time.perf_counter()
            frame = source.read()
            capture_ms = (time.perf_counter() - t0) * 1000
            if frame is None:
                if not source.live:
                    break
                log.print(f"[yellow]camera dropped; reconnecting in {backoff:.1f} s[/]")
                stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                try:
                    source.reopen()
                except EdgeDigitsError as exc:
                    log.print(f"[yellow]{exc}[/]")
                continue
            backoff = 0.5
            detections, ms = process(frame, timed, options.roi, options.min_confidence)
            detections = smoother.update(detections)
            numbers = group_numbers(detections)
            frames += 1
            digits_total += len(detections)
            ms = {"capture": round(capture_ms, 3), **ms, "total": round((time.perf_counter() - t0) * 1000, 3)}
            elapsed = time.perf_counter() - started
            if options.json_lines:
                out.write(json.dumps({
                    "frame": frames - 1, "timestamp": round(time.time(), 3),
                    "digits": [d.to_json() for d in detections], "numbers": [n.to_json() for n in numbers],
                    "fps": round(frames / elapsed, 2) if elapsed > 0 else None, "ms": ms,
                }) + "\n")
                out.flush()
            if server or options.record or options.show:
                view = annotate(frame, detections, numbers)
                if server:
                    server.publish(view)
                if options.record:
                    if writer is None:
                        writer = cv2.VideoWriter(options.record, cv2.VideoWriter_fourcc(*"mp4v"), source.fps or 10.0,
                                                 (view.shape[1], view.shape[0]))
                        if not writer.isOpened():
                            raise EdgeDigitsError(f"cannot write video {options.record}")
                    writer.write(view)
                if options.show:
                    _show(view, stop)
            if options.max_fps:
                stop.wait(max(0.0, 1.0 / options.max_fps - (time.perf_counter() - t0)))
    finally:
        source.close()
        if writer is not None:
            writer.release()
        if server:
            server.close()
        if threading.current_thread() is threading.main_thread():
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        out.flush()
    elapsed = time.perf_counter() - started
    summary = {"frames": frames, "seconds": round(elapsed, 3),
               "mean_fps": round(frames / elapsed, 2) if elapsed > 0 and frames else 0.0,
               "digits_per_frame": round(digits_total / frames, 3) if frames else 0.0,
               "stopped_by_signal": stop.is_set()}
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
