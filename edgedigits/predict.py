"""``edgedigits predict``: read the digits in image files and folders, or classify a Kaggle test.csv."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from edgedigits.errors import EdgeDigitsError


def predict_images(paths, classifier, echo: Callable[[str], None], as_json: bool = False,
                   annotate_dir: Path | None = None, min_confidence: float = 0.0) -> int:
    """Read every image among ``paths`` (folders recursively) and ``echo`` one line per image: JSON or
    "path: numbers". With ``annotate_dir``, a copy with boxes and labels is written there. Returns the count."""
    import cv2

    from edgedigits.pipeline import read_frame
    from edgedigits.preview import annotate
    from edgedigits.sources import image_files
    from edgedigits.vision import reading

    files = image_files(paths)
    if annotate_dir:
        annotate_dir.mkdir(parents=True, exist_ok=True)
    for path in files:
        frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if frame is None:
            raise EdgeDigitsError(f"{path} is not a readable image")
        detections, numbers, _ = read_frame(frame, classifier, min_confidence=min_confidence)
        if as_json:
            echo(json.dumps({"image": str(path), "digits": [d.to_json() for d in detections],
                             "numbers": [n.to_json() for n in numbers], "reading": reading(numbers)}))
        else:
            echo(f"{path}: {' '.join(n.text for n in numbers) or '(no digits)'}")
        if annotate_dir:
            cv2.imwrite(str(annotate_dir / path.name), annotate(frame, detections, numbers))
    return len(files)


def kaggle_submission(test_csv: Path, output: Path, classifier) -> int:
    """Classify the 28x28 digits of a Kaggle Digit Recognizer test.csv and write ``ImageId,Label`` rows to
    ``output``; returns how many."""
    from edgedigits.data import load_kaggle_csv
    from edgedigits.files import atomic_write
    from edgedigits.preprocess import DIGITS

    images = load_kaggle_csv(test_csv).split("test").images
    labels = classifier.predict_many(images, batch=1000)[:, :DIGITS].argmax(1)
    atomic_write(output, "ImageId,Label\n" + "".join(f"{i},{d}\n" for i, d in enumerate(labels, 1)))
    return len(images)
