"""Camera-like scenes built from MNIST digits, with exact ground-truth boxes.

Clean scenes: dark ink on paper, uneven light, blur, sensor noise, JPEG and a small perspective tilt.
Hard scenes add ruled lines, a shadow, digits written close together and light-on-dark boards.
The boxes come from warping a per-digit id map with the same transform as the image, so they stay exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgedigits.vision import iou


@dataclass
class Scene:
    image: np.ndarray  # H x W x 3 uint8, BGR
    boxes: list[tuple[int, int, int, int]]  # x, y, w, h per digit
    labels: list[int]
    numbers: list[str]  # the digit strings as written, line by line, left to right
    hard: bool


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

    boxes, kept = [], []
    for k in range(1, len(glyphs) + 1):
        ys, xs = np.nonzero(ids == k)
        if len(ys):
            boxes.append((int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)))
            kept.append(int(labels[picks[k - 1]]))
    numbers = ["".join(str(int(labels[picks[i]])) for i in group) for group in groups]
    return Scene(image=image, boxes=boxes, labels=kept, numbers=numbers, hard=hard)


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
             seed: int = 0, digits: int = 10) -> dict:
    """Detection recall/precision and end-to-end accuracy (found and right) over generated frames."""
    from edgedigits.vision import read_frame

    rng = np.random.default_rng(seed)
    total = {"frames": frames, "truth": 0, "found": 0, "matched": 0, "correct": 0}
    for _ in range(frames):
        scene = make_scene(rng, images, labels, n=digits, hard=hard)
        detections, _ = read_frame(scene.image, classifier)
        for key, value in score(scene, detections).items():
            total[key] += value
    total["recall"] = total["matched"] / max(1, total["truth"])
    total["precision"] = total["matched"] / max(1, total["found"])
    total["accuracy"] = total["correct"] / max(1, total["truth"])
    return total
