"""Pixel-domain visual information fidelity VIF(A, F) + VIF(B, F)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ._common import as_gray, block_moments, check_same_shape, filter_valid

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
    """Numerator and denominator sums of one scale, with the reference's guards.

    The reference's guards in its order: s1, s2 clipped at 0; g = s12 / (s1 + eps) and
    sv = s2 - g s12; where s1 < eps: g = 0, sv = s2, s1 = 0; where s2 < eps: g = 0, sv = 0;
    where g < 0: sv = s2, g = 0; then sv = eps where sv <= eps. A pixel whose g ends at 0 adds
    log10(1) = 0 to the numerator whatever its sv, and one whose s1 ends at 0 adds 0 to the
    denominator, so only the remaining pixels are evaluated (same sums).
    """
    s1 = np.maximum(s1, 0.0)
    s2 = np.maximum(s2, 0.0)
    g = s12 / (s1 + _EPS)
    keep = s1 >= _EPS
    s1 *= keep  # exact 0/1 factors (branch-free, unlike where=); every term here is finite
    keep &= s2 >= _EPS
    keep &= g >= 0
    sv = s2 - g * s12
    np.maximum(sv, _EPS, out=sv)
    sv += _SIGMA_NSQ
    g *= g
    g *= s1
    g /= sv
    g *= keep
    g += 1.0
    num = float(np.log10(g, out=g).sum())
    s1 /= _SIGMA_NSQ
    s1 += 1.0
    den = float(np.log10(s1, out=s1).sum())
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
        pairs = [("A", "A"), ("B", "B"), ("F", "F"), ("A", "F"), ("B", "F")]

        def terms(m: dict[str, np.ndarray]) -> tuple[float, float, float, float]:
            n_a, d_a = _vif_terms(m["sAA"], m["sFF"], m["sAF"])
            n_b, d_b = _vif_terms(m["sBB"], m["sFF"], m["sBF"])
            return n_a, d_a, n_b, d_b

        for scale in range(1, 5):
            taps = _taps(scale)
            if scale > 1:
                img = filter_valid(img, taps, step=2)
            # Direct separable filtering by row blocks, products formed in cache.
            parts = block_moments({"A": img[0], "B": img[1], "F": img[2]}, pairs, taps, terms)
            for n_a, d_a, n_b, d_b in parts:
                num += (n_a, n_b)
                den += (d_a, d_b)
        vals = [1.0 if d == 0.0 and n == 0.0 else n / d for n, d in zip(num, den)]
        total = float(sum(vals))
        return total if self.aggregate == "sum" else total / 2.0
