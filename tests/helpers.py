"""Small deterministic test images and measures shared by the test modules."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage


def textured(h: int = 96, w: int = 112, rgb: bool = False, seed: int = 0) -> np.ndarray:
    """A deterministic natural-ish image: smooth random field plus hard edges, in [0.05, 0.95]."""
    rng = np.random.default_rng(seed)
    chans = []
    for c in range(3 if rgb else 1):
        field = ndimage.gaussian_filter(rng.standard_normal((h, w)), 2.5 + c)
        field = (field - field.min()) / np.ptp(field)
        yy, xx = np.mgrid[:h, :w]
        edges = (((xx + 5 * c) // 16 + yy // 12) % 2).astype(np.float64)
        chans.append(0.05 + 0.9 * (0.6 * field + 0.4 * edges))
    img = chans[0] if not rgb else np.stack(chans, axis=-1)
    return img.astype(np.float32)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two [0, 1] images."""
    return 10 * math.log10(1.0 / float(np.mean((np.asarray(a, np.float64) - b) ** 2)))
