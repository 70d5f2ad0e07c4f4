"""``edgedigits label DIR``: the review page, where the user labels the crops ``--collect`` saved.

    /                          the page (web/label.html beside this module): a grid of crops, keys label them
    /api/crops?state=S         the crops in ``unlabelled`` (default) or ``labelled`` (every class), oldest first,
                               and the count of each class
    /api/crops/ID/image        the crop as the camera saw it (PNG)     /api/crops/ID/seen    the 28x28 the model saw
    POST /api/crops/ID         {"label": "7"} (or "not-a-digit", or "unlabelled" to take a label back): its files
                               move to that class's folder
    /healthz                   200

``camera --serve --collect DIR`` serves the same page at /review of the live page, with the same API.
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


class Review:
    """The crops of one folder, listed and labelled; what the review page and the live page's Review tab serve."""

    def __init__(self, root: Path):
        self.root = Path(root)
        if not self.root.is_dir():
            raise EdgeDigitsError(f"{root} is not a folder of crops (make one with --collect {root})")
        self.lock = threading.Lock()
        self.page = resources.files("edgedigits.crops").joinpath("web/label.html").read_bytes()

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

    def get(self, handler, path: str, params: dict, head: bool) -> bool:
        """Answer a GET under /api/crops on ``handler`` (a ``JsonHandler``); False when the path is not one."""
        parts = path.strip("/").split("/")
        if path == "/api/crops":
            state = params.get("state", [crops.UNLABELLED])[0]
            if state not in (crops.UNLABELLED, "labelled"):
                handler._json(400, {"error": "state is unlabelled or labelled"}, head)
            else:
                handler._json(200, self.listing(state), head)
        elif len(parts) == 4 and parts[:2] == ["api", "crops"] and parts[3] in ("image", "seen"):
            crop = crops.find(self.root, parts[2])
            file = None if crop is None else (crop.image if parts[3] == "image" else crop.seen)
            if file is None or not file.is_file():
                handler._json(404, {"error": f"no crop {parts[2]}"}, head)
            else:
                handler._send(200, file.read_bytes(), "image/png", head)
        else:
            return False
        return True

    def post(self, handler, path: str) -> bool:
        """Answer POST /api/crops/ID (a label) on ``handler``; False when the path is not one."""
        parts = path.strip("/").split("/")
        if len(parts) != 3 or parts[:2] != ["api", "crops"]:
            return False
        body = handler._body()
        if body is None:
            return True
        if str(body.get("label")) not in crops.STATES:
            handler._json(400, {"error": f"label is one of {', '.join(crops.STATES)}"})
            return True
        try:
            answer = self.label(parts[2], body["label"])
        except OSError as exc:
            handler._json(500, {"error": f"cannot move {parts[2]}: {exc.strerror or exc}"})
            return True
        if answer is None:
            handler._json(404, {"error": f"no crop {parts[2]}"})
        else:
            handler._json(200, answer)
        return True


class ReviewServer(Review):
    """``edgedigits label --serve``: the review page on its own server."""

    def __init__(self, root: Path, address: str, token: str | None = None):
        super().__init__(root)
        self.token = access_token(parse_address(address)[0], token)
        self.httpd, self.url = start(address, _handler(self), self.token, "review-server")

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
            if path in ("/", "/index.html"):
                self._send(200, server.page, "text/html; charset=utf-8", head)
            elif path == "/healthz":
                self._json(200, {"state": "ok"}, head)
            elif not server.get(self, path, params, head):
                self._json(404, {"error": f"no such path: {path}"}, head)

        def do_POST(self):
            found = self._url()
            if found is not None and not server.post(self, found[0]):
                self._json(404, {"error": f"no such path: {found[0]}"})

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
