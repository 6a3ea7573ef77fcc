"""The suite's ``detection:`` section: checked against the registry and the suite, and named."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchbed.errors import SuiteError, did_you_mean
from benchbed.registry import Registry
from benchbed.suites import checked_ref, param_suffix, plugin_ref


def detector_label(detector: Mapping[str, Any], defaults: Mapping[str, Any]) -> str:
    """``name`` or ``name[k=v,...]`` with the parameters that differ from the plugin's defaults."""
    changed = {k: v for k, v in detector["params"].items() if defaults.get(k) != v and k != "device"}
    if not changed:
        return str(detector["name"])
    return detector["name"] + "[" + ",".join(f"{k}={changed[k]}" for k in sorted(changed)) + "]"


def normalise_detection(entry: dict[str, Any] | None, registry: Registry, methods: list[dict[str, Any]],
               modalities: set[str], where: str) -> dict[str, Any] | None:
    """The suite's `detection:` mapping (JSON form of a DetectionConfig), checked against the
    registry and the suite's (normalised) methods."""

    if not entry:
        return None
    det = checked_ref(registry, "detector", plugin_ref(entry["detector"]), f"{where}.detector")
    spec = registry.get("detector", det["name"])
    protocol = entry.get("protocol", "labels")
    conf = float(entry.get("conf", 0.25))
    reference = None
    ref = entry.get("reference")
    if protocol == "clean-reference":
        if ref is None:
            raise SuiteError(f"{where}: protocol clean-reference needs `reference:`",
                             fix="name a method of the suite (e.g. `reference: average`) or a "
                             "clean source (`reference: {source: vi}`)")
        if isinstance(ref, str):
            found = [m for m in methods if m["label"] == ref]
            if not found:
                raise SuiteError(f"{where}.reference: {ref!r} is not a method of this suite",
                                 fix=f"use one of {[m['label'] for m in methods]} or {{source: MOD}}")
            reference = {"label": ref, "method": found[0]}
        else:
            if ref["source"] not in modalities:
                raise SuiteError(f"{where}.reference: no dataset of the suite has modality "
                                 f"{ref['source']!r}", fix=f"use one of {sorted(modalities)}")
            reference = {"label": ref["source"], "source": ref["source"]}
    elif ref is not None:
        raise SuiteError(f"{where}.reference: only the clean-reference protocol takes a reference",
                         fix="remove `reference:` or set `protocol: clean-reference`")
    class_map = {str(k): (list(v) if isinstance(v, list) else [v])
                 for k, v in (entry.get("class_map") or {}).items()}
    if spec.classes and det["params"] == dict(spec.params):
        known = list(spec.classes)
        for k, targets in class_map.items():
            for t in targets:
                if (isinstance(t, int) and t >= len(known)) or (isinstance(t, str) and t not in known):
                    raise SuiteError(
                        f"{where}.class_map[{k!r}]: {t!r} is not a class of detector {det['name']!r}",
                        fix=did_you_mean(str(t), known)
                        or f"see `benchbed info {det['name']}` for its {len(known)} classes")
    single = []
    labels = {m["label"] for m in methods}
    for i, s in enumerate(entry.get("single_modality") or []):
        s = {"modality": s} if isinstance(s, str) else s
        mod = s["modality"]
        if mod not in modalities:
            raise SuiteError(f"{where}.single_modality[{i}]: no dataset of the suite has modality "
                             f"{mod!r}", fix=f"use one of {sorted(modalities)}")
        restore = None
        label = f"{mod}-only"
        if s.get("restore") is not None:
            r = checked_ref(registry, "restorer", plugin_ref(s["restore"]), f"{where}.single_modality[{i}]")
            restore = {mod: r}
            label = r["name"] + param_suffix(r["params"], registry.get("restorer", r["name"]).params
                                              ) + ">" + label
        label = s.get("label") or label
        if label in labels:
            raise SuiteError(f"{where}.single_modality[{i}]: label {label!r} is used twice",
                             fix="give it a distinct `label:`")
        labels.add(label)
        single.append({"source": mod, "restore": restore, "fuse": None, "label": label})
    out = {
        "detector": det,
        "label": detector_label(det, spec.params),
        "protocol": protocol,
        "reference": reference,
        "conf": conf,
        "reference_conf": float(entry.get("reference_conf", conf)),
        "classes": list(entry["classes"]) if entry.get("classes") else None,
        "class_map": class_map,
        "single_modality": single,
        "labels": entry.get("labels", "fused"),
    }
    return out
