"""Shared plumbing of the zoo fusers: input checks, small-image padding, source ordering."""

from __future__ import annotations

import numpy as np

from benchbed import BenchbedError, FusionInputs

# Reflection padding needs a side of at least 2; smaller images are edge-padded up to this.
MIN_SIDE = 8
VISIBLE_LIKE = ("vi", "vis", "visible", "rgb", "pet", "spect")


def source_pair(inputs: FusionInputs, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The two sources as float32 HxW arrays of one shape (the `y-cbcr` contract)."""
    a, b = (np.asarray(x, dtype=np.float32) for x in inputs.images)
    if a.ndim != 2 or b.ndim != 2:
        raise BenchbedError(
            f"fuser {name!r} got images of shapes {a.shape} and {b.shape}, expected HxW",
            fix="register it with colour='y-cbcr' so the core passes the Y channel",
        )
    if a.shape != b.shape:
        raise BenchbedError(
            f"fuser {name!r} got sources of different sizes {a.shape} and {b.shape}",
            fix="register (resize) the sources to one size before fusing",
        )
    return a, b


def grow(image: np.ndarray) -> np.ndarray:
    """Edge-pad (bottom/right) an image smaller than MIN_SIDE; crop the result with ``shrink``."""
    h, w = image.shape
    if h >= MIN_SIDE and w >= MIN_SIDE:
        return image
    return np.pad(image, ((0, max(0, MIN_SIDE - h)), (0, max(0, MIN_SIDE - w))), mode="edge")


def finish(fused: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Crop back to ``shape`` and clip to [0, 1] as contiguous float32."""
    out = np.asarray(fused, np.float32)[: shape[0], : shape[1]]
    return np.ascontiguousarray(np.clip(out, 0.0, 1.0))


def visible_first(inputs: FusionInputs, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, ...]:
    """(a, b) reordered so a visible/functional source comes first, as some nets were trained."""
    first, second = (m.lower() for m in inputs.modalities)
    if second in VISIBLE_LIKE and first not in VISIBLE_LIKE:
        return b, a
    return a, b
