"""pluggy hook specifications: one hook per plugin kind. Each returns a list of specs.

Each hook must return instances of its kind's spec class (``benchbed.types.SPEC_CLASSES``; a
plain PluginSpec is refused when the registry collects it), and the object a spec's factory
builds follows its kind's Protocol (``benchbed.types.PROTOCOLS``), checked on the first build.
"""

from __future__ import annotations

import pluggy

from benchbed.types import (
    DatasetSpec,
    DegradationSpec,
    DetectorSpec,
    FuserSpec,
    MetricSpec,
    PublisherSpec,
    RestorerSpec,
)

hookspec = pluggy.HookspecMarker("benchbed")


@hookspec
def benchbed_register_degradations() -> list[DegradationSpec]:
    """Return degradation specs: ``apply(image, modality, severity, rng) -> Observation``.

    Each spec declares its severity levels (level name -> parameters) and whether it is linear;
    a linear degradation attaches its forward model (``benchbed.operators``) to the observation.
    """


@hookspec
def benchbed_register_restorers() -> list[RestorerSpec]:
    """Return restorer specs: ``restore(observation, modality) -> Image`` on the clean grid.

    ``handles`` names the degradations a restorer is meant for; a blind restorer ignores the
    operator, a non-blind one (e.g. Wiener) uses it.
    """


@hookspec
def benchbed_register_fusers() -> list[FuserSpec]:
    """Return fuser specs: ``fuse(FusionInputs) -> Image``.

    ``colour`` is the policy the core applies (``y-cbcr``: the fuser sees Y, the core restores
    CbCr; ``rgb``: it sees colour; ``gray``: luma only). ``degradation_aware`` fusers receive the
    degraded observations with their operators instead of running behind a restorer.
    """


@hookspec
def benchbed_register_metrics() -> list[MetricSpec]:
    """Return metric specs: ``compute(a, b, f) -> float`` on 8-bit gray values (0..255).

    Each declares ``higher_is_better``, the value ``range`` its definition guarantees
    (``profile_ranges`` where a profile differs) and the convention ``profile`` it follows, with
    the paper and equation in its citation.
    """


@hookspec
def benchbed_register_datasets() -> list[DatasetSpec]:
    """Return dataset specs: ``pair_ids(split)`` and ``load(pair_id) -> Pair`` (plus
    ``observe(pair_id, condition)`` when the spec lists ``conditions``).

    Folder datasets resolve their files under BENCHBED_DATA (or a ``root`` parameter). What a
    dataset declares (modalities, splits, sizes, label format): ``benchbed.Dataset``.
    """


@hookspec
def benchbed_register_detectors() -> list[DetectorSpec]:
    """Return detector specs: ``detect(image) -> benchbed.detection.Detections``, the boxes that
    are scored as P/R/mAP on fused images; ``classes`` names the detector's class ids."""


@hookspec
def benchbed_register_publishers() -> list[PublisherSpec]:
    """Return publisher specs: ``publish(frame, out_dir, context) -> list[Path]`` for leaderboards."""


HOOK_FOR_KIND = {
    "degradation": "benchbed_register_degradations",
    "restorer": "benchbed_register_restorers",
    "fuser": "benchbed_register_fusers",
    "metric": "benchbed_register_metrics",
    "dataset": "benchbed_register_datasets",
    "detector": "benchbed_register_detectors",
    "publisher": "benchbed_register_publishers",
}
