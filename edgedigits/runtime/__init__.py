"""Model file -> probabilities, without TensorFlow: the formats, the backends that run them, the bundled models."""

from edgedigits.runtime.bundled import DEFAULT_MODEL, default_model, resolve
from edgedigits.runtime.classifiers import Classifier, check_contract, load, open_model

__all__ = ["DEFAULT_MODEL", "Classifier", "check_contract", "default_model", "load", "open_model", "resolve"]
