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


class MjpegServer:
    """The latest annotated frame as an MJPEG stream on http://HOST:PORT/ (127.0.0.1 unless told otherwise)."""

    def __init__(self, address: str):
        import http.server

        host, _, port = address.rpartition(":")
        host = host or "127.0.0.1"
        if not port.isdigit() or int(port) > MAX_PORT:
            raise EdgeDigitsError(f"--serve needs HOST:PORT or PORT (a port up to {MAX_PORT}), got {address!r}")
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
