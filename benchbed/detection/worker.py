"""Worker side of detection: detect on an item's image, build its ground truth, store its rows.

Also the pre-run check (:func:`check_detection`) that loads the detector and one pair per
dataset, so that a wrong class map is one error before the run instead of one per item.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from benchbed.cache import artifact_path
from benchbed.detection.ap import item_rows
from benchbed.detection.labels import (
    check_class_map_keys,
    map_detections,
    read_class_names,
    read_yolo_labels,
    resolve_class_map,
)
from benchbed.detection.types import Detections
from benchbed.errors import BenchbedError, DataError, PluginOutputError
from benchbed.imaging import content_hash, image_hash
from benchbed.operators import Identity
from benchbed.plan import DetectionConfig, PluginRef
from benchbed.registry import Registry, get_registry
from benchbed.types import Image, Observation, Pair

if TYPE_CHECKING:
    from benchbed.plan import Plan
    from benchbed.work import RunContext, WorkItem


def detect_cached(ctx: RunContext, ref: PluginRef, image: Image) -> tuple[Detections, str]:
    """Detections of ``image`` (cached by image content + detector name/version/params)."""
    from benchbed.work import build_plugin, implementation_key

    spec = get_registry(ctx.plugin_modules).get("detector", ref.name)
    params = {k: v for k, v in ref.params.items() if k != "device"}
    key = content_hash(image_hash(image), ref.name, spec.version,
                       json.dumps(params, sort_keys=True, default=str), implementation_key(spec))
    path = artifact_path(ctx.cache_dir, "detections", key)
    if path.is_file():
        try:
            return Detections.from_json(json.loads(path.read_text())), key
        except (ValueError, KeyError, TypeError, BenchbedError):
            path.unlink(missing_ok=True)  # a damaged cache file is recomputed, not trusted
    dets = build_plugin(ctx, "detector", ref).detect(image)
    if not isinstance(dets, Detections):
        raise PluginOutputError(f"detector {ref.name!r} returned {type(dets).__name__}",
                                fix="return benchbed.detection.Detections")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(dets.to_json()))
    os.replace(tmp, path)
    return dets, key


def detection_classes(cfg: DetectionConfig, labels: Any, detector_names: tuple[str, ...]
                      ) -> list[str]:
    """Dataset class names: declared, else class_map keys (clean-reference), classes.txt, detector's."""
    if cfg.classes:
        return list(cfg.classes)
    if isinstance(labels, (str, Path)) and cfg.protocol == "labels":
        return read_class_names(labels)
    if cfg.protocol == "labels":
        raise BenchbedError("detection labels come without class names",
                            fix="give `detection: {classes: [...]}` in the suite")
    return list(cfg.class_map) if cfg.class_map else list(detector_names)


def labels_of(cfg: DetectionConfig, dataset: str, source: str | None, pair: Pair) -> Any:
    """The ground-truth labels of ``pair`` for a fused row, or for one source's view."""
    if pair.labels is None:
        raise DataError(f"{dataset}/{pair.id} has no detection labels",
                        fix="use a labelled split (e.g. `split: detection`) or "
                        "`protocol: clean-reference`")
    if not source or cfg.labels != "view":
        return pair.labels
    if not isinstance(pair.labels, (str, Path)):
        raise DataError(f"{dataset}/{pair.id}: per-view labels need label files",
                        fix="use `labels: fused`")
    p = Path(pair.labels)
    view = p.parent.with_name(f"{p.parent.name}_{source}") / p.name
    if not view.is_file():
        raise DataError(f"no {source} view labels for {dataset}/{pair.id}: {view}",
                        fix=f"add {view.parent}/ or use `labels: fused` (score every row against "
                        "the fused-view labels)")
    return str(view)


