"""Benchmark every format on every installed runtime: accuracy, size, load time, latency, throughput, memory.

Each (format, runtime, threads) row runs in its own subprocess, so peak memory and warm caches do not mix.
Inputs are prepared before any timing; the clock is monotonic (perf_counter_ns); warm-up runs are discarded.
A failing format or runtime becomes a ❌ row and never aborts the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgedigits import environment, runtime
from edgedigits.console import err, progress_bar, table
from edgedigits.digit import DIGITS, NOT_A_DIGIT
from edgedigits.errors import EdgeDigitsError
from edgedigits.files import cache_dir, sha256
from edgedigits.measure import scenes
from edgedigits.measure.bench_report import TERMINAL, terminal_rows, write_reports
from edgedigits.reader.pipeline import time_frames
from edgedigits.runtime import backends
from edgedigits.runtime.bundled import DEFAULT_MODEL, resolve
from edgedigits.runtime.formats import FORMATS, format_of, parse_formats
from edgedigits.training import mnist

DEFAULT_FLOOR = 0.99


@dataclass
class BenchOptions:
    formats: list[str]
    runtimes: list[str] | None = None
    threads: tuple[int, ...] = (1, 2)
    batches: tuple[int, int] = (1, 64)
    runs: int = 100
    warmup: int = 10
    min_time: float = 1.0
    samples: int = 10000
    pipeline: bool = False
    min_accuracy: float | None = None


# ---------------------------------------------------------------- statistics


def latency_stats(times_ms) -> dict:
    """Mean, std and percentiles (linear interpolation) of per-call times in milliseconds."""
    values = np.asarray(times_ms, dtype=np.float64)
    if values.size == 0:
        raise ValueError("no timings")
    return {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if values.size > 1 else 0.0,
            "p50": float(np.percentile(values, 50)), "p90": float(np.percentile(values, 90)),
            "p99": float(np.percentile(values, 99)), "runs": int(values.size)}


def timed_calls(fn, warmup: int, runs: int, min_time: float) -> list[float]:
    """Call ``fn`` ``warmup`` times untimed, then at least ``runs`` times and for at least ``min_time`` s."""
    for _ in range(warmup):
        fn()
    times, start = [], time.perf_counter_ns()
    while len(times) < runs or (time.perf_counter_ns() - start) / 1e9 < min_time:
        t0 = time.perf_counter_ns()
        fn()
        times.append((time.perf_counter_ns() - t0) / 1e6)
        if len(times) >= 100 * max(runs, 1):  # a ceiling for very fast calls
            break
    return times


def peak_rss_mb() -> float:
    """Peak resident memory of this process. On Linux VmHWM, since ru_maxrss keeps the parent's peak across exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


# ---------------------------------------------------------------- the worker (one subprocess per row)


