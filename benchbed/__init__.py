"""benchbed: benchmark image fusion under degradation. Public API for plugin authors."""

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
    "hookimpl",
    "lazy",
]
