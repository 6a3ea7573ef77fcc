"""Infrared fixed-pattern stripe noise (R5), optionally with white sensor noise (R6)."""

from __future__ import annotations

from typing import Any

import numpy as np

from benchbed import Image, Observation
from benchbed.operators import Identity
from benchbed_degradations._base import Degradation, clip01, noisy, nonneg


class IRStripes(Degradation):
    """y = clip(x + 1_H s^T + n), s_j ~ N(0, stripe_sigma^2) per column (vertical stripes).

    A = I: the stripes are structured additive noise; ``noise_sigma`` reports only the white
    part, which is what a Gaussian denoiser can use.
    """

    name = "ir_stripes"

    def __init__(self, stripe_sigma: float = 3.4 / 255, noise_sigma: float = 0.0) -> None:
        super().__init__(stripe_sigma=stripe_sigma, noise_sigma=noise_sigma)

    def _degrade(self, x: Image, modality: str, params: dict[str, Any],
                 rng: np.random.Generator) -> Observation:
        s_sigma, sigma = nonneg(params, "stripe_sigma"), nonneg(params, "noise_sigma")
        cols = s_sigma * rng.standard_normal(x.shape[1])
        offsets = cols[None, :] if x.ndim == 2 else cols[None, :, None]
        y = noisy(np.asarray(x, np.float64) + offsets, sigma, rng)
        return Observation(y=clip01(y), operator=Identity(x.shape), clean_shape=x.shape,
                           noise_sigma=sigma, degradation=self.name, params=params)
