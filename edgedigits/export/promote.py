"""``edgedigits models``: the models there are and the one in use; ``models use`` makes a fine-tuned run (or a
model file exported elsewhere) the default of predict, camera, bench and evaluate, or rolls back to a bundled one.

A run is exported (int8 TFLite and ONNX, each verified in its own runtime, as ``export`` does) into the user's
store (``runtime.store``) only when its figures say it is better: its MNIST test accuracy within ``MAX_MNIST_DROP``
of the model it started from, and its user hold-out read better than before. ``--force`` overrides.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

from edgedigits.console import err, plain_table
from edgedigits.errors import EdgeDigitsError
from edgedigits.files import sha256
from edgedigits.runtime import bundled, store
from edgedigits.runtime.formats import format_of

MAX_MNIST_DROP = 0.002  # 0.2 percentage points of MNIST test accuracy may be given for the user's writing
STORE_FORMATS = {"tflite-int8": ".int8.tflite", "onnx": ".onnx"}  # export format -> suffix in the store


def rows() -> list[dict]:
    """Every model: the bundled ones, then the user's; their figures, and which one is in use."""
    current = store.in_use()
    found = []
    for name in bundled.names():
        try:
            metrics = json.loads(bundled.bundled(name, ".metrics.json").read_text())
        except (OSError, ValueError):
            metrics = {}
        found.append({"name": name, "kind": "bundled", "mnist": metrics.get("accuracy"), "user_before": None,
                      "user_after": None, "in_use": current is None and name == bundled.DEFAULT_MODEL})
    for model in store.stored():
        figures = model.manifest.get("metrics", {})
        found.append({"name": model.name, "kind": "yours", "mnist": figures.get("mnist"),
                      "user_before": figures.get("user_before"), "user_after": figures.get("user_after"),
                      "in_use": model.name == current})
    return found


def show(echo=print, as_json: bool = False, log=err) -> list[dict]:
    """``edgedigits models``: ``rows`` as a table (or JSON) through ``echo``; a damaged model in use is named."""
    bundled.default_model()  # checks the model in use: a damaged one is named (store.fallback)
    found = rows()
    if as_json:
        echo(json.dumps({"models": found, "store": str(store.models_dir()), "warning": store.fallback}))
        return found

    def pct(value):
        return f"{value * 100:.2f}" if isinstance(value, (int, float)) else ""

    lines = plain_table(["in use", "model", "kind", "MNIST %", "your hold-out % before", "after"],
                        [("*" if r["in_use"] else "", r["name"], r["kind"], pct(r["mnist"]), pct(r["user_before"]),
                          pct(r["user_after"])) for r in found])
    for line in lines:
        echo(line)
    echo(f"your models are kept in {store.models_dir()}")
    if store.fallback:
        log.print(f"[yellow]{store.fallback}[/]")
    return found


def use(target: str, force: bool = False, data: str | None = None, log=err) -> str:
    """Make ``target`` the model in use: a bundled name (a roll back), a fine-tuned run's folder, or a model
    file (.tflite, .onnx). Returns the name now in use."""
    if target in bundled.names():
        if target != bundled.DEFAULT_MODEL:
            raise EdgeDigitsError(f"only the bundled {bundled.DEFAULT_MODEL} model can be the default; pass "
                                  f"--model {target} to a command instead")
        store.set_in_use(None)
        log.print(f"in use: the bundled {target} model")
        return target
    path = Path(target)
    if path.is_dir():
        name, files, figures = _from_run(path, force, data, log)
    elif path.is_file():
        name, files, figures = _from_file(path)
    else:
        raise EdgeDigitsError(f"{target}: not a run folder, a model file or a bundled model ({', '.join(bundled.names())})")
    _install(name, files, {"source": str(path.resolve()), "metrics": figures, "time": round(time.time(), 3)})
    store.set_in_use(name)
    log.print(f"in use: {name} ({store.models_dir() / name}); roll back with `edgedigits models use camera`")
    return name


