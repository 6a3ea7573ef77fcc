"""Data conventions shared by the core and every plugin: images, pairs, observations and specs.

Image convention: ``numpy.float32`` arrays, HxW (gray) or HxWx3 (RGB), values in [0, 1].
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np

from benchbed.errors import BenchbedError, PluginOutputError

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from benchbed.detection import Detections
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

    @property
    def down_factor(self) -> int:
        """The average-pooling factor of the observation: the ``factor`` of the operator's first
        ``downsample`` part, else inferred from the sizes (clean height / observed height, when
        the observation is smaller; a plugin's operator may not say), else 1."""
        parts = self.operator.parts if self.operator is not None else ()
        part = next((p for p in parts if p.kind == "downsample"), None)
        if part is not None and hasattr(part, "factor"):
            return int(part.factor)
        if self.y.shape[0] < self.clean_shape[0]:
            return max(1, round(self.clean_shape[0] / self.y.shape[0]))
        return 1


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

    ``factory(**params)`` builds the working object; heavy imports belong inside it. The first
    object a spec builds is checked against its kind's Protocol (``protocol()``).
    """

    kind: Kind
    name: str
    version: str
    summary: str
    factory: Callable[..., Any]
    params: Mapping[str, Any] = field(default_factory=dict)
    modalities: tuple[str, ...] = ()
    weights: tuple[WeightsRef, ...] = ()
    citation: str = ""
    provider: str = ""
    trainer: Callable[..., Any] | None = None
    """Optional ``trainer(**options)`` behind `benchbed train NAME` (lazy imports inside)."""
    requires: Mapping[str, str] = field(default_factory=dict)
    """Optional packages it imports: module name -> what installs it (e.g. ``{"bm3d":
    "pip install 'benchbed[bm3d]'"}``); checked before a run and shown by `benchbed list`."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _frozen(self.params))
        object.__setattr__(self, "requires", _frozen(self.requires))

    def missing(self) -> dict[str, str]:
        """The ``requires`` modules that are not installed here -> how to install them."""
        import importlib.util

        return {m: how for m, how in self.requires.items() if importlib.util.find_spec(m) is None}

    def check_installed(self) -> None:
        """One clear error when a package the plugin needs is not installed."""
        missing = self.missing()
        if missing:
            raise BenchbedError(f"{self.kind} {self.name!r} needs {', '.join(missing)}, which is "
                                "not installed", fix="; ".join(dict.fromkeys(missing.values())))

    def build(self, **overrides: Any) -> Any:
        """Instantiate the plugin with its default params updated by ``overrides``.

        The first object this spec builds is checked against ``protocol()`` (its methods exist);
        a missing method is a PluginOutputError naming the plugin, the method and the fix.
        """
        unknown = set(overrides) - set(self.params)
        if unknown:
            raise BenchbedError(
                f"{self.kind} {self.name!r} has no parameter(s) {sorted(unknown)}",
                fix=f"use one of {sorted(self.params)} (see `benchbed info {self.name}`)",
            )
        self.check_installed()
        built = self.factory(**{**self.params, **overrides})
        if not self.__dict__.get("_protocol_checked", False):
            check_protocol(self, built)
            object.__setattr__(self, "_protocol_checked", True)  # not a field: eq, replace ignore it
        return built

    def protocol(self) -> type:
        """The Protocol the objects this spec builds follow (``PROTOCOLS[kind]``)."""
        return PROTOCOLS[self.kind]

    def describe(self) -> dict[str, Any]:
        """Human- and JSON-friendly summary used by `benchbed info`."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "name": self.name,
            "version": self.version,
            "summary": self.summary,
            "params": dict(self.params),
            "modalities": list(self.modalities),
            "weights": [w.path for w in self.weights],
            "citation": self.citation,
            "provider": self.provider,
            "trainable": self.trainer is not None,
            "requires": dict(self.requires),
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
    range: tuple[float, float] | None = None
    """(lo, hi) the definition guarantees for the default profile on inputs that follow the
    metric contract (8-bit values on 0..255); ``math.inf`` for an open side, None = no bound
    declared. Only bounds that hold mathematically belong here (round-off aside)."""
    profile_ranges: Mapping[str, tuple[float, float] | None] = field(default_factory=dict)
    """Profiles whose bounds differ from ``range`` (e.g. a sum vs. a mean over the sources)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        profiles = {str(k): _frozen(v) for k, v in self.profiles.items()}
        profiles.setdefault(self.profile, _frozen({}))
        object.__setattr__(self, "profiles", _frozen(profiles))
        ranges = {str(k): _range(v, self.name) for k, v in self.profile_ranges.items()}
        object.__setattr__(self, "range", _range(self.range, self.name))
        object.__setattr__(self, "profile_ranges", _frozen(ranges))

    def profile_params(self, profile: str | None = None) -> dict[str, Any]:
        """Parameters of a convention profile (default profile when None)."""
        name = self._profile_name(profile)
        return {**self.params, **self.profiles[name]}

    def value_range(self, profile: str | None = None) -> tuple[float, float] | None:
        """The declared bounds of a profile's values (default profile when None)."""
        name = self._profile_name(profile)
        return self.profile_ranges[name] if name in self.profile_ranges else self.range

    def _profile_name(self, profile: str | None) -> str:
        name = profile or self.profile
        if name not in self.profiles:
            raise BenchbedError(
                f"metric {self.name!r} has no profile {name!r}",
                fix=f"use one of {sorted(self.profiles)} (default {self.profile!r})",
            )
        return name

    def describe(self) -> dict[str, Any]:
        """As PluginSpec.describe; open range sides are None (JSON has no infinity)."""
        out = super().describe()

        def plain(r: tuple[float, float] | None) -> list[float | None] | None:
            return None if r is None else [None if math.isinf(v) else v for v in r]

        out["range"] = plain(self.range)
        out["profile_ranges"] = {k: plain(v) for k, v in self.profile_ranges.items()}
        return out


def _range(value: Any, name: str) -> tuple[float, float] | None:
    """A declared metric range as (lo, hi) floats; a malformed one is the plugin's error."""
    if value is None:
        return None
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        lo, hi = math.nan, math.nan
    if not lo <= hi:
        raise BenchbedError(f"metric {name!r} declares the range {value!r}",
                            fix="give range=(lo, hi) with lo <= hi (math.inf for an open side) or None")
    return (lo, hi)


@dataclass(frozen=True, kw_only=True)
class DatasetSpec(PluginSpec):
    """A dataset of pairs; ``modalities`` gives the order of the two sources."""

    kind: Kind = "dataset"
    splits: tuple[str, ...] = ("test",)
    conditions: tuple[str, ...] = ()
    """Real degradations the dataset ships (read through ``observe``; see DegradationSpec.given)."""
    has_clean: bool = True
    """False when the dataset has degraded images only (no clean source to degrade or score)."""

    def protocol(self) -> type:
        """ObservedDataset when the spec lists conditions (it must ``observe``), else Dataset."""
        return ObservedDataset if self.conditions else Dataset


@dataclass(frozen=True, kw_only=True)
class DetectorSpec(PluginSpec):
    """An object detector (boxes for an image)."""

    kind: Kind = "detector"
    classes: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class PublisherSpec(PluginSpec):
    """A leaderboard publisher (markdown, CSV, HTML, ...)."""

    kind: Kind = "publisher"


SPEC_CLASSES: Mapping[Kind, type[PluginSpec]] = MappingProxyType({
    "degradation": DegradationSpec,
    "restorer": RestorerSpec,
    "fuser": FuserSpec,
    "metric": MetricSpec,
    "dataset": DatasetSpec,
    "detector": DetectorSpec,
    "publisher": PublisherSpec,
})
"""The spec class each kind's hook must return (instances of it or of a subclass)."""


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
    """Built by a DatasetSpec factory: a list of pairs by split, loaded one at a time.

    What a dataset declares, and where:

    - **modalities**: the spec's ``modalities`` give the order of the two sources (``("ir",
      "vi")``, ``("mri", "ct")``, ...); every ``Pair.modalities`` repeats it. A dataset whose
      modalities are only known from its files (the ``folder`` dataset) leaves the spec's empty
      and exposes a ``modalities`` attribute on the built object instead.
    - **splits**: the spec's ``splits`` name what ``pair_ids(split)`` accepts (``pair_ids(None)``
      is every pair); an unknown split is a DataError listing the available ones. A folder
      dataset may also offer ``available_splits()``.
    - **sizes**: image sizes are the files' own; pairs whose two sources differ in size are a
      DataError unless a ``resize`` parameter says which to resample. A dataset on disk may offer
      ``describe_sizes(split) -> (pairs, (min W, min H), (max W, max H))`` read from image
      headers only: `benchbed list` shows it and the runner refuses oversized pairs with it
      before any item runs.
    - **labels**: ``Pair.labels`` carries detection ground truth, a path to a YOLO txt file
      (one ``class cx cy w h`` line per box, normalised to [0, 1]) with the class names in a
      ``classes.txt`` beside or above it (line i = class id i), or an array of such rows; None
      when the pair has no labels.
    - **degraded-only data**: spec ``has_clean=False`` (``Pair.sources`` is None) and the real
      degradations it ships in ``conditions``, read through ObservedDataset.observe.
    """

    def pair_ids(self, split: str | None) -> list[str]:
        """Ids of the pairs in ``split`` (all pairs when ``None``), in a stable order."""

    def load(self, pair_id: str) -> Pair:
        """Load one pair; corrupt or mismatched files raise DataError."""


@runtime_checkable
class ObservedDataset(Dataset, Protocol):
    """A dataset that also ships real degraded versions of its pairs (spec ``conditions``)."""

    def observe(self, pair_id: str, condition: str) -> tuple[Observation, Observation]:
        """The pair's two degraded sources under ``condition``, with their (estimated) models."""


@runtime_checkable
class Detector(Protocol):
    """Built by a DetectorSpec factory (see ``benchbed.detection``)."""

    def detect(self, image: Image) -> Detections:
        """Boxes for one image (float32 HxW or HxWx3 RGB in [0, 1]); coordinates in its pixels,
        class ids indexing the detector's class names (``benchbed.detection.Detections``)."""


@runtime_checkable
class Publisher(Protocol):
    """Built by a PublisherSpec factory."""

    def publish(self, frame: pd.DataFrame, out_dir: Path, context: Any) -> list[Path]:
        """Write a leaderboard of ``frame`` (one row per score) under ``out_dir/<suite>/``;
        ``context`` is a ``benchbed.leaderboard.PublishContext``. Returns the paths written."""


PROTOCOLS: Mapping[Kind, type] = MappingProxyType({
    "degradation": Degradation,
    "restorer": Restorer,
    "fuser": Fuser,
    "metric": Metric,
    "dataset": Dataset,
    "detector": Detector,
    "publisher": Publisher,
})
"""The Protocol each kind's built objects follow (a DatasetSpec with conditions: ObservedDataset)."""


def protocol_methods(protocol: type) -> tuple[str, ...]:
    """The public methods a Protocol declares, its bases' included, in declaration order."""
    names: list[str] = []
    for cls in reversed(protocol.__mro__):
        if cls is Protocol or not getattr(cls, "_is_protocol", False):
            continue
        names += [n for n, v in vars(cls).items()
                  if callable(v) and not n.startswith("_") and n not in names]
    return tuple(names)


def check_protocol(spec: PluginSpec, built: Any) -> None:
    """PluginOutputError unless ``built`` has every method of ``spec.protocol()``."""
    protocol = spec.protocol()
    missing = [m for m in protocol_methods(protocol) if not callable(getattr(built, m, None))]
    if not missing:
        return
    what = type(built).__name__
    wanted = "; ".join(f"def {m}{inspect.signature(getattr(protocol, m))}".replace("'", "")
                       for m in missing)
    provider = f" (plugin {spec.provider})" if spec.provider else ""
    raise PluginOutputError(
        f"{spec.kind} {spec.name!r}{provider}: its factory built a {what} without "
        f"{', '.join(f'{m}()' for m in missing)}, which a {spec.kind} needs "
        f"(benchbed.{protocol.__name__} protocol)",
        fix=f"give {what} the method(s) {wanted}, or make the spec's factory build an object "
            "that has them",
    )
