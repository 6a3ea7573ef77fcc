"""Column destriping for vertical infrared fixed-pattern noise y = x + 1_H s^T (+ n), R5/R6."""

from __future__ import annotations

import numpy as np

from benchbed.imaging import to_gray
from benchbed_restorers._blind import BlindRestorer


def column_offsets(gray: np.ndarray, smooth: float = 3.0, clamp: float = 5.0) -> np.ndarray:
    """Estimate the per-column stripe offsets s (length W, zero local mean) of a gray image.

    s_{j+1} - s_j is the median over rows of the horizontal differences: a scene edge that
    covers less than half the height does not move a median. Differences larger than ``clamp``
    robust stds (MAD over columns) are full-height scene edges, not stripes, and are zeroed;
    without this a full-height step left ringing false stripes (36.5 vs 51.9 dB on a test
    step image). The integrated profile still carries the scene's slow horizontal trend, which
    a Gaussian high-pass (std ``smooth`` columns) removes: stripes are white across columns.
    """
    if gray.shape[1] < 3:
        return np.zeros(gray.shape[1])
    d = np.median(np.diff(gray, axis=1), axis=0)
    tau = 1.4826 * np.median(np.abs(d - np.median(d)))
    if tau > 0:
        d = np.where(np.abs(d) > clamp * tau, 0.0, d)
    profile = np.concatenate([[0.0], np.cumsum(d)])
    from scipy import ndimage  # at use: the registry imports this module

    return profile - ndimage.gaussian_filter1d(profile, smooth, mode="nearest")


def destripe_columns(y: np.ndarray, smooth: float = 3.0, clamp: float = 5.0) -> np.ndarray:
    """y minus its estimated column offsets; RGB: one offset per column, taken from the luma."""
    # The stripes add the same offset to every channel, and luma weights sum to 1, so the luma
    # carries the offset exactly with less noise than any single channel.
    s = column_offsets(np.asarray(to_gray(y.astype(np.float32)), np.float64), smooth, clamp)
    return y - (s[None, :, None] if y.ndim == 3 else s[None, :])


class Destripe(BlindRestorer):
    """Column destriping, then the denoiser when y also carries white noise.

    Destriping goes first: stripes are spatially structured, so patch-based denoisers treat them
    as signal, while the column estimate averages the white noise over all rows.
    """

    denoise_last = True

    def __init__(self, smooth: float = 3.0, clamp: float = 5.0,
                 denoiser: str | None = "nlm") -> None:
        super().__init__(denoiser)
        self.smooth, self.clamp = float(smooth), float(clamp)

    def correct(self, y: np.ndarray) -> np.ndarray:
        """Destriped y."""
        return destripe_columns(y, self.smooth, self.clamp)
