"""Chen-Blum human-perception fusion metric Q_CB."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import fft, ndimage

from ._common import (
    WORKERS,
    as_gray,
    check_same_shape,
    correlate_rows_valid,
    parallel_map,
    row_chunks,
    scratch,
    stretch_255,
)

# Contrast sensitivity (DoG) and local-contrast constants of metricChenBlum.m.
_F0, _F1, _A = 15.3870, 1.3456, 0.7622
_Z = 0.0001  # with k = h = 1, p = 3, q = 2 (written out in compute)


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


def _ratio(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """min(x, y) / max(x, y) as the reference's mask expression; 1 where both are 0 (x, y >= 0).

    Divides everywhere and patches the rare 0/0 afterwards: a masked division (where=) is
    several times slower on arrays this size."""
    lo, hi = np.minimum(x, y), np.maximum(x, y)
    with np.errstate(invalid="ignore"):
        lo /= hi
    np.copyto(lo, 1.0, where=hi == 0)
    return lo


_ROWS = 32  # rows per cache-sized block of the per-pixel stage


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
        img = np.stack([stretch_255(x, np.float64) for x in (a, b, f)])
        shape = (img.shape[1], img.shape[2])
        spec = fft.rfft2(img, axes=(-2, -1), workers=WORKERS)
        spec *= _csf(shape)
        filt = fft.irfft2(spec, s=shape, axes=(-2, -1), workers=WORKERS, overwrite_x=True)
        # A constant image is all zeros after the stretch: 0/0 contrast, taken as none.
        varying = [bool(x.any()) for x in img]
        rows, cols = shape
        g_small, g_large = _gauss31(2.0), _gauss31(4.0)

        def block(bounds: tuple[int, int]) -> float:
            """filter2(G, filt, 'same') for both Gaussians (zeros outside the image, direct
            separable sums over the block and its 15-row frame), then the per-pixel measure."""
            lo, hi = bounds
            top, bottom = max(0, lo - 15), min(rows, hi + 15)
            frame = scratch("contrast", (3, hi - lo + 30, cols), np.float64)
            frame[:, : top - lo + 15] = 0.0  # rows past the image
            frame[:, bottom - lo + 15 :] = 0.0
            frame[:, top - lo + 15 : bottom - lo + 15] = filt[:, top:bottom]
            g1, g2 = (
                ndimage.correlate1d(correlate_rows_valid(frame, g), g, axis=-1, mode="constant")
                for g in (g_small, g_large)
            )
            con = np.ones_like(g1)
            for i in range(3):
                if varying[i]:
                    np.divide(g1[i], g2[i], out=con[i])
            con -= 1.0
            np.abs(con, out=con)
            # C' = k C^p / (h C^q + Z) with k = h = 1, p = 3, q = 2.
            sq = con * con
            cp = sq * con
            sq += _Z
            cp /= sq
            qa, qb = _ratio(cp[0], cp[2]), _ratio(cp[1], cp[2])
            wa, wb = cp[0] * cp[0], cp[1] * cp[1]
            den = wa + wb
            with np.errstate(invalid="ignore"):
                lam = wa / den
            np.copyto(lam, 0.5, where=den == 0)  # neither source has contrast: equal weights
            qa -= qb
            qa *= lam
            qa += qb  # lam qa + (1 - lam) qb
            return float(qa.sum())

        total = sum(parallel_map(block, row_chunks(rows, _ROWS)))
        return float(total / img[0].size)
