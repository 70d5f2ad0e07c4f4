"""The classifier alone on real crops: digits cut from the single-digit photos of ../shared/data/photos-dev.

    python benchmarks/crops_accuracy.py [--photos DIR] [--model NAME|PATH ...] [--data MNIST] [--out DIR]

Each photo's digit is cut with the loose box of benchmarks/crops_boxes.json (boxes only, drawn once), its ink
measured as the finder measures it (``photos.cut_digit``) and normalised by ``preprocess.normalize_digit``;
the finder's choices play no part. For every model, side by side:

- real crops: read right, and wrongly rejected as "not a digit";
- 100 of them with the box lightly shifted or cut: the same two figures;
- generated junk (``training.junk`` on MNIST test digits, a seed training never uses): the share rejected, per kind;
- 1,000 MNIST test digits with broken strokes (``training.degrade.stroke_gaps``: a pen that skipped, a thin line the
  threshold broke): read right, and rejected;
- continental 7s: every MNIST test 7 given a bar across its stem (``training.degrade.continental``) high on it
  (just under the top stroke, as writers with a hooked top cross it) and at its middle: the share read 7;
- the 10k MNIST test set: accuracy (a reject counts as wrong) and reject rate.

Writes results/crops.json, crops.md and crops.png (every real crop, its label and each model's answer).
Skips, saying so, when the photo set is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BOXES = HERE / "crops_boxes.json"
RESULTS = HERE / "results"
MODELS = ["seed", "camera", "micro"]  # the old default first: the figure the new models are held against
VARIANTS = 100
SHIFT = 0.08  # a variant's box moves up to this share of its size...
CUT = (0.05, 0.12)  # ...or loses this share of it on one side (the boxes hold a tenth of margin)
JUNK_COUNT = 600
JUNK_SEED = 2026  # training draws from (seed, epoch) with seed 42: never this one
BROKEN = 1000
BARS = {"high": (0.2, 0.35), "middle": (0.45, 0.65)}  # a 7's bar: its height on the digit, from the top


def variant_box(box, shape, rng) -> list[int]:
    x, y, w, h = box
    if rng.random() < 0.5:
        x += int(round(rng.uniform(-SHIFT, SHIFT) * w))
        y += int(round(rng.uniform(-SHIFT, SHIFT) * h))
    else:
        side, cut = rng.integers(4), rng.uniform(*CUT)
        dx, dy = int(round(cut * w)), int(round(cut * h))
        x, y, w, h = [(x, y + dy, w, h - dy), (x, y, w, h - dy), (x + dx, y, w - dx, h), (x, y, w - dx, h)][side]
    x0, y0 = max(0, x), max(0, y)
    return [x0, y0, min(shape[1], x + w) - x0, min(shape[0], y + h) - y0]


def real_crops(root: Path, rng) -> tuple[dict, dict]:
    """The normalised real crops and their labels, and the shifted or cut variants."""
    import cv2

    from edgedigits.measure.photos import boxed_digits

    boxes = json.loads(BOXES.read_text())["boxes"]
    files, digits, labels = boxed_digits(root, boxes)
    real = {"files": files, "digits": digits, "labels": labels}
    varied = {}
    for i in range(VARIANTS):
        file = files[i % len(files)]
        shape = cv2.imread(str(root / file), cv2.IMREAD_COLOR).shape
        varied[f"{file}#{i}"] = {"file": file, "label": boxes[file]["label"],
                                 "box": variant_box(boxes[file]["box"], shape, rng)}
    names, digits, labels = boxed_digits(root, varied)
    return real, {"files": names, "digits": digits, "labels": labels}


def score(probs: np.ndarray, labels: np.ndarray) -> dict:
    from edgedigits.digit import NOT_A_DIGIT

    pred = probs.argmax(1)
    return {"n": int(len(labels)), "right": int(np.sum(pred == labels)), "accuracy": float(np.mean(pred == labels)),
            "rejected": int(np.sum(pred == NOT_A_DIGIT)), "reject_rate": float(np.mean(pred == NOT_A_DIGIT))}


def sheet(real: dict, answers: dict, path: Path) -> None:
    """Every real crop at 3x, its label, and each model's answer (red where wrong, '-' for not a digit)."""
    import cv2

    from edgedigits.digit import NOT_A_DIGIT

    tile, columns = 84, 10
    names = list(answers)
    height = tile + 14 * (len(names) + 1)
    rows = (len(real["labels"]) + columns - 1) // columns
    out = np.full((rows * height, columns * tile, 3), 255, np.uint8)
    for i, (digit, label) in enumerate(zip(real["digits"], real["labels"])):
        top, left = (i // columns) * height, (i % columns) * tile
        out[top : top + tile, left : left + tile] = cv2.cvtColor(cv2.resize(digit, (tile, tile),
                                                                 interpolation=cv2.INTER_NEAREST), cv2.COLOR_GRAY2BGR)
        cv2.putText(out, f"label {label}", (left + 2, top + tile + 11), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1)
        for k, name in enumerate(names):
            answer = int(answers[name][i])
            text = "-" if answer == NOT_A_DIGIT else str(answer)
            colour = (0, 140, 0) if answer == label else (0, 0, 220)
            cv2.putText(out, f"{name[:10]} {text}", (left + 2, top + tile + 25 + 14 * k), cv2.FONT_HERSHEY_SIMPLEX,
                        0.35, colour, 1)
    cv2.imwrite(str(path), out)


def main() -> int:
    from edgedigits.measure.photos import PHOTOS_HELP

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, default=None, help=PHOTOS_HELP)
    parser.add_argument("--model", action="append", default=None,
                        help=f"a model file or a bundled model's name, repeatable [default: {', '.join(MODELS)}]")
    parser.add_argument("--data", default=None, help="MNIST location [default: as the CLI finds it]")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    from edgedigits import runtime
    from edgedigits.console import markdown_table, progress_bar
    from edgedigits.digit import DIGITS, NOT_A_DIGIT, normalize_digit
    from edgedigits.measure import photos
    from edgedigits.training import mnist
    from edgedigits.training.degrade import continental, stroke_gaps
    from edgedigits.training.junk import JUNK as JUNK_KINDS
    from edgedigits.training.junk import junk

    root = photos.present(args.photos)
    if root is None:
        return 0
    rng = np.random.default_rng(0)
    real, varied = real_crops(root, rng)
    test = mnist.load(args.data).split("test")
    junk, kinds = junk(JUNK_COUNT, test.images, np.random.default_rng(JUNK_SEED))
    gaps_rng = np.random.default_rng(JUNK_SEED + 1)
    broken = np.stack([normalize_digit(stroke_gaps(img, gaps_rng)) for img in test.images[:BROKEN]])
    kinds = np.array(kinds)
    sevens = test.images[test.labels == 7]
    bar_rng = np.random.default_rng(JUNK_SEED + 2)
    crossed = {where: np.stack([normalize_digit(continental(img, 7, bar_rng, bars)) for img in sevens])
               for where, bars in BARS.items()}
    report = {"date": time.strftime("%Y-%m-%d"), "photos": str(root), "boxes": BOXES.name,
              "real": len(real["labels"]), "variants": len(varied["labels"]), "junk": JUNK_COUNT,
              "broken": BROKEN, "sevens": len(sevens), "bars": BARS, "models": []}
    rows, answers = [], {}
    names = args.model or MODELS
    with progress_bar("classifying crops and MNIST", total=len(names)) as advance:
        for name in names:
            path = runtime.resolve(name)
            clf = runtime.load(path)
            real_probs = clf.predict(real["digits"])
            entry = {"model": path.name, "classes": clf.classes, "real": score(real_probs, real["labels"]),
                     "variants": score(clf.predict(varied["digits"]), varied["labels"]),
                     "broken": score(clf.predict(broken), test.labels[:BROKEN]),
                     "mnist": score(clf.predict_many(test.images), test.labels)}
            entry["crossed_7"] = {where: float(np.mean(clf.predict(c).argmax(1) == 7)) for where, c in crossed.items()}
            answers[path.name] = real_probs.argmax(1)
            junk_pred = clf.predict(junk).argmax(1)
            if clf.classes > DIGITS:
                rejected = junk_pred == NOT_A_DIGIT
                entry["junk_rejected"] = float(rejected.mean())
                entry["junk_rejected_by_kind"] = {k: float(rejected[kinds == k].mean()) for k in JUNK_KINDS}
            entry["misread"] = [{"file": f, "label": int(lab), "read": int(a)} for f, lab, a in
                                zip(real["files"], real["labels"], answers[path.name]) if a != lab]
            report["models"].append(entry)
            r, v, b, m = entry["real"], entry["variants"], entry["broken"], entry["mnist"]
            junk_text = f"{entry['junk_rejected']:.1%}" if "junk_rejected" in entry else "cannot reject"
            crossed_text = ", ".join(f"{where} {share:.1%}" for where, share in entry["crossed_7"].items())
            rows.append([path.name, f"{r['right']}/{r['n']} ({r['accuracy']:.1%})", f"{r['reject_rate']:.1%}",
                         f"{v['accuracy']:.1%}", f"{v['reject_rate']:.1%}", junk_text, f"{b['accuracy']:.1%}",
                         f"{b['reject_rate']:.1%}", *(f"{share:.1%}" for share in entry["crossed_7"].values()),
                         f"{m['accuracy']:.2%}", f"{m['reject_rate']:.2%}"])
            print(f"{path.name}: real {r['right']}/{r['n']}, rejected {r['rejected']}; variants {v['accuracy']:.1%}, "
                  f"rejected {v['rejected']}; junk rejected {junk_text}; broken strokes {b['accuracy']:.1%}; "
                  f"crossed 7s read {crossed_text}; "
                  f"MNIST {m['accuracy']:.2%}", file=sys.stderr)
            advance()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "crops.json").write_text(json.dumps(report, indent=1) + "\n")
    sheet(real, answers, args.out / "crops.png")
    header = ["model", "real crops read right", "real rejected", f"{report['variants']} shifted/cut: right",
              "rejected", f"junk rejected ({JUNK_COUNT})", f"{BROKEN} broken strokes: right", "rejected",
              *(f"{len(sevens)} 7s crossed {w}: read 7" for w in BARS), "MNIST test",
              "MNIST rejected"]
    by_kind = [[e["model"], *(f"{e['junk_rejected_by_kind'][k]:.1%}" for k in JUNK_KINDS)]
               for e in report["models"] if "junk_rejected_by_kind" in e]
    lines = [f"# The classifier on real crops ({report['date']})", "",
             f"{report['real']} digits cut from the single-digit photos of `{root.name}` with the boxes of "
             f"`{BOXES.name}`, normalised by `normalize_digit`. The photos are a development set: no model trained "
             "on them. Command: `python benchmarks/crops_accuracy.py`", ""]
    lines += markdown_table(header, rows)
    if by_kind:
        lines += ["", "Junk rejected, by kind:", ""] + markdown_table(["model", *JUNK_KINDS], by_kind)
    lines += ["", "Every real crop with each model's answer: `crops.png`."]
    (args.out / "crops.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
