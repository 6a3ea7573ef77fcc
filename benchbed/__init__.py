"""benchbed: benchmark image fusion under degradation. Public API for plugin authors."""

from __future__ import annotations

import pluggy

from benchbed.errors import BenchbedError, DataError, PluginOutputError
from benchbed.types import (
    DatasetSpec,
    DegradationSpec,
    DetectorSpec,
    FuserSpec,
    FusionInputs,
    Image,
    MetricSpec,
    Observation,
    Pair,
    PublisherSpec,
    RestorerSpec,
    SeverityAxis,
    WeightsRef,
    lazy,
)

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("benchbed")
"""Decorator for plugin hook implementations."""

__all__ = [
    "BenchbedError",
    "DataError",
    "DatasetSpec",
    "DegradationSpec",
    "DetectorSpec",
    "FuserSpec",
    "FusionInputs",
    "Image",
    "MetricSpec",
    "Observation",
    "Pair",
    "PluginOutputError",
    "PublisherSpec",
    "RestorerSpec",
    "SeverityAxis",
    "WeightsRef",
    "__version__",
    "hookimpl",
    "lazy",
]
