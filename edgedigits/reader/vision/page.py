"""The sheet of paper in a frame: found before any ink is looked for, so that every ink decision is taken inside
the page and never from the desk, a scan's dark margin or the world beyond the paper.

A page is a bright region of the frame, far brighter than what surrounds it, whose outline is straight: it fills
its convex hull, and a polygon of at most six sides fits it. When its outline has four corners it is rectified (a
perspective warp to a flat rectangle, boxes mapped back to the input's pixels); otherwise what is not page is
painted the page's own colour and the page is turned upright.
A frame that is all page, a close-up, a whiteboard, a screen drawing or chalk on a board has no such region, and is
read whole, as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgedigits.reader.vision.ink import plane

PAGE_SIDE = 320  # long side of the copy the page is looked for on: a page's outline is large, this is cheap
MIN_PAGE = 0.12  # a page covers at least 12% of the frame (a sheet lying on a desk, seen from above)...
MAX_PAGE = 0.96  # ...and leaves at least 4% that is not page: less is a frame that is all page
SURROUND = 0.45  # what surrounds a page is at most 45% as bright as the page: a shadow across paper leaves more
SOLID = 0.9  # a page fills 90% of its convex hull: straight edges (strokes, blots and hands do not)
CORNER_FIT = 0.02  # an outline is four-cornered when a polygon within 2% of its perimeter fits it...
MAX_SIDES = 6  # ...and straight when one of at most 6 sides does: a page, cut by one or two frame edges at most
               # (a shadow's or a hand's outline is curved)
MAX_WARP_SIDE = 2400  # a rectified page is at most this many pixels on its long side (the finder works at 1600)
EDGE_INSET = 2.0  # the page's outline is known to a pixel or two of the small copy: that much is left out along it


@dataclass
class Page:
    mask: np.ndarray  # uint8 input-resolution: 1 on the page, its edge left out
    corners: np.ndarray | None  # float32 (4, 2) input pixels, clockwise from top-left; None: not four-cornered
    colour: tuple[float, ...]  # the page's median colour (BGR or grey), for what is not page
    inset: int  # input pixels along the outline that may still be desk or margin
    angle: float = 0.0  # degrees the page's edges turn from the frame's (when it is not four-cornered)


def _order(corners: np.ndarray) -> np.ndarray:
    """Four points clockwise from the top-left one."""
    centre = corners.mean(0)
    angles = np.arctan2(corners[:, 1] - centre[1], corners[:, 0] - centre[0])
    ordered = corners[np.argsort(angles)]
    start = int(np.argmin(ordered.sum(1)))
    return np.roll(ordered, -start, axis=0).astype(np.float32)


def find_pages(frame: np.ndarray, grey: np.ndarray | None = None) -> list[Page]:
    """The sheets of paper in ``frame`` (grey or BGR; ``grey``: its grey plane, when known already), largest
    first; none when the frame is all page or has no page at all."""
    import cv2

    h, w = frame.shape[:2]
    scale = PAGE_SIDE / max(h, w)
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    small = cv2.resize(plane(frame, 0) if grey is None else grey, size, interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (5, 5), 0)
    total = small.size
    # What surrounds a page is mostly dark (its median, at least 4% of the frame): without 2% of pixels that
    # dark beside the brightest, no region can pass as a page, and the common frame (all page) ends here.
    if np.count_nonzero(small <= SURROUND * float(small.max())) < (1 - MAX_PAGE) / 2 * total:
        return []
    level, bright = cv2.threshold(small, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Ink on the page is dark too: close it over with a kernel a little wider than a stroke at this scale.
    bright = cv2.morphologyEx(bright, cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8))
    if cv2.countNonZero(bright) > MAX_PAGE * total:  # bright nearly everywhere: the frame is all page
        return []
    count, labels = cv2.connectedComponents(bright, connectivity=8, ltype=cv2.CV_32S)  # stats: 5x the time
    areas = np.bincount(labels.ravel(), minlength=count)
    pages, colours = [], None
    for i in np.argsort(-areas):
        if i == 0 or not MIN_PAGE * total <= areas[i] <= MAX_PAGE * total:
            continue
        region = (labels == i).astype(np.uint8)
        contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        outline = max(contours, key=cv2.contourArea)
        filled = np.zeros_like(region)
        cv2.drawContours(filled, [outline], -1, 1, -1)  # the page with its ink
        hull = cv2.convexHull(outline)
        if cv2.contourArea(outline) < SOLID * cv2.contourArea(hull):
            continue
        if len(cv2.approxPolyDP(outline, CORNER_FIT * cv2.arcLength(outline, True), True)) > MAX_SIDES:
            continue
        inside = float(np.median(small[filled > 0]))
        outside_pixels = small[filled == 0]
        if outside_pixels.size < (1 - MAX_PAGE) * total or float(np.median(outside_pixels)) > SURROUND * inside:
            continue
        polygon = cv2.approxPolyDP(hull, CORNER_FIT * cv2.arcLength(hull, True), True).reshape(-1, 2)
        cut = _cut_by_frame(hull.reshape(-1, 2), small.shape)
        corners = _order(polygon.astype(np.float32) / scale) if len(polygon) == 4 and not cut else None
        angle = float(cv2.minAreaRect(hull)[2])
        angle = (angle + 45) % 90 - 45  # the turn from the nearest frame edge, whatever OpenCV's convention
        inset = int(np.ceil(EDGE_INSET / scale))
        mask = cv2.resize(cv2.erode(filled, np.ones((5, 5), np.uint8)), (w, h), interpolation=cv2.INTER_NEAREST)
        colours = cv2.resize(frame, size, interpolation=cv2.INTER_AREA) if colours is None else colours
        colour = tuple(float(v) for v in np.atleast_1d(np.median(colours[region > 0], axis=0)))
        pages.append(Page(mask=mask, corners=corners, colour=colour, inset=inset, angle=angle))
    return pages


def _cut_by_frame(hull: np.ndarray, shape) -> bool:
    """Whether the page runs out of the frame: its hull has a side along the frame's edge. Its four corners are
    then not the sheet's (one of them may cut through the writing near the edge)."""
    h, w = shape
    x, y = hull[:, 0], hull[:, 1]
    return any(int(np.count_nonzero(side)) >= 2 for side in (x <= 0, y <= 0, x >= w - 1, y >= h - 1))


