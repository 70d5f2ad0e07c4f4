"""Fuzz the CLI with mutated models, images and MNIST files: no traceback, crash, hang or non-finite output.

    python benchmarks/fuzz.py [--per-kind 1000] [--mnist 300] [--seed 0] [--out benchmarks/results]

Each input is a mutated copy (bytes flipped, zeroed, inserted or cut) of a real file: the bundled micro model
as .tflite, .onnx and .keras, a photo-like page as PNG and JPEG, and the MNIST test files. ``keras-inside``
changes a .keras past its zip's checks: a config value of another type, a member's bytes, a member's
compression method or flag bits. Each runs through
the CLI as a user would run it (``predict PAGE --model M --json``, ``predict IMAGE --json``, ``evaluate micro
--data DIR``), in a long-lived worker process that runs ``edgedigits.cli.main`` once per input, so thousands fit
in minutes. The parent counts, per kind:

- refused: a one-line error (exit 1 or 2); accepted: exit 0;
- tracebacks: an exception other than the CLI's one-line errors escaped ``main``;
- crashes: the worker died (a segfault in native code); hangs: no answer within ``--timeout`` seconds;
- non-finite: an accepted run printed a NaN or infinite confidence;
- the peak resident memory of any one input (VmHWM, reset before each input).

Writes benchmarks/results/fuzz.{json,md}. ``pytest -m fuzz`` runs it in full and asserts every count above is 0
and the peak under 2 GB.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MAX_RSS_MB = 2048
KINDS = ("tflite", "onnx", "keras", "keras-inside", "png", "jpeg", "mnist")
ODD_VALUES = (None, {}, [], 0, -1, 1e308, "", "x" * 300, True, [None], {"class_name": None})


# ---------------------------------------------------------------- the worker: one CLI run per input line


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def worker() -> None:
    """Read {"args": [...]} lines on stdin; answer each with its exit code, output and peak memory."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from edgedigits import cli

    answer = sys.stdout
    for line in sys.stdin:
        job = json.loads(line)
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark for this input
        out, err = io.StringIO(), io.StringIO()
        traceback = None
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli.main(job["args"])
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException as exc:  # noqa: BLE001 - exactly what the fuzzer looks for
                code, traceback = -1, f"{type(exc).__name__}: {str(exc)[:200]}"
        answer.write(json.dumps({"code": code, "traceback": traceback, "stdout": out.getvalue()[-20000:],
                                 "stderr": err.getvalue()[-500:], "rss_mb": _peak_rss_mb()}) + "\n")
        answer.flush()


# ---------------------------------------------------------------- the parent


def mutate(blob: bytes, rng: np.random.Generator) -> bytes:
    data = bytearray(blob)
    how = int(rng.integers(5))
    if how == 0:  # a few bytes changed anywhere
        for pos in rng.integers(0, len(data), int(rng.integers(1, 16))):
            data[pos] = int(rng.integers(256))
    elif how == 1:  # bytes changed in the headers and tables at the start
        for pos in rng.integers(0, min(len(data), 4096), int(rng.integers(1, 16))):
            data[pos] = int(rng.integers(256))
    elif how == 2:  # cut short
        data = data[: int(rng.integers(0, len(data)))]
    elif how == 3:  # a run zeroed or set to 0xFF
        start, length = int(rng.integers(0, len(data))), int(rng.integers(1, 512))
        data[start : start + length] = bytes([0 if rng.random() < 0.5 else 255]) * len(data[start : start + length])
    else:  # random bytes inserted
        at = int(rng.integers(0, len(data)))
        data[at:at] = rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
    return bytes(data)


def _odd_json(node, rng: np.random.Generator):
    """``node`` (parsed JSON) with one value somewhere in it replaced by one of another type."""
    if isinstance(node, dict) and node and rng.random() < 0.85:
        key = list(node)[int(rng.integers(len(node)))]
        return {**node, key: _odd_json(node[key], rng)}
    if isinstance(node, list) and node and rng.random() < 0.85:
        at = int(rng.integers(len(node)))
        return node[:at] + [_odd_json(node[at], rng)] + node[at + 1 :]
    return ODD_VALUES[int(rng.integers(len(ODD_VALUES)))]


