"""Camera-like scenes built from MNIST digits, with exact ground-truth boxes.

Clean scenes: dark ink on paper, uneven light, blur, sensor noise, JPEG and a small perspective tilt.
Hard scenes add ruled lines, a shadow, digits written close together and light-on-dark boards.
Photo scenes (``make_photo``) cover what real phone photos show: close-ups where one digit fills the frame,
thin pen and fat marker strokes, blue and black ink, grid, ruled, coloured and textured paper, sharp shadows,
ink showing through from the back of the page, and phone-size frames up to 4000x3000.
The boxes come from warping a per-digit id map with the same transform as the image, so they stay exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgedigits.reader.pipeline import read_frame
from edgedigits.reader.vision import iou


@dataclass
class Scene:
    image: np.ndarray  # H x W x 3 uint8, BGR
    boxes: list[tuple[int, int, int, int]]  # x, y, w, h per digit
    labels: list[int]
    numbers: list[str]  # the digit strings as written, line by line, left to right


def _glyph(digit: np.ndarray, height: int) -> np.ndarray:
    """Ink coverage in [0, 1] of one MNIST digit scaled to ``height`` pixels (its tight box)."""
    import cv2

    ys, xs = np.nonzero(digit > 30)
    crop = digit[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32) / 255.0
    scale = height / crop.shape[0]
    width = max(2, int(round(crop.shape[1] * scale)))
    return np.clip(cv2.resize(crop, (width, height), interpolation=cv2.INTER_CUBIC), 0, 1)


def _layout(rng, glyph_sizes, width, height, close: bool):
    """Place groups of 1-4 digits (numbers) in rows without overlap. Returns positions per digit or None."""
    positions, numbers, k = [], [], 0
    y = int(rng.integers(30, 60))
    while k < len(glyph_sizes):
        row_h = max(h for h, _ in glyph_sizes[k : k + 6])
        if y + row_h > height - 30:  # no room for another row: the frame holds fewer digits
            break
        x = int(rng.integers(30, 70))
        while k < len(glyph_sizes):
            size = int(rng.integers(1, 5))
            group = glyph_sizes[k : k + size]
            gap = (lambda: int(rng.integers(0, 4))) if close else (lambda: int(rng.integers(6, 14)))
            group_w = sum(w for _, w in group) + 14 * len(group)
            if x + group_w > width - 30:
                break
            idx = []
            for h, w in group:
                top = y + int(rng.integers(0, max(1, row_h - h + 1)))
                positions.append((x, top))
                idx.append(k)
                x += w + gap()
                k += 1
            numbers.append(idx)
            x += int(row_h * rng.uniform(1.0, 1.6))  # the space between numbers
        y += row_h + int(rng.integers(25, 50))
    return positions[: len(glyph_sizes)], numbers


def make_scene(rng: np.random.Generator, images: np.ndarray, labels: np.ndarray, n: int = 10,
               size: tuple[int, int] = (640, 480), hard: bool = False) -> Scene:
    """One frame with ``n`` MNIST digits drawn from ``images``/``labels`` (uint8, white on black)."""
    import cv2

    width, height = size
    picks = rng.choice(len(images), n, replace=False)
    heights = rng.integers(int(height * 0.09), int(height * 0.17), n)
    glyphs = [_glyph(images[i], int(h)) for i, h in zip(picks, heights)]
    positions, groups = _layout(rng, [g.shape for g in glyphs], width, height, close=hard and rng.random() < 0.5)
    glyphs = glyphs[: len(positions)]
    picks = picks[: len(positions)]

    light_on_dark = hard and rng.random() < 0.3
    paper, ink = (rng.uniform(25, 60), rng.uniform(190, 240)) if light_on_dark else (rng.uniform(185, 235),
                                                                                     rng.uniform(15, 70))
    canvas = np.full((height, width), paper, np.float32)
    ids = np.zeros((height, width), np.int16)
    if hard and not light_on_dark and rng.random() < 0.6:  # ruled paper
        spacing = int(rng.integers(28, 44))
        for yy in range(int(rng.integers(10, spacing)), height, spacing):
            cv2.line(canvas, (0, yy), (width - 1, yy), float(paper - rng.uniform(35, 70)), 1)
    for k, ((x, y), glyph) in enumerate(zip(positions, glyphs), start=1):
        h, w = glyph.shape
        region = canvas[y : y + h, x : x + w]
        region[:] = region * (1 - glyph) + ink * glyph
        ids[y : y + h, x : x + w][glyph > 0.3] = k

    # Uneven light: a smooth gradient across the page.
    gy, gx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * gx / width + np.sin(angle) * gy / height)
    canvas *= 1.0 + rng.uniform(0.1, 0.3) * (ramp - ramp.mean())
    if hard and rng.random() < 0.6:  # a soft shadow (a hand, a phone)
        shadow = np.zeros((height, width), np.float32)
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        axes = (int(rng.integers(width // 6, width // 2)), int(rng.integers(height // 6, height // 2)))
        cv2.ellipse(shadow, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
        shadow = cv2.GaussianBlur(shadow, (0, 0), 25)
        canvas *= 1.0 - rng.uniform(0.3, 0.5) * shadow

    # A small perspective tilt, applied to the image and the id map alike.
    shift = 0.03 * np.array([width, height], np.float32)
    src = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    dst = src + rng.uniform(-1, 1, (4, 2)).astype(np.float32) * shift
    matrix = cv2.getPerspectiveTransform(src, dst)
    canvas = cv2.warpPerspective(canvas, matrix, (width, height), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REPLICATE)
    ids = cv2.warpPerspective(ids, matrix, (width, height), flags=cv2.INTER_NEAREST, borderValue=0)

    canvas = cv2.GaussianBlur(canvas, (0, 0), rng.uniform(0.5, 1.2))
    canvas += rng.normal(0, rng.uniform(2, 6), canvas.shape).astype(np.float32)
    bgr = cv2.cvtColor(np.clip(canvas, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    tint = rng.uniform(0.9, 1.1, 3)
    bgr = np.clip(bgr * tint, 0, 255).astype(np.uint8)
    ok, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(60, 92))])
    image = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)

    return _scene(image, ids, labels[picks[: len(glyphs)]], groups)


def _scene(image, ids, labels, groups) -> Scene:
    """The scene, its boxes read off the id map (digit k drawn as k), labels and numbers."""
    boxes, kept = [], []
    for k in range(1, len(labels) + 1):
        ys, xs = np.nonzero(ids == k)
        if len(ys):
            boxes.append((int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)))
            kept.append(int(labels[k - 1]))
    numbers = ["".join(str(int(labels[i])) for i in group) for group in groups]
    return Scene(image=image, boxes=boxes, labels=kept, numbers=numbers)


PHOTO_SIZES = [(640, 480), (1280, 960), (2016, 1512), (4000, 3000)]


def _skeleton(ink: np.ndarray) -> np.ndarray:
    """Lantuejoul's morphological skeleton of a 0/1 uint8 mask: the centre lines of its strokes."""
    import cv2

    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    skeleton = np.zeros_like(ink)
    while ink.any():
        eroded = cv2.erode(ink, cross)
        skeleton |= ink & (1 - cv2.dilate(eroded, cross))
        ink = eroded
    return skeleton


