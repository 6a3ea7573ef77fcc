"""The clean reference condition and additive white Gaussian noise (A = I)."""

from __future__ import annotations

from typing import Any

import numpy as np

from benchbed import Image, Observation
from benchbed.operators import Identity
from benchbed_degradations._base import Degradation, clip01, noisy, nonneg, per255


class Clean(Degradation):
    """No degradation: y = x, A = I, sigma 0 (the reference condition of robustness scores)."""

    name = "clean"

    def __init__(self) -> None:
        super().__init__()

    def _degrade(
        self, x: Image, modality: str, params: dict[str, Any], rng: np.random.Generator
    ) -> Observation:
        return Observation(y=x.copy(), operator=Identity(x.shape), clean_shape=x.shape,
                           noise_sigma=0.0, degradation=self.name, params=params)


class GaussianNoise(Degradation):
    """y = clip(x + n), n ~ N(0, sigma^2) per pixel and channel; ``sigma`` on the [0, 1] scale."""

    name = "gaussian_noise"

    def __init__(self, sigma: float = per255(14)) -> None:
        super().__init__(sigma=sigma)

    def _degrade(
        self, x: Image, modality: str, params: dict[str, Any], rng: np.random.Generator
    ) -> Observation:
        sigma = nonneg(params, "sigma")
        return Observation(y=clip01(noisy(x, sigma, rng)), operator=Identity(x.shape),
                           clean_shape=x.shape, noise_sigma=sigma, degradation=self.name,
                           params=params)
