"""Digits in a frame: ``find_digits`` on top; the ink, its measures, lines and pieces below it."""

from edgedigits.reader.vision.finder import find_digits
from edgedigits.reader.vision.ink import Ink, choose_plane, find_ink
from edgedigits.reader.vision.results import (
    Detection,
    Number,
    group_numbers,
    iou,
    reading,
)

__all__ = ["Detection", "Ink", "Number", "choose_plane", "find_digits", "find_ink", "group_numbers", "iou", "reading"]
