"""Single-image dehazing by the dark channel prior (He, Sun & Tang, CVPR 2009 / TPAMI 2011)."""

from __future__ import annotations

import numpy as np

from benchbed.imaging import to_gray
from benchbed_restorers._blind import BlindRestorer, guided_smooth


def dark_channel(image: np.ndarray, patch: int) -> np.ndarray:
    """Min over colour channels, then over a patch x patch window (gray: the window min only)."""
    per_pixel = image.min(axis=-1) if image.ndim == 3 else image
    from scipy import ndimage  # at use: the registry imports this module

    return ndimage.minimum_filter(per_pixel, size=patch, mode="nearest")


def atmospheric_light(image: np.ndarray, dark: np.ndarray, top: float = 0.001) -> np.ndarray:
    """Among the brightest ``top`` fraction of dark-channel pixels, the brightest input pixel."""
    chans = image.reshape(dark.size, -1)
    n = max(1, round(top * dark.size))
    idx = np.argpartition(dark.ravel(), -n)[-n:]
    best = idx[np.argmax(chans[idx].sum(axis=1))]
    # Floor: an all-black input would otherwise divide by zero in I / A.
    return np.maximum(chans[best], 1e-3)


def dcp_dehaze(y: np.ndarray, patch: int = 15, omega: float = 0.95, t0: float = 0.1,
               top: float = 0.001, radius: int = 60, eps: float = 1e-4) -> np.ndarray:
    """J = (I - A) / max(t, t0) + A with t = 1 - omega * dark(I / A), refined by a guided filter.

    radius 60 and eps 1e-4 are the guided filter's dehazing setting in He et al., TPAMI 2013.
    """
    dark = dark_channel(y, patch)
    a = atmospheric_light(y, dark, top)
    t = 1.0 - omega * dark_channel(y / a, patch)
    if radius > 0:
        t = guided_smooth(to_gray(y.astype(np.float32)), t, radius, eps)
    t = np.maximum(t, t0)
    if y.ndim == 3:
        t = t[..., None]
    return (y - a) / t + a


class Dehaze(BlindRestorer):
    """Dark-channel-prior dehazing; gray inputs use their single channel as the dark channel."""

    def __init__(self, patch: int = 15, omega: float = 0.95, t0: float = 0.1, top: float = 0.001,
                 radius: int = 60, eps: float = 1e-4, denoiser: str | None = "nlm") -> None:
        super().__init__(denoiser)
        self.patch, self.omega, self.t0, self.top = int(patch), float(omega), float(t0), float(top)
        self.radius, self.eps = int(radius), float(eps)

    def correct(self, y: np.ndarray) -> np.ndarray:
        """Dehazed y."""
        return dcp_dehaze(y, self.patch, self.omega, self.t0, self.top, self.radius, self.eps)
