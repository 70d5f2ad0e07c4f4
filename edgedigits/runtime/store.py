"""The user's model store: models made theirs with ``edgedigits models use``, and which model is in use.

    $EDGEDIGITS_HOME (default ~/.local/share/edgedigits)/
        models/NAME/NAME.int8.tflite, NAME.onnx    a model's files (either or both)
        models/NAME/manifest.json                  their SHA-256, where they came from, their figures
        current.json                               {"model": NAME}; absent: the bundled camera model

Switching models writes ``current.json`` last and whole, so a kill at any moment leaves one model or the other in
use. A model file whose SHA-256 no longer matches its manifest (an SD card that corrupted it) is refused at load,
in one line, and the bundled model is used instead.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from edgedigits.files import sha256

HOME_ENV = "EDGEDIGITS_HOME"
CURRENT = "current.json"
MANIFEST = "manifest.json"
SUFFIXES = (".int8.tflite", ".onnx")  # what a stored model may hold, in the order a runtime prefers them

fallback: str | None = None  # why the last default model was not the one in use, for the live page


def home() -> Path:
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".local" / "share" / "edgedigits")


def models_dir() -> Path:
    return home() / "models"


@dataclass
class StoredModel:
    name: str
    folder: Path
    manifest: dict

    def file(self, suffix: str) -> Path | None:
        path = self.folder / f"{self.name}{suffix}"
        return path if suffix in self.manifest.get("files", {}) or path.is_file() else None


def stored() -> list[StoredModel]:
    """The user's models, by name; a folder whose manifest does not parse is left out."""
    found = []
    if not models_dir().is_dir():
        return found
    for folder in sorted(p for p in models_dir().iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(manifest, dict):
            found.append(StoredModel(folder.name, folder, manifest))
    return found


def find(name: str) -> StoredModel | None:
    return next((m for m in stored() if m.name == name), None)


def in_use() -> str | None:
    """The name of the user's model in use, None for the bundled one."""
    try:
        name = json.loads((home() / CURRENT).read_text()).get("model")
    except (OSError, ValueError, AttributeError):
        return None
    return name if isinstance(name, str) and name else None


def set_in_use(name: str | None) -> None:
    """Make ``name`` (a stored model) the default of every command, or the bundled model (None)."""
    from edgedigits.files import atomic_path

    home().mkdir(parents=True, exist_ok=True)
    if name is None:
        (home() / CURRENT).unlink(missing_ok=True)
        return
    with atomic_path(home() / CURRENT) as tmp:
        tmp.write_text(json.dumps({"model": name}) + "\n")


def check(path: Path, want: str | None) -> str | None:
    """Why ``path`` may not be used (missing, or its SHA-256 not ``want``, the manifest's); None when it may."""
    if not path.is_file():
        return f"{path} is missing"
    if not want or sha256(path) != want:
        return f"{path} does not match its manifest's SHA-256 (a damaged file)"
    return None


def current_file(suffixes) -> Path | None:
    """The file of the model in use, among ``suffixes`` (the ones a runtime here reads, preferred first), after
    its SHA-256 is checked; None for the bundled model. A model that fails the check is named on stderr in one
    line (and in ``fallback``), and None is returned: the bundled model is used."""
    global fallback
    fallback = None
    name = in_use()
    if name is None:
        return None
    model = find(name)
    problem = f"the model in use, {name}, is not in {models_dir()}" if model is None else None
    for suffix in suffixes if model is not None else ():
        path = model.file(suffix)
        if path is None:
            continue
        problem = check(path, model.manifest.get("files", {}).get(suffix))
        if problem is None:
            return path
    fallback = f"{problem or f'{name} has no file this runtime reads'}; using the bundled camera model"
    print(f"warning: {fallback}", file=sys.stderr)
    return None
