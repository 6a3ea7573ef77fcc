"""Shared plumbing of the built-in degradations: severity resolution, input checks and noise."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from benchbed import BenchbedError, Image, Observation


def per255(value: float) -> float:
    """Convert a noise std quoted on the 0..255 scale to the [0, 1] scale the params store."""
    return float(value) / 255.0


class Degradation:
    """Base class: the factory params are the defaults; ``apply`` lays one severity level over them.

    Subclasses set ``name`` and implement ``_degrade(x, modality, params, rng)``.
    """

    name = "degradation"

    def __init__(self, **defaults: Any) -> None:
        self.defaults = dict(defaults)

    def resolve(self, severity: Mapping[str, Any] | None) -> dict[str, Any]:
        """The defaults updated by ``severity``; unknown keys are an error, not silently ignored."""
        given = dict(severity or {})
        unknown = sorted(set(given) - set(self.defaults))
        if unknown:
            # A typo in a suite's custom severity would otherwise run the default level unnoticed.
            raise BenchbedError(
                f"degradation {self.name!r} has no severity parameter(s) {unknown}",
                fix=f"use some of {sorted(self.defaults)}",
            )
        return {**self.defaults, **given}

    def apply(
        self, image: Image, modality: str, severity: Mapping[str, Any], rng: np.random.Generator
    ) -> Observation:
        """Degrade one clean source; all randomness comes from ``rng``."""
        x = check_input(image, self.name)
        return self._degrade(x, str(modality).lower(), self.resolve(severity), rng)

    def _degrade(
        self, x: Image, modality: str, params: dict[str, Any], rng: np.random.Generator
    ) -> Observation:
        raise NotImplementedError


def check_input(image: object, what: str) -> Image:
    """A clean source as float32 HxW or HxWx3, or a BenchbedError naming the degradation."""
    x = np.asarray(image)
    if not (x.ndim == 2 or (x.ndim == 3 and x.shape[2] == 3)) or x.size == 0:
        raise BenchbedError(
            f"degradation {what!r} got an image of shape {x.shape}",
            fix="pass a float32 HxW or HxWx3 image in [0, 1]",
        )
    return np.ascontiguousarray(x, dtype=np.float32)


def nonneg(params: Mapping[str, Any], key: str) -> float:
    """``params[key]`` as a float >= 0."""
    value = float(params[key])
    if not np.isfinite(value) or value < 0:
        raise BenchbedError(f"severity parameter {key}={params[key]!r} must be >= 0",
                            fix=f"give a non-negative {key}")
    return value


def positive(params: Mapping[str, Any], key: str) -> float:
    """``params[key]`` as a float > 0."""
    value = nonneg(params, key)
    if value == 0:
        raise BenchbedError(f"severity parameter {key} must be > 0", fix=f"give a positive {key}")
    return value


def int_factor(params: Mapping[str, Any], key: str = "factor") -> int:
    """``params[key]`` as an integer downsampling factor >= 1 (YAML may give 4.0)."""
    value = float(params[key])
    if value != int(value) or value < 1:
        raise BenchbedError(f"severity parameter {key}={params[key]!r} must be an integer >= 1",
                            fix=f"give {key} as 2, 3, 4, ...")
    return int(value)


def noisy(clean: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``clean + n`` in float64, n ~ N(0, sigma^2) independent per pixel and channel; no clipping.

    No draw happens for sigma 0, so a noise-free level consumes no randomness.
    """
    out = np.asarray(clean, np.float64)
    if sigma > 0:
        out = out + sigma * rng.standard_normal(out.shape)
    return out


def clip01(y: np.ndarray) -> Image:
    """Clip to [0, 1] and return float32 (the core quantises to 8 bits afterwards)."""
    return np.clip(y, 0.0, 1.0).astype(np.float32)
