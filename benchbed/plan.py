"""The normalised plan of a suite as typed, frozen values (what runner, work and boards read).

``benchbed.suites`` validates a suite's YAML against the registry and builds a :class:`Plan`;
every consumer reads its attributes, never string keys. The plan's JSON form (:meth:`Plan.as_dict`)
is what the store keeps with each run and what the plan hash is computed from
(:meth:`Plan.identity`), so it must stay stable: a field added here enters the hash only if it
changes what is computed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from benchbed.imaging import content_hash

References = Literal["clean", "degraded"]
MethodKind = Literal["fuser", "cascade", "degradation-aware", "detection-source", "precomputed"]


@dataclass(frozen=True)
class PluginRef:
    """A plugin of the plan: its name, the version it had when planned, its full parameters and
    the sha256s of its weights (new weights under an old version must not reuse results)."""

    name: str
    version: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    weights: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON form (the keys item identities and the plan hash are computed from)."""
        out: dict[str, Any] = {"name": self.name, "version": self.version, "params": dict(self.params)}
        if self.weights:
            out["weights"] = list(self.weights)
        return out

    def params_json(self) -> str:
        """The parameters as canonical JSON (part of cache keys)."""
        return json.dumps(self.params, sort_keys=True, default=str)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PluginRef:
        """Parse the JSON form."""
        return cls(name=str(d["name"]), version=str(d.get("version", "")),
                   params=dict(d.get("params") or {}), weights=tuple(d.get("weights") or ()))


@dataclass(frozen=True)
class DatasetRef(PluginRef):
    """A dataset of the plan with the split it runs on (None: all pairs) and an optional cap."""

    split: str | None = "test"
    limit: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {**super().as_dict(), "split": self.split, "limit": self.limit}

    def identity(self) -> dict[str, Any]:
        """What an item's identity takes from its dataset (not the split or the cap)."""
        return {"name": self.name, "version": self.version, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DatasetRef:
        """Parse the JSON form."""
        base = PluginRef.from_dict(d)
        return cls(name=base.name, version=base.version, params=base.params, weights=base.weights,
                   split=d.get("split", "test"), limit=d.get("limit"))


@dataclass(frozen=True)
class Severity:
    """One level of a degradation: its label on the board and the parameters ``apply`` gets."""

    label: str
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"label": self.label, "params": dict(self.params)}


@dataclass(frozen=True)
class DegradationRef:
    """A degradation of the plan, its board label, levels and the modalities it degrades."""

    name: str
    label: str
    version: str
    params: dict[str, Any]
    severities: tuple[Severity, ...]
    apply_to: Literal["all"] | tuple[str, ...] = "all"

    def applies_to(self, modality: str) -> bool:
        """Whether this degradation degrades ``modality`` (the other source stays clean)."""
        return self.apply_to == "all" or modality in self.apply_to

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"name": self.name, "label": self.label, "version": self.version,
                "params": dict(self.params), "severities": [s.as_dict() for s in self.severities],
                "apply_to": self.apply_to if self.apply_to == "all" else list(self.apply_to)}

    def identity(self) -> dict[str, Any]:
        """What an item's identity takes from its degradation (not its label)."""
        d = self.as_dict()
        return {k: d[k] for k in ("name", "version", "params", "apply_to")}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DegradationRef:
        """Parse the JSON form."""
        apply_to = d.get("apply_to", "all")
        return cls(name=str(d["name"]), label=str(d.get("label", d["name"])),
                   version=str(d.get("version", "")), params=dict(d.get("params") or {}),
                   severities=tuple(Severity(str(s["label"]), dict(s.get("params") or {}))
                                    for s in d.get("severities", [])),
                   apply_to="all" if apply_to == "all" else tuple(apply_to))


