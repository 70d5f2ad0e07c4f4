"""``edgedigits predict``: read the digits in image files and folders, or classify a Kaggle test.csv."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from edgedigits.errors import EdgeDigitsError
from edgedigits.reader.outputs.debug import save, stages
from edgedigits.reader.outputs.preview import annotate
from edgedigits.reader.pipeline import read_frame
from edgedigits.reader.sources import MAX_PIXELS, image_files, read_image
from edgedigits.reader.vision import reading
from edgedigits.reader.vision.results import Trace


def annotated_paths(files: list[Path], names: list[Path], out: Path) -> list[Path]:
    """Where each file's annotated copy goes: ``out`` / its path inside the folder it was found in (its name,
    for a file given directly), so same-named images of different subfolders never overwrite each other.
    Refuses a layout that would write two copies to one place, or a copy over an input."""
    targets = [out / name for name in names]
    inputs = {f.resolve() for f in files}
    seen: dict[Path, Path] = {}
    for source, target in zip(files, targets):
        if target.resolve() in inputs:
            raise EdgeDigitsError(f"--annotate {out} would write over the input {target}; choose another folder")
        if target.resolve() in seen:
            raise EdgeDigitsError(f"--annotate: {seen[target.resolve()]} and {source} would both be written to {target}")
        seen[target.resolve()] = source
    return targets


def predict_images(paths, classifier, echo: Callable[[str], None], as_json: bool = False,
                   annotate_dir: Path | None = None, min_confidence: float = 0.0, max_pixels: int = MAX_PIXELS,
                   strict: bool = False, warn: Callable[[str], None] | None = None, page: str = "auto",
                   debug_dir: Path | None = None, collector=None) -> int:
    """Read every image among ``paths`` (folders recursively) and ``echo`` one line per image: JSON or
    "path: numbers". A file that cannot be read gives its own line (``{"image", "error"}`` under ``as_json``)
    and the others are still read; then the run fails, naming how many. With ``annotate_dir``, a copy with
    boxes and labels goes there (see ``annotated_paths``); with ``debug_dir``, a picture of every stage of the
    finder (``outputs.debug``), NAME.debug.png. ``page``: "auto" reads the sheets of paper a photo shows, "off"
    the whole frame. A ``collector`` (``crops.collect``) keeps the digits the model was unsure of. Returns the
    number of images read."""
    warn = warn or (lambda line: print(line, file=sys.stderr))

    def fail(where, exc: EdgeDigitsError) -> None:
        if as_json:
            echo(json.dumps({"image": str(where), "error": str(exc)}))
        else:
            warn(f"error: {exc}")

    files, names, bad_args = [], [], 0
    for path in map(Path, paths):  # a missing path or an empty folder is one failure; the other arguments still run
        try:
            found = image_files([path])
        except EdgeDigitsError as exc:
            bad_args += 1
            fail(path, exc)
            continue
        files += found
        names += [f.relative_to(path) if path.is_dir() else Path(f.name) for f in found]
    failed = bad_args
    targets = annotated_paths(files, names, annotate_dir) if annotate_dir else [None] * len(files)
    debugs = ([t.with_name(t.stem + ".debug.png") for t in annotated_paths(files, names, debug_dir)] if debug_dir
              else [None] * len(files))
    for path, target, debug in zip(files, targets, debugs):
        try:
            frame = read_image(path, max_pixels=max_pixels, strict=strict, warn=warn)
            trace = Trace(frame) if debug is not None else None
            rejected = [] if collector else None
            detections, numbers, _ = read_frame(frame, classifier, min_confidence=min_confidence, page=page,
                                                trace=trace, rejected=rejected)
        except EdgeDigitsError as exc:
            failed += 1
            fail(path, exc)
            continue
        if collector:
            collector.add(frame, detections + rejected, str(path))
        if as_json:
            echo(json.dumps({"image": str(path), "digits": [d.to_json() for d in detections],
                             "numbers": [n.to_json() for n in numbers], "reading": reading(numbers)}))
        else:
            echo(f"{path}: {' '.join(n.text for n in numbers) or '(no digits)'}")
        for where, picture in ((target, annotate), (debug, None)):
            if where is None:
                continue
            save(picture(frame, detections, numbers) if picture else stages(trace, detections, reading(numbers)), where)
    if failed:
        raise EdgeDigitsError(f"{failed} of {len(files) + bad_args} inputs failed (each is named above)")
    return len(files)

