"""No-op and interpolation restorers."""

from __future__ import annotations

import numpy as np

from benchbed import Image, Observation
from benchbed_restorers._common import finish, on_clean_grid


class Identity:
    """Return y unchanged; a low-resolution y is bicubic-resized to the clean grid.

    The resize is the only thing it does, because a fuser needs both sources on one grid; it
    makes `identity` on `lowres` equal to `bicubic`, the weakest sensible baseline.
    """

    def restore(self, observation: Observation, modality: str) -> Image:
        """y on the clean grid."""
        y = np.asarray(observation.y, np.float32)
        return finish(on_clean_grid(y, observation.clean_shape))


class Bicubic:
    """Interpolate a low-resolution y to the clean grid (``method``: bicubic/bilinear/nearest)."""

    def __init__(self, method: str = "bicubic") -> None:
        self.method = method

    def restore(self, observation: Observation, modality: str) -> Image:
        """y interpolated to the clean grid; same-size inputs pass through."""
        y = np.asarray(observation.y, np.float32)
        return finish(on_clean_grid(y, observation.clean_shape, self.method))
