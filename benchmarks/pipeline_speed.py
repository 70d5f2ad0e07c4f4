"""Camera-pipeline speed on one core: 640x480 frames with 10 digits, capture excluded.

    python benchmarks/pipeline_speed.py [--model PATH] [--frames 200] [--digits 10] [--desk]

``--desk`` also times frames of a page lying on a desk (``scenes.make_sheet(kind="desk")``, 1280x960 to
2016x1512, found and flattened before it is read), as rows of their own.

Pins the process to one CPU, sets OpenCV and the runtime to one thread, warms up, then times every frame
(preprocess = everything but inference; infer = the classifier calls). Writes
benchmarks/results/pipeline_speed.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", help="model file(s) [default: bundled camera and micro int8]")
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--digits", type=int, default=10)
    parser.add_argument("--desk", action="store_true", help="also time frames of a page on a desk")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    import cv2

    cv2.setNumThreads(1)
    from edgedigits import runtime
    from edgedigits.console import markdown_table
    from edgedigits.environment import system_info
    from edgedigits.measure import scenes
    from edgedigits.reader.pipeline import time_frames
    from edgedigits.runtime.bundled import bundled
    from edgedigits.training import mnist

    models = [Path(m) for m in args.model] if args.model else [bundled("camera", ".int8.tflite"),
                                                               bundled("micro", ".int8.tflite")]
    ds = mnist.load()
    rng = np.random.default_rng(0)
    sets = {"640x480": [scenes.make_scene(rng, ds.test.images, ds.test.labels, n=args.digits).image
                        for _ in range(args.frames)]}
    if args.desk:
        sets["page on a desk"] = [scenes.make_sheet(rng, ds.test.images, ds.test.labels, "desk").image
                                  for _ in range(max(20, args.frames // 5))]
    rows = []
    for (scene, frames), model in ((s, m) for s in sets.items() for m in models):
        clf = runtime.load(model, threads=1)
        timing = time_frames(clf, frames, warmup=10)
        row = {"model": model.name, "runtime": clf.backend, "frames": len(frames), "scene": scene,
               "digits_per_frame": timing["found_per_frame"]}
        for stage in ("preprocess", "infer", "total"):
            values = timing["stages"][stage]
            row[f"{stage}_mean_ms"] = float(np.mean(values))
            row[f"{stage}_p50_ms"] = float(np.percentile(values, 50))
            row[f"{stage}_p90_ms"] = float(np.percentile(values, 90))
        rows.append(row)
        print(f"{model.name}, {scene}: total p50 {row['total_p50_ms']:.2f} ms "
              f"(preprocess {row['preprocess_p50_ms']:.2f}, infer {row['infer_p50_ms']:.2f}), "
              f"{row['digits_per_frame']:.1f} digits/frame")

    system = {**system_info(), "opencv": cv2.__version__, "threads": 1, "frame": "640x480", "digits": args.digits}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pipeline_speed.json").write_text(json.dumps({"system": system, "rows": rows}, indent=2) + "\n")
    lines = [f"# Camera pipeline, one core ({system['date']}, {system['cpu']})", "",
             f"640x480 frames with {args.digits} digits, capture excluded, {args.frames} frames after 10 warm-up"
             + (f"; and {len(sets.get('page on a desk', []))} frames of a page on a desk (1280x960 to 2016x1512)."
                if args.desk else "."),
             f"Command: `python benchmarks/pipeline_speed.py{' --desk' if args.desk else ''}`", ""]
    lines += markdown_table(
        ["frames", "model", "runtime", "digits/frame", "preprocess p50 ms", "infer p50 ms", "total p50 ms",
         "total p90 ms"],
        [[r["scene"], r["model"], r["runtime"], f"{r['digits_per_frame']:.1f}", f"{r['preprocess_p50_ms']:.2f}",
          f"{r['infer_p50_ms']:.2f}", f"{r['total_p50_ms']:.2f}", f"{r['total_p90_ms']:.2f}"] for r in rows])
    (args.out / "pipeline_speed.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
