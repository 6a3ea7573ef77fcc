"""Shared plumbing of the zoo fusers: input checks, small-image padding, source ordering."""

from __future__ import annotations

import numpy as np

from benchbed import FusionInputs
from benchbed.fusion import source_pair as _source_pair

# Reflection padding needs a side of at least 2; smaller images are edge-padded up to this.
MIN_SIDE = 8
VISIBLE_LIKE = ("vi", "vis", "visible", "rgb", "pet", "spect")


def source_pair(inputs: FusionInputs, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The two sources as float32 HxW arrays of one shape (the networks run in float32)."""
    return _source_pair(inputs, name, np.float32)



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
