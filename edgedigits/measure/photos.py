"""Reading accuracy on a labelled folder of real photos (``index.tsv``: file, label, kind, source, notes).

A photo's reading is the digits of each line left to right, lines top to bottom joined with ``-``: the way its
label is written. Scores per kind: images read exactly right, digit accuracy (1 - edit distance / label length)
and extra digits (digits read beyond the label's count).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgedigits.digit import IMAGE_SIZE, normalize_digit
from edgedigits.errors import EdgeDigitsError
from edgedigits.reader.pipeline import read_frame
from edgedigits.reader.sources import read_image
from edgedigits.reader.vision import reading
from edgedigits.reader.vision.ink import ink_image

DEFAULT_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "photos-dev"  # beside the checkout


def photos_dir(path: str | Path | None = None) -> Path:
    """The photo set: ``path``, else ``$EDGEDIGITS_PHOTOS``, else ``../shared/data/photos-dev`` beside the checkout."""
    return Path(path or os.environ.get("EDGEDIGITS_PHOTOS") or DEFAULT_DIR)


PHOTOS_HELP = "folder with index.tsv [default: $EDGEDIGITS_PHOTOS, else ../shared/data/photos-dev]"


def present(path: str | Path | None = None) -> Path | None:
    """The photo set's folder, or None (saying so on stderr) when it has no index: benchmarks then skip."""
    import sys

    root = photos_dir(path)
    if (root / "index.tsv").is_file():
        return root
    print(f"skipped: no photo set at {root} (index.tsv missing)", file=sys.stderr)
    return None


@dataclass
class Photo:
    file: str
    label: str
    kind: str


def load_index(root: Path) -> list[Photo]:
    with open(root / "index.tsv", newline="") as f:
        return [Photo(row["file"], row["label"], row["kind"]) for row in csv.DictReader(f, delimiter="\t")]


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def score(read: str, label: str) -> dict:
    """Exactness, digit accuracy and extra digits of one reading against its label (line breaks: ``-``)."""
    read_digits, label_digits = read.replace("-", ""), label.replace("-", "")
    errors = edit_distance(read_digits, label_digits)
    return {"exact": read == label, "digit_accuracy": max(0.0, 1 - errors / max(1, len(label_digits))),
            "extra_digits": max(0, len(read_digits) - len(label_digits))}


def evaluate(classifier, root: Path, progress=None) -> tuple[list[dict], dict]:
    """Read every photo of the set; returns per-image results and per-kind summaries."""
    results = []
    for photo in load_index(root):
        try:
            frame = read_image(root / photo.file)  # as predict reads it (EXIF orientation applied)
        except EdgeDigitsError as exc:
            results.append({"file": photo.file, "kind": photo.kind, "label": photo.label, "error": str(exc)})
            continue
        detections, numbers, _ = read_frame(frame, classifier)
        read = reading(numbers)
        results.append({"file": photo.file, "kind": photo.kind, "label": photo.label, "read": read,
                        "size": [frame.shape[1], frame.shape[0]], **score(read, photo.label),
                        "digits": [d.to_json() for d in detections]})
        if progress:
            progress()
    return results, summarize(results)


def cut_digit(frame: np.ndarray, box) -> np.ndarray | None:
    """The ink inside ``box`` (x, y, w, h) of a photo as the finder measures it (``vision.ink.ink_image``); None
    when the box holds no ink. Normalise it with ``digit.normalize_digit``."""
    x, y, w, h = (int(v) for v in box)
    return ink_image(frame[y : y + h, x : x + w])


def boxed_digits(root: Path, boxes: dict) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The digits of photos cut by hand-drawn boxes ({name: {"label", "box"[, "file"]}}, the file being the
    name unless given) and normalised: the names kept, the (N, 28, 28) digits and their labels. A photo that
    cannot be read, or whose box holds no ink, is left out with a line on stderr."""
    import sys

    import cv2

    files, digits, labels = [], [], []
    for file, entry in boxes.items():
        frame = cv2.imread(str(root / entry.get("file", file)), cv2.IMREAD_COLOR)
        ink = None if frame is None else cut_digit(frame, entry["box"])
        if ink is None:
            print(f"{file}: unreadable, or no ink in its box; left out", file=sys.stderr)
            continue
        files.append(file)
        digits.append(normalize_digit(ink))
        labels.append(int(entry["label"]))
    return files, np.stack(digits) if digits else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8), np.array(labels, np.int64)


def summarize(results: list[dict]) -> dict:
    kinds: dict[str, dict] = {}
    for r in results:
        k = kinds.setdefault(r["kind"], {"images": 0, "exact": 0, "digit_accuracy": 0.0, "extra_digits": 0,
                                         "errors": 0})
        k["images"] += 1
        if "error" in r:
            k["errors"] += 1
            continue
        k["exact"] += int(r["exact"])
        k["digit_accuracy"] += r["digit_accuracy"]
        k["extra_digits"] += r["extra_digits"]
    for k in kinds.values():
        k["digit_accuracy"] /= max(1, k["images"])
        k["exact_rate"] = k["exact"] / max(1, k["images"])
    return kinds


def by_source(results: list[dict]) -> dict[str, dict]:
    """Per source (a file name's part before ``__``: one writer, camera or repository): images, digits, and the
    share of its digits read (digit accuracy weighted by each label's length; an unreadable file reads none)."""
    sources: dict[str, dict] = {}
    for r in results:
        digits = len(r["label"].replace("-", ""))
        s = sources.setdefault(r["file"].split("__")[0], {"images": 0, "digits": 0, "read": 0.0, "exact": 0})
        s["images"] += 1
        s["digits"] += digits
        s["read"] += r.get("digit_accuracy", 0.0) * digits
        s["exact"] += int(bool(r.get("exact")))
    for s in sources.values():
        s["digit_accuracy"] = s["read"] / max(1, s["digits"])
    return dict(sorted(sources.items(), key=lambda kv: (kv[1]["digit_accuracy"], kv[0])))


def contact_sheet(results: list[dict], root: Path, tile: int = 240, columns: int = 6) -> np.ndarray | None:
    """One tile per misread photo: the photo with the boxes found, its label and what was read."""
    import cv2

    misread = [r for r in results if not r.get("exact")]
    if not misread:
        return None
    rows = (len(misread) + columns - 1) // columns
    sheet = np.full((rows * (tile + 36), columns * tile, 3), 255, np.uint8)
    for n, r in enumerate(misread):
        frame = cv2.imread(str(root / r["file"]), cv2.IMREAD_COLOR)
        if frame is None:
            frame = np.zeros((tile, tile, 3), np.uint8)
        scale = tile / max(frame.shape[:2])
        view = cv2.resize(frame, (max(1, int(frame.shape[1] * scale)), max(1, int(frame.shape[0] * scale))),
                          interpolation=cv2.INTER_AREA)
        for d in r.get("digits", []):
            x, y, w, h = (int(round(v * scale)) for v in d["box"])
            cv2.rectangle(view, (x, y), (x + w, y + h), (0, 200, 0), 2)
            cv2.putText(view, str(d["digit"]), (x, max(12, y + 14)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 255), 2)
        top, left = (n // columns) * (tile + 36), (n % columns) * tile
        sheet[top : top + view.shape[0], left : left + view.shape[1]] = view
        caption = f"{r['label']} read {r.get('read', r.get('error'))!s}"[:34]
        cv2.putText(sheet, r["file"][:30], (left + 2, top + tile + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
        cv2.putText(sheet, caption, (left + 2, top + tile + 30), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (160, 0, 0), 1)
    return sheet