@dataclass(frozen=True)
class Method:
    """A row of the board: what produces its image. Build one of the variants below."""

    label: str
    restore: dict[str, PluginRef] | None = None
    """Restorer per modality (None: the sources go in as observed)."""
    degradations: tuple[str, ...] | None = None
    """Degradation labels it runs under (None: all of the suite's)."""

    kind: MethodKind = "fuser"
    fuse: PluginRef | None = None
    source: str | None = None
    folder: str | None = None
    """Precomputed: the folder of fused images (one per pair id)."""
    digest: str | None = None
    """Precomputed: digest of the folder's images (their identity, not their path)."""

    def runs_under(self, degradation_label: str) -> bool:
        """Whether the method is planned under that degradation."""
        return self.degradations is None or degradation_label in self.degradations

    def restorer_for(self, modality: str) -> PluginRef | None:
        """The restorer of ``modality``'s source, if any."""
        return (self.restore or {}).get(modality)

    def identity(self) -> dict[str, Any]:
        """What an item's identity takes from its method (not its label)."""
        out: dict[str, Any] = {
            "fuse": self.fuse.as_dict() if self.fuse else None,
            "restore": {m: r.as_dict() for m, r in self.restore.items()} if self.restore else None}
        if self.source:
            out["source"] = self.source
        if self.digest:
            out["fused"] = self.digest
        return out

    def as_dict(self) -> dict[str, Any]:
        """JSON form (``kind`` is kept for readers but, being derived, not in the plan hash)."""
        out: dict[str, Any] = {**self.identity(), "label": self.label, "kind": self.kind}
        if self.folder:
            out["fused"] = {"folder": self.folder, "digest": self.digest}
        if self.degradations is not None:
            out["degradations"] = list(self.degradations)
        return out

    def hashed_dict(self) -> dict[str, Any]:
        """The JSON form the plan hash has always seen: without the derived ``kind``."""
        out = self.as_dict()
        out.pop("kind")
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Method:
        """Parse the JSON form (stored plans older than ``kind`` get it from their shape)."""
        restore = ({m: PluginRef.from_dict(r) for m, r in d["restore"].items()}
                   if d.get("restore") else None)
        degs = tuple(d["degradations"]) if d.get("degradations") else None
        label = str(d["label"])
        if d.get("source"):
            return SourceMethod(label=label, restore=restore, degradations=degs,
                                source=str(d["source"]))
        if d.get("fused"):
            return PrecomputedMethod(label=label, degradations=degs,
                                     folder=str(d["fused"]["folder"]),
                                     digest=str(d["fused"]["digest"]))
        fuse = PluginRef.from_dict(d["fuse"])
        if restore:
            return CascadeMethod(label=label, restore=restore, degradations=degs, fuse=fuse)
        if d.get("kind") == "degradation-aware":
            return AwareMethod(label=label, degradations=degs, fuse=fuse)
        return FuserMethod(label=label, degradations=degs, fuse=fuse)


@dataclass(frozen=True)
class FuserMethod(Method):
    """A fuser on the observed sources (no restoration)."""

    kind: MethodKind = "fuser"


@dataclass(frozen=True)
class CascadeMethod(Method):
    """Restore each source, then fuse: how the papers score their competitors."""

    kind: MethodKind = "cascade"


@dataclass(frozen=True)
class AwareMethod(Method):
    """A degradation-aware fuser: it takes the degraded observations with their operators."""

    kind: MethodKind = "degradation-aware"


@dataclass(frozen=True)
class SourceMethod(Method):
    """A detection row: one (optionally restored) source stands in for a fused image."""

    kind: MethodKind = "detection-source"


@dataclass(frozen=True)
class PrecomputedMethod(Method):
    """Fused images made elsewhere (a paper's results folder): read, scored and ranked."""

    kind: MethodKind = "precomputed"

    def image_path(self, pair_id: str) -> Path | None:
        """The folder's image for ``pair_id`` (any supported format), or None."""
        from benchbed.imaging import IMAGE_EXTS

        assert self.folder is not None
        hits = [p for ext in IMAGE_EXTS for p in (Path(self.folder) / f"{pair_id}{ext}",
                                                   Path(self.folder) / f"{pair_id}{ext.upper()}")
                if p.is_file()]
        return hits[0] if hits else None


@dataclass(frozen=True)
class MetricRef(PluginRef):
    """A metric of the plan and the convention profile (with any user overrides) it follows."""

    profile: str = "default"

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {**super().as_dict(), "profile": self.profile}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MetricRef:
        """Parse the JSON form."""
        base = PluginRef.from_dict(d)
        return cls(name=base.name, version=base.version, params=base.params, weights=base.weights,
                   profile=str(d.get("profile", "default")))


@dataclass(frozen=True)
class DetectionReference:
    """Clean-reference protocol: what the ground truth is detected on (a method or a source)."""

    label: str
    method: Method | None = None
    source: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        if self.source:
            return {"label": self.label, "source": self.source}
        assert self.method is not None
        return {"label": self.label, "method": self.method.hashed_dict()}


