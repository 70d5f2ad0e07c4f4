"""Accuracy, per-class precision/recall and the confusion matrix, plus the provenance written next to them."""

from __future__ import annotations

import numpy as np

from edgedigits.console import err, table
from edgedigits.digit import DIGITS, NOT_A_DIGIT, to_model_input
from edgedigits.errors import EdgeDigitsError
from edgedigits.training import mnist


def predict_keras(model, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Class probabilities (N, 10 or 11) for uint8 digits, through the shared preprocessing."""
    return np.asarray(model.predict(to_model_input(images), batch_size=batch_size, verbose=0))


def classification_report(y_true: np.ndarray, probs: np.ndarray) -> dict:
    """Accuracy, per-class precision/recall and the confusion matrix of ``probs`` (N, 10 or 11) against digit
    labels. An 11-class model's "not a digit" answer counts as wrong, and the reject rate is reported."""
    probs = np.asarray(probs)
    num_classes = probs.shape[1] if probs.ndim == 2 else DIGITS
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = probs.argmax(1) if len(probs) else np.zeros(0, np.int64)
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    tp = np.diag(confusion)
    predicted, actual = confusion.sum(0), confusion.sum(1)
    precision = np.divide(tp, predicted, out=np.zeros(num_classes), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros(num_classes), where=actual > 0)
    rejected = int(np.sum(y_pred == NOT_A_DIGIT)) if num_classes > DIGITS else 0
    return {
        "samples": int(len(y_true)),
        "classes": num_classes,
        "accuracy": float(tp.sum() / max(1, len(y_true))),
        "errors": int(len(y_true) - tp.sum()),
        "rejected": rejected,
        "reject_rate": rejected / max(1, len(y_true)),
        "per_class": [
            {"digit": d, "support": int(actual[d]), "precision": float(precision[d]), "recall": float(recall[d])}
            for d in range(DIGITS)
        ],
        "confusion": confusion.tolist(),
    }


def evaluate_model(classifier, data: str | None = None, split: str = "test") -> dict:
    """``edgedigits evaluate``: the report of ``classifier`` on an MNIST split, printed as tables."""
    part = mnist.load(data).split(split)
    if part.labels is None:
        raise EdgeDigitsError(f"the {split} split of the data has no labels")
    report = classification_report(part.labels, classifier.predict_many(part.images, batch=1000))
    report["model"], report["runtime"] = str(classifier.path), classifier.backend
    print_report(report, title=f"{classifier.path} ({classifier.backend}) on the MNIST {split} set")
    return report


def print_report(report: dict, title: str) -> None:
    rows = [
        (c["digit"], c["support"], f"{c['precision'] * 100:.2f}", f"{c['recall'] * 100:.2f}")
        for c in report["per_class"]
    ]
    table(title, ["digit", "support", "precision %", "recall %"], rows)
    confusion = report["confusion"]
    header = ["", *(("not" if i == NOT_A_DIGIT else str(i)) for i in range(len(confusion)))]
    table("confusion matrix (rows: true, columns: predicted)", header,
          [[str(i), *row] for i, row in enumerate(confusion[:DIGITS])])
    rejects = f", {report['rejected']} rejected as not a digit" if report.get("classes", DIGITS) > DIGITS else ""
    err.print(
        f"accuracy [bold]{report['accuracy'] * 100:.2f}%[/] "
        f"({report['samples'] - report['errors']:,}/{report['samples']:,}, {report['errors']} errors{rejects})"
    )