def mutate_keras(blob: bytes, rng: np.random.Generator) -> bytes:
    """A .keras file changed inside, past its zip's checks: a config or metadata value of another type, a
    member's bytes changed, or a member's compression method or flag bits changed in its headers."""
    import zipfile

    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        members = {info.filename: zf.read(info) for info in zf.infolist()}
    how = int(rng.integers(3))
    names = sorted(members)
    if how == 0:
        name = next((n for n in names if n.endswith(".json") and rng.random() < 0.7), "config.json")
        members[name] = json.dumps(_odd_json(json.loads(members[name]), rng)).encode()
    elif how == 1:
        name = names[int(rng.integers(len(names)))]
        members[name] = mutate(members[name], rng) if members[name] else b"\0"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED if rng.random() < 0.5 else zipfile.ZIP_STORED) as zf:
        for name in names:
            zf.writestr(name, members[name])
    data = bytearray(out.getvalue())
    if how == 2:  # the same field changed in a member's local header and its central directory entry
        field = int(rng.integers(2))  # 0: the flag bits, 1: the compression method
        value = int(1 << int(rng.integers(16))) if field == 0 else int(rng.choice([1, 6, 9, 12, 14, 93, 99, 65535]))
        for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            spots = [i for i in range(len(data) - 4) if data[i : i + 4] == signature]
            if spots:
                at = spots[int(rng.integers(len(spots)))] + offset + 2 * field
                data[at : at + 2] = value.to_bytes(2, "little")
    return bytes(data)


class Worker:
    def __init__(self):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)

    def run(self, args: list[str], timeout: float) -> dict:
        """The worker's answer; {"crash": True} if it died, {"hang": True} if it did not answer in time."""
        self.proc.stdin.write(json.dumps({"args": args}) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.proc.kill()
            self.proc.wait()
            return {"hang": True}
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            return {"crash": True, "code": self.proc.returncode}
        return json.loads(line)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self):
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


def _finite(stdout: str) -> bool:
    for line in stdout.splitlines():
        if line.startswith("{"):
            for digit in json.loads(line).get("digits", []):
                if not np.isfinite(digit.get("confidence", 0.0)):
                    return False
    return True


def _seeds(work: Path) -> dict[str, tuple[bytes, str]]:
    """The real file each kind mutates, and the name its copies get."""
    import cv2

    from edgedigits.runtime.bundled import bundled

    page = np.full((240, 480, 3), 255, np.uint8)
    cv2.putText(page, "2024", (40, 160), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 3, (20, 20, 20), 6)
    cv2.imwrite(str(work / "page.png"), page)
    return {
        "tflite": (bundled("micro", ".int8.tflite").read_bytes(), "m.tflite"),
        "onnx": (bundled("micro", ".onnx").read_bytes(), "m.onnx"),
        "keras": (bundled("micro").read_bytes(), "m.keras"),
        "keras-inside": (bundled("micro").read_bytes(), "m.keras"),
        "png": (cv2.imencode(".png", page)[1].tobytes(), "i.png"),
        "jpeg": (cv2.imencode(".jpg", page)[1].tobytes(), "i.jpg"),
    }


def _mnist_seeds() -> dict[str, bytes] | None:
    from edgedigits.training import mnist

    try:
        test = mnist.load().split("test")
    except Exception:  # noqa: BLE001 - no MNIST: that kind is skipped
        return None
    import gzip

    return {"t10k-images-idx3-ubyte.gz": gzip.compress(mnist.idx_bytes(test.images[:1000]), 1),
            "t10k-labels-idx1-ubyte.gz": gzip.compress(mnist.idx_bytes(test.labels[:1000]), 1)}


