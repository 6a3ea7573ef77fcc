"""Helpers shared by the metrics: 8-bit level maps, histogram entropy, windows and local moments."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage


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
    shapes = (np.shape(a), np.shape(b), np.shape(f))
    if not shapes[0] == shapes[1] == shapes[2]:
        raise ValueError(f"a, b and f must have one shape, got {shapes}")


def as_gray(*images: np.ndarray) -> list[np.ndarray]:
    """The images as float64 HxW arrays (a clear error for anything else)."""
    out = [np.asarray(x, dtype=np.float64) for x in images]
    for x in out:
        if x.ndim != 2:
            raise ValueError(f"metrics take gray HxW images, got shape {x.shape}")
    return out


def stretch_255(x: np.ndarray) -> np.ndarray:
    """Liu's ``normalize1.m``: min-max stretch to 0..255, rounded half away from zero.

    Computed in exact integer arithmetic on 8-bit input (round((x - min) * 255 / (max - min)))
    so ties such as 255/2 round up as MATLAB's ``round`` does on exact halves. A constant image
    maps to zeros: the reference divides 0 by 0 there (NaN); an all-zero image is kept as is.
    """
    lv = gray_levels(x)
    lo, hi = int(lv.min()), int(lv.max())
    if hi == lo:
        return np.zeros(lv.shape, dtype=np.int64)
    rng = hi - lo
    # floor((2 (x - lo) 255 + rng) / (2 rng)) == round-half-up of (x - lo) 255 / rng.
    return (2 * (lv - lo) * 255 + rng) // (2 * rng)


@lru_cache(maxsize=16)
def gaussian_taps(size: int, sigma: float) -> np.ndarray:
    """1-D taps t with outer(t, t) == MATLAB ``fspecial('gaussian', size, sigma)``.

    fspecial normalises exp(-(x^2 + y^2) / (2 sigma^2)) to sum 1, which factorises exactly; its
    zeroing of values below eps * max never triggers for the sizes used here (asserted).
    """
    r = (size - 1) / 2.0
    x = np.arange(size, dtype=np.float64) - r
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    assert g.min() ** 2 >= np.finfo(np.float64).eps * g.max() ** 2
    out = g / g.sum()
    out.setflags(write=False)
    return out


def filter_same(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Correlate the last two axes with outer(taps, taps), zeros outside: ``filter2(..., 'same')``."""
    y = ndimage.correlate1d(x, taps, axis=-1, mode="constant")
    return ndimage.correlate1d(y, taps, axis=-2, mode="constant")


def filter_valid(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Correlate the last two axes with outer(taps, taps), output where the window fits: ``'valid'``."""
    r = len(taps) // 2
    # Crop after each separable pass: the border columns never reach the valid output.
    y = ndimage.correlate1d(x, taps, axis=-1, mode="constant")[..., r : x.shape[-1] - r]
    return ndimage.correlate1d(y, taps, axis=-2, mode="constant")[..., r : x.shape[-2] - r, :]


def local_moments(
    images: dict[str, np.ndarray], products: list[tuple[str, str]], taps: np.ndarray
) -> dict[str, np.ndarray]:
    """Windowed means ``mu[k]`` and (co)variances ``s[k1+k2]`` = E[xy] - E[x]E[y], 'valid' window.

    One batched filter call over the images and the requested products. The variance of a flat
    window comes out as round-off (~1e-12 at 8-bit scale) rather than 0; callers that divide by
    variances treat those as 0 (see ``flat``).
    """
    keys = list(images)
    stack = [images[k] for k in keys] + [images[p] * images[q] for p, q in products]
    filtered = filter_valid(np.stack(stack), taps)
    out = {f"mu{k}": filtered[i] for i, k in enumerate(keys)}
    for j, (p, q) in enumerate(products):
        out[f"s{p}{q}"] = filtered[len(keys) + j] - out[f"mu{p}"] * out[f"mu{q}"]
    return out


def flat(variance: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Windows whose variance is round-off only: <= 2e-13 (mean^2 + 1) on the 0..255 scale.

    E[x^2] - E[x]^2 of a flat window is a few ulps of mean^2 (< 2e-9 at mean 255), while any
    window holding two 8-bit levels has variance >= its smallest weight (> 1e-6 for every
    window used here): the threshold (1.3e-8 at mean 255) sits decades from both.
    """
    return variance <= 2e-13 * (mean * mean + 1.0)


def safe_corr(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of two images; 0 when either is constant (the 0/0 of the definition)."""
    xc = x - x.mean()
    yc = y - y.mean()
    den = float(np.sqrt((xc * xc).sum() * (yc * yc).sum()))
    if den == 0.0:
        return 0.0
    return float((xc * yc).sum() / den)
