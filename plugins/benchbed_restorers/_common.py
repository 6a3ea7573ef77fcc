"""Shared helpers of the built-in restorers: clean-grid resizing and output finishing."""

from __future__ import annotations

import math

import numpy as np

from benchbed import Image
from benchbed.imaging import resize

# Std of 8-bit rounding error: every observation the core hands over is quantised, so even a
# "noise-free" one carries this much white noise, and a deconvolution must not amplify it.
QUANT_SIGMA = 1.0 / 255.0 / math.sqrt(12.0)


def on_clean_grid(image: Image, clean_shape: tuple[int, ...], method: str = "bicubic") -> Image:
    """Resize ``image`` to the clean spatial size (bicubic by default); same size passes through."""
    h, w = int(clean_shape[0]), int(clean_shape[1])
    if tuple(image.shape[:2]) == (h, w):
        return image
    return resize(np.asarray(image, np.float32), (h, w), method=method)


def finish(image: np.ndarray) -> Image:
    """Clip to [0, 1] as contiguous float32: the restorer output convention."""
    return np.ascontiguousarray(np.clip(image, 0.0, 1.0), dtype=np.float32)
