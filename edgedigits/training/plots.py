"""PNG plots for people: training curves, confusion matrix, misclassified digits, class counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgedigits.digit import DIGITS, NOT_A_DIGIT


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def curves(history: dict, path: Path) -> None:
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for key, label in ((metric, "train"), (f"val_{metric}", "validation")):
            if history.get(key):
                ax.plot(range(1, len(history[key]) + 1), history[key], marker=".", label=label)
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def confusion(matrix: np.ndarray, path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5.5))
    matrix = matrix[:DIGITS]  # the true labels are digits
    shown = matrix.astype(float).copy()
    np.fill_diagonal(shown, np.nan)  # errors only: the diagonal would swamp the colour scale
    im = ax.imshow(shown, cmap="Reds")
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, str(value), ha="center", va="center", fontsize=7, color="black" if i != j else "tab:blue")
    rows, cols = matrix.shape
    ax.set_xticks(range(cols), ["not" if i == NOT_A_DIGIT else str(i) for i in range(cols)])
    ax.set_yticks(range(rows))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("confusion matrix (off-diagonal coloured)")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def errors(images: np.ndarray, labels: np.ndarray, probs: np.ndarray, path: Path, limit: int = 64) -> None:
    plt = _pyplot()
    pred = probs.argmax(1)
    wrong = np.flatnonzero(pred != labels)
    wrong = wrong[np.argsort(-probs[wrong, pred[wrong]])][:limit]  # most confident mistakes first
    cols = 8
    rows = max(1, int(np.ceil(len(wrong) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.3, rows * 1.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong):
        ax.imshow(images[i], cmap="gray")
        ax.set_title(f"{labels[i]}→{'∅' if pred[i] == NOT_A_DIGIT else pred[i]} {probs[i, pred[i]]:.2f}", fontsize=8)
    fig.suptitle(f"{len(np.flatnonzero(pred != labels))} misclassified test digits (true→predicted, confidence)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def class_counts(train_labels: np.ndarray, test_labels: np.ndarray | None, path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    digits = np.arange(DIGITS)
    ax.bar(digits - 0.2, np.bincount(train_labels, minlength=DIGITS), width=0.4, label="train")
    if test_labels is not None:
        ax.bar(digits + 0.2, np.bincount(test_labels, minlength=DIGITS), width=0.4, label="test")
    ax.set_xticks(digits)
    ax.set_xlabel("digit")
    ax.set_ylabel("images")
    ax.set_yscale("log")
    ax.legend()
    ax.set_title("images per class")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
