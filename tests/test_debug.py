"""``predict --debug`` and the page finder: a page on a desk is found and flattened, and every stage is drawn, with
the reason each dropped candidate was dropped."""

import cv2
import numpy as np

from edgedigits import runtime
from edgedigits.reader.outputs.debug import REASONS, stages
from edgedigits.reader.pipeline import read_frame
from edgedigits.reader.predict import predict_images
from edgedigits.reader.vision import page as pages
from edgedigits.reader.vision.results import Trace


def _sheet(text="4704", text_y=200) -> np.ndarray:
    """A white sheet with digits, a ruled line and a blot."""
    sheet = np.full((700, 520, 3), 236, np.uint8)
    cv2.putText(sheet, text, (60, text_y), cv2.FONT_HERSHEY_SIMPLEX, 3, (30, 30, 30), 9)
    cv2.line(sheet, (0, 420), (519, 420), (120, 120, 120), 3)  # a rule across the sheet
    cv2.circle(sheet, (260, 560), 26, (30, 30, 30), -1)  # a blot
    return sheet


def _page_on_desk(text="4704", turn=12.0, text_y=200) -> np.ndarray:
    """``_sheet`` turned on a dark wooden desk."""
    sheet = _sheet(text, text_y)
    desk = np.zeros((900, 1200, 3), np.uint8)
    desk[:] = (40, 70, 110)
    turn_m = cv2.getRotationMatrix2D((260, 350), turn, 1.0)
    turn_m[:, 2] += (340, 100)
    mask = cv2.warpAffine(np.ones((700, 520), np.uint8), turn_m, (1200, 900))
    warped = cv2.warpAffine(sheet, turn_m, (1200, 900))
    return np.where(mask[..., None] > 0, warped, desk)


def test_a_page_on_a_desk_is_found_with_four_corners_and_read():
    frame = _page_on_desk()
    found = pages.find_pages(frame)
    assert len(found) == 1 and found[0].corners is not None
    assert 0.2 < found[0].mask.mean() < 0.5
    assert pages.find_pages(np.full((480, 640, 3), 230, np.uint8)) == []  # all page: read whole...
    assert pages.find_pages(_sheet()) == []  # ...with its dark ink too
    clf = runtime.open_model(None)
    assert [d.label for d in sorted(read_frame(frame, clf).detections, key=lambda d: d.box[0])] == [4, 7, 0, 4]
    assert read_frame(frame, clf, page="off").detections is not None  # the old way still runs


def test_a_page_cut_by_the_frame_keeps_the_writing_along_the_cut():
    """A sheet running out of the frame's top, with a number written just below the cut: no four corners are
    guessed for it (one would cut through the number), it is painted and turned, and the number reads."""
    frame = _page_on_desk(turn=15.0, text_y=110)
    cut = frame[150:].copy()  # the frame's top crosses the sheet's corner, just above the number
    found = pages.find_pages(cut)
    assert len(found) == 1 and found[0].corners is None
    clf = runtime.open_model(None)
    assert [d.label for d in sorted(read_frame(cut, clf).detections, key=lambda d: d.box[0])] == [4, 7, 0, 4]


def test_debug_draws_every_stage_and_says_why_a_candidate_was_dropped(tmp_path):
    frame = _page_on_desk()
    trace = Trace(frame)
    reading = read_frame(frame, runtime.open_model(None), min_confidence=0.999, trace=trace)
    assert trace.pages and len(trace.views) == 1
    view = trace.views[0]
    assert view.ink is not None and view.ink.shape == view.image.shape[:2] and view.ink.any()
    assert view.lines is not None and view.lines.any()  # the rule was removed as a line
    reasons = {reason for _, reason, _ in view.candidates} | {reason for _, reason in trace.dropped}
    assert reasons <= set(REASONS) and "digit" in reasons and reasons - {"digit"}, reasons
    picture = stages(trace, reading.detections, "4704")
    assert picture.ndim == 3 and picture.shape[1] == 3 * 480 and picture.shape[0] > 2 * 300

    cv2.imwrite(str(tmp_path / "desk.png"), frame)
    lines = []
    predict_images([tmp_path / "desk.png"], runtime.open_model(None), lines.append, debug_dir=tmp_path / "debug")
    written = cv2.imread(str(tmp_path / "debug" / "desk.debug.png"))
    assert written is not None and written.shape[1] == 3 * 480
    assert lines == [f"{tmp_path / 'desk.png'}: 4704"]
