"""The HTTP plumbing shared by the pages edgedigits serves (the camera's live page, the crop review page): the
address a server binds, the access token a server beyond loopback needs, and a request handler that answers JSON.
"""

from __future__ import annotations

import http.server
import json
import secrets
import threading
import urllib.parse

from edgedigits.errors import EdgeDigitsError

MAX_PORT = 65535
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
IDLE_TIMEOUT = 10.0  # seconds a client may stay silent (a request) or stop reading before it is dropped
MAX_BODY = 64 * 1024  # bytes a request body may hold (a label is a few)


def parse_address(value: str) -> tuple[str, int]:
    """[HOST:]PORT -> (host, port): 127.0.0.1 unless a host is given; port 0 picks a free one."""
    host, _, port = value.rpartition(":")
    if not port.isdigit() or int(port) > MAX_PORT:
        raise EdgeDigitsError(f"--serve needs [HOST:]PORT with a port from 0 to {MAX_PORT}, got {value!r}")
    return host or "127.0.0.1", int(port)


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


def access_token(host: str, token: str | None) -> str | None:
    """The token a server bound to ``host`` asks for: the one given, else a fresh one beyond loopback."""
    return token or (None if is_loopback(host) else secrets.token_urlsafe(16))


def start(address: str, handler, token: str | None, name: str, backlog: int = 32):
    """Bind ``handler`` (a ``JsonHandler`` subclass) to ``address`` and serve it on a daemon thread.
    Returns the server and the URL to open (with ``?token=`` when one is needed)."""
    host, port = parse_address(address)

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = backlog

    try:
        httpd = Server((host, int(port)), handler)
    except OSError as exc:
        raise EdgeDigitsError(f"cannot serve on {host}:{port}: {exc.strerror}") from None
    query = f"?token={token}" if token else ""
    threading.Thread(target=httpd.serve_forever, daemon=True, name=name).start()
    return httpd, f"http://{host}:{httpd.server_address[1]}/{query}"


class JsonHandler(http.server.BaseHTTPRequestHandler):
    """A quiet HTTP/1.1 handler with JSON answers and the token check; ``token`` and ``open_paths`` (paths that
    need none) are set by the subclass."""

    timeout = IDLE_TIMEOUT
    protocol_version = "HTTP/1.1"
    token: str | None = None
    open_paths: frozenset = frozenset()

    def log_message(self, *args):
        pass

    def _send(self, code: int, body: bytes, kind: str, head: bool = False):
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, code: int, obj, head: bool = False):
        self._send(code, json.dumps(obj).encode(), "application/json", head)

    def _url(self) -> tuple[str, dict] | None:
        """The request's path and query, once its token is checked (None: a 401 was sent)."""
        url = urllib.parse.urlsplit(self.path)
        params = urllib.parse.parse_qs(url.query)
        given = params.get("token", [""])[0] or self.headers.get("Authorization", "").removeprefix("Bearer ")
        if url.path in self.open_paths or not self.token or secrets.compare_digest(given, self.token):
            return url.path, params
        self._json(401, {"error": "a token is needed: ?token=..."})
        return None

    def _body(self) -> dict | None:
        """The request's JSON object (None: a 400 or 413 was sent)."""
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self._json(413 if length > MAX_BODY else 400, {"error": "a JSON body of at most 64 KB is needed"})
            return None
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            self._json(400, {"error": "the body must be a JSON object"})
            return None
        return body
