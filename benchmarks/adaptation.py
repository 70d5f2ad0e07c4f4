"""Learning a writer's style, as a user does it: collect, label, fine-tune, read again.

    python benchmarks/adaptation.py [--per-class 20] [--epochs 2] [--limit 6000] [--held-pages 40]

The writer is ``measure.styles`` (seven-segment digits drawn with a pen), which the bundled camera model reads
poorly. Photos of it go through ``predict``'s pipeline with ``--collect`` (every digit, and those the model called
"not a digit"); each crop is labelled from the photo's ground truth, moved into its class folder as the review page
does, until each class holds ``--per-class`` crops. Then ``train --init-from camera --user-data`` runs on this
machine's cores (the time is reported), the run is exported to int8 TFLite, and new photos of the style
(``--held-pages``, never collected) are read by the bundled model and by the fine-tuned one. MNIST test accuracy
is reported before and after. Writes benchmarks/results/adaptation.{json,md} and adaptation_misread.png (what
still fails).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def collect(root: Path, per_class: int, classifier, seed: int) -> dict:
    """Photos of the style through the pipeline, their crops labelled until each class holds ``per_class``."""
    from edgedigits.crops import folder
    from edgedigits.crops.collect import Collector
    from edgedigits.measure import styles
    from edgedigits.measure.scenes import iou
    from edgedigits.reader.pipeline import read_frame

    collector = Collector(root, below=1.0)
    rng = np.random.default_rng(seed)
    have, pages = {d: 0 for d in styles.STYLE_DIGITS}, 0
    while min(have.values()) < per_class and pages < 2000:
        image, boxes, labels = styles.make_page(rng)
        pages += 1
        rejected: list = []
        detections = read_frame(image, classifier, rejected=rejected).detections
        collector.add(image, detections + rejected, f"page{pages}")
        for crop in folder.scan(root, (folder.UNLABELLED,)):
            truth = [d for box, d in zip(boxes, labels) if iou(crop.meta["box"], box) >= 0.5]
            if truth and have[truth[0]] < per_class:
                folder.move(root, crop, str(truth[0]))
                have[truth[0]] += 1
            else:  # a class already full, or no digit: left out, as a user skips it
                for suffix in folder.SUFFIXES:
                    (crop.folder / f"{crop.id}{suffix}").unlink(missing_ok=True)
    return {"pages": pages, "per_class": have}


def read_style(classifier, pages: list) -> tuple[float, list]:
    """The share of the style's digits read right (found, box IoU >= 0.5, right digit), and the misreads."""
    from edgedigits.measure.scenes import iou
    from edgedigits.reader.pipeline import read_frame

    right, total, misread = 0, 0, []
    for image, boxes, labels in pages:
        detections = read_frame(image, classifier).detections
        for box, label in zip(boxes, labels):
            total += 1
            found = [d for d in detections if iou(d.box, box) >= 0.5]
            if found and found[0].label == label:
                right += 1
            else:
                misread.append((image, box, label, found[0].label if found else None))
    return right / max(1, total), misread


def contact_sheet(misread: list, path: Path, tile: int = 96, columns: int = 10) -> None:
    import cv2

    if not misread:
        return
    tiles = []
    for image, (x, y, w, h), label, read in misread[: columns * 6]:
        m = max(w, h) // 4
        crop = image[max(0, y - m) : y + h + m, max(0, x - m) : x + w + m]
        crop = cv2.cvtColor(cv2.resize(crop, (tile, tile)), cv2.COLOR_GRAY2BGR)
        cv2.putText(crop, f"{label}>{'-' if read is None else read}", (3, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 0, 220), 1)
        tiles.append(crop)
    tiles += [np.full_like(tiles[0], 255)] * (-len(tiles) % columns)
    rows = [np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)]
    cv2.imwrite(str(path), np.vstack(rows))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-class", type=int, default=20, help="crops labelled per class")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=6000, help="MNIST digits replayed in each epoch")
    parser.add_argument("--held-pages", type=int, default=40, help="new photos of the style read before and after")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=None)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from edgedigits import runtime
    from edgedigits.console import markdown_table
    from edgedigits.environment import cpu_model
    from edgedigits.export.convert import export
    from edgedigits.measure import styles
    from edgedigits.runtime.bundled import bundled
    from edgedigits.training.train import TrainConfig, finish, train

    camera = runtime.load(bundled("camera", ".int8.tflite"))
    held_rng = np.random.default_rng([args.seed, 1])
    held = [styles.make_page(held_rng) for _ in range(args.held_pages)]
    with tempfile.TemporaryDirectory() as tmp:
        crops, run = Path(tmp) / "mine", Path(tmp) / "run"
        collected = collect(crops, args.per_class, camera, args.seed)
        print(f"collected and labelled {collected['per_class']} from {collected['pages']} photos", file=sys.stderr)
        cfg = TrainConfig(arch="camera", init_from="camera", user_data=str(crops), user_holdout=0.0,
                          epochs=args.epochs, limit=args.limit, lr=3e-4, seed=7, val_seed=42)
        started = time.time()
        _, dataset, state = train(cfg, run, data=args.data, verbose=2)
        train_seconds = time.time() - started
        metrics = finish(run, dataset, state, ["benchmarks/adaptation.py"])
        export(run / "model.keras", ["tflite-int8"], out=run, stem="mine", data=args.data, raise_on_failure=True)
        mine = runtime.load(run / "mine.int8.tflite")
        before, _ = read_style(camera, held)
        after, misread = read_style(mine, held)
    contact_sheet(misread, args.out / "adaptation_misread.png")
    report = {"date": time.strftime("%Y-%m-%d"), "cpu": cpu_model(), "style": "seven-segment digits, drawn",
              "labelled": collected["per_class"], "photos_collected": collected["pages"],
              "held_out_digits": sum(len(p[2]) for p in held), "epochs": args.epochs, "mnist_replay": args.limit,
              "train_seconds": round(train_seconds, 1), "style_before": before, "style_after": after,
              "mnist_before": metrics.get("mnist_before"), "mnist_after": metrics.get("accuracy"),
              "misread_after": len(misread)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "adaptation.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [f"# Learning a writer's style ({report['date']}, {report['cpu']})", "",
             f"{report['style']}: {args.per_class} crops labelled per class, fine-tuned {args.epochs} epochs with "
             f"{args.limit:,} MNIST digits replayed, on this machine's cores. Held-out photos: "
             f"{report['held_out_digits']} digits, never collected. Command: `python benchmarks/adaptation.py`", ""]
    lines += markdown_table(["", "bundled camera", "fine-tuned"],
                            [["the style's held-out digits read", f"{before * 100:.2f}%", f"{after * 100:.2f}%"],
                             ["MNIST test", f"{(report['mnist_before'] or 0) * 100:.2f}%",
                              f"{(report['mnist_after'] or 0) * 100:.2f}%"],
                             ["fine-tune time", "", f"{train_seconds:.0f} s"]])
    (args.out / "adaptation.md").write_text("\n".join(lines) + "\n")
    print(f"style read {before * 100:.2f}% -> {after * 100:.2f}%; MNIST {(report['mnist_before'] or 0) * 100:.2f}% "
          f"-> {(report['mnist_after'] or 0) * 100:.2f}%; fine-tune {train_seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
