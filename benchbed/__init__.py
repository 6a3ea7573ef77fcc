"""benchbed: benchmark image fusion under degradation.

Plugin authors: the spec classes, Protocols, ``hookimpl`` and ``lazy`` below. Users: ``run``,
``results``, ``export``, ``leaderboard``, ``score``, ``score_folders`` (``benchbed.api``,
imported on first use so that plugins importing benchbed stay light) and
``benchbed.metrics.compute``.
"""

from __future__ import annotations

import pluggy

from benchbed.errors import BenchbedError, DataError, PluginOutputError
from benchbed.types import (
    Dataset,
    DatasetSpec,
    Degradation,
    DegradationSpec,
    Detector,
    DetectorSpec,
    Fuser,
    FuserSpec,
    FusionInputs,
    Image,
    Metric,
    MetricSpec,
    Observation,
    ObservedDataset,
    Pair,
    PluginSpec,
    Publisher,
    PublisherSpec,
    Restorer,
    RestorerSpec,
    SeverityAxis,
    WeightsRef,
    lazy,
)

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("benchbed")
"""Decorator for plugin hook implementations."""

_API = ("run", "results", "export", "score", "score_folders")


def __getattr__(name: str) -> object:
    """The user API, imported on first use (``benchbed.run`` etc.; ``benchbed.leaderboard`` is
    the leaderboard package, itself callable as the API function)."""
    import importlib

    if name in _API:
        return getattr(importlib.import_module("benchbed.api"), name)
    if name in ("leaderboard", "metrics", "testing"):
        return importlib.import_module(f"benchbed.{name}")
    raise AttributeError(f"module 'benchbed' has no attribute {name!r}")

__all__ = [
    "BenchbedError",
    "DataError",
    "Dataset",
    "DatasetSpec",
    "Degradation",
    "DegradationSpec",
    "Detector",
    "DetectorSpec",
    "Fuser",
    "FuserSpec",
    "FusionInputs",
    "Image",
    "Metric",
    "MetricSpec",
    "Observation",
    "ObservedDataset",
    "Pair",
    "PluginOutputError",
    "PluginSpec",
    "Publisher",
    "PublisherSpec",
    "Restorer",
    "RestorerSpec",
    "SeverityAxis",
    "WeightsRef",
    "__version__",
    "export",
    "hookimpl",
    "lazy",
    "leaderboard",
    "results",
    "run",
    "score",
    "score_folders",
]
