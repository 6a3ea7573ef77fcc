"""``given``: the dataset's own degraded images stand in for a synthetic degradation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from benchbed import BenchbedError, Image, Observation


class Given:
    """Marker degradation: the runner reads ``Dataset.observe(pair, condition)`` instead.

    It synthesises nothing, so calling ``apply`` is a usage error (e.g. `benchbed degrade given`).
    """

    name = "given"

    def apply(self, image: Image, modality: str, severity: Mapping[str, Any],
              rng: np.random.Generator) -> Observation:
        """Always an error: real degraded images come from a dataset, not from a clean image."""
        raise BenchbedError(
            "degradation 'given' reads a dataset's own degraded images; it cannot degrade an image",
            fix="use it in a suite with a dataset that lists conditions (`benchbed list dataset`)",
        )
