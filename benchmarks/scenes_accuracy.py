"""Reading accuracy on generated scenes, clean, hard and photo-like, for each bundled int8 model.

    python benchmarks/scenes_accuracy.py [--frames 300] [--sheet-frames 100]

Writes benchmarks/results/scenes.{json,md}: detection recall and precision (IoU >= 0.5) and end-to-end
accuracy (found and right). Clean and hard: 640x480 frames of 10 MNIST test digits. Photo: ``scenes.make_photo``
frames (close-ups, pens and markers, coloured, ruled, grid and textured paper, sharp shadows, ink seen through,
up to 4000x3000), which stand beside the real photos of benchmarks/photos_accuracy.py. Sheets, with the default
model: ``scenes.make_sheet`` frames of each class (a page on a desk, a dense sheet, ruled or grid notebook paper
with a thin pen, thick marker, coloured paper), each class on its own.
"""

import argparse
import json
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--sheet-frames", type=int, default=100, help="frames per sheet class")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    from edgedigits import runtime
    from edgedigits.console import markdown_table
    from edgedigits.measure import scenes
    from edgedigits.runtime.bundled import bundled
    from edgedigits.training import mnist

    ds = mnist.load()
    rows = []
    for name in ("seed", "camera", "micro"):
        clf = runtime.load(bundled(name, ".int8.tflite"))
        for kind, seed in (("clean", 100), ("hard", 101), ("photo", 102)):
            result = scenes.evaluate(clf, ds.test.images, ds.test.labels, hard=kind == "hard", frames=args.frames,
                                     seed=seed, photo=kind == "photo")
            rows.append({"model": f"{name}.int8.tflite", "set": kind, **result})
            print(f"{name} {rows[-1]['set']}: recall {result['recall']:.4f} precision {result['precision']:.4f} "
                  f"accuracy {result['accuracy']:.4f} ({result['truth']} digits)")
    clf = runtime.open_model(None)
    for n, kind in enumerate(scenes.SHEETS):
        result = scenes.evaluate(clf, ds.test.images, ds.test.labels, frames=args.sheet_frames, seed=300 + n,
                                 sheet=kind)
        rows.append({"model": runtime.default_model().name, "set": f"sheet: {kind}", **result})
        print(f"camera sheet {kind}: recall {result['recall']:.4f} precision {result['precision']:.4f} "
              f"accuracy {result['accuracy']:.4f} ({result['truth']} digits)")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scenes.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = [f"# Reading generated camera scenes ({time.strftime('%Y-%m-%d')})", "",
             f"{args.frames} frames per set. Clean and hard: 10 MNIST test digits each, 640x480. Clean: dark ink on",
             "paper, uneven light, blur, noise, JPEG, a small perspective tilt. Hard adds ruled lines, shadows, close",
             "digits, light on dark. Photo: `scenes.make_photo` (close-ups, thin pens and fat markers, blue ink,",
             "coloured, ruled, grid and textured paper, sharp shadows, ink seen through the page, up to 4000x3000).",
             f"Sheets ({args.sheet_frames} frames per class, the default model): `scenes.make_sheet`, a page on a desk,",
             "a dense sheet, ruled or grid notebook paper with a thin pen, thick marker, coloured paper.",
             "Command: `python benchmarks/scenes_accuracy.py`", ""]
    lines += markdown_table(
        ["model", "set", "digits", "detection recall", "detection precision", "end-to-end accuracy"],
        [[r["model"], r["set"], r["truth"], f"{r['recall'] * 100:.2f}%", f"{r['precision'] * 100:.2f}%",
          f"{r['accuracy'] * 100:.2f}%"] for r in rows])
    (args.out / "scenes.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