def _from_run(run: Path, force: bool, data: str | None, log) -> tuple[str, dict, dict]:
    """Check a fine-tuned run's figures, then export it: (name, {suffix: file}, figures)."""
    model, metrics_path = run / "model.keras", run / "metrics.json"
    if not model.is_file() or not metrics_path.is_file():
        raise EdgeDigitsError(f"{run} is not a finished run (no model.keras and metrics.json)")
    try:
        metrics = json.loads(metrics_path.read_text())
    except ValueError:
        raise EdgeDigitsError(f"{metrics_path} does not parse") from None
    user = metrics.get("user", {})
    figures = {"mnist": metrics.get("accuracy"), "mnist_before": metrics.get("mnist_before"),
               "user_before": user.get("before", {}).get("accuracy"), "user_after": user.get("after", {}).get("accuracy"),
               "holdout": user.get("holdout")}
    problems = []
    if figures["mnist"] is not None and figures["mnist_before"] is not None \
            and figures["mnist_before"] - figures["mnist"] > MAX_MNIST_DROP:
        problems.append(f"MNIST fell {(figures['mnist_before'] - figures['mnist']) * 100:.2f} pp "
                        f"(at most {MAX_MNIST_DROP * 100:.1f})")
    if figures["user_after"] is None or figures["user_before"] is None:
        problems.append("it has no user hold-out figures (train it with --init-from and --user-data)")
    elif figures["user_after"] <= figures["user_before"]:
        problems.append(f"your hold-out did not improve ({figures['user_before'] * 100:.2f}% -> "
                        f"{figures['user_after'] * 100:.2f}%)")
    if problems and not force:
        raise EdgeDigitsError(f"{run} is not made the default: {'; '.join(problems)} (--force to use it anyway)")
    from edgedigits.export.convert import export

    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=_staging_root()))
    log.print(f"exporting {model} (int8 TFLite and ONNX, each verified)")
    manifest = export(model, list(STORE_FORMATS), out=staging, stem=run.name, data=data, raise_on_failure=True)
    files = {STORE_FORMATS[a["format"]]: staging / a["file"] for a in manifest["artifacts"]
             if a["format"] in STORE_FORMATS}
    return run.name, files, figures


def _from_file(path: Path) -> tuple[str, dict, dict]:
    """A model file exported elsewhere (the Pi's side of the round trip), checked by loading and running it."""
    from edgedigits.runtime.classifiers import load

    fmt = format_of(path)
    suffix = next((s for s in STORE_FORMATS.values() if path.name.endswith(s)), None)
    if suffix is None:
        raise EdgeDigitsError(f"{path}: the store holds int8 TFLite (.int8.tflite) and ONNX (.onnx) files, not "
                              f"{fmt.name}")
    import numpy as np

    load(path).predict(np.zeros((1, 28, 28), np.uint8))  # a file that does not run fails here, in one line
    return path.name[: -len(suffix)], {suffix: path}, {}


def _staging_root() -> Path:
    root = store.models_dir()
    root.mkdir(parents=True, exist_ok=True)
    return root


def _install(name: str, files: dict, manifest: dict) -> None:
    """Put a model's files in the store under ``name``, whole: staged beside it, then moved in."""
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=_staging_root()))
    try:
        digests = {}
        for suffix, source in files.items():
            target = staging / f"{name}{suffix}"
            shutil.copyfile(source, target)
            digests[suffix] = sha256(target)
        (staging / store.MANIFEST).write_text(json.dumps({**manifest, "files": digests}, indent=2) + "\n")
        staging.chmod(0o755)
        final = store.models_dir() / name
        if final.exists():
            old = final.with_name(f".{name}-old-{time.time_ns()}")
            final.rename(old)
            staging.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        for source in files.values():  # an export's own staging folder
            if source.parent.name.startswith(".export-"):
                shutil.rmtree(source.parent, ignore_errors=True)
