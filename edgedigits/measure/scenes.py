"""Camera-like scenes built from MNIST digits, with exact ground-truth boxes.

Clean scenes: dark ink on paper, uneven light, blur, sensor noise, JPEG and a small perspective tilt.
Hard scenes add ruled lines, a shadow, digits written close together and light-on-dark boards.
Photo scenes (``make_photo``) cover what real phone photos show: close-ups where one digit fills the frame,
thin pen and fat marker strokes, blue and black ink, grid, ruled, coloured and textured paper, sharp shadows,
ink showing through from the back of the page, and phone-size frames up to 4000x3000.
Sheets (``make_sheet``) are what a camera sees of a page: on a desk, dense, ruled with a thin pen, in marker, coloured.
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
    """Zhang-Suen thinning of a 0/1 uint8 mask: the one-pixel centre lines of its strokes, connected as the strokes
    are, each of their steps done on the whole array at once."""
    image = np.pad(ink.astype(np.uint8), 1)
    changed = True
    while changed:
        changed = False
        for step in (0, 1):
            p = image
            p2, p3, p4, p5 = p[:-2, 1:-1], p[:-2, 2:], p[1:-1, 2:], p[2:, 2:]
            p6, p7, p8, p9 = p[2:, 1:-1], p[2:, :-2], p[1:-1, :-2], p[:-2, :-2]
            ring = [p2, p3, p4, p5, p6, p7, p8, p9, p2]
            neighbours = sum(n.astype(np.int32) for n in ring[:8])
            crossings = sum(((a == 0) & (b == 1)).astype(np.int32) for a, b in zip(ring[:-1], ring[1:]))
            if step == 0:
                corner = (p2 & p4 & p6) | (p4 & p6 & p8)
            else:
                corner = (p2 & p4 & p8) | (p2 & p6 & p8)
            remove = (p[1:-1, 1:-1] == 1) & (neighbours >= 2) & (neighbours <= 6) & (crossings == 1) & (corner == 0)
            if remove.any():
                image[1:-1, 1:-1][remove] = 0
                changed = True
    return image[1:-1, 1:-1]


def _ends(skeleton: np.ndarray) -> np.ndarray:
    """The end points of a skeleton: pixels with one neighbour."""
    import cv2

    count = cv2.filter2D(skeleton, -1, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT)
    return skeleton & (count == 2).astype(np.uint8)


def _neighbours(skeleton: np.ndarray, y: int, x: int) -> list[tuple[int, int]]:
    """The skeleton's pixels among the 8 around (y, x)."""
    h, w = skeleton.shape
    return [(y + dy, x + dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
            if (dy or dx) and 0 <= y + dy < h and 0 <= x + dx < w and skeleton[y + dy, x + dx]]


def _pruned(skeleton: np.ndarray, half: np.ndarray) -> np.ndarray:
    """The skeleton without its spurs: a branch from an end to its junction that does not reach out of the
    junction's own disc (its length and its end's half width within the junction's half width, ``half`` being the
    distance to the outline) comes from a bump of the outline, not from a stroke; a bold digit's short arms do
    reach out, and stay."""
    out = skeleton.copy()
    for y, x in zip(*np.nonzero(_ends(skeleton))):
        branch, seen = [(y, x)], {(y, x)}
        while True:
            step = [p for p in _neighbours(skeleton, *branch[-1]) if p not in seen]
            if len(step) != 1 or len(_neighbours(skeleton, *step[0])) > 2:
                junction = step[0] if len(step) == 1 else branch[-1]
                break
            branch.append(step[0])
            seen.add(step[0])
        if len(_neighbours(skeleton, *junction)) <= 2:  # a stroke with no junction: its whole line
            continue
        if len(branch) + half[y, x] <= half[junction] + 1:
            for py, px in branch:
                out[py, px] = 0
    return out


def _restroke(glyph: np.ndarray, width: float) -> np.ndarray:
    """The glyph redrawn along its centre lines with strokes ``width`` pixels wide (a thin pen, a fat marker):
    its outline smoothed of the upscaling's steps, thinned, its spurs pruned, and drawn with a round pen."""
    import cv2

    scale = glyph.shape[0] / 20  # MNIST draws digits 20 px tall
    ink = (cv2.GaussianBlur(glyph, (0, 0), max(0.5, 0.5 * scale)) > 0.5).astype(np.uint8)
    if not ink.any():
        return glyph
    half = cv2.distanceTransform(ink, cv2.DIST_L2, 3)
    skeleton = _skeleton(ink)
    spur = int(np.ceil(np.median(half[skeleton > 0]))) if skeleton.any() else 0
    size = max(1, int(round(width)))
    pen = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    drawn = cv2.dilate(_to_tips(_pruned(skeleton, half), ink, spur), pen)
    return cv2.GaussianBlur(drawn.astype(np.float32), (0, 0), 0.6)


def _to_tips(skeleton: np.ndarray, ink: np.ndarray, back: int) -> np.ndarray:
    """The skeleton with each end carried on, in the direction it ends in, to the stroke's tip: thinning stops a
    half width short of it, and a bold digit's short arms would shrink to nothing under a thin pen."""
    import cv2

    out = skeleton.copy()
    h, w = ink.shape
    for y, x in zip(*np.nonzero(_ends(skeleton))):
        path, seen = [(y, x)], {(y, x)}
        while len(path) <= back + 1:  # walk back along the branch
            cy, cx = path[-1]
            step = [p for p in _neighbours(skeleton, cy, cx) if p not in seen]
            if len(step) != 1:
                break
            path.append(step[0])
            seen.add(step[0])
        dy, dx = y - path[-1][0], x - path[-1][1]
        norm = float(np.hypot(dy, dx))
        if norm < 2:
            continue
        tip, k = (y, x), 1
        while True:
            ty, tx = int(round(y + dy / norm * k)), int(round(x + dx / norm * k))
            if not (0 <= ty < h and 0 <= tx < w) or not ink[ty, tx]:
                break
            tip, k = (ty, tx), k + 1
        cv2.line(out, (int(x), int(y)), (int(tip[1]), int(tip[0])), 1, 1)
    return out


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


SHEETS = ("desk", "dense", "ruled", "marker", "coloured")  # the sheet classes ``make_sheet`` draws
SHEET_SIZES = [(1280, 960), (1600, 1200), (2016, 1512)]
DESKS = {"wood": ((40, 75, 120), (25, 45, 80)), "leather": ((30, 30, 38), (15, 15, 20)),
         "cloth": ((90, 60, 50), (60, 40, 35))}  # BGR: base colour and the colour of its grain
COLOURED = [(120, 235, 250), (200, 180, 250), (170, 235, 190), (245, 215, 170)]  # yellow, pink, green, blue (BGR)


def _desk(rng, height: int, width: int) -> np.ndarray:
    """A BGR float32 desk: wood grain, dark leather or woven cloth."""
    import cv2

    kind = str(rng.choice(list(DESKS)))
    base, grain = (np.float32(c) * rng.uniform(0.8, 1.2) for c in DESKS[kind])
    if kind == "wood":  # long streaks along one axis
        streaks = cv2.resize(rng.normal(0, 1, (height // 40 + 2, 8)).astype(np.float32), (width, height))
        field = np.clip(0.5 + 0.35 * streaks, 0, 1)
    elif kind == "cloth":  # a fine weave
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        period = rng.uniform(4, 9)
        field = 0.5 + 0.25 * np.sin(xx * 2 * np.pi / period) * np.sin(yy * 2 * np.pi / period)
    else:  # leather: soft blotches
        field = cv2.resize(rng.normal(0.5, 0.2, (height // 60 + 2, width // 60 + 2)).astype(np.float32),
                           (width, height), interpolation=cv2.INTER_CUBIC)
    field = np.clip(field, 0, 1)[..., None]
    return base * (1 - field) + grain * field


def _sheet_lines(rng, kind: str) -> list[int]:
    """How many digits each line of the sheet holds."""
    if kind == "dense":
        return [int(rng.integers(4, 13)) for _ in range(int(rng.integers(3, 7)))]
    if kind == "ruled":
        return [int(rng.integers(1, 5)) for _ in range(int(rng.integers(1, 3)))]
    if kind == "marker":
        return [int(rng.integers(1, 5))]
    return [int(rng.integers(2, 9)) for _ in range(int(rng.integers(1, 4)))]


def _write_lines(rng, page, ids, images, lines, digit_h: int, stroke: float, ink, top: int, pitch: int):
    """Write lines of MNIST digits on ``page`` (in place), their baselines ``pitch`` apart from ``top + digit_h``:
    the digits of a line share a height (within 10%) and that baseline; numbers are 1-4 digits apart by a wider
    space. Returns the picks and the numbers (lists of ids)."""
    height, width = ids.shape
    picks, groups, k = [], [], 0
    for n, count in enumerate(lines):
        h_line = int(digit_h * rng.uniform(0.9, 1.1))
        y = top + digit_h + n * pitch - h_line  # the line's top: its digits stand on the baseline
        if y < 0 or y + h_line > height - digit_h // 3:
            break
        x = int(rng.uniform(0.06, 0.15) * width)
        left = count
        while left > 0:
            size = min(left, int(rng.integers(1, 5)))
            group = []
            for _ in range(size):
                i = int(rng.integers(len(images)))
                h = int(h_line * rng.uniform(0.92, 1.0))
                glyph = _restroke(_glyph(images[i], h), stroke * rng.uniform(0.85, 1.15))
                gh, gw = glyph.shape
                if x + gw > width - 10:
                    left = 0
                    break
                gy = y + h_line - gh  # on the line's baseline
                alpha = glyph[..., None] * rng.uniform(0.85, 1.0)
                region = page[gy : gy + gh, x : x + gw]
                region[:] = region * (1 - alpha) + ink * alpha
                k += 1
                ids[gy : gy + gh, x : x + gw][glyph > 0.3] = k
                picks.append(i)
                group.append(k - 1)
                x += gw + int(h_line * rng.uniform(0.15, 0.4))
                left -= 1
            if group:
                groups.append(group)
            x += int(h_line * rng.uniform(0.8, 1.4))
    return picks, groups


def make_sheet(rng: np.random.Generator, images: np.ndarray, labels: np.ndarray, kind: str) -> Scene:
    """One photo of a sheet of ``kind`` (``SHEETS``), with MNIST digits re-stroked as a pen leaves them:

    - desk: a white or beige page on wood, dark leather or cloth, covering 30-80% of the frame, turned and seen in
      perspective (up to 25 degrees), a soft shadow along its edge;
    - dense: 3-6 lines of 4-12 digits, about 30 px tall with a 2-3 px pen, as a rectified phone photo or a scan,
      with a dark margin along two edges;
    - ruled: ruled or grid notebook paper, thin blue or black ballpoint;
    - marker: big digits in a thick marker on plain paper, a lone 1 among them;
    - coloured: marker digits on yellow, pink, green or blue paper.
    """
    import cv2

    width, height = SHEET_SIZES[int(rng.integers(len(SHEET_SIZES)))]
    if kind == "desk":
        cover = rng.uniform(0.3, 0.8)
        page_h = int(height * np.sqrt(cover * width / height / 0.75) * 0.75 ** 0.5)
        page_h = min(page_h, int(height * 0.95))
        page_w = min(int(page_h * rng.uniform(0.72, 0.78)), int(width * 0.9))
    elif kind == "dense":
        page_w, page_h = int(width * rng.uniform(0.85, 0.95)), int(height * rng.uniform(0.85, 0.95))
    else:
        page_w, page_h = width, height
    lines = _sheet_lines(rng, kind)
    if kind == "dense":
        digit_h = int(rng.uniform(26, 36) * width / 1280)
        stroke = rng.uniform(2.0, 3.0) * width / 1280
    elif kind == "ruled":
        spacing = int(page_h * rng.uniform(0.08, 0.16))
        digit_h = int(spacing * rng.uniform(0.55, 0.85))
        stroke = max(1.2, digit_h * rng.uniform(0.025, 0.045))
    elif kind in ("marker", "coloured"):
        digit_h = int(page_h * rng.uniform(0.18, 0.3) if kind == "marker" else page_h * rng.uniform(0.1, 0.18))
        stroke = digit_h * rng.uniform(0.1, 0.16)
    else:
        digit_h = int(page_h * rng.uniform(0.07, 0.12))
        stroke = digit_h * rng.uniform(0.05, 0.1)
    if kind == "coloured":
        page = np.ones((page_h, page_w, 3), np.float32) * np.float32(COLOURED[int(rng.integers(len(COLOURED)))])
    elif kind == "ruled":
        colour = np.float32(rng.choice([(200, 160, 120), (150, 150, 150), (210, 170, 200)]))
        page = np.ones((page_h, page_w, 3), np.float32) * np.float32((235, 240, 242)) * rng.uniform(0.85, 1.0)
        for y in range(spacing // 2, page_h, spacing):
            cv2.line(page, (0, y), (page_w - 1, y), colour.tolist(), max(1, page_h // 600))
        grid = rng.random() < 0.5
        if grid:
            for x in range(spacing // 2, page_w, spacing):
                cv2.line(page, (x, 0), (x, page_h - 1), colour.tolist(), max(1, page_h // 600))
    else:
        page = np.ones((page_h, page_w, 3), np.float32) * np.float32(rng.choice([(235, 240, 242), (200, 222, 232)]))
    page *= rng.uniform(0.85, 1.0)
    ink = np.float32(rng.choice([(30, 30, 35), (140, 50, 20)]))  # black, blue
    ids = np.zeros((page_h, page_w), np.int16)
    pool, pool_labels = images, labels
    if kind == "marker" and rng.random() < 0.3:  # a lone thick 1
        pool, pool_labels, lines = images[labels == 1], labels[labels == 1], [1]
    if kind == "ruled" and not grid:  # on ruled paper the digits stand on the lines
        line = int(rng.integers(1, 3))
        top, pitch = spacing // 2 + line * spacing - digit_h - int(rng.integers(1, 4)), spacing * int(rng.integers(1, 3))
    elif kind == "ruled":  # on grid paper, anywhere
        top, pitch = int(digit_h * rng.uniform(0.6, 1.5)), int(digit_h * rng.uniform(1.5, 2.5))
    else:
        top, pitch = int(digit_h * rng.uniform(0.6, 1.5)), int(digit_h * rng.uniform(1.5, 2.0))
    picks, groups = _write_lines(rng, page, ids, pool, lines, digit_h, stroke, ink, top, pitch)
    digit_labels = pool_labels[picks]

    # The page in the frame: on a desk in perspective, with a dark margin, or filling it.
    src = np.float32([[0, 0], [page_w, 0], [page_w, page_h], [0, page_h]])
    if kind == "desk":
        frame = _desk(rng, height, width)
        angle = np.deg2rad(rng.uniform(-25, 25))
        centre = np.float32([width / 2, height / 2]) + rng.uniform(-0.1, 0.1, 2).astype(np.float32) * [width, height]
        corners = src - np.float32([page_w / 2, page_h / 2])
        rot = np.float32([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        dst = corners @ rot.T + centre
        dst += rng.uniform(-0.06, 0.06, (4, 2)).astype(np.float32) * [page_w, page_h]  # perspective
    elif kind == "dense":
        frame = np.ones((height, width, 3), np.float32) * np.float32(rng.uniform(20, 60))
        ox, oy = width - page_w, height - page_h  # the page in one corner: a margin along two edges
        dst = src + np.float32([ox if rng.random() < 0.5 else 0, oy if rng.random() < 0.5 else 0])
    else:
        frame = np.zeros((height, width, 3), np.float32)
        dst = src.copy()
    matrix = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    mask = cv2.warpPerspective(np.ones((page_h, page_w), np.float32), matrix, (width, height), flags=cv2.INTER_LINEAR)
    warped = cv2.warpPerspective(page, matrix, (width, height), flags=cv2.INTER_LINEAR)
    frame = frame * (1 - mask[..., None]) + warped * mask[..., None]
    frame_ids = cv2.warpPerspective(ids, matrix, (width, height), flags=cv2.INTER_NEAREST, borderValue=0)
    if kind == "desk":  # a soft shadow where the page meets the desk
        shadow = cv2.GaussianBlur(mask, (0, 0), max(2.0, width / 200))
        frame *= (1 - 0.3 * np.clip(shadow - mask, 0, 1))[..., None]
    gy, gx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * gx / width + np.sin(angle) * gy / height
    frame *= (1.0 + rng.uniform(0.05, 0.25) * (ramp - ramp.mean()))[..., None]
    frame = cv2.GaussianBlur(frame, (0, 0), rng.uniform(0.5, 1.0) * max(1.0, height / 960))
    frame += rng.normal(0, rng.uniform(2, 5), frame.shape).astype(np.float32)
    ok, jpeg = cv2.imencode(".jpg", np.clip(frame, 0, 255).astype(np.uint8),
                            [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(75, 93))])
    return _scene(cv2.imdecode(jpeg, cv2.IMREAD_COLOR), frame_ids, digit_labels, groups)


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


def evaluate(classifier, images: np.ndarray, labels: np.ndarray, hard: bool = False, frames: int = 100,
             seed: int = 0, digits: int = 10, photo: bool = False, sheet: str | None = None) -> dict:
    """Detection recall/precision and end-to-end accuracy (found and right) over generated frames
    (``make_sheet`` frames of class ``sheet``, ``make_photo`` frames when ``photo``, else ``make_scene`` ones)."""
    rng = np.random.default_rng(seed)
    total = {"frames": frames, "truth": 0, "found": 0, "matched": 0, "correct": 0}
    for _ in range(frames):
        if sheet:
            scene = make_sheet(rng, images, labels, sheet)
        elif photo:
            scene = make_photo(rng, images, labels)
        else:
            scene = make_scene(rng, images, labels, n=digits, hard=hard)
        detections = read_frame(scene.image, classifier).detections
        for key, value in score(scene, detections).items():
            total[key] += value
    total["recall"] = total["matched"] / max(1, total["truth"])
    total["precision"] = total["matched"] / max(1, total["found"])
    total["accuracy"] = total["correct"] / max(1, total["truth"])
    return total
