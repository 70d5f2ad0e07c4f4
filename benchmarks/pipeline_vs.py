"""The camera pipeline of this checkout against an earlier commit, on this machine, in one run.

    python benchmarks/pipeline_vs.py [--ref 1fcb9f2] [--frames 200] [--rounds 3]

Machines differ by up to 2x, so a speed target is only meaningful against a baseline timed beside it. This
checks ``--ref`` out into a temporary git worktree, then runs each side's own benchmarks/pipeline_speed.py
(640x480, 10 digits, one pinned core, the same model file) in alternating rounds, and reports the median p50
per frame of each side, and the median of the per-round ratios (a VM's speed drifts between rounds).
Writes benchmarks/results/pipeline_vs.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def run_side(tree: Path, model: Path, frames: int, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    if env.get("EDGEDIGITS_DATA"):  # both sides run in their own folder: a relative path would not resolve
        env["EDGEDIGITS_DATA"] = str(Path(env["EDGEDIGITS_DATA"]).resolve())
    cmd = [sys.executable, str(tree / "benchmarks" / "pipeline_speed.py"), "--model", str(model),
           "--frames", str(frames), "--out", str(out)]
    proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"pipeline_speed.py failed in {tree}: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads((out / "pipeline_speed.json").read_text())["rows"][0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", default="1fcb9f2", help="the baseline commit [default: %(default)s]")
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", type=Path, default=ROOT / "edgedigits" / "models" / "seed.int8.tflite")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from edgedigits.console import markdown_table
    from edgedigits.environment import cpu_model

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(base), args.ref], check=True)
        try:
            sides = {"baseline": base, "this checkout": ROOT}
            runs: dict[str, list[dict]] = {name: [] for name in sides}
            for r in range(args.rounds):
                for name, tree in sides.items():
                    row = run_side(tree, args.model.resolve(), args.frames, Path(tmp) / f"{name}-{r}".replace(" ", "_"))
                    runs[name].append(row)
                    print(f"round {r + 1}/{args.rounds} {name}: total p50 {row['total_p50_ms']:.2f} ms "
                          f"(preprocess {row['preprocess_p50_ms']:.2f}, infer {row['infer_p50_ms']:.2f})",
                          file=sys.stderr)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False)
    summary = {name: {key: statistics.median(r[key] for r in rows)
                      for key in ("total_p50_ms", "preprocess_p50_ms", "infer_p50_ms", "digits_per_frame")}
               for name, rows in runs.items()}
    ratios = [new["total_p50_ms"] / old["total_p50_ms"] for old, new in zip(runs["baseline"], runs["this checkout"])]
    ratio = statistics.median(ratios)  # each round's sides ran back to back: their ratio shares the machine's mood
    report = {"date": time.strftime("%Y-%m-%d"), "cpu": cpu_model(), "ref": args.ref, "model": args.model.name,
              "frames": args.frames, "rounds": args.rounds, "summary": summary, "ratio": ratio,
              "round_ratios": ratios, "runs": runs}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pipeline_vs.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [f"# Camera pipeline against {args.ref} ({report['date']}, {report['cpu']})", "",
             f"640x480 frames with 10 digits, one pinned core, {args.model.name}, {args.frames} frames, median of "
             f"{args.rounds} alternating rounds. Command: `python benchmarks/pipeline_vs.py --ref {args.ref}`", ""]
    lines += markdown_table(["code", "digits/frame", "preprocess p50 ms", "infer p50 ms", "total p50 ms"],
                            [[name, f"{s['digits_per_frame']:.1f}", f"{s['preprocess_p50_ms']:.2f}",
                              f"{s['infer_p50_ms']:.2f}", f"{s['total_p50_ms']:.2f}"] for name, s in summary.items()])
    lines += ["", f"Ratio (this checkout / baseline, total p50 per frame), median over rounds: **{ratio:.2f}x** "
              f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)})"]
    (args.out / "pipeline_vs.md").write_text("\n".join(lines) + "\n")
    print(f"this checkout / {args.ref}: {ratio:.2f}x total p50 per frame")
    return 0


if __name__ == "__main__":
    sys.exit(main())