def rectify(frame: np.ndarray, page: Page) -> tuple[np.ndarray, np.ndarray]:
    """The page flat and upright, and the 3x3 matrix that maps its pixels back to the input's. A four-cornered page
    is warped to a rectangle (its sides' lengths kept, the long one at most ``MAX_WARP_SIDE``); another one (cut by
    the frame's edge) is painted (see ``painted``) and turned by its edges' angle."""
    import cv2

    if page.corners is None:
        h, w = frame.shape[:2]
        turn = cv2.getRotationMatrix2D((w / 2, h / 2), page.angle, 1.0)
        cos, sin = abs(turn[0, 0]), abs(turn[0, 1])
        width, height = int(np.ceil(w * cos + h * sin)), int(np.ceil(w * sin + h * cos))
        turn[:, 2] += (width - w) / 2, (height - h) / 2
        to_flat = np.vstack([turn, [0, 0, 1]])
        source = painted(frame, page)
        border = page.colour if frame.ndim == 3 else page.colour[0]
        flat = cv2.warpAffine(source, turn, (width, height), flags=cv2.INTER_LINEAR, borderValue=border)
        return flat, np.linalg.inv(to_flat)
    tl, tr, br, bl = page.corners
    width = max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))
    height = max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))
    shrink = min(1.0, MAX_WARP_SIDE / max(width, height))
    width, height = max(8, int(round(width * shrink))), max(8, int(round(height * shrink)))
    m = page.inset * shrink  # the outline's own pixels fall outside the flat page
    flat = np.float32([[-m, -m], [width - 1 + m, -m], [width - 1 + m, height - 1 + m], [-m, height - 1 + m]])
    to_flat = cv2.getPerspectiveTransform(page.corners, flat)
    warped = cv2.warpPerspective(frame, to_flat, (width, height), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REPLICATE)
    # A margin around the flat page, its edge pixels repeated: a digit written up to the sheet's edge is not cut
    # by the frame's, and desk or shadow that the outline let in still runs along the frame's edge.
    pad = int(np.ceil(2 * m)) + 2
    warped = cv2.copyMakeBorder(warped, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    to_flat = np.array([[1, 0, pad], [0, 1, pad], [0, 0, 1]], np.float64) @ to_flat
    return warped, np.linalg.inv(to_flat)


def painted(frame: np.ndarray, page: Page) -> np.ndarray:
    """The frame with everything that is not page painted the page's colour."""
    import cv2

    paper = np.array(page.colour if frame.ndim == 3 else page.colour[0], dtype=frame.dtype)
    return cv2.copyTo(frame, page.mask, np.full_like(frame, paper))  # the page over its colour: no boolean mask


def box_back(detection, back: np.ndarray, shape) -> tuple[int, int, int, int]:
    """A digit's box on the flat page in the input's pixels: the bounds of its ink's outline mapped back (a
    turned box's corners would give a box far wider than a thin 1)."""
    import cv2

    points = detection.outline()
    if points is None:
        x, y, w, h = detection.box
        points = np.float32([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])
    mapped = cv2.perspectiveTransform(np.asarray(points, np.float32)[:, None], back).reshape(-1, 2)
    x0, y0 = np.clip(np.floor(mapped.min(0)), 0, None).astype(int)
    x1, y1 = np.ceil(mapped.max(0)).astype(int)
    x1, y1 = min(x1, shape[1]), min(y1, shape[0])
    return int(x0), int(y0), int(max(1, x1 - x0)), int(max(1, y1 - y0))
