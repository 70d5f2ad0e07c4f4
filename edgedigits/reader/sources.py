"""Where frames come from: the Pi camera, V4L2 devices, video files and streams, image files and folders; and
the one lister of image files that ``predict`` and ``camera`` share."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgedigits.deps import silenced_native_output
from edgedigits.errors import EdgeDigitsError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
MAX_PIXELS = 120_000_000  # a 108 MP phone photo passes; a decompression bomb (32000x32000 from 1 MB) does not
_SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # JPEG start-of-frame markers (not DHT, JPG, DAC)


def declared_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) as a PNG, JPEG, BMP, WebP or PNM header declares it, read before any decoding; None
    for a format this does not parse (OpenCV's own pixel limit still applies to those)."""
    import struct

    try:
        if head[:8] == b"\x89PNG\r\n\x1a\n":
            return struct.unpack(">II", head[16:24])
        if head[:2] == b"\xff\xd8":
            pos = 2
            while pos + 9 < len(head):
                if head[pos] != 0xFF:
                    return None
                marker, length = head[pos + 1], struct.unpack(">H", head[pos + 2 : pos + 4])[0]
                if marker in _SOF:
                    height, width = struct.unpack(">HH", head[pos + 5 : pos + 9])
                    return width, height
                pos += 2 + length
            return None
        if head[:2] == b"BM":
            width, height = struct.unpack("<ii", head[18:26])
            return abs(width), abs(height)
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            kind = head[12:16]
            if kind == b"VP8X":
                return 1 + int.from_bytes(head[24:27], "little"), 1 + int.from_bytes(head[27:30], "little")
            if kind == b"VP8L":
                bits = int.from_bytes(head[21:25], "little")
                return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
            if kind == b"VP8 ":
                width, height = struct.unpack("<HH", head[26:30])
                return width & 0x3FFF, height & 0x3FFF
        if head[:1] == b"P" and head[1:2] in b"123456":
            fields = head[2:64].split()
            return int(fields[0]), int(fields[1])
    except (struct.error, ValueError, IndexError):
        return None
    return None


def truncated(blob: bytes) -> bool:
    """A JPEG without its end-of-image marker, or a PNG without its IEND chunk: the file was cut short."""
    tail = blob.rstrip(b"\x00")[-12:]
    if blob[:2] == b"\xff\xd8":
        return not tail.endswith(b"\xff\xd9")
    if blob[:8] == b"\x89PNG\r\n\x1a\n":
        return b"IEND" not in tail
    return False


def read_image(path: Path, max_pixels: int = MAX_PIXELS, strict: bool = False, warn=None) -> np.ndarray:
    """A BGR image from a regular file: its declared size checked against ``max_pixels`` before decoding, and a
    truncated JPEG or PNG reported (``warn``, a callable taking a line) or, when ``strict``, refused."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise EdgeDigitsError(f"{path} is not a regular file")
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise EdgeDigitsError(f"cannot read {path}: {exc.strerror}") from None
    size = declared_size(blob[:65536])
    if size and size[0] * size[1] > max_pixels:
        raise EdgeDigitsError(f"{path} declares {size[0]}x{size[1]} pixels, over the limit of {max_pixels:,} "
                              "(--max-pixels raises it)")
    cut = truncated(blob)
    if cut and strict:
        raise EdgeDigitsError(f"{path} is truncated (the file ends before its image does)")
    try:
        with silenced_native_output():  # libpng and libjpeg complain on fd 2; the message below says it once
            frame = cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise EdgeDigitsError(f"{path} could not be decoded ({str(exc).strip().splitlines()[-1][:120]})") from None
    if frame is None:
        raise EdgeDigitsError(f"{path} is truncated and could not be decoded" if cut else
                              f"{path} is not a readable image")
    if cut and warn:
        warn(f"warning: {path} is truncated; the part it holds was read")
    return frame


def image_files(paths) -> list[Path]:
    """The image files among ``paths``: files as given, folders searched recursively (sorted). Only regular
    files are listed from folders: a FIFO or a device named *.png would block the reader."""
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            images = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            if not images:
                raise EdgeDigitsError(f"{path} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
            found += images
        elif path.exists():
            found.append(path)
        else:
            raise EdgeDigitsError(f"no such file or directory: {path}")
    return found


class Source:
    live = False
    fps: float | None = None

    def read(self) -> np.ndarray | None:  # None: no frame (end of file, or the camera dropped)
        raise NotImplementedError

    def reopen(self) -> None:
        pass

    def close(self) -> None:
        pass


class FolderSource(Source):
    """Image files as frames; one that cannot be read is named on stderr and skipped."""

    def __init__(self, paths: list[Path]):
        self.paths = iter(paths)

    def read(self):
        import sys

        for path in self.paths:
            try:
                return read_image(path, warn=lambda line: print(line, file=sys.stderr))
            except EdgeDigitsError as exc:
                print(f"error: {exc}", file=sys.stderr)
        return None


class OpenCVSource(Source):
    def __init__(self, target, live: bool):
        self.target, self.live = target, live
        self.cap = None
        self.reopen()

    def reopen(self):
        import cv2

        self.close()
        if isinstance(self.target, int) or str(self.target).startswith("/dev/video"):
            self.cap = cv2.VideoCapture(self.target, cv2.CAP_V4L2)
        else:
            self.cap = cv2.VideoCapture(self.target)
        if not self.cap.isOpened():
            raise EdgeDigitsError(f"cannot open video source {self.target}")
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and fps > 0 else None

    def read(self):
        ok, frame = self.cap.read()
        return frame if ok else None

    def close(self):
        if self.cap is not None:
            self.cap.release()
            self.cap = None


class PicameraSource(Source):
    live = True

    def __init__(self, size=(640, 480)):
        try:
            from picamera2 import Picamera2
        except ImportError:
            raise EdgeDigitsError(
                "picamera2 is not available: on Raspberry Pi OS run 'sudo apt install python3-picamera2' and create "
                "the venv with --system-site-packages"
            ) from None
        self.size = size
        self._cls = Picamera2
        self.cam = None
        self.reopen()

    def reopen(self):
        self.close()
        try:
            self.cam = self._cls()
            self.cam.configure(self.cam.create_preview_configuration(main={"size": self.size, "format": "RGB888"}))
            self.cam.start()
        except Exception as exc:  # libcamera errors come in several types
            raise EdgeDigitsError(f"cannot start the Pi camera: {exc}") from None

    def read(self):
        try:
            return self.cam.capture_array()  # RGB888 in picamera2 is BGR byte order, as OpenCV expects
        except Exception:
            return None

    def close(self):
        if self.cam is not None:
            self.cam.close()
            self.cam = None


def open_source(spec: str) -> Source:
    """picam, a V4L2 index or /dev/videoN, a video file, an rtsp/http URL, an image folder or one image."""
    if spec == "picam":
        return PicameraSource()
    if spec.isdigit():
        return OpenCVSource(int(spec), live=True)
    if spec.startswith("/dev/video"):
        return OpenCVSource(spec, live=True)
    if "://" in spec:
        return OpenCVSource(spec, live=True)
    path = Path(spec)
    if not path.exists():
        raise EdgeDigitsError(f"no such camera, file or folder: {spec}")
    if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
        return FolderSource(image_files([path]))
    return OpenCVSource(str(path), live=False)
