"""``camera --serve``: a live page and its feeds over HTTP, fed by the camera loop without ever blocking it.

    /               the page (web/index.html beside this module): the view, the numbers, the last 50 readings, timing
    /stream.mjpg    the annotated frames as MJPEG          /frame.jpg    the latest annotated frame
    /api/latest     the latest reading (a --json line)     /api/status   model, source, state, history, and the
                                                                          motion gate's share of each kind of frame
    /api/events     Server-Sent Events: "reading" (one per changed reading), "frame" (timing, once a second),
                    "state" (live, lost, ended)
    /healthz        200 while frames arrive, 503 when the camera is lost
    POST /api/flag  "this reading is wrong": every digit of the latest frame is collected (with --collect DIR)
    /review         the crops of DIR to label, with the review page's API (/api/crops, ``crops.review``)

HEAD works on every path and others get 404. Streams and event clients are bounded in number, frames per client
in rate, and a client that stops reading is dropped after ``IDLE_TIMEOUT`` seconds; the camera loop only ever
drops messages into bounded queues. Bound beyond loopback, every path but /healthz needs the access token.
"""

from __future__ import annotations

import collections
import json
import queue
import threading
import time
from importlib import resources

import numpy as np

from edgedigits.serving import JsonHandler, access_token, parse_address, start

MAX_STREAMS = 8  # MJPEG viewers at once; more get 503
MAX_EVENT_CLIENTS = 16  # event-stream clients at once
MAX_CLIENT_FPS = 15.0  # frames a second to each MJPEG viewer, whatever the camera does
HISTORY = 50  # readings kept for the page
STATS_EVERY = 1.0  # seconds between "frame" (timing) events
QUEUE = 64  # events waiting for one client; a client further behind is dropped
CPU_WINDOW = 300  # frames the CPU per frame is averaged over


class LiveServer:
    """Serve the latest annotated frame and readings; see the module docstring for the paths."""

    def __init__(self, address: str, token: str | None = None, info: dict | None = None, review=None, flag=None):
        """``review`` (a ``crops.review.Review``) serves the Review tab; ``flag()`` collects the latest frame's
        digits and returns how many were saved."""
        self.token = access_token(parse_address(address)[0], token)
        self.info = {**(info or {}), "collect": flag is not None}
        self.review, self.flag = review, flag
        self.state, self.latest, self.history = "connecting", None, collections.deque(maxlen=HISTORY)
        self._frame, self._jpeg, self._count, self._encoded = None, b"", 0, -1
        self._frame_time, self._stats_time, self._last_text = 0.0, 0.0, None
        self.rereads = {"none": 0, "region": 0, "full": 0}  # frames by what the motion gate did
        self.cpu_ms = collections.deque(maxlen=CPU_WINDOW)
        self.cond, self.closed = threading.Condition(), False
        self.streams = threading.BoundedSemaphore(MAX_STREAMS)
        self.event_slots = threading.BoundedSemaphore(MAX_EVENT_CLIENTS)
        self.clients: set[queue.Queue] = set()
        self.page = resources.files("edgedigits.reader.outputs").joinpath("web/index.html").read_bytes()
        self.httpd, self.url = start(address, _handler(self), self.token, "live-server", backlog=4 * MAX_STREAMS)

    # ------------------------------------------------------------ fed by the camera loop (never blocks)

    def publish(self, view: np.ndarray, reading: dict | None = None) -> None:
        """The newest annotated frame, and its reading (a --json line): a changed reading is an event."""
        now = time.monotonic()
        with self.cond:
            self._frame, self._count, self._frame_time = view, self._count + 1, now
            self.cond.notify_all()
        if reading is None:
            return
        self.latest = reading
        if reading.get("reread") in self.rereads:
            self.rereads[reading["reread"]] += 1
        if "cpu" in reading.get("ms", {}):
            self.cpu_ms.append(reading["ms"]["cpu"])
        text = " ".join(n["text"] for n in reading.get("numbers", []))
        if text != self._last_text:
            self._last_text = text
            self.history.append(reading)
            self._send("reading", reading)
        if now - self._stats_time >= STATS_EVERY:
            self._stats_time = now
            self._send("frame", {**{k: reading.get(k) for k in ("frame", "timestamp", "fps", "ms", "numbers")},
                                 "gate": self.gate()})
        if self.state != "live":
            self.set_state("live")

    def set_state(self, state: str) -> None:
        """live, lost (the camera dropped; reconnecting) or ended (the source has no more frames)."""
        self.state = state
        self._send("state", {"state": state})

    def close(self) -> None:
        """Stop serving; open streams and event clients end too."""
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        self.clients.clear()
        self.httpd.shutdown()
        self.httpd.server_close()

    # ------------------------------------------------------------ read by the handlers

    def _send(self, event: str, data: dict) -> None:
        message = f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()
        for client in list(self.clients):
            try:
                client.put_nowait(message)
            except queue.Full:  # too far behind: dropped, so it cannot hold memory or the loop
                self.clients.discard(client)

    def jpeg(self) -> tuple[bytes, int]:
        """The latest frame as JPEG (encoded once, on first demand) and its number."""
        import cv2

        with self.cond:
            frame, count = self._frame, self._count
            if frame is None:
                return b"", 0
            if self._encoded != count:
                ok, blob = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
                self._jpeg, self._encoded = (blob.tobytes() if ok else b""), count
            return self._jpeg, count

    def gate(self) -> dict:
        """The share of frames the motion gate kept (none), read in part (region) or whole (full), and the
        CPU milliseconds per frame over the last ``CPU_WINDOW`` frames."""
        total = sum(self.rereads.values())
        shares = {k: round(v / total, 4) if total else 0.0 for k, v in self.rereads.items()}
        cpu = list(self.cpu_ms)
        return {"reread": shares, "cpu_ms_per_frame": round(sum(cpu) / len(cpu), 3) if cpu else None}

    def status(self) -> dict:
        age = time.monotonic() - self._frame_time if self._frame_time else None
        return {**self.info, "state": self.state, "frames": self._count, "last_frame_age_s": age,
                "gate": self.gate(), "latest": self.latest, "history": list(self.history)}


