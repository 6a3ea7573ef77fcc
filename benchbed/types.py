"""Data conventions shared by the core and every plugin: images, pairs, observations and specs.

Image convention: ``numpy.float32`` arrays, HxW (gray) or HxWx3 (RGB), values in [0, 1].
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from benchbed.operators import LinearOperator

Image = np.ndarray
"""float32 array, HxW or HxWx3, values in [0, 1]."""

Kind = Literal["degradation", "restorer", "fuser", "metric", "dataset", "detector", "publisher"]
KINDS: tuple[Kind, ...] = (
    "degradation",
    "restorer",
    "fuser",
    "metric",
    "dataset",
    "detector",
    "publisher",
)
ColourPolicy = Literal["y-cbcr", "rgb", "gray"]


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Pair:
    """Two registered source images of one scene, clean, with optional detection labels.

    ``sources`` is ``None`` for a dataset that ships only degraded images (its DatasetSpec has
    ``has_clean=False``): such pairs are used through ``observe`` and scored against the
    degraded sources.
    """

    id: str
    modalities: tuple[str, str]
    sources: tuple[Image, Image] | None
    labels: Any = None
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Observation:
    """A degraded source ``y`` with the linear forward model that produced it, where one exists.

    ``operator`` maps a clean image of ``clean_shape`` to the noise-free part of ``y``
    (``A``) and back (``A_pinv``); it is ``None`` for non-linear degradations.
    ``noise_sigma`` is the std of the additive Gaussian noise on the [0, 1] scale (0 when none).
    """

    y: Image
    operator: LinearOperator | None
    clean_shape: tuple[int, ...]
    noise_sigma: float = 0.0
    degradation: str = "clean"
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FusionInputs:
    """What a fuser receives: two images (Y channel or gray, or RGB per its colour policy).

    For a cascade, ``images`` are the restored sources. For a degradation-aware fuser they are
    the degraded observations, and ``observations`` carries their operators and noise levels.
    """

    images: tuple[Image, Image]
    modalities: tuple[str, str]
    observations: tuple[Observation, Observation] | None = None
    device: str = "cpu"
    seed: int = 0


@dataclass(frozen=True)
class WeightsRef:
    """A weights file looked up under BENCHBED_WEIGHTS (or an absolute path), verified by sha256."""

    path: str
    sha256: str


def lazy(target: str, *args: Any, **kwargs: Any) -> Callable[..., Any]:
    """A spec factory that imports ``"package.module:Name"`` on its first call and returns
    ``Name(*args, **kwargs, **params)``: listing plugins never imports torch or the like."""
    return partial(_build_lazy, target, args, kwargs)


def _build_lazy(target: str, args: tuple[Any, ...], kwargs: dict[str, Any], **params: Any) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)(*args, **kwargs, **params)


@dataclass(frozen=True, kw_only=True)
class PluginSpec:
    """What every plugin registers: a name, a version that enters every cache key, and a lazy factory.

    ``factory(**params)`` builds the working object; heavy imports belong inside it.
    """

    kind: Kind
    name: str
    version: str
    summary: str
    factory: Callable[..., Any]
    params: Mapping[str, Any] = field(default_factory=dict)
    modalities: tuple[str, ...] = ()
    device: str = "cpu"
    weights: tuple[WeightsRef, ...] = ()
    citation: str = ""
    provider: str = ""
    trainer: Callable[..., Any] | None = None
    """Optional ``trainer(**options)`` behind `benchbed train NAME` (lazy imports inside)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _frozen(self.params))

    def build(self, **overrides: Any) -> Any:
        """Instantiate the plugin with its default params updated by ``overrides``."""
        unknown = set(overrides) - set(self.params)
        if unknown:
            from benchbed.errors import BenchbedError

            raise BenchbedError(
                f"{self.kind} {self.name!r} has no parameter(s) {sorted(unknown)}",
                fix=f"use one of {sorted(self.params)} (see `benchbed info {self.name}`)",
            )
        return self.factory(**{**self.params, **overrides})

    def describe(self) -> dict[str, Any]:
        """Human- and JSON-friendly summary used by `benchbed info`."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "name": self.name,
            "version": self.version,
            "summary": self.summary,
            "params": dict(self.params),
            "modalities": list(self.modalities),
            "device": self.device,
            "weights": [w.path for w in self.weights],
            "citation": self.citation,
            "provider": self.provider,
            "trainable": self.trainer is not None,
        }
        for extra in self._extra_fields():
            value = getattr(self, extra)
            if isinstance(value, Mapping):
                value = {k: dict(v) if isinstance(v, Mapping) else v for k, v in value.items()}
            out[extra] = value
        return out

    def _extra_fields(self) -> tuple[str, ...]:
        base = {f for f in PluginSpec.__dataclass_fields__}
        return tuple(f for f in self.__dataclass_fields__ if f not in base)


@dataclass(frozen=True)
class SeverityAxis:
    """The physical quantity a degradation's levels vary: level value = params[param] * scale.

    Severity curves and sweep areas are drawn over it (e.g. noise sigma in /255 units, blur
    sigma in px, the pooling factor) instead of the level index; ``clean`` is its value for
    the undegraded image (0 for noise and blur, 1 for a pooling factor).
    """

    param: str
    label: str
    scale: float = 1.0
    clean: float = 0.0

    def value(self, params: Mapping[str, Any]) -> float | None:
        """The physical value of one level's parameters (None when the level lacks it)."""
        raw = params.get(self.param)
        return None if raw is None else float(raw) * self.scale


