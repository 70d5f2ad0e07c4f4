"""``edgedigits label DIR``: the review page, where the user labels the crops ``--collect`` saved.

    /                          the page (web/label.html beside this module): a grid of crops, keys label them
    /api/crops?state=S         the crops in ``unlabelled`` (default) or ``labelled`` (every class), oldest first,
                               and the count of each class
    /api/crops/ID/image        the crop as the camera saw it (PNG)     /api/crops/ID/seen    the 28x28 the model saw
    POST /api/crops/ID         {"label": "7"} (or "not-a-digit", or "unlabelled" to take a label back): its files
                               move to that class's folder
    /healthz                   200

Bound beyond loopback, every path but /healthz needs the access token, as on the live page.
"""

from __future__ import annotations

import threading
from importlib import resources
from pathlib import Path

from edgedigits.crops import folder as crops
from edgedigits.errors import EdgeDigitsError
from edgedigits.serving import JsonHandler, access_token, parse_address, start

MAX_LISTED = 500  # crops one listing returns: the page asks again as the user labels


class ReviewServer:
    def __init__(self, root: Path, address: str, token: str | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise EdgeDigitsError(f"{root} is not a folder of crops (make one with --collect {root})")
        self.token = access_token(parse_address(address)[0], token)
        self.lock = threading.Lock()
        self.page = resources.files("edgedigits.crops").joinpath("web/label.html").read_bytes()
        self.httpd, self.url = start(address, _handler(self), self.token, "review-server")

    def listing(self, state: str) -> dict:
        states = crops.LABELS if state == "labelled" else (crops.UNLABELLED,)
        with self.lock:
            everything = crops.scan(self.root)
        chosen = [c for c in everything if c.state in states]
        return {"crops": [c.to_json() for c in chosen[:MAX_LISTED]], "total": len(chosen),
                "counts": crops.counts(everything)}

    def label(self, cid: str, label) -> dict | None:
        with self.lock:
            crop = crops.find(self.root, cid)
            if crop is None:
                return None
            moved = crops.move(self.root, crop, str(label))
            counts = crops.counts(crops.scan(self.root))
        return {"crop": moved.to_json(), "counts": counts}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(server: ReviewServer):
    class Handler(JsonHandler):
        token = server.token
        open_paths = frozenset({"/healthz"})

        def do_GET(self):
            self._route(head=False)

        def do_HEAD(self):
            self._route(head=True)

        def _route(self, head: bool):
            found = self._url()
            if found is None:
                return
            path, params = found
            parts = path.strip("/").split("/")
            if path in ("/", "/index.html"):
                self._send(200, server.page, "text/html; charset=utf-8", head)
            elif path == "/healthz":
                self._json(200, {"state": "ok"}, head)
            elif path == "/api/crops":
                state = params.get("state", [crops.UNLABELLED])[0]
                if state not in (crops.UNLABELLED, "labelled"):
                    self._json(400, {"error": "state is unlabelled or labelled"}, head)
                else:
                    self._json(200, server.listing(state), head)
            elif len(parts) == 4 and parts[:2] == ["api", "crops"] and parts[3] in ("image", "seen"):
                crop = crops.find(server.root, parts[2])
                file = None if crop is None else (crop.image if parts[3] == "image" else crop.seen)
                if file is None or not file.is_file():
                    self._json(404, {"error": f"no crop {parts[2]}"}, head)
                else:
                    self._send(200, file.read_bytes(), "image/png", head)
            else:
                self._json(404, {"error": f"no such path: {path}"}, head)

        def do_POST(self):
            found = self._url()
            if found is None:
                return
            parts = found[0].strip("/").split("/")
            if len(parts) != 3 or parts[:2] != ["api", "crops"]:
                self._json(404, {"error": f"no such path: {found[0]}"})
                return
            body = self._body()
            if body is None:
                return
            if str(body.get("label")) not in crops.STATES:
                self._json(400, {"error": f"label is one of {', '.join(crops.STATES)}"})
                return
            try:
                answer = server.label(parts[2], body["label"])
            except OSError as exc:
                self._json(500, {"error": f"cannot move {parts[2]}: {exc.strerror or exc}"})
                return
            if answer is None:
                self._json(404, {"error": f"no crop {parts[2]}"})
            else:
                self._json(200, answer)

    return Handler


def serve(root: Path, address: str, token: str | None = None, log=None) -> dict:
    """``edgedigits label``: serve the review page until Ctrl-C or SIGTERM; returns the counts at the end."""
    import signal

    from edgedigits.console import err

    log = log or err
    server = ReviewServer(root, address, token)
    counts = server.listing(crops.UNLABELLED)["counts"]
    log.print(f"{counts[crops.UNLABELLED]} crops to label in {root}; review page on {server.url}", markup=False,
              highlight=False)
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.close()
    counts = server.listing(crops.UNLABELLED)["counts"]
    labelled = sum(counts[label] for label in crops.LABELS)
    log.print(f"{labelled} labelled, {counts[crops.UNLABELLED]} left to label")
    return counts
