"""Helpers shared by the metrics: 8-bit level maps and histogram entropy."""

from __future__ import annotations

import numpy as np


def gray_levels(x: np.ndarray) -> np.ndarray:
    """Integer grey levels 0..255 (int64) of a gray image on the 0..255 scale.

    The core passes 8-bit values as float64; rounding only absorbs float noise. VIFB bins
    with floor(x) + 1 and the CDDFuse Evaluator with round(x): identical on integer input.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"metrics take gray HxW images, got shape {x.shape}")
    return np.clip(np.rint(x), 0, 255).astype(np.int64)


def entropy(counts: np.ndarray, base: float = 2.0) -> float:
    """Shannon entropy -sum p log p of a histogram of counts, empty bins skipped (0 log 0 = 0)."""
    counts = np.asarray(counts, dtype=np.float64).ravel()
    total = counts.sum()
    if total <= 0:
        return 0.0
    p = counts[counts > 0] / total
    # "0.0 -" rather than unary minus so a one-bin histogram gives +0.0, not -0.0.
    return float(0.0 - (p * np.log(p)).sum() / np.log(base))


def check_same_shape(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> None:
    """Raise a clear error when the three images differ in size."""
    if not (np.shape(a) == np.shape(b) == np.shape(f)):
        raise ValueError(
            f"a, b and f must have one shape, got {np.shape(a)}, {np.shape(b)}, {np.shape(f)}"
        )
