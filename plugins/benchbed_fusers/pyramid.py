"""Laplacian pyramid fusion (Burt & Adelson 1983; rule after Burt & Kolczynski 1993)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from benchbed.types import FusionInputs, Image

from ._common import finish, max_abs, source_pair

# Burt & Adelson's 5-tap generating kernel with a = 0.375 (separable, sums to 1).
_KERNEL = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def _blur(x: np.ndarray, gain: float = 1.0) -> np.ndarray:
    k = _KERNEL * gain
    # 'reflect' (half-sample symmetric) extension avoids dark/bright rims at the borders.
    x = ndimage.correlate1d(x, k, axis=0, mode="reflect")
    return ndimage.correlate1d(x, k, axis=1, mode="reflect")


def reduce(x: np.ndarray) -> np.ndarray:
    """REDUCE: blur then keep every second sample; an odd side n gives (n + 1) // 2."""
    return _blur(x)[::2, ::2]


def expand(x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """EXPAND to exactly ``shape``: zero-insert upsampling then blur with gain 2 per axis."""
    up = np.zeros(shape, dtype=np.float64)
    up[::2, ::2] = x[: (shape[0] + 1) // 2, : (shape[1] + 1) // 2]
    return _blur(up, gain=2.0)


def laplacian_pyramid(x: np.ndarray, levels: int) -> list[np.ndarray]:
    """Detail bands, finest first, followed by the Gaussian base; at most ``levels`` bands."""
    bands: list[np.ndarray] = []
    current = x
    for _ in range(levels):
        if min(current.shape) < 2:  # nothing left to halve
            break
        smaller = reduce(current)
        bands.append(current - expand(smaller, current.shape))
        current = smaller
    bands.append(current)
    return bands


def reconstruct(pyramid: list[np.ndarray]) -> np.ndarray:
    """Invert laplacian_pyramid exactly (the same EXPAND is used both ways)."""
    current = pyramid[-1]
    for band in reversed(pyramid[:-1]):
        current = band + expand(current, band.shape)
    return current


class LaplacianPyramidFuser:
    """Base level averaged, detail levels by max-absolute selection."""

    def __init__(self, levels: int = 4) -> None:
        if int(levels) < 1:
            raise ValueError(f"levels must be >= 1, got {levels}")
        self.levels = int(levels)

    def fuse(self, inputs: FusionInputs) -> Image:
        """Fuse the two Laplacian pyramids and reconstruct at the input size."""
        a, b = source_pair(inputs, "laplacian")
        pa = laplacian_pyramid(a, self.levels)
        pb = laplacian_pyramid(b, self.levels)
        fused = [max_abs(da, db) for da, db in zip(pa[:-1], pb[:-1], strict=True)]
        fused.append(0.5 * (pa[-1] + pb[-1]))
        return finish(reconstruct(fused))