@dataclass(frozen=True)
class DetectionConfig:
    """The suite's ``detection:`` section, checked against the registry and the suite."""

    detector: PluginRef
    label: str
    protocol: Literal["labels", "clean-reference"]
    conf: float
    reference_conf: float
    class_map: dict[str, list[str | int]]
    single_modality: tuple[SourceMethod, ...]
    labels: Literal["fused", "view"] = "fused"
    reference: DetectionReference | None = None
    classes: tuple[str, ...] | None = None

    @property
    def protocol_label(self) -> str:
        """``labels`` or ``clean-reference:<reference>`` (the store's ``protocol`` column)."""
        if self.protocol == "labels":
            return "labels"
        assert self.reference is not None
        return f"clean-reference:{self.reference.label}"

    def stored_rows_dict(self) -> dict[str, Any]:
        """What changes the stored detection rows (``conf`` applies at query time only)."""
        d = self.as_dict(with_key=False)
        return {k: d.get(k) for k in ("detector", "protocol", "reference", "reference_conf",
                                       "classes", "class_map", "labels")}

    @cached_property
    def key(self) -> str:
        """Hash of :meth:`stored_rows_dict`: stored detections carry it."""
        return content_hash(json.dumps(self.stored_rows_dict(), sort_keys=True, default=str))[:16]

    def as_dict(self, with_key: bool = True) -> dict[str, Any]:
        """JSON form."""
        out = {
            "detector": self.detector.as_dict(), "label": self.label, "protocol": self.protocol,
            "reference": self.reference.as_dict() if self.reference else None,
            "conf": self.conf, "reference_conf": self.reference_conf,
            "classes": list(self.classes) if self.classes else None,
            "class_map": {k: list(v) for k, v in self.class_map.items()},
            "single_modality": [m.hashed_dict() for m in self.single_modality],
            "labels": self.labels,
        }
        if with_key:
            out["key"] = self.key
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DetectionConfig:
        """Parse the JSON form."""
        ref = d.get("reference")
        reference = None
        if ref:
            reference = DetectionReference(
                label=str(ref["label"]), source=ref.get("source"),
                method=Method.from_dict(ref["method"]) if ref.get("method") else None)
        return cls(
            detector=PluginRef.from_dict(d["detector"]), label=str(d["label"]),
            protocol=d.get("protocol", "labels"), conf=float(d.get("conf", 0.25)),
            reference_conf=float(d.get("reference_conf", d.get("conf", 0.25))),
            class_map={str(k): list(v) for k, v in (d.get("class_map") or {}).items()},
            single_modality=tuple(_single_from(s) for s in d.get("single_modality") or []),
            labels=d.get("labels", "fused"), reference=reference,
            classes=tuple(d["classes"]) if d.get("classes") else None)


def _single_from(d: Mapping[str, Any]) -> SourceMethod:
    method = Method.from_dict(d)
    assert isinstance(method, SourceMethod)
    return method


@dataclass(frozen=True)
class Plan:
    """A validated suite, normalised so that equal content gives an equal hash."""

    name: str
    version: str
    seed: int
    references: References
    datasets: tuple[DatasetRef, ...]
    degradations: tuple[DegradationRef, ...]
    methods: tuple[Method, ...]
    metrics: tuple[MetricRef, ...]
    detection: DetectionConfig | None = None
    primary: tuple[str, ...] = ()
    """Metrics that decide the headline ranks (empty: the reference-based ones)."""
    description: str = ""

    def identity(self) -> dict[str, Any]:
        """What the plan hash covers: everything that changes a computed number."""
        return {
            "name": self.name, "version": self.version, "seed": self.seed,
            "references": self.references,
            "datasets": [d.as_dict() for d in self.datasets],
            "degradations": [d.as_dict() for d in self.degradations],
            "methods": [m.hashed_dict() for m in self.methods],
            "metrics": [m.as_dict() for m in self.metrics],
            "detection": self.detection.as_dict() if self.detection else None,
        }

    @cached_property
    def hash(self) -> str:
        """Content hash of :meth:`identity`."""
        return content_hash(json.dumps(self.identity(), sort_keys=True, default=str))

    def as_dict(self) -> dict[str, Any]:
        """JSON form kept with each run (identity plus presentation: primary, description)."""
        out = self.identity()
        out["methods"] = [m.as_dict() for m in self.methods]
        if self.primary:
            out["primary"] = list(self.primary)
        if self.description:
            out["description"] = self.description
        return out

    @property
    def all_methods(self) -> tuple[Method, ...]:
        """The fusion methods and the detection-only source rows, in board order."""
        return (*self.methods, *(self.detection.single_modality if self.detection else ()))

    def degradation(self, label: str) -> DegradationRef | None:
        """The degradation with that board label."""
        return next((d for d in self.degradations if d.label == label), None)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Plan:
        """Parse the JSON form (a stored run's plan, of any benchbed version since the store's)."""
        return cls(
            name=str(d["name"]), version=str(d.get("version", 1)), seed=int(d.get("seed", 0)),
            references=d.get("references", "clean"),
            datasets=tuple(DatasetRef.from_dict(x) for x in d.get("datasets", [])),
            degradations=tuple(DegradationRef.from_dict(x) for x in d.get("degradations", [])),
            methods=tuple(Method.from_dict(x) for x in d.get("methods", [])),
            metrics=tuple(MetricRef.from_dict(x) for x in d.get("metrics", [])),
            detection=DetectionConfig.from_dict(d["detection"]) if d.get("detection") else None,
            primary=tuple(d.get("primary") or ()), description=str(d.get("description") or ""))
