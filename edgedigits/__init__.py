"""edgedigits: handwritten-digit recognition from a GPU workstation to a Raspberry Pi and a microcontroller."""

__version__ = "0.1.0"
