"""Chen-Blum human-perception fusion metric Q_CB."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import fft

from ._common import WORKERS, as_gray, check_same_shape, stretch_255

# Contrast sensitivity (DoG) and local-contrast constants of metricChenBlum.m.
_F0, _F1, _A = 15.3870, 1.3456, 0.7622
_K, _H, _P, _Q, _Z = 1.0, 1.0, 3.0, 2.0, 0.0001


@lru_cache(maxsize=4)
def _csf(shape: tuple[int, int]) -> np.ndarray:
    """The DoG CSF S(r) on the rfft2 grid of ``shape``.

    The reference samples S on freqspace([M, N]) scaled by (N/30, M/30): u = (N/30) * 2k/N =
    k/15 for the signed DFT index k of the column frequency (likewise v), so r = |k| / 15
    whatever the size, and fftshift/ifftshift around the product only reorder it.
    """
    ky = np.fft.fftfreq(shape[0]) * shape[0]
    kx = np.fft.rfftfreq(shape[1]) * shape[1]
    r = np.hypot(ky[:, None], kx[None, :]) / 15.0
    out = np.exp(-((r / _F0) ** 2)) - _A * np.exp(-((r / _F1) ** 2))
    out.setflags(write=False)
    return out


@lru_cache(maxsize=4)
def _gauss31(sigma: float) -> np.ndarray:
    """1-D factor of the reference's unnormalised 31x31 Gaussian exp(-r^2/2s^2) / (2 pi s^2)."""
    x = np.arange(-15, 16, dtype=np.float64)
    out = np.exp(-(x * x) / (2.0 * sigma * sigma)) / np.sqrt(2.0 * np.pi * sigma * sigma)
    out.setflags(write=False)
    return out


def _padded(shape: tuple[int, int]) -> tuple[int, int]:
    """A fast FFT size at least 30 larger each way (linear convolution with a 31-wide kernel)."""
    return fft.next_fast_len(shape[0] + 30, real=True), fft.next_fast_len(shape[1] + 30, real=True)


@lru_cache(maxsize=4)
def _gauss_spectra(shape: tuple[int, int]) -> np.ndarray:
    """rfft2 of the two 31x31 Gaussians on the zero-padded grid of ``shape``."""
    padded = _padded(shape)
    kernels = np.stack([np.outer(_gauss31(s), _gauss31(s)) for s in (2.0, 4.0)])
    out = fft.rfft2(kernels, s=padded, axes=(-2, -1))
    out.setflags(write=False)
    return out


def _local_means(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """filter2(G, x, 'same') for both Gaussians over a stack (zeros outside the image).

    A 31x31 kernel costs 62 multiply-adds per pixel separably; one zero-padded FFT product
    (linear, not circular, convolution: the pad is the kernel's full width) is cheaper. The
    kernels are symmetric, so convolution equals filter2's correlation.
    """
    rows, cols = x.shape[-2:]
    padded = _padded((rows, cols))
    spec = fft.rfft2(x, s=padded, axes=(-2, -1), workers=WORKERS)
    out = fft.irfft2(spec[:, None] * _gauss_spectra((rows, cols))[None], s=padded,
                     axes=(-2, -1), workers=WORKERS)
    # Full convolution index i + 15 is the 'same' output at i.
    same = out[..., 15 : 15 + rows, 15 : 15 + cols]
    return same[:, 0], same[:, 1]


def _ratio(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """min(x, y) / max(x, y) as the reference's mask expression; 1 where both are 0."""
    lo, hi = np.minimum(x, y), np.maximum(x, y)
    return np.divide(lo, hi, out=np.ones_like(hi), where=hi > 0)


class ChenBlumQCB:
    """Q_CB = mean over pixels of lambda_A Q_AF + lambda_B Q_BF (Chen & Blum, A new automated
    quality assessment algorithm for image fusion, Image Vis. Comput. 27(10):1421-1432, 2009,
    Eqs. 5-13).

    As Liu et al. 2012 toolbox ``metricChenBlum.m`` (= VIFB ``metricsQcb.m``): images
    min-max stretched to 0..255 (``normalize1``); filtered in frequency by the DoG contrast
    sensitivity S(r) = exp(-(r/f0)^2) - a exp(-(r/f1)^2) (f0 = 15.3870, f1 = 1.3456,
    a = 0.7622, r in cycles per 1/30 of the image); local contrast C = |G1 * I / G2 * I - 1|
    with 31x31 Gaussians of sigma 2 and 4 (unnormalised, zero padding); masked contrast
    C' = k C^p / (h C^q + Z) (k = h = 1, p = 3, q = 2, Z = 1e-4); Q_XF = min/max(C'_X, C'_F);
    saliency lambda_A = C'_A^2 / (C'_A^2 + C'_B^2). Range [0, 1]; symmetric in A and B.

    The reference is NaN for a constant image (0/0 in the stretch). Here a constant image
    stretches to 0 and has contrast 0; 0/0 contrast ratios count as equal (Q_XF = 1) and
    pixels where neither source has contrast weigh the two sources equally.
    """

    def compute(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        """Chen-Blum perceptual contrast preservation of F, in [0, 1]."""
        check_same_shape(a, b, f)
        a, b, f = as_gray(a, b, f)
        img = np.stack([stretch_255(x).astype(np.float64) for x in (a, b, f)])
        shape = (img.shape[1], img.shape[2])
        spec = fft.rfft2(img, axes=(-2, -1), workers=WORKERS) * _csf(shape)
        filt = fft.irfft2(spec, s=shape, axes=(-2, -1), workers=WORKERS)
        g1, g2 = _local_means(filt)
        constant = np.array([np.ptp(x) == 0 for x in img])
        # A constant image is all zeros after the stretch: 0/0 contrast, taken as none.
        con = np.abs(np.divide(g1, g2, out=np.ones_like(g1), where=~constant[:, None, None]) - 1.0)
        cp = _K * con**_P / (_H * con**_Q + _Z)
        qa, qb = _ratio(cp[0], cp[2]), _ratio(cp[1], cp[2])
        wa, wb = cp[0] ** 2, cp[1] ** 2
        den = wa + wb
        lam = np.divide(wa, den, out=np.full_like(den, 0.5), where=den > 0)
        return float(np.mean(lam * qa + (1.0 - lam) * qb))
