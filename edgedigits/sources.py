"""Where frames come from: the Pi camera, V4L2 devices, video files and streams, image files and folders; and
the one lister of image files that ``predict`` and ``camera`` share."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgedigits.errors import EdgeDigitsError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}


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
    def __init__(self, paths: list[Path]):
        self.paths = iter(paths)

    def read(self):
        import cv2

        for path in self.paths:
            frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if frame is not None:
                return frame
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