def _reference_image(ctx: RunContext, item: WorkItem, pair: Pair,
                     references: dict[str, Image]) -> Image:
    """Clean-reference protocol: the clean source or the reference method's clean fusion."""
    from benchbed.work import derive_seed, describe_observation, fuse_item

    assert item.detection is not None and item.detection.reference is not None
    ref = item.detection.reference
    if ref.label in references:
        return references[ref.label]
    if pair.sources is None:
        raise DataError(f"{item.dataset.name}/{pair.id} has no clean images for the "
                        "clean-reference protocol", fix="use `protocol: labels`")
    if ref.source:
        if ref.source not in pair.modalities:
            raise DataError(f"pair {pair.id} has no modality {ref.source!r} for the reference",
                            fix=f"use one of {list(pair.modalities)}")
        image = pair.sources[pair.modalities.index(ref.source)]
    else:
        assert ref.method is not None
        clean = tuple(Observation(y=s, operator=Identity(s.shape), clean_shape=s.shape,
                                  degradation="clean") for s in pair.sources)
        hashes = [(content_hash(image_hash(o.y), describe_observation(o)), m)
                  for o, m in zip(clean, pair.modalities)]
        pseudo = replace(item, method=ref.method, seed=derive_seed(
            ctx.suite_seed, "detection-reference", item.dataset.name, item.pair_id,
            ref.method.label))
        counters: dict[str, int] = defaultdict(int)
        image, _ = fuse_item(ctx, pseudo, pair, clean, hashes, {}, counters, {})
    references[ref.label] = image
    return image


def detect_item(ctx: RunContext, item: WorkItem, pair: Pair, image: Image,
                references: dict[str, Image]) -> list[dict[str, Any]]:
    """Detections of the item's image and its ground truth, one stored row per class (+ "*")."""
    cfg = item.detection
    assert cfg is not None
    dets, dkey = detect_cached(ctx, cfg.detector, image)
    labels = labels_of(cfg, item.dataset.name, item.method.source, pair) \
        if cfg.protocol == "labels" else None
    classes = detection_classes(cfg, labels, dets.names)
    id_map = resolve_class_map(classes, dets.names, cfg.class_map, detector=cfg.label,
                               dataset=item.dataset.name)
    pb, ps, pc = map_detections(dets, id_map)
    h, w = image.shape[:2]
    summary: dict[str, Any] = {"config": cfg.key, "conf": cfg.conf, "image_size": [h, w],
                               "classes": classes, "detections": dkey}
    if cfg.protocol == "labels":
        gb, gc = read_yolo_labels(labels, w, h, len(classes))
        summary["labels"] = str(labels) if isinstance(labels, (str, Path)) else "inline"
    else:
        assert cfg.reference is not None
        ref_img = _reference_image(ctx, item, pair, references)
        rdets, rkey = detect_cached(ctx, cfg.detector, ref_img)
        rb, rs, rc = map_detections(rdets, id_map)
        keep = rs >= cfg.reference_conf
        gb, gc = rb[keep], rc[keep]
        rh, rw = ref_img.shape[:2]
        if (rh, rw) != (h, w):
            gb = gb * np.array([w / rw, h / rh, w / rw, h / rh])
        summary.update(reference=cfg.reference.label, reference_detections=rkey,
                       reference_conf=cfg.reference_conf)
    summary.update(n_gt=len(gc), n_pred=len(pc))
    det, proto = cfg.label, cfg.protocol_label
    rows = [{"detector": det, "protocol": proto, "class_name": "*", "payload": summary}]
    for name, payload in item_rows(classes, gb, gc, pb, ps, pc).items():
        rows.append({"detector": det, "protocol": proto, "class_name": name, "payload": payload})
    return rows


def check_detection(plan: Plan, registry: Registry, items: list[WorkItem],
                    plugin_modules: tuple[str, ...] = ()) -> None:
    """Before anything runs: weights, detector classes and the class map against each dataset.

    Loads the detector once and the first pair of each dataset, so a wrong class map or a
    missing label folder is one clear error instead of one failure per item.
    """
    from benchbed.work import RunContext, build_plugin

    cfg = plan.detection
    assert cfg is not None
    ctx = RunContext(suite_seed=plan.seed, cache_dir="", plugin_modules=tuple(plugin_modules))
    detector = build_plugin(ctx, "detector", cfg.detector)
    names = tuple(getattr(detector, "names", None)
                  or registry.get("detector", cfg.detector.name).classes)
    seen: set[str] = set()
    all_classes: list[str] = []
    for item in items:
        if item.dataset.name in seen:
            continue
        seen.add(item.dataset.name)
        pair = build_plugin(ctx, "dataset", item.dataset).load(item.pair_id)
        labels = labels_of(cfg, item.dataset.name, None, pair) if cfg.protocol == "labels" else None
        classes = detection_classes(cfg, labels, names)
        resolve_class_map(classes, names, cfg.class_map, detector=cfg.label,
                          dataset=item.dataset.name)
        all_classes += classes
    if seen:
        check_class_map_keys(cfg.class_map, all_classes)
