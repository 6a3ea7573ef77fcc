"""ReCoFuse's photometric degradations (non-linear or affine, no operator): R1, R2, R4.

shared/reference/degradations.md: low light y = s * x^g (R1), haze y = t x + A (1 - t) (R2),
low contrast y = a x + b (R4). The paper's generator is unpublished; the levels bracket the
statistics the reference inferred from the shipped ReCoFuse test pairs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchbed import Image, Observation
from benchbed_degradations._base import Degradation, clip01, noisy, nonneg, positive


class LowLight(Degradation):
    """y = clip(s * x^g + n): gamma darkening and scaling (R1), optional sensor noise."""

    name = "low_light"

    def __init__(self, gamma: float = 1.5, scale: float = 0.6, noise_sigma: float = 0.0) -> None:
        super().__init__(gamma=gamma, scale=scale, noise_sigma=noise_sigma)

    def _degrade(self, x: Image, modality: str, params: dict[str, Any],
                 rng: np.random.Generator) -> Observation:
        g, s = positive(params, "gamma"), positive(params, "scale")
        sigma = nonneg(params, "noise_sigma")
        dark = s * np.power(np.asarray(x, np.float64), g)
        return Observation(y=clip01(noisy(dark, sigma, rng)), operator=None, clean_shape=x.shape,
                           noise_sigma=sigma, degradation=self.name, params=params)


def depth_map(shape: tuple[int, int], rng: np.random.Generator, smooth: float) -> np.ndarray:
    """A scene-depth proxy in [0, 1]: far at the top (sky, horizon), near at the bottom, with
    seeded low-frequency variation, since real haze thickens with distance."""
    h, w = shape
    rows = np.linspace(1.0, 0.0, h)[:, None] * np.ones((1, w))
    from scipy import ndimage  # at use: the registry imports this module

    field = ndimage.gaussian_filter(rng.standard_normal((h, w)), sigma=smooth * max(h, w),
                                    mode="reflect")
    span = field.max() - field.min()
    field = (field - field.min()) / span if span > 0 else np.zeros_like(field)
    return 0.7 * rows + 0.3 * field


class Haze(Degradation):
    """Atmospheric scattering y = t x + A (1 - t), t = exp(-beta * (0.5 + depth)) (R2)."""

    name = "haze"

    def __init__(self, beta: float = 0.9, airlight: float = 0.8, smooth: float = 0.08) -> None:
        super().__init__(beta=beta, airlight=airlight, smooth=smooth)

    def _degrade(self, x: Image, modality: str, params: dict[str, Any],
                 rng: np.random.Generator) -> Observation:
        beta, a = nonneg(params, "beta"), nonneg(params, "airlight")
        depth = depth_map(x.shape[:2], rng, positive(params, "smooth"))
        t = np.exp(-beta * (0.5 + depth))
        if x.ndim == 3:
            t = t[..., None]
        y = t * np.asarray(x, np.float64) + a * (1.0 - t)
        return Observation(y=clip01(y), operator=None, clean_shape=x.shape, noise_sigma=0.0,
                           degradation=self.name, params=params)


class LowContrast(Degradation):
    """y = a x + b (R4): a washed-out, offset infrared image."""

    name = "low_contrast"

    def __init__(self, gain: float = 0.5, offset: float = 0.3) -> None:
        super().__init__(gain=gain, offset=offset)

    def _degrade(self, x: Image, modality: str, params: dict[str, Any],
                 rng: np.random.Generator) -> Observation:
        a, b = positive(params, "gain"), nonneg(params, "offset")
        return Observation(y=clip01(a * np.asarray(x, np.float64) + b), operator=None,
                           clean_shape=x.shape, noise_sigma=0.0, degradation=self.name,
                           params=params)
