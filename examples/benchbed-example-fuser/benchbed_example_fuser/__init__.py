"""Example third-party plugin: a local-energy weighted fuser, registered through an entry point."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from benchbed import FuserSpec, FusionInputs, Image, hookimpl


class LocalEnergyFuser:
    """Per-pixel weights proportional to each source's local energy (variance in a window)."""

    def __init__(self, window: int = 7, power: float = 2.0) -> None:
        self.window = int(window)
        self.power = float(power)

    def _energy(self, x: np.ndarray) -> np.ndarray:
        mean = ndimage.uniform_filter(x, self.window, mode="reflect")
        sq = ndimage.uniform_filter(x * x, self.window, mode="reflect")
        return np.maximum(sq - mean * mean, 0.0) ** (self.power / 2.0)

    def fuse(self, inputs: FusionInputs) -> Image:
        """Energy-weighted average of the two Y/gray inputs (the core handles colour)."""
        a, b = (np.asarray(x, np.float64) for x in inputs.images)
        ea, eb = self._energy(a), self._energy(b)
        # eps keeps flat regions (zero energy in both) at the plain average
        eps = 1e-12
        wa = (ea + eps) / (ea + eb + 2 * eps)
        return np.clip(wa * a + (1.0 - wa) * b, 0.0, 1.0).astype(np.float32)


@hookimpl
def benchbed_register_fusers() -> list[FuserSpec]:
    """Register the example fuser."""
    return [
        FuserSpec(
            name="local_energy",
            version="1",
            summary="Example plugin: local-energy weighted average",
            factory=LocalEnergyFuser,
            params={"window": 7, "power": 2.0},
            colour="y-cbcr",
            citation="benchbed examples/benchbed-example-fuser (worked plugin example)",
        )
    ]