def fuzz(per_kind: int, mnist: int, seed: int, timeout: float, progress=print, kinds=KINDS) -> dict:
    rng = np.random.default_rng(seed)
    counts = {kind: {"inputs": 0, "accepted": 0, "refused": 0, "tracebacks": 0, "crashes": 0, "hangs": 0,
                     "non_finite": 0, "peak_rss_mb": 0.0} for kind in KINDS}
    examples: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="edgedigits-fuzz-") as tmp:
        work = Path(tmp)
        seeds = _seeds(work)
        mnist_files = _mnist_seeds() if mnist and "mnist" in kinds else None
        plan = [(kind, per_kind if kind != "mnist" else (mnist if mnist_files else 0)) for kind in KINDS
                if kind in kinds]
        worker = Worker()
        started = time.time()
        for kind, n in plan:
            for i in range(n):
                if kind == "mnist":
                    folder = work / "mnist"
                    folder.mkdir(exist_ok=True)
                    target = sorted(mnist_files)[i % 2]
                    for name, blob in mnist_files.items():
                        (folder / name).write_bytes(mutate(blob, rng) if name == target else blob)
                    args = ["evaluate", "micro", "--data", str(folder)]
                else:
                    blob, name = seeds[kind]
                    path = work / name
                    path.write_bytes(mutate_keras(blob, rng) if kind == "keras-inside" else mutate(blob, rng))
                    args = (["predict", str(work / "page.png"), "--model", str(path), "--json"]
                            if name.startswith("m.") else ["predict", str(path), "--json"])
                if not worker.alive():
                    worker = Worker()
                result = worker.run(args, timeout)
                tally = counts[kind]
                tally["inputs"] += 1
                if result.get("hang") or result.get("crash"):
                    tally["hangs" if result.get("hang") else "crashes"] += 1
                    examples.append({"kind": kind, "args": args[:2], **result})
                    worker = Worker()
                    continue
                tally["peak_rss_mb"] = max(tally["peak_rss_mb"], result["rss_mb"])
                if result["traceback"]:
                    tally["tracebacks"] += 1
                    examples.append({"kind": kind, "traceback": result["traceback"]})
                elif result["code"] == 0:
                    tally["accepted"] += 1
                    if not _finite(result["stdout"]):
                        tally["non_finite"] += 1
                else:
                    tally["refused"] += 1
            progress(f"{kind}: {counts[kind]} ({time.time() - started:.0f} s)")
        worker.close()
    return {"seed": seed, "per_kind": per_kind, "timeout_s": timeout, "counts": counts, "examples": examples[:20],
            "seconds": round(time.time() - started, 1)}


def write_report(report: dict, out: Path) -> None:
    from edgedigits.console import markdown_table
    from edgedigits.environment import system_info
    from edgedigits.files import atomic_write, write_json

    report = {"system": system_info(), **report}
    write_json(out / "fuzz.json", report)
    rows = [[kind, c["inputs"], c["accepted"], c["refused"], c["tracebacks"], c["crashes"], c["hangs"],
             c["non_finite"], f"{c['peak_rss_mb']:.0f}"] for kind, c in report["counts"].items() if c["inputs"]]
    lines = [f"# Fuzzing the CLI ({report['system']['date']}, {report['system']['cpu']})", "",
             f"Mutated copies of real files through the CLI, seed {report['seed']}, {report['seconds']:.0f} s. "
             f"Command: `python benchmarks/fuzz.py --per-kind {report['per_kind']}`. Accepted: exit 0 (a mutation "
             "that leaves the file valid); refused: a one-line error. Peak RSS is the worker's high-water mark, so from the "
             "keras kind on it includes TensorFlow, loaded once.", ""]
    lines += markdown_table(["kind", "inputs", "accepted", "refused", "tracebacks", "crashes", "hangs", "non-finite",
                             "peak RSS MB"], rows)
    atomic_write(out / "fuzz.md", "\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--per-kind", type=int, default=1000, help="inputs per model and image kind")
    parser.add_argument("--mnist", type=int, default=300, help="mutated MNIST folders")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, of {', '.join(KINDS)}")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before an input counts as a hang")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.worker:
        worker()
        return 0
    sys.path.insert(0, str(ROOT))
    kinds = tuple(k for k in args.kinds.split(",") if k)
    if set(kinds) - set(KINDS):
        parser.error(f"unknown kinds: {', '.join(sorted(set(kinds) - set(KINDS)))}")
    report = fuzz(args.per_kind, args.mnist, args.seed, args.timeout, progress=lambda line: print(line, file=sys.stderr),
                  kinds=kinds)
    write_report(report, args.out)
    bad = sum(c[k] for c in report["counts"].values() for k in ("tracebacks", "crashes", "hangs", "non_finite"))
    peak = max(c["peak_rss_mb"] for c in report["counts"].values())
    print(f"wrote {args.out / 'fuzz.md'}: {bad} failures, peak RSS {peak:.0f} MB", file=sys.stderr)
    return 1 if bad or peak > MAX_RSS_MB else 0


if __name__ == "__main__":
    sys.exit(main())
