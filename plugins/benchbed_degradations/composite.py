"""DRFusion's composite scenario: blur + noise, plus average-pool low resolution on IR/PET/SPECT."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from benchbed import BenchbedError, Image, Observation
from benchbed.operators import AvgPoolDown, Compose, GaussianBlur
from benchbed_degradations._base import (
    Degradation,
    clip01,
    int_factor,
    noisy,
    nonneg,
    per255,
    positive,
)

# DRFusion's VIS/MRI composite noise: variance 0.001 on [0, 1], i.e. sigma = 8.07/255 [I].
SIGMA_FULL_DRFUSION = math.sqrt(1e-3)


def _modalities(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise BenchbedError(f"lowres_modalities={value!r} must be a list of modality names",
                            fix="write e.g. lowres_modalities: [ir, pet, spect]")
    return tuple(str(m).lower() for m in value)


class Composite(Degradation):
    """Low-resolution modalities: y = clip(D_s(k * x + n)); the others: y = clip(k * x + n').

    The noise of the low-resolution branch is drawn at full resolution *before* pooling, as
    inferred from DRFusion's M3FD data (sigma ~8/255 at HR, ~2/255 left after x4 pooling), so
    the white noise left in y has std ``noise_sigma / factor``, which is what the observation
    reports. ``noise_sigma_full`` is the noise of the full-resolution modalities (VIS, MRI, CT).
    """

    name = "composite"

    def __init__(
        self,
        blur_sigma: float = 2.0,
        factor: int = 4,
        noise_sigma: float = per255(8),
        noise_sigma_full: float = SIGMA_FULL_DRFUSION,
        gamma: float = 1e-3,
        lowres_modalities: Iterable[str] = ("ir", "pet", "spect"),
    ) -> None:
        super().__init__(blur_sigma=blur_sigma, factor=factor, noise_sigma=noise_sigma,
                         noise_sigma_full=noise_sigma_full, gamma=gamma,
                         lowres_modalities=_modalities(lowres_modalities))

    def _degrade(
        self, x: Image, modality: str, params: dict[str, Any], rng: np.random.Generator
    ) -> Observation:
        params["lowres_modalities"] = _modalities(params["lowres_modalities"])
        blur = GaussianBlur(x.shape, positive(params, "blur_sigma"), gamma=nonneg(params, "gamma"))
        if modality in params["lowres_modalities"]:
            s = int_factor(params)
            sigma = nonneg(params, "noise_sigma")
            pool = AvgPoolDown(x.shape, s)
            # Noise enters before pooling, so pooling averages it down by s (s^2 samples per block).
            y = pool.A(noisy(blur.A(x), sigma, rng))
            return Observation(y=clip01(y), operator=Compose([blur, pool]), clean_shape=x.shape,
                               noise_sigma=sigma / s, degradation=self.name, params=params)
        sigma = nonneg(params, "noise_sigma_full")
        return Observation(y=clip01(noisy(blur.A(x), sigma, rng)), operator=blur,
                           clean_shape=x.shape, noise_sigma=sigma, degradation=self.name,
                           params=params)
