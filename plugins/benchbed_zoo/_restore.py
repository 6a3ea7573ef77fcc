"""Shared plumbing of the zoo restorers: grids, colour planes and output finishing."""

from __future__ import annotations

import math

import numpy as np

from benchbed import Image
from benchbed.imaging import resize

# Std of 8-bit rounding: the observations the core hands over are quantised, so even a
# "noise-free" one carries this much white noise, which a deconvolution must not amplify.
QUANT_SIGMA = 1.0 / 255.0 / math.sqrt(12.0)



def upsample(image: Image, factor: int, clean_shape: tuple[int, ...]) -> Image:
    """Bicubic x``factor`` then crop to the clean size.

    Resizing straight to the clean size would stretch by H/ceil(H/s) != s when H is not a
    multiple of s, misaligning every block with the pixels it averaged.
    """
    h, w = int(clean_shape[0]), int(clean_shape[1])
    if tuple(image.shape[:2]) == (h, w):
        return image
    big = resize(np.asarray(image, np.float32), (image.shape[0] * factor, image.shape[1] * factor))
    return big[:h, :w]


def finish(image: np.ndarray) -> Image:
    """Clip to [0, 1] as contiguous float32 (the restorer output convention)."""
    return np.ascontiguousarray(np.clip(image, 0.0, 1.0), dtype=np.float32)
