"""The one table of inference backends: what each is called, what it imports, which pip package and extra
install it, and which formats it runs. The runtime, bench, the CLI and doctor all read it."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from edgedigits.errors import EdgeDigitsError


@dataclass(frozen=True)
class Backend:
    name: str  # as --runtimes and bench rows name it
    module: str  # what it imports
    attr: str | None  # the interpreter class in ``module`` (TFLite backends)
    package: str  # the pip package
    extra: str  # the edgedigits extra that installs it
    engine: str  # the formats it runs: ``Format.engine`` ("litert", "onnxruntime" or "keras")
    benched: bool = True  # False: a fallback, used only when nothing better is installed

    def installed(self) -> bool:
        return importlib.util.find_spec(self.module.split(".")[0]) is not None

    def load(self):
        """The imported module, or its ``attr``."""
        module = importlib.import_module(self.module)
        return getattr(module, self.attr) if self.attr else module


BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in (  # TFLite backends in the order they are tried
        Backend("ai-edge-litert", "ai_edge_litert.interpreter", "Interpreter", "ai-edge-litert", "runtime", "litert"),
        Backend("tflite-runtime", "tflite_runtime.interpreter", "Interpreter", "tflite-runtime", "runtime", "litert"),
        Backend("tensorflow", "tensorflow.lite", "Interpreter", "tensorflow", "train", "litert", benched=False),
        Backend("onnxruntime", "onnxruntime", None, "onnxruntime", "onnx", "onnxruntime"),
        Backend("keras", "tensorflow", None, "tensorflow", "train", "keras"),
    )
}


def for_engine(engine: str, benched_only: bool = False) -> list[Backend]:
    return [b for b in BACKENDS.values() if b.engine == engine and (b.benched or not benched_only)]


def available() -> list[str]:
    """Installed backends that bench runs, by name."""
    return [b.name for b in BACKENDS.values() if b.benched and b.installed()]


def check_names(names: list[str]) -> list[str]:
    """``--runtimes`` values, checked against the table."""
    known = [b.name for b in BACKENDS.values() if b.benched]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise EdgeDigitsError(f"unknown runtime {unknown[0]!r}; choose from {', '.join(known)}")
    return names


def first_installed(engine: str, name: str | None = None):
    """(the loaded interpreter class or module, its backend name): ``name``, or the first of ``engine``'s that
    imports."""
    candidates = [BACKENDS[name]] if name else for_engine(engine)
    for backend in candidates:
        try:
            return backend.load(), backend.name
        except (ImportError, AttributeError):
            continue
    wanted = candidates[0]
    raise EdgeDigitsError(f"no {engine} runtime ({wanted.name}) is installed; install it with: "
                          f"pip install 'edgedigits[{wanted.extra}]'")