def worker(spec: dict) -> dict:
    """Measure one (model file, runtime, threads) combination; runs inside its own process."""
    images = np.load(spec["images"])
    labels = np.load(spec["labels"])
    backend = spec["runtime"] if backends.BACKENDS[spec["runtime"]].engine == "litert" else None
    t0 = time.perf_counter_ns()
    clf = runtime.load(spec["model"], threads=spec["threads"], backend=backend)
    load_ms = (time.perf_counter_ns() - t0) / 1e6
    one = images[:1]
    t0 = time.perf_counter_ns()
    clf.predict(one)
    first_ms = (time.perf_counter_ns() - t0) / 1e6
    pred = clf.predict_many(images).argmax(1)
    result = {"backend": clf.backend, "load_ms": load_ms, "first_ms": first_ms, "classes": clf.classes,
              "accuracy": float(np.mean(pred == labels)), "predictions": pred.tolist()}
    if clf.classes > DIGITS:  # a camera model may answer "not a digit": counted wrong, and reported
        result["reject_rate"] = float(np.mean(pred == NOT_A_DIGIT))
    # Latency at batch 1, cycling through distinct prepared digits.
    singles = [images[i : i + 1] for i in range(min(256, len(images)))]
    cursor = iter(range(10**9))
    result["latency_ms"] = latency_stats(timed_calls(lambda: clf.predict(singles[next(cursor) % len(singles)]),
                                                     spec["warmup"], spec["runs"], spec["min_time"]))
    batch = images[: spec["batch"]]
    times = timed_calls(lambda: clf.predict(batch), max(1, spec["warmup"] // 5), max(5, spec["runs"] // 5),
                        spec["min_time"])
    result["throughput_ips"] = len(batch) / (float(np.median(times)) / 1000)
    if spec.get("pipeline"):
        result["pipeline"] = pipeline_fps(clf, spec["pipeline"])
    result["rss_mb"] = peak_rss_mb()
    return result


def pipeline_fps(clf, config: dict) -> list[dict]:
    """Camera-pipeline frames per second on generated 640x480 JPEG frames with 1, 5, 10 and 20 digits."""
    import cv2

    digits = np.load(config["digits_images"])
    digit_labels = np.load(config["digits_labels"])
    rows = []
    for count in config["counts"]:
        rng = np.random.default_rng(count)
        frames = [cv2.imencode(".jpg", scenes.make_scene(rng, digits, digit_labels, n=count).image)[1]
                  for _ in range(config["frames"])]
        timing = time_frames(clf, frames)
        row = {"digits": count, "found_per_frame": timing["found_per_frame"],
               **{f"{k}_ms": float(np.mean(v)) for k, v in timing["stages"].items()}}
        row["fps"] = 1000.0 / row["total_ms"]
        rows.append(row)
    return rows


# ---------------------------------------------------------------- the parent


def resolve_models(model: str | None, formats: list[str], cache: Path | None = None) -> dict[str, Path | str]:
    """Map each format to a file: bundled files first, missing ones exported into a cache (needs [train])."""
    name = model or DEFAULT_MODEL
    if name.endswith((".keras", ".onnx", ".tflite")):  # explicit files: comma-separated
        return {format_of(f).name: Path(f) for f in name.split(",")}
    found = {fmt: resolve(name, FORMATS[fmt].suffix) for fmt in formats}
    missing = [fmt for fmt, path in found.items() if not path.exists()]
    if not missing:
        return found
    keras_file = resolve(name, ".keras")
    cache = cache or cache_dir("exports")

    target = cache / f"{name}-{sha256(keras_file)[:12]}" if keras_file.exists() else None
    todo = [fmt for fmt in missing if target is None or not (target / FORMATS[fmt].filename(name)).exists()]
    if todo and target is not None:
        try:
            from edgedigits.deps import tensorflow
            from edgedigits.export.convert import export

            tensorflow()
            export(keras_file, todo, out=target, stem=name, verify_samples=1000, min_agreement=0.0)
        except EdgeDigitsError as exc:
            for fmt in todo:
                found[fmt] = f"could not export: {exc}"
    for fmt in missing:
        if isinstance(found[fmt], Path) and target is not None and (target / FORMATS[fmt].filename(name)).exists():
            found[fmt] = target / FORMATS[fmt].filename(name)
        elif isinstance(found[fmt], Path):
            found[fmt] = f"no {FORMATS[fmt].filename(name)} and no {name}.keras to export it from"
    return found


def _run_worker(spec: dict, timeout: float = 600) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(spec, fh)
    try:
        proc = subprocess.run([sys.executable, "-m", "edgedigits.measure.bench", fh.name], capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    finally:
        os.unlink(fh.name)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        return {"error": tail[:300]}
    return json.loads(lines[-1])


def run_bench(options: BenchOptions, model: str | None = None, data: str | None = None) -> dict:
    installed = backends.available()
    runtimes = options.runtimes or installed
    files = resolve_models(model, options.formats)
    test = mnist.load(data).split("test")
    n = min(options.samples, len(test))
    macs = _macs(files)
    with tempfile.TemporaryDirectory(prefix="edgedigits-bench-") as tmp:
        inputs = {"images": f"{tmp}/images.npy", "labels": f"{tmp}/labels.npy"}
        np.save(inputs["images"], test.images[:n])
        np.save(inputs["labels"], test.labels[:n])
        pipeline = None
        if options.pipeline:
            pipeline = {"digits_images": inputs["images"], "digits_labels": inputs["labels"],
                        "counts": [1, 5, 10, 20], "frames": 30}
        jobs = []
        for fmt, path in files.items():
            for rt in (b.name for b in backends.for_engine(FORMATS[fmt].engine, benched_only=True)):
                if rt not in runtimes or (rt not in installed and rt != "ai-edge-litert"):  # a ❌ row says why
                    continue
                for threads in options.threads:
                    jobs.append((fmt, rt, threads, path))
        rows = []
        with progress_bar("benchmark", total=len(jobs)) as advance:
            for fmt, rt, threads, path in jobs:
                row = {"format": fmt, "runtime": rt, "threads": threads, "file": str(path)}
                if isinstance(path, str):
                    row.update(status="failed", reason=path)
                else:
                    best = fmt in ("tflite-int8", "onnx-int8", "keras") and threads == options.threads[0]
                    spec = {**inputs, "model": str(path), "runtime": rt, "threads": threads, "runs": options.runs,
                            "warmup": options.warmup, "min_time": options.min_time, "batch": options.batches[1],
                            "pipeline": pipeline if pipeline and best else None}
                    row["size_mb"] = path.stat().st_size / 1e6 if path.exists() else None
                    result = _run_worker(spec)
                    if "error" in result:
                        row.update(status="failed", reason=result["error"])
                    else:
                        row.update(result)
                        if macs:
                            row["gmacs"] = macs / (row["latency_ms"]["p50"] / 1000) / 1e9
                rows.append(row)
                advance(note=f"{fmt} {rt} {threads}t: " + (f"failed ({row['reason'][:80]})" if "reason" in row else
                                                            f"{row['accuracy'] * 100:.2f}%, "
                                                            f"p50 {row['latency_ms']['p50']:.3f} ms"))
    _agreement(rows)
    floor = options.min_accuracy if options.min_accuracy is not None else DEFAULT_FLOOR
    for row in rows:
        if row.get("status") != "failed":
            row["status"] = "ok" if row["accuracy"] >= floor else "low"
        row.pop("predictions", None)
    return {"system": environment.system_info(), "floor": floor, "samples": n, "macs": macs,
            "options": {k: v for k, v in vars(options).items()}, "rows": rows}


def bench_formats(spec: tuple[str, ...] | list[str]) -> list[str]:
    """``--formats`` for bench: comma-separated names from the formats table (keras included), or all of them."""
    requested = [n.strip() for item in spec for n in item.split(",") if n.strip()]
    if not requested or requested == ["all"]:
        return list(FORMATS)
    exported = [n for n in requested if n != "keras"]
    return (["keras"] if "keras" in requested else []) + (
        [f for f in parse_formats(exported) if f != "micro"] if exported else [])


def run_and_report(options: BenchOptions, out: Path, model: str | None = None, data: str | None = None) -> dict:
    """Run the benchmark, write bench.json/.csv/.md/.png to ``out``, print the table. Then, for a CI gate: no
    row at all, a row that failed, or (with ``options.min_accuracy``) a row below the floor raises, naming them."""
    report = run_bench(options, model=model, data=data)
    write_reports(report, out)
    system = report["system"]
    table(f"edgedigits bench: {system['cpu']} ({system['cores']} cores; {', '.join(system['isa'])})",
          TERMINAL, terminal_rows(report))
    err.print(f"wrote bench.json, bench.csv, bench.md and bench.png to {out}")
    if not report["rows"]:
        raise EdgeDigitsError(f"no row ran: no runtime installed for the formats {', '.join(options.formats) or '(none)'}")
    name = lambda r: f"{r['format']}/{r['runtime']}/{r['threads']}t"  # noqa: E731
    failed = [r for r in report["rows"] if r["status"] == "failed"]
    low = [r for r in report["rows"] if r["status"] == "low"] if options.min_accuracy is not None else []
    problems = []
    if failed:
        problems.append(f"{len(failed)} row(s) failed: " + ", ".join(f"{name(r)} ({r.get('reason', '')[:80]})"
                                                                      for r in failed))
    if low:
        problems.append(f"{len(low)} row(s) below --min-accuracy {round(options.min_accuracy * 100, 6)}%: "
                        + ", ".join(name(r) for r in low))
    if problems:
        raise EdgeDigitsError("; ".join(problems))
    return report


def _macs(files: dict) -> int | None:
    for path in files.values():
        if isinstance(path, Path):
            manifest = path.with_name(path.name.split(".")[0] + ".export.json")
            if manifest.exists():
                return json.loads(manifest.read_text()).get("source", {}).get("macs")
    return None


def _agreement(rows: list[dict]) -> None:
    reference = next((r["predictions"] for r in rows if r["format"] == "keras" and "predictions" in r), None)
    for row in rows:
        if reference is not None and "predictions" in row:
            row["agreement"] = float(np.mean(np.array(row["predictions"]) == np.array(reference)))


# ---------------------------------------------------------------- reports


if __name__ == "__main__":  # worker mode: python -m edgedigits.measure.bench SPEC.json
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        outcome = worker(json.loads(Path(sys.argv[1]).read_text()))
    except EdgeDigitsError as exc:
        print(str(exc), file=sys.stderr)
        sys.exit(1)
    print(json.dumps(outcome))