@dataclass(frozen=True, kw_only=True)
class DegradationSpec(PluginSpec):
    """A degradation with named severity levels: level -> parameters passed to ``apply``."""

    kind: Kind = "degradation"
    severities: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    linear: bool = True
    given: bool = False
    """True: the observations are the dataset's own degraded images (``Dataset.observe``), not
    synthesised; the severities a suite names are the dataset's ``conditions``."""
    axis: SeverityAxis | None = None
    """The physical parameter its levels vary (None: levels are only ordered)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(
            self, "severities", _frozen({str(k): _frozen(v) for k, v in self.severities.items()})
        )


@dataclass(frozen=True, kw_only=True)
class RestorerSpec(PluginSpec):
    """A restorer and the degradations it is meant for (``("*",)`` = any)."""

    kind: Kind = "restorer"
    handles: tuple[str, ...] = ("*",)


@dataclass(frozen=True, kw_only=True)
class FuserSpec(PluginSpec):
    """A fuser, its colour policy and whether it consumes degraded inputs and operators itself."""

    kind: Kind = "fuser"
    colour: ColourPolicy = "y-cbcr"
    degradation_aware: bool = False


@dataclass(frozen=True, kw_only=True)
class MetricSpec(PluginSpec):
    """A fusion metric: direction, the convention profile it follows and its inputs."""

    kind: Kind = "metric"
    higher_is_better: bool = True
    profile: str = "default"
    profiles: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    needs_sources: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        profiles = {str(k): _frozen(v) for k, v in self.profiles.items()}
        profiles.setdefault(self.profile, _frozen({}))
        object.__setattr__(self, "profiles", _frozen(profiles))

    def profile_params(self, profile: str | None = None) -> dict[str, Any]:
        """Parameters of a convention profile (default profile when None)."""
        from benchbed.errors import BenchbedError

        name = profile or self.profile
        if name not in self.profiles:
            raise BenchbedError(
                f"metric {self.name!r} has no profile {name!r}",
                fix=f"use one of {sorted(self.profiles)} (default {self.profile!r})",
            )
        return {**self.params, **self.profiles[name]}


@dataclass(frozen=True, kw_only=True)
class DatasetSpec(PluginSpec):
    """A dataset of pairs; ``modalities`` gives the order of the two sources."""

    kind: Kind = "dataset"
    splits: tuple[str, ...] = ("test",)
    conditions: tuple[str, ...] = ()
    """Real degradations the dataset ships (read through ``observe``; see DegradationSpec.given)."""
    has_clean: bool = True
    """False when the dataset has degraded images only (no clean source to degrade or score)."""


@dataclass(frozen=True, kw_only=True)
class DetectorSpec(PluginSpec):
    """An object detector (boxes for an image)."""

    kind: Kind = "detector"
    classes: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class PublisherSpec(PluginSpec):
    """A leaderboard publisher (markdown, CSV, HTML, ...)."""

    kind: Kind = "publisher"


# --- protocols the objects built by factories follow -------------------------------------------


@runtime_checkable
class Degradation(Protocol):
    """Built by a DegradationSpec factory."""

    def apply(
        self, image: Image, modality: str, severity: Mapping[str, Any], rng: np.random.Generator
    ) -> Observation:
        """Degrade one clean source; all randomness comes from ``rng``."""


@runtime_checkable
class Restorer(Protocol):
    """Built by a RestorerSpec factory."""

    def restore(self, observation: Observation, modality: str) -> Image:
        """Return an estimate of the clean source of ``observation.clean_shape``."""


@runtime_checkable
class Fuser(Protocol):
    """Built by a FuserSpec factory."""

    def fuse(self, inputs: FusionInputs) -> Image:
        """Fuse two images of equal size into one (HxW, or HxWx3 for the `rgb` policy)."""


@runtime_checkable
class Metric(Protocol):
    """Built by a MetricSpec factory. Inputs are gray float64 arrays on 0..255."""

    def compute(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        """Score fused image ``f`` against reference sources ``a`` and ``b``."""


@runtime_checkable
class Dataset(Protocol):
    """Built by a DatasetSpec factory."""

    def pair_ids(self, split: str | None) -> list[str]:
        """Ids of the pairs in ``split`` (all pairs when ``None``), in a stable order."""

    def load(self, pair_id: str) -> Pair:
        """Load one pair; corrupt or mismatched files raise DataError."""


@runtime_checkable
class ObservedDataset(Dataset, Protocol):
    """A dataset that also ships real degraded versions of its pairs (spec ``conditions``)."""

    def observe(self, pair_id: str, condition: str) -> tuple[Observation, Observation]:
        """The pair's two degraded sources under ``condition``, with their (estimated) models."""
