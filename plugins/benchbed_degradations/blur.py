"""Isotropic Gaussian blur with reflect padding (A = H_k, A_pinv = Wiener), optional noise."""

from __future__ import annotations

from typing import Any

import numpy as np

from benchbed import Image, Observation
from benchbed.operators import GaussianBlur
from benchbed_degradations._base import Degradation, clip01, noisy, nonneg, positive


class Blur(Degradation):
    """y = clip(k_sigma * x + n); ``gamma`` is the Wiener regulariser the operator's A_pinv uses."""

    name = "gaussian_blur"

    def __init__(self, sigma: float = 2.0, gamma: float = 1e-3, noise_sigma: float = 0.0) -> None:
        super().__init__(sigma=sigma, gamma=gamma, noise_sigma=noise_sigma)

    def _degrade(
        self, x: Image, modality: str, params: dict[str, Any], rng: np.random.Generator
    ) -> Observation:
        op = GaussianBlur(x.shape, positive(params, "sigma"), gamma=nonneg(params, "gamma"))
        sigma_n = nonneg(params, "noise_sigma")
        return Observation(y=clip01(noisy(op.A(x), sigma_n, rng)), operator=op,
                           clean_shape=x.shape, noise_sigma=sigma_n, degradation=self.name,
                           params=params)
