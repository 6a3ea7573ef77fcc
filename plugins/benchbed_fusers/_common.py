"""Helpers shared by the classical fusers: input checks, selection rules, output finishing."""

from __future__ import annotations

import numpy as np

from benchbed.errors import BenchbedError
from benchbed.types import FusionInputs, Image


def source_pair(inputs: FusionInputs, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The two sources as float64 HxW arrays of equal shape (the `y-cbcr`/`gray` contract)."""
    a, b = (np.asarray(x, dtype=np.float64) for x in inputs.images)
    if a.ndim != 2 or b.ndim != 2:
        raise BenchbedError(
            f"fuser {name!r} got images of shapes {a.shape} and {b.shape}, expected HxW",
            fix="register it with colour='y-cbcr' or 'gray' so the core passes single channels",
        )
    if a.shape != b.shape:
        raise BenchbedError(
            f"fuser {name!r} got sources of different sizes {a.shape} and {b.shape}",
            fix="register (resize) the sources to one size before fusing",
        )
    return a, b


def max_abs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-element choose-max-absolute rule; ties keep ``a`` so the result is deterministic."""
    return np.where(np.abs(a) >= np.abs(b), a, b)


def finish(fused: np.ndarray) -> Image:
    """Clip to [0, 1] and return float32, the Image convention."""
    return np.clip(fused, 0.0, 1.0).astype(np.float32)
