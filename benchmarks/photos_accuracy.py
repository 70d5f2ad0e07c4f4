"""Reading accuracy on real photos of handwriting: the labelled development set in ../shared/data/photos-dev.

    python benchmarks/photos_accuracy.py [--photos DIR] [--model PATH ...] [--out DIR]

Per kind of photo (single digits, multi-digit photos, screen drawings): images read exactly right, digit accuracy
(1 - edit distance / label length, lines top to bottom) and extra digits; and per source (the part of a file name
before ``__``: one writer, camera or repository), the share of its digits read, worst first. Writes benchmarks/results/photos.json
(summary and every image's reading and boxes), photos.md, and photos_misread.png: each misread photo with the
boxes found, its label and the reading. Skips, saying so, when the set is absent; the photos are never copied.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
KINDS = {"single": "single digit (phone photos and crops)", "multi": "multi-digit (strips, strings, sheets)",
         "canvas": "digits drawn on a screen"}


def main() -> int:
    from edgedigits.measure.photos import PHOTOS_HELP

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, default=None, help=PHOTOS_HELP)
    parser.add_argument("--model", action="append", type=Path, help="model file(s) [default: the default model]")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    import cv2

    from edgedigits import runtime
    from edgedigits.console import markdown_table, progress_bar
    from edgedigits.measure import photos

    root = photos.present(args.photos)
    if root is None:
        return 0
    models = args.model or [runtime.default_model()]
    report, rows, source_rows = {"date": time.strftime("%Y-%m-%d"), "photos": str(root), "models": []}, [], []
    args.out.mkdir(parents=True, exist_ok=True)
    for model in models:
        classifier = runtime.load(model)
        total = len(photos.load_index(root))
        start = time.perf_counter()
        with progress_bar(f"reading {total} photos with {model.name}", total) as advance:
            results, summary = photos.evaluate(classifier, root, progress=advance)
        seconds = time.perf_counter() - start
        sources = photos.by_source(results)
        report["models"].append({"model": model.name, "seconds": round(seconds, 1), "summary": summary,
                                 "sources": sources, "images": results})
        for name, s in sources.items():
            source_rows.append([model.name, name, s["images"], s["digits"], f"{s['digit_accuracy']:.1%}"])
        print(f"{model.name} per source (share of its digits read, worst first):")
        for name, s in sources.items():
            print(f"  {name:<14} {s['images']:>4} images {s['digits']:>5} digits  {s['digit_accuracy']:7.1%}")
        for kind, s in summary.items():
            rows.append([model.name, KINDS.get(kind, kind), s["images"], f"{s['exact']} ({s['exact_rate']:.1%})",
                         f"{s['digit_accuracy']:.1%}", s["extra_digits"]])
            print(f"{model.name} {kind}: {s['exact']}/{s['images']} exact, digit accuracy "
                  f"{s['digit_accuracy']:.2%}, {s['extra_digits']} extra digits")
        if model == models[0]:
            sheet = photos.contact_sheet(results, root)
            if sheet is not None:
                cv2.imwrite(str(args.out / "photos_misread.png"), sheet)
            else:
                (args.out / "photos_misread.png").unlink(missing_ok=True)
    (args.out / "photos.json").write_text(json.dumps(report, indent=1) + "\n")
    lines = [f"# Reading real photos ({report['date']})", "",
             f"The development set `{root.name}` ({total} images, see its README). Exact: the whole reading equals",
             "the label (lines joined with `-`). These photos are a development set, not a held-out test.",
             "Command: `python benchmarks/photos_accuracy.py`", ""]
    lines += markdown_table(["model", "kind", "images", "read exactly right", "digit accuracy", "extra digits"], rows)
    lines += ["", "Per source (the part of a file name before `__`), the share of its digits read, worst first:", ""]
    lines += markdown_table(["model", "source", "images", "digits", "digits read"], source_rows)
    misread = (args.out / "photos_misread.png").exists()
    lines += ["", "Misread photos, with the boxes found: `photos_misread.png`." if misread else
              "The default model read every photo right: no `photos_misread.png`."]
    (args.out / "photos.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
