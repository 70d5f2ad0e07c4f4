"""The user's crops folder, whose layout is the format: a user can label by moving files as well as on the page.

    DIR/unlabelled/ID.png       a digit as the camera saw it (grey, dark ink on light paper, cut with a margin)
    DIR/unlabelled/ID.json      its sidecar: image, box [x, y, w, h], digit and confidence as read, model
                                (file name and SHA-256), time
    DIR/unlabelled/ID.28.png    the 28x28 the model saw
    DIR/0/ ... DIR/9/           labelled digits, the same three files
    DIR/not-a-digit/            what the finder cut that is no digit

A label moves a crop's files from one folder to another; nothing else changes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgedigits.errors import EdgeDigitsError

UNLABELLED = "unlabelled"
NOT_A_DIGIT = "not-a-digit"
LABELS = tuple(str(d) for d in range(10)) + (NOT_A_DIGIT,)
STATES = (UNLABELLED,) + LABELS
SUFFIXES = (".png", ".json", ".28.png")  # a crop's files, the first one names it


@dataclass
class Crop:
    id: str
    state: str  # UNLABELLED or a label
    folder: Path  # where its files are
    meta: dict  # the sidecar ({} when it does not parse)

    @property
    def image(self) -> Path:
        return self.folder / f"{self.id}.png"

    @property
    def seen(self) -> Path:
        return self.folder / f"{self.id}.28.png"

    def to_json(self) -> dict:
        return {"id": self.id, "state": self.state, **{k: self.meta.get(k) for k in
                                                         ("image", "box", "digit", "confidence", "time")}}


def crop_id(name: str) -> str | None:
    """The id of a crop's image file name (``ID.png``), None for its other files."""
    if not name.endswith(".png") or name.endswith(".28.png") or name.startswith("."):
        return None
    return name[: -len(".png")]


def _sidecar(path: Path, warn) -> dict:
    try:
        meta = json.loads(path.read_text())
        if not isinstance(meta, dict):
            raise ValueError("not an object")
        return meta
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        warn(f"{path}: sidecar unreadable ({exc.__class__.__name__}); the crop is kept without it")
        return {}


def scan(root: Path, states=STATES, warn=lambda line: None) -> list[Crop]:
    """The crops of ``root`` in ``states``, oldest first (by their sidecar's time, else the file's). A folder that
    is no state (``DIR/12/``) is named once through ``warn`` and left alone."""
    root = Path(root)
    if not root.is_dir():
        return []
    crops = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if folder.name not in STATES:
            warn(f"{folder}: not a class folder ({', '.join(STATES)}); left out")
            continue
        if folder.name not in states:
            continue
        for entry in sorted(folder.iterdir()):
            cid = crop_id(entry.name)
            if cid is not None:
                crops.append(Crop(cid, folder.name, folder, _sidecar(folder / f"{cid}.json", warn)))
    return sorted(crops, key=lambda c: (_time(c), c.id))


def _time(crop: Crop) -> float:
    value = crop.meta.get("time")
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return crop.image.stat().st_mtime
    except OSError:
        return 0.0


def find(root: Path, cid: str) -> Crop | None:
    """One crop by its id, wherever it lies."""
    if not cid or "/" in cid or "\\" in cid or cid.startswith("."):
        return None
    for state in STATES:
        folder = Path(root) / state
        if (folder / f"{cid}.png").is_file():
            return Crop(cid, state, folder, _sidecar(folder / f"{cid}.json", lambda line: None))
    return None


def move(root: Path, crop: Crop, state: str) -> Crop:
    """Label a crop (or take its label back: ``UNLABELLED``): its files move to that state's folder."""
    if state not in STATES:
        raise EdgeDigitsError(f"unknown label {state!r}: one of {', '.join(STATES)}")
    target = Path(root) / state
    target.mkdir(parents=True, exist_ok=True)
    for suffix in reversed(SUFFIXES):  # the image last: a crop is listed by its image
        source = crop.folder / f"{crop.id}{suffix}"
        if source.exists():
            os.replace(source, target / source.name)
    return Crop(crop.id, state, target, crop.meta)


def counts(crops: list[Crop]) -> dict[str, int]:
    found = {state: 0 for state in STATES}
    for crop in crops:
        found[crop.state] += 1
    return found


def read_grey(path: Path) -> np.ndarray | None:
    """A crop's image as grey uint8, None when it cannot be read (or is too small to be a digit)."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None or min(image.shape) < 4:
        return None
    return image
