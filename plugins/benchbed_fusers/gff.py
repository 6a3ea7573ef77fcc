"""Guided filtering fusion (GFF): S. Li, X. Kang, J. Hu, IEEE TIP 22(7):2864-2875, 2013.

Follows the authors' released MATLAB code (as bundled in VIFB, methods/GFF/GFF.m):
replicate borders for the Laplacian, Gaussian and average filters; ties in the binary weight
map go to the first source; refined weights are clipped and rounded to 8 bits
(``uint8(W*255)/255``) before ``+1e-12`` and normalisation, as that code does.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from benchbed.types import FusionInputs, Image

from ._common import finish, source_pair

_LAPLACIAN = np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
_GAUSS_RADIUS, _GAUSS_SIGMA = 5, 5.0  # fspecial('gaussian', 11, 5)
_AVERAGE_SIZE = 31  # two-scale decomposition: 31x31 mean filter
_TINY = 1e-12  # keeps the weight normalisation finite where both weights are 0


def _window_bounds(n: int, r: int) -> tuple[np.ndarray, np.ndarray]:
    idx = np.arange(n)
    return np.maximum(idx - r, 0), np.minimum(idx + r + 1, n)


def box_mean(x: np.ndarray, r: int) -> np.ndarray:
    """Mean over the (2r+1)^2 window clipped to the image (He et al.'s boxfilter(x)/N)."""
    out = np.asarray(x, dtype=np.float64)
    for axis in (0, 1):
        n = out.shape[axis]
        lo, hi = _window_bounds(n, r)
        c = np.cumsum(out, axis=axis)
        c = np.concatenate([np.zeros_like(np.take(c, [0], axis=axis)), c], axis=axis)
        # Cumulative sums make every window O(1), so r = 45 costs the same as r = 1.
        out = (np.take(c, hi, axis=axis) - np.take(c, lo, axis=axis)) / np.expand_dims(
            (hi - lo).astype(np.float64), 1 - axis
        )
    return out


def guided_filter(guide: np.ndarray, src: np.ndarray, r: int, eps: float) -> np.ndarray:
    """Gray guided filter, He, Sun & Tang ECCV 2010, Alg. 1 (local linear model q = a I + b)."""
    mean_i = box_mean(guide, r)
    mean_p = box_mean(src, r)
    cov_ip = box_mean(guide * src, r) - mean_i * mean_p
    var_i = box_mean(guide * guide, r) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return box_mean(a, r) * guide + box_mean(b, r)


def _replicate(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    return ndimage.correlate(x, kernel, mode="nearest")  # MATLAB imfilter(..., 'replicate')


def _gaussian_1d() -> np.ndarray:
    x = np.arange(-_GAUSS_RADIUS, _GAUSS_RADIUS + 1, dtype=np.float64)
    k = np.exp(-(x**2) / (2.0 * _GAUSS_SIGMA**2))
    return k / k.sum()


def saliency(x: np.ndarray) -> np.ndarray:
    """Saliency S = |I * Laplacian| * Gaussian(11x11, sigma 5) (paper Sec. III-B)."""
    h = np.abs(_replicate(x, _LAPLACIAN))
    g = _gaussian_1d()
    h = ndimage.correlate1d(h, g, axis=0, mode="nearest")
    return ndimage.correlate1d(h, g, axis=1, mode="nearest")


def _normalise(wa: np.ndarray, wb: np.ndarray) -> np.ndarray:
    # Clip + 8-bit rounding as the reference's uint8(W*255)/255 (MATLAB rounds half away
    # from zero, which floor(x + 0.5) reproduces for non-negative x).
    w = np.stack([wa, wb])
    w = np.floor(np.clip(w, 0.0, 1.0) * 255.0 + 0.5) / 255.0 + _TINY
    return w / w.sum(axis=0, keepdims=True)


class GuidedFilteringFuser:
    """Two-scale fusion with guided-filter-refined binary saliency weights."""

    def __init__(self, r1: int = 45, eps1: float = 0.3, r2: int = 7, eps2: float = 1e-6) -> None:
        self.r1, self.eps1, self.r2, self.eps2 = int(r1), float(eps1), int(r2), float(eps2)

    def weights(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalised base and detail weight maps, each of shape (2, H, W) summing to 1."""
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        # Binary maps P_n (Sec. III-B); ">=" gives ties to the first source like MATLAB's max.
        pa = (saliency(a) >= saliency(b)).astype(np.float64)
        pb = 1.0 - pa
        w_base = _normalise(
            guided_filter(a, pa, self.r1, self.eps1), guided_filter(b, pb, self.r1, self.eps1)
        )
        w_detail = _normalise(
            guided_filter(a, pa, self.r2, self.eps2), guided_filter(b, pb, self.r2, self.eps2)
        )
        return w_base, w_detail

    def fuse(self, inputs: FusionInputs) -> Image:
        """F = sum_n W^B_n B_n + W^D_n D_n, B_n = mean31(I_n), D_n = I_n - B_n (Sec. III-A, C)."""
        a, b = source_pair(inputs, "gff")
        w_base, w_detail = self.weights(a, b)
        base_a = ndimage.uniform_filter(a, _AVERAGE_SIZE, mode="nearest")
        base_b = ndimage.uniform_filter(b, _AVERAGE_SIZE, mode="nearest")
        fused_base = w_base[0] * base_a + w_base[1] * base_b
        fused_detail = w_detail[0] * (a - base_a) + w_detail[1] * (b - base_b)
        return finish(fused_base + fused_detail)
