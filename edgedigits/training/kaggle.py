"""A Kaggle Digit Recognizer submission: classify a test.csv of 28x28 digits into ``ImageId,Label`` rows.
"""

from __future__ import annotations

from pathlib import Path

from edgedigits.digit import DIGITS
from edgedigits.files import atomic_write
from edgedigits.training.mnist import load_kaggle_csv


def kaggle_submission(test_csv: Path, output: Path, classifier) -> int:
    """Classify the 28x28 digits of a Kaggle Digit Recognizer test.csv and write ``ImageId,Label`` rows to
    ``output``; returns how many."""
    images = load_kaggle_csv(test_csv).split("test").images
    labels = classifier.predict_many(images, batch=1000)[:, :DIGITS].argmax(1)
    atomic_write(output, "ImageId,Label\n" + "".join(f"{i},{d}\n" for i, d in enumerate(labels, 1)))
    return len(images)
