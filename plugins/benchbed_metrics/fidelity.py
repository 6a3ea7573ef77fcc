"""PSNR of the fused image against both sources."""

from __future__ import annotations

import math

import numpy as np

from ._common import as_gray, check_same_shape

PSNR_CAP_DB = 100.0


class PSNR:
    """PSNR = 10 log10(P^2 / MSE), MSE = (MSE(A, F) + MSE(B, F)) / 2 (Jagalingam & Hegde,
    Aquatic Procedia 4:133-142, 2015).

    ``peak="max_f"``: P = max(F), the CDDFuse Evaluator ``PSNR``; ``peak=255``: the 8-bit
    range. ``mse="mean"`` is the mean squared error; ``mse="vifb"`` reproduces VIFB
    ``metricsPsnr.m``, whose ``mse`` helper returns sqrt(sum((X - F)^2)) / (M N) (a root sum
    of squares over the pixel count, not an MSE) -- kept as a profile because VIFB tables use it.

    MSE = 0 (F == A == B) would be +inf and P = 0 (black F under ``max_f``) -inf: the value is
    clipped to [-100, 100] dB so tables stay finite and ordered.
    """

    def __init__(self, peak: str | float = "max_f", mse: str = "mean") -> None:
        if peak != "max_f" and not (isinstance(peak, (int, float)) and peak > 0):
            raise ValueError(f"peak must be 'max_f' or a positive number, got {peak!r}")
        if mse not in ("mean", "vifb"):
            raise ValueError(f"mse must be 'mean' or 'vifb', got {mse!r}")
        self.peak, self.mse = peak, mse

    def _error(self, x: np.ndarray, f: np.ndarray) -> float:
        sse = float(((x - f) ** 2).sum())
        return sse / f.size if self.mse == "mean" else math.sqrt(sse) / f.size

    def compute(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        """PSNR in dB of F against the two sources, clipped to [-100, 100]."""
        check_same_shape(a, b, f)
        a, b, f = as_gray(a, b, f)
        err = (self._error(a, f) + self._error(b, f)) / 2.0
        peak = float(f.max()) if self.peak == "max_f" else float(self.peak)
        if err == 0.0:
            return PSNR_CAP_DB
        if peak <= 0.0:
            return -PSNR_CAP_DB
        return float(np.clip(10.0 * math.log10(peak * peak / err), -PSNR_CAP_DB, PSNR_CAP_DB))
