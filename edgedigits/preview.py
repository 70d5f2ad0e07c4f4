"""What people see: frames annotated with boxes, digits and numbers, and the latest one served as an MJPEG
stream over HTTP."""

from __future__ import annotations

import threading

import numpy as np

from edgedigits.errors import EdgeDigitsError

MAX_PORT = 65535


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


MAX_CLIENTS = 8  # streams served at once; more get 503, so idle sockets cannot pile up threads
IDLE_TIMEOUT = 10.0  # seconds a client may stay silent (a request) or stop reading (a stream) before it is dropped
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def _is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


class MjpegServer:
    """The latest annotated frame as an MJPEG stream on http://HOST:PORT/ (127.0.0.1 unless told otherwise).

    At most ``MAX_CLIENTS`` streams at once, each dropped after ``IDLE_TIMEOUT`` s without progress; HEAD is
    answered and other paths get 404. Bound beyond loopback, every request needs ``?token=`` (or a Bearer
    header): the one given, or one generated and shown in ``url``."""

    def __init__(self, address: str, token: str | None = None):
        import http.server
        import secrets
        import urllib.parse

        host, _, port = address.rpartition(":")
        host = host or "127.0.0.1"
        if not port.isdigit() or int(port) > MAX_PORT:
            raise EdgeDigitsError(f"--serve needs HOST:PORT or PORT (a port up to {MAX_PORT}), got {address!r}")
        self.token = token or (None if _is_loopback(host) else secrets.token_urlsafe(16))
        self.jpeg, self.count = b"", 0
        self.cond = threading.Condition()
        self.slots = threading.BoundedSemaphore(MAX_CLIENTS)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            timeout = IDLE_TIMEOUT

            def log_message(self, *args):
                pass

            def _allowed(self) -> bool:
                url = urllib.parse.urlsplit(self.path)
                if url.path not in ("/", "/stream.mjpg"):
                    self.send_error(404)
                    return False
                given = urllib.parse.parse_qs(url.query).get("token", [""])[0] or \
                    self.headers.get("Authorization", "").removeprefix("Bearer ")
                if server.token and not secrets.compare_digest(given, server.token):
                    self.send_error(401, "a token is needed: ?token=...")
                    return False
                return True

            def _headers(self):
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()

            def do_HEAD(self):
                if self._allowed():
                    self._headers()

            def do_GET(self):
                if not self._allowed():
                    return
                if not server.slots.acquire(blocking=False):
                    self.send_error(503, f"at most {MAX_CLIENTS} viewers at once")
                    return
                try:
                    self._headers()
                    self._stream()
                finally:
                    server.slots.release()

            def _stream(self):
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
                except OSError:  # gone, reset, or stopped reading for IDLE_TIMEOUT
                    return

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 4 * MAX_CLIENTS

        try:
            self.httpd = Server((host, int(port)), Handler)
        except OSError as exc:
            raise EdgeDigitsError(f"cannot serve on {host}:{port}: {exc.strerror}") from None
        query = f"?token={self.token}" if self.token else ""
        self.url = f"http://{host}:{self.httpd.server_address[1]}/{query}"
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