def _restroke(glyph: np.ndarray, width: float) -> np.ndarray:
    """The glyph redrawn along its centre lines with strokes ``width`` pixels wide (a thin pen, a fat marker)."""
    import cv2

    ink = (glyph > 0.5).astype(np.uint8)
    if not ink.any():
        return glyph
    size = max(1, int(round(width)))
    pen = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size + 2, size + 2))  # +2: joins the skeleton's gaps
    drawn = cv2.dilate(_skeleton(ink), pen)
    if size > 2:
        drawn = cv2.erode(drawn, np.ones((3, 3), np.uint8))
    return cv2.GaussianBlur(drawn.astype(np.float32), (0, 0), 0.6)


def _paper(rng, height: int, width: int) -> np.ndarray:
    """A BGR float32 page: white, beige or coloured; plain, textured, ruled or grid."""
    import cv2

    tint = rng.choice([(235, 240, 242), (190, 215, 228), (230, 200, 170), (200, 230, 210)])  # white, beige, blue, green
    page = np.ones((height, width, 3), np.float32) * np.float32(tint) * rng.uniform(0.85, 1.0)
    texture = rng.choice(["plain", "textured", "ruled", "grid"])
    if texture == "textured":  # fibres and blotches, from noise at two scales
        for scale, amount in ((max(2, width // 200), 6), (max(8, width // 20), 10)):
            noise = rng.normal(0, 1, (height // scale + 1, width // scale + 1)).astype(np.float32)
            page += amount * cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)[..., None]
    elif texture in ("ruled", "grid"):
        spacing = int(height * rng.uniform(0.05, 0.09))
        colour = np.float32(rng.choice([(200, 160, 120), (150, 150, 150), (210, 170, 200)]))
        thick = max(1, height // 500)
        for y in range(int(rng.integers(2, spacing)), height, spacing):
            cv2.line(page, (0, y), (width - 1, y), colour.tolist(), thick)
        if texture == "grid":
            for x in range(int(rng.integers(2, spacing)), width, spacing):
                cv2.line(page, (x, 0), (x, height - 1), colour.tolist(), thick)
    return page


def make_photo(rng: np.random.Generator, images: np.ndarray, labels: np.ndarray) -> Scene:
    """One photo-like frame (see the module docstring) of MNIST digits drawn from ``images``/``labels``."""
    import cv2

    width, height = PHOTO_SIZES[int(rng.choice(len(PHOTO_SIZES), p=[0.4, 0.3, 0.2, 0.1]))]
    close_up = rng.random() < 0.3
    n = 1 if close_up else int(rng.integers(2, 9))
    picks = rng.choice(len(images), n, replace=False)
    if close_up:
        heights = [int(height * rng.uniform(0.6, 0.9))]
    else:
        low = max(20, int(height * 0.05))
        heights = rng.integers(low, max(low + 1, int(height * 0.15)), n).tolist()
    widths = [max(0.02, rng.uniform(0.04, 0.16)) * h for h in heights]  # thin pen to fat marker
    glyphs = [_restroke(_glyph(images[i], int(h)), w) for i, h, w in zip(picks, heights, widths)]
    if close_up:
        g = glyphs[0]
        positions = [(int((width - g.shape[1]) * rng.uniform(0.3, 0.7)), int((height - g.shape[0]) / 2))]
        groups = [[0]]
    else:
        scale = height / 480  # _layout spaces digits in 640x480 pixels
        positions, groups = _layout(rng, [(int(g.shape[0] / scale), int(g.shape[1] / scale)) for g in glyphs],
                                    640, 480, close=False)
        positions = [(int(x * scale), int(y * scale)) for x, y in positions]
        glyphs, picks = glyphs[: len(positions)], picks[: len(positions)]

    page = _paper(rng, height, width)
    ink = np.float32(rng.choice([(30, 30, 35), (140, 50, 20), (110, 110, 115)]))  # black, blue, pencil (BGR)
    if rng.random() < 0.3:  # ink showing through from the back of the page: mirrored, faint, blurred
        back = images[int(rng.integers(len(images)))]
        ghost = cv2.resize(back[:, ::-1].astype(np.float32) / 255, (int(height * 0.3), int(height * 0.3)))
        ghost = cv2.GaussianBlur(ghost, (0, 0), height / 300) * rng.uniform(0.12, 0.25)
        gy, gx = int(rng.integers(0, height - ghost.shape[0])), int(rng.integers(0, width - ghost.shape[1]))
        region = page[gy : gy + ghost.shape[0], gx : gx + ghost.shape[1]]
        region[:] = region * (1 - ghost[..., None]) + ink * ghost[..., None]
    ids = np.zeros((height, width), np.int16)
    for k, ((x, y), glyph) in enumerate(zip(positions, glyphs), start=1):
        h, w = glyph.shape
        h, w = min(h, height - y), min(w, width - x)
        alpha = glyph[:h, :w, None] * rng.uniform(0.8, 1.0)
        region = page[y : y + h, x : x + w]
        region[:] = region * (1 - alpha) + ink * alpha
        ids[y : y + h, x : x + w][glyph[:h, :w] > 0.3] = k

    light = np.ones((height, width), np.float32)
    if rng.random() < 0.5:  # a sharp shadow (a phone or a hand held over the page)
        corner = np.float32([[0, 0], [width * rng.uniform(0.2, 0.8), 0],
                             [width * rng.uniform(0.1, 0.6), height], [0, height]])
        if rng.random() < 0.5:
            corner[:, 0] = width - corner[:, 0]
        mask = np.zeros((height, width), np.float32)
        cv2.fillPoly(mask, [corner.astype(np.int32)], 1.0)
        light -= rng.uniform(0.3, 0.5) * cv2.GaussianBlur(mask, (0, 0), max(1.0, width / 300))
    page *= light[..., None]
    canvas = cv2.GaussianBlur(page, (0, 0), rng.uniform(0.5, 1.0) * max(1.0, height / 960))
    canvas += rng.normal(0, rng.uniform(2, 5), canvas.shape).astype(np.float32)
    ok, jpeg = cv2.imencode(".jpg", np.clip(canvas, 0, 255).astype(np.uint8),
                            [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(70, 92))])
    image = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)

    return _scene(image, ids, labels[picks[: len(glyphs)]], groups)


def score(scene: Scene, detections, threshold: float = 0.5) -> dict:
    """Greedy IoU matching of detections to ground truth: counts for recall, precision and accuracy."""
    pairs = sorted(((iou(d.box, g), i, j) for i, d in enumerate(detections) for j, g in enumerate(scene.boxes)),
                   reverse=True)
    used_d, used_g, matched, correct = set(), set(), 0, 0
    for overlap, i, j in pairs:
        if overlap < threshold:
            break
        if i in used_d or j in used_g:
            continue
        used_d.add(i)
        used_g.add(j)
        matched += 1
        correct += int(detections[i].label == scene.labels[j])
    return {"truth": len(scene.boxes), "found": len(detections), "matched": matched, "correct": correct}


def evaluate(classifier, images: np.ndarray, labels: np.ndarray, hard: bool, frames: int = 100,
             seed: int = 0, digits: int = 10, photo: bool = False) -> dict:
    """Detection recall/precision and end-to-end accuracy (found and right) over generated frames
    (``make_photo`` frames when ``photo``, else ``make_scene`` ones)."""
    rng = np.random.default_rng(seed)
    total = {"frames": frames, "truth": 0, "found": 0, "matched": 0, "correct": 0}
    for _ in range(frames):
        scene = make_photo(rng, images, labels) if photo else make_scene(rng, images, labels, n=digits, hard=hard)
        detections = read_frame(scene.image, classifier).detections
        for key, value in score(scene, detections).items():
            total[key] += value
    total["recall"] = total["matched"] / max(1, total["truth"])
    total["precision"] = total["matched"] / max(1, total["found"])
    total["accuracy"] = total["correct"] / max(1, total["truth"])
    return total
