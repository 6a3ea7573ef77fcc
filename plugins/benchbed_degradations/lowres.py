"""Low resolution by s x s average pooling (A = D_s, A_pinv = pixel replication)."""

from __future__ import annotations

from typing import Any

import numpy as np

from benchbed import Image, Observation
from benchbed.operators import AvgPoolDown
from benchbed_degradations._base import Degradation, clip01, int_factor


class LowResolution(Degradation):
    """y = AvgPool_s(x), of shape ceil(H/s) x ceil(W/s); noise-free, so sigma is 0."""

    name = "lowres"

    def __init__(self, factor: int = 4) -> None:
        super().__init__(factor=factor)

    def _degrade(
        self, x: Image, modality: str, params: dict[str, Any], rng: np.random.Generator
    ) -> Observation:
        op = AvgPoolDown(x.shape, int_factor(params))
        return Observation(y=clip01(op.A(x)), operator=op, clean_shape=x.shape, noise_sigma=0.0,
                           degradation=self.name, params=params)
