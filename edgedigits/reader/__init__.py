"""Frame -> digits -> numbers: image and camera sources, the vision that finds digits, smoothing, predict and camera."""
