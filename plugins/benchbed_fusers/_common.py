"""Helpers shared by the classical fusers: input checks, selection rules, output finishing."""

from __future__ import annotations

import numpy as np

from benchbed.fusion import source_pair  # noqa: F401 - re-exported for the fusers
from benchbed.types import Image


def max_abs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-element choose-max-absolute rule; ties keep ``a`` so the result is deterministic."""
    return np.where(np.abs(a) >= np.abs(b), a, b)


def finish(fused: np.ndarray) -> Image:
    """Clip to [0, 1] and return float32, the Image convention."""
    return np.clip(fused, 0.0, 1.0).astype(np.float32)
