"""Pixel-wise baselines: average and max-absolute selection."""

from __future__ import annotations

from benchbed.types import FusionInputs, Image

from ._common import finish, max_abs, source_pair


class AverageFuser:
    """F = (A + B) / 2."""

    def fuse(self, inputs: FusionInputs) -> Image:
        """Average the two sources pixel by pixel."""
        a, b = source_pair(inputs, "average")
        return finish(0.5 * (a + b))


class MaxAbsFuser:
    """F = A where |A| >= |B|, else B.

    Intensities are non-negative, so on images this is the classic max rule F = max(A, B);
    the absolute value only matters for signed data (it is the rule used on detail bands).
    """

    def fuse(self, inputs: FusionInputs) -> Image:
        """Keep, per pixel, the source of larger magnitude (ties keep the first source)."""
        a, b = source_pair(inputs, "maxabs")
        return finish(max_abs(a, b))