def _handler(server: LiveServer):
    class Handler(JsonHandler):
        token = server.token
        open_paths = frozenset({"/healthz"})

        def do_HEAD(self):
            self._route(head=True)

        def do_GET(self):
            self._route(head=False)

        def _route(self, head: bool):
            found = self._url()
            if found is None:
                return
            path = found[0]
            if path in ("/", "/index.html"):
                self._send(200, server.page, "text/html; charset=utf-8", head)
            elif path == "/healthz":
                status = server.status()
                ok = status["state"] in ("live", "connecting", "ended")
                self._json(200 if ok else 503, {k: status[k] for k in ("state", "frames", "last_frame_age_s")}, head)
            elif path == "/api/latest":
                self._json(200, server.latest or {}, head)
            elif path == "/api/status":
                self._json(200, server.status(), head)
            elif path == "/frame.jpg":
                jpeg, _ = server.jpeg()
                if jpeg:
                    self._send(200, jpeg, "image/jpeg", head)
                else:
                    self._json(503, {"error": "no frame yet"}, head)
            elif path == "/stream.mjpg":
                self._stream(head)
            elif path == "/api/events":
                self._events(head)
            elif server.review and path == "/review":
                self._send(200, server.review.page, "text/html; charset=utf-8", head)
            elif not (server.review and server.review.get(self, path, found[1], head)):
                self._json(404, {"error": f"no such path: {path}"}, head)

        def do_POST(self):
            found = self._url()
            if found is None:
                return
            if found[0] == "/api/flag" and server.flag:
                self._json(200, {"saved": server.flag()})
            elif not (server.review and server.review.post(self, found[0])):
                self._json(404, {"error": f"no such path: {found[0]}"})

        def _open_stream(self, kind: str):
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True

        def _bounded(self, head: bool, kind: str, slots, limit: str, body) -> None:
            """A long response (a stream) of ``kind`` from ``body()``, in one of ``slots``; 503 when all are taken."""
            if head:
                self._open_stream(kind)
                return
            if not slots.acquire(blocking=False):
                self._json(503, {"error": limit})
                return
            try:
                self._open_stream(kind)
                body()
            except OSError:  # gone, reset, or stopped reading for IDLE_TIMEOUT
                return
            finally:
                slots.release()

        def _stream(self, head: bool):
            self._bounded(head, "multipart/x-mixed-replace; boundary=frame", server.streams,
                          f"at most {MAX_STREAMS} viewers at once", self._frames)

        def _frames(self):
            sent, next_at = -1, 0.0
            while not server.closed:
                with server.cond:  # the latest frame at once, then each new one
                    server.cond.wait_for(lambda: server._count != sent or server.closed, timeout=5)
                jpeg, count = server.jpeg()
                if count == sent or not jpeg:
                    continue
                time.sleep(max(0.0, next_at - time.monotonic()))  # at most MAX_CLIENT_FPS to this viewer
                next_at = time.monotonic() + 1.0 / MAX_CLIENT_FPS
                self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                 + str(len(jpeg)).encode() + b"\r\n\r\n" + jpeg + b"\r\n")
                sent = count

        def _events(self, head: bool):
            self._bounded(head, "text/event-stream", server.event_slots,
                          f"at most {MAX_EVENT_CLIENTS} event clients at once", self._event_stream)

        def _event_stream(self):
            mine: queue.Queue = queue.Queue(maxsize=QUEUE)
            server.clients.add(mine)
            try:
                self.wfile.write(f"event: state\ndata: {json.dumps({'state': server.state})}\n\n".encode())
                while mine in server.clients:
                    try:
                        self.wfile.write(mine.get(timeout=5))
                    except queue.Empty:
                        self.wfile.write(b": keep-alive\n\n")  # a dead client shows up as a failed write
                    self.wfile.flush()
            finally:
                server.clients.discard(mine)

    return Handler
