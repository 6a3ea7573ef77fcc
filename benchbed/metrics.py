"""Fusion metrics callable directly: ``benchbed.metrics.compute("QABF", a, b, f)``.

Inputs are image files or arrays as benchbed reads them (float [0, 1], HxW or HxWx3); each is
turned into 8-bit-scale gray (BT.601 luma, ``benchbed.imaging.to_gray_255``) exactly as in a
run, so the numbers equal the stored ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Union

import numpy as np

from benchbed.errors import BenchbedError
from benchbed.imaging import read_image, to_gray_255
from benchbed.registry import Registry, get_registry

ImageLike = Union[str, "os.PathLike[str]", np.ndarray]


def as_gray_255(image: ImageLike) -> np.ndarray:
    """An image file or a [0, 1] array as the gray float64 0..255 array metrics take."""
    arr = read_image(image) if isinstance(image, (str, os.PathLike)) else np.asarray(image)
    return to_gray_255(arr.astype(np.float32, copy=False))


def compute(name: str, a: ImageLike, b: ImageLike, f: ImageLike, profile: str | None = None,
            registry: Registry | None = None) -> float:
    """Metric ``name`` of fused image ``f`` against sources ``a`` and ``b`` (its default
    convention profile unless ``profile`` is given)."""
    return compute_many([name], a, b, f, profile=profile, registry=registry)[name]


def compute_many(names: Iterable[str] | None, a: ImageLike, b: ImageLike, f: ImageLike, *,
                 profile: str | None = None, registry: Registry | None = None,
                 strict_profile: bool = True) -> dict[str, float]:
    """Several metrics (default: every registered one) of one triple; sizes must agree.

    ``profile`` applies to the metrics that have it; with ``strict_profile`` a profile that no
    selected metric has is an error (a typo must not silently give the default convention).
    """
    reg = registry or get_registry()
    chosen = list(names) if names is not None else reg.names("metric")
    specs = [reg.get("metric", n) for n in chosen]
    known = sorted({p for spec in specs for p in spec.profiles})
    if profile is not None and strict_profile and profile not in known:
        raise BenchbedError(f"no selected metric has the profile {profile!r}",
                            fix=f"use one of {known} (names are case-sensitive)")
    ga, gb, gf = (as_gray_255(x) for x in (a, b, f))
    if not ga.shape == gb.shape == gf.shape:
        raise BenchbedError(f"images differ in size: {ga.shape}, {gb.shape}, {gf.shape}",
                            fix="score images of one size (the fused image at the sources' size)")
    out = {}
    for name, spec in zip(chosen, specs):
        use = profile if profile in spec.profiles else None
        value = float(spec.build(**spec.profile_params(use)).compute(ga, gb, gf))
        if not np.isfinite(value):
            raise BenchbedError(f"metric {name!r} returned {value}",
                                fix="check the metric plugin on this input")
        out[name] = value
    return out
