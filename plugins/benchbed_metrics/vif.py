"""Pixel-domain visual information fidelity VIF(A, F) + VIF(B, F)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ._common import as_gray, check_same_shape, fft_valid, filter_valid

_SIGMA_NSQ = 2.0  # HVS noise variance of the reference code
_EPS = 1e-10


@lru_cache(maxsize=4)
def _taps(scale: int) -> np.ndarray:
    """1-D taps of the scale's N x N Gaussian, N = 2^(5 - scale) + 1, sd = N / 5 (as vifp_mscale)."""
    n = 2 ** (4 - scale + 1) + 1
    sd = n / 5.0
    x = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
    g = np.exp(-(x * x) / (2.0 * sd * sd))
    out = g / g.sum()
    out.setflags(write=False)
    return out


def _vif_terms(s1: np.ndarray, s2: np.ndarray, s12: np.ndarray) -> tuple[float, float]:
    """Numerator and denominator sums of one scale, with the reference's guards in its order."""
    s1 = np.maximum(s1, 0.0)
    s2 = np.maximum(s2, 0.0)
    g = s12 / (s1 + _EPS)
    sv = s2 - g * s12
    low1 = s1 < _EPS
    g = np.where(low1, 0.0, g)
    sv = np.where(low1, s2, sv)
    s1 = np.where(low1, 0.0, s1)
    low2 = s2 < _EPS
    g = np.where(low2, 0.0, g)
    sv = np.where(low2, 0.0, sv)
    neg = g < 0
    sv = np.where(neg, s2, sv)
    g = np.where(neg, 0.0, g)
    sv = np.where(sv <= _EPS, _EPS, sv)
    num = float(np.log10(1.0 + g * g * s1 / (sv + _SIGMA_NSQ)).sum())
    den = float(np.log10(1.0 + s1 / _SIGMA_NSQ).sum())
    return num, den


class VIF:
    """VIF = VIF(A, F) + VIF(B, F) (or their mean), pixel-domain multi-scale VIF of Sheikh &
    Bovik, Image information and visual quality, IEEE TIP 15(2):430-444, 2006 (Eq. 8, the
    ``vifp_mscale.m`` approximation), source as reference and F as distorted.

    As the CDDFuse Evaluator ``VIFF``: 4 scales with N x N Gaussian windows
    (N = 17, 9, 5, 3; sd = N/5), 'valid' filtering, dyadic decimation between scales,
    sigma_nsq = 2, eps = 1e-10 guards, and VIF = 1 when the ratio is 0/0 (a constant source).
    ``aggregate="sum"`` (Evaluator) or ``"mean"``. Not bounded above by 1: a contrast-enhanced
    F can exceed 1 per source. Needs at least 41x41 pixels (four scales of valid windows).
    """

    def __init__(self, aggregate: str = "sum") -> None:
        if aggregate not in ("sum", "mean"):
            raise ValueError(f"aggregate must be 'sum' or 'mean', got {aggregate!r}")
        self.aggregate = aggregate

    def compute(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        """Visual information fidelity of F with respect to each source."""
        check_same_shape(a, b, f)
        a, b, f = as_gray(a, b, f)
        if min(a.shape) < 41:
            raise ValueError(f"VIF needs images of at least 41x41, got {a.shape}")
        img = np.stack([a, b, f])
        num, den = np.zeros(2), np.zeros(2)
        for scale in range(1, 5):
            taps = _taps(scale)
            if scale > 1:
                img = filter_valid(img, taps, step=2)
            x = np.concatenate([img, img * img, img[:2] * img[2]])  # A B F A^2 B^2 F^2 AF BF
            # 17 taps: one FFT product beats two separable passes. Its global round-off
            # (~1e-10 at 8-bit scale) only matters in flat windows, where every term is ~0.
            mom = fft_valid(x, taps) if scale == 1 else filter_valid(x, taps)
            mu = mom[:3]
            var = mom[3:6] - mu * mu
            for i in (0, 1):
                cov = mom[6 + i] - mu[i] * mu[2]
                n_i, d_i = _vif_terms(var[i], var[2], cov)
                num[i] += n_i
                den[i] += d_i
        vals = [1.0 if d == 0.0 and n == 0.0 else n / d for n, d in zip(num, den)]
        total = float(sum(vals))
        return total if self.aggregate == "sum" else total / 2.0
