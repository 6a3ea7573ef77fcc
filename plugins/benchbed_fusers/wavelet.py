"""Discrete wavelet transform fusion with PyWavelets."""

from __future__ import annotations

import warnings

import numpy as np
import pywt

from benchbed.types import FusionInputs, Image

from ._common import finish, max_abs, source_pair


class WaveletFuser:
    """Approximation averaged, detail coefficients by max-absolute selection (Li et al. 1995)."""

    def __init__(self, wavelet: str = "db2", levels: int = 3) -> None:
        self.wavelet = pywt.Wavelet(wavelet)  # fails early on an unknown wavelet name
        if int(levels) < 1:
            raise ValueError(f"levels must be >= 1, got {levels}")
        self.levels = int(levels)

    def fuse(self, inputs: FusionInputs) -> Image:
        """Decompose both sources with wavedec2, fuse the coefficients, reconstruct, crop."""
        a, b = source_pair(inputs, "wavelet")
        # Small images cannot take many levels; more would only add boundary coefficients.
        level = min(self.levels, max(1, pywt.dwt_max_level(min(a.shape), self.wavelet.dec_len)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "level too high" on tiny images
            ca = pywt.wavedec2(a, self.wavelet, mode="symmetric", level=level)
            cb = pywt.wavedec2(b, self.wavelet, mode="symmetric", level=level)
        fused: list = [0.5 * (ca[0] + cb[0])]
        for da, db in zip(ca[1:], cb[1:], strict=True):
            fused.append(tuple(max_abs(x, y) for x, y in zip(da, db, strict=True)))
        out = pywt.waverec2(fused, self.wavelet, mode="symmetric")
        # waverec2 returns even-rounded sizes; the extra row/column is padding.
        return finish(np.asarray(out)[: a.shape[0], : a.shape[1]])
