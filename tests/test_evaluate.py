import numpy as np

from edgedigits.training.evaluate import classification_report


def _probs(answers, classes):
    out = np.full((len(answers), classes), 0.01, np.float32)
    out[np.arange(len(answers)), answers] = 1.0
    return out


def test_a_reject_counts_as_wrong_and_is_reported():
    labels = np.array([0, 1, 2, 3, 4])
    report = classification_report(labels, _probs([0, 1, 10, 3, 9], 11))
    assert report["classes"] == 11 and report["accuracy"] == 0.6 and report["errors"] == 2
    assert report["rejected"] == 1 and report["reject_rate"] == 0.2
    assert len(report["per_class"]) == 10 and len(report["confusion"][0]) == 11
    assert report["confusion"][2][10] == 1


def test_ten_classes_never_reject():
    report = classification_report(np.array([5, 6]), _probs([5, 5], 10))
    assert report["classes"] == 10 and report["rejected"] == 0 and report["accuracy"] == 0.5
