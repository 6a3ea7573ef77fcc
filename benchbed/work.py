"""Worker side of a run: one degraded pair -> restorations, fusions and scores (content-addressed)."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from benchbed.code_hash import plugin_code_hash
from benchbed.errors import BenchbedError, DataError, ItemTimeoutError, PluginOutputError, failure_kind
from benchbed.fusion import fuse_with_policy
from benchbed.imaging import (
    check_image,
    content_hash,
    image_hash,
    pixel_digest,
    png_text,
    quantise,
    read_image,
    resize,
    take_clipped,
    to_gray_255,
    write_image,
)
from benchbed.operators import Identity
from benchbed.registry import get_registry
from benchbed.types import Image, Observation, ObservedDataset


def derive_seed(*parts: object) -> int:
    """A 32-bit seed from the suite seed and an item's identity (same anywhere, any process)."""
    return int(content_hash(*(json.dumps(p, sort_keys=True, default=str) for p in parts))[:8], 16)


@dataclass(frozen=True)
class WorkItem:
    """One (dataset, pair, degradation, severity, method) unit and the metrics it still needs."""

    key: str
    dataset: dict[str, Any]
    pair_id: str
    degradation: dict[str, Any]
    severity: dict[str, Any]
    method: dict[str, Any]
    seed: int
    metrics: tuple[dict[str, Any], ...]
    detection: dict[str, Any] | None = None
    """The plan's normalised `detection:` config when this item still needs its detections."""

    @property
    def group(self) -> tuple[str, str, str, str]:
        """Items sharing a degraded pair (and so its restorations)."""
        return (
            self.dataset["name"],
            self.pair_id,
            self.degradation["label"],
            self.severity["label"],
        )


@dataclass
class ItemResult:
    """What a worker sends back for one item."""

    key: str
    status: str
    error: str | None = None
    seconds: float = 0.0
    pair_hash: str | None = None
    artifacts: dict[str, str] = field(default_factory=dict)
    scores: list[dict[str, Any]] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    detections: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class RunContext:
    """Everything a worker needs besides the items (picklable)."""

    suite_seed: int
    cache_dir: str
    device: str = "cpu"
    references: str = "clean"
    plugin_modules: tuple[str, ...] = ()
    timeout: float | None = None
    """Seconds one item may take (its group's shared degradation included), or None."""


def item_key(
    suite_seed: int, dataset: dict, pair_id: str, degradation: dict, severity: dict, method: dict
) -> str:
    """Identity of an item: what it computes, independent of the suite's other entries."""
    ident = {
        "seed": suite_seed,
        "dataset": {k: dataset[k] for k in ("name", "version", "params")},
        "pair": pair_id,
        "degradation": {k: degradation[k] for k in ("name", "version", "params", "apply_to")},
        "severity": severity["params"],
        "method": {"fuse": method["fuse"], "restore": method["restore"]},
    }
    if method.get("source"):  # a single-modality row (detection): no fuser, one source
        ident["method"]["source"] = method["source"]
    return content_hash(json.dumps(ident, sort_keys=True, default=str))


# --- worker side ----------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _built(kind: str, name: str, params_json: str, modules: tuple[str, ...], device: str) -> Any:
    spec = get_registry(modules).get(kind, name)  # type: ignore[arg-type]
    params = json.loads(params_json)
    if "device" in spec.params:
        params["device"] = device
    return spec.build(**params)


def _obj(ctx: RunContext, kind: str, ref: dict[str, Any]) -> Any:
    return _built(kind, ref["name"], json.dumps(ref["params"], sort_keys=True), ctx.plugin_modules,
                  ctx.device)


def _artifact(ctx: RunContext, kind: str, key: str) -> Path:
    return Path(ctx.cache_dir) / kind / key[:2] / f"{key}.png"


def _read_artifact(path: Path, like: Image) -> Image:
    img = read_image(path)
    if like.ndim == 3 and img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)  # the loader stores equal channels as gray
    return img


DIGEST_KEY = "benchbed-pixels"
"""PNG text chunk holding a cached artifact's :func:`pixel_digest`."""


def _cached(ctx: RunContext, kind: str, key: str, like_ndim: int, compute) -> tuple[Image, bool]:
    """Read the artifact ``key`` or compute, quantise and store it; returns (image, computed).

    Every artifact carries the digest of its pixels; one that decodes to anything else (edited,
    swapped, truncated, or written by an older benchbed without a digest) is recomputed with a
    warning instead of being scored.
    """
    path = _artifact(ctx, kind, key)
    if path.is_file():
        try:
            like = np.zeros((1, 1, 3) if like_ndim == 3 else (1, 1), np.float32)
            image = _read_artifact(path, like)
            if png_text(path).get(DIGEST_KEY) == pixel_digest(image):
                return image, False
            print(f"warning: cached {kind} artifact {path} does not hold the image it was stored "
                  "with; recomputing it", file=sys.stderr)
        except BenchbedError:
            print(f"warning: cached {kind} artifact {path} cannot be decoded; recomputing it",
                  file=sys.stderr)
        path.unlink(missing_ok=True)
    image = quantise(compute())
    write_image(path, image, text={DIGEST_KEY: pixel_digest(image)})
    return image, True


def _observed(ds: Any, item: WorkItem, pair) -> tuple[Observation, ...]:  # type: ignore[no-untyped-def]
    """The dataset's own degraded images of the pair under the item's condition (`given`)."""
    condition = str(item.severity["params"]["condition"])
    what = f"dataset {item.dataset['name']!r} pair {pair.id!r} condition {condition!r}"
    if not isinstance(ds, ObservedDataset):
        raise DataError(f"{what}: the dataset ships no degraded images",
                        fix="use a synthetic degradation, or a dataset that lists conditions")
    obs = tuple(ds.observe(pair.id, condition))
    if len(obs) != 2 or not all(isinstance(o, Observation) for o in obs):
        raise PluginOutputError(f"{what}: observe() must return two benchbed.Observation",
                                fix="fix the dataset plugin's observe()")
    return tuple(_stored(o, f"{what} ({mod})") for o, mod in zip(obs, pair.modalities))


def _stored(obs: Observation, what: str) -> Observation:
    """The observation as the run keeps it: a checked image, quantised to 8 bits."""
    return replace(obs, y=quantise(check_image(obs.y, what)))


def _degrade(ctx: RunContext, item: WorkItem, pair, ds: Any) -> tuple[Observation, ...]:  # type: ignore[no-untyped-def]
    spec = get_registry(ctx.plugin_modules).get("degradation", item.degradation["name"])
    if getattr(spec, "given", False):
        return _observed(ds, item, pair)
    if pair.sources is None:
        raise DataError(f"dataset {item.dataset['name']!r} pair {pair.id!r} has no clean sources "
                        f"to apply {item.degradation['name']!r} to",
                        fix="use the `given` degradation with this dataset's conditions")
    deg = _obj(ctx, "degradation", item.degradation)
    apply_to = item.degradation["apply_to"]
    out = []
    for image, modality in zip(pair.sources, pair.modalities):
        if apply_to != "all" and modality not in apply_to:
            out.append(Observation(y=image, operator=Identity(image.shape), clean_shape=image.shape))
            continue
        rng = np.random.default_rng(
            derive_seed(ctx.suite_seed, item.dataset["name"], item.pair_id,
                        item.degradation["name"], item.severity["label"], modality)
        )
        obs = deg.apply(image, modality, dict(item.severity["params"]), rng)
        if not isinstance(obs, Observation):
            raise PluginOutputError(
                f"degradation {item.degradation['name']!r} returned {type(obs).__name__}",
                fix="return benchbed.Observation",
            )
        out.append(_stored(obs, f"degradation {item.degradation['name']!r}"))
    return tuple(out)


def _describe_obs(obs: Observation) -> str:
    op = obs.operator.describe() if obs.operator is not None else None
    return json.dumps({"op": op, "sigma": round(float(obs.noise_sigma), 8)}, sort_keys=True)


def _prepare_group(ctx: RunContext, first: WorkItem):  # type: ignore[no-untyped-def]
    """Load and degrade the group's pair once: (pair, observations, pair hash, degraded keys)."""
    ds = _obj(ctx, "dataset", first.dataset)
    pair = ds.load(first.pair_id)
    observations = _degrade(ctx, first, pair, ds)
    # A degraded-only pair is identified by what the dataset gives for this condition.
    pair_hash = content_hash(*(image_hash(s) for s in
                               (pair.sources or tuple(o.y for o in observations))))
    deg_hashes = []
    for obs, mod in zip(observations, pair.modalities):
        h = content_hash(image_hash(obs.y), _describe_obs(obs))
        path = _artifact(ctx, "degraded", h)
        if not path.is_file():
            write_image(path, obs.y, text={DIGEST_KEY: pixel_digest(obs.y)})
        deg_hashes.append((h, mod))
    return pair, observations, pair_hash, deg_hashes


def compute_group(ctx: RunContext, items: list[WorkItem]) -> Iterator[ItemResult]:
    """Compute every item of one degraded pair, sharing degradation and restorations."""
    first = items[0]
    t0 = time.perf_counter()
    try:
        _stage(first, "load and degrade")
        with deadline(ctx.timeout, f"loading and degrading {first.dataset['name']}/"
                                   f"{first.pair_id}"):
            pair, observations, pair_hash, deg_hashes = _prepare_group(ctx, first)
    except Exception as exc:  # the whole group shares the failure: report it per item
        msg = _message(exc)
        for item in items:
            yield ItemResult(item.key, "failed", error=msg)
        return
    shared = time.perf_counter() - t0
    restored: dict[str, tuple[Image, float]] = {}
    references: dict[str, Image] = {}
    for item in items:
        t1 = time.perf_counter()
        counters = {"restorations_computed": 0, "restorations_reused": 0,
                    "fusions_computed": 0, "fusions_reused": 0}
        artifacts = {f"degraded_{m}": h for h, m in deg_hashes}
        take_clipped()
        try:
            with deadline(ctx.timeout, f"item {item_label(item)}"):
                _stage(item, "restore and fuse")
                fused, fused_key = _fuse_item(ctx, item, pair, observations, deg_hashes,
                                              restored, counters, artifacts)
                artifacts["fused"] = fused_key
                _stage(item, "score")
                scores = _score(ctx, item, pair, observations, fused)
                detections = []
                if item.detection:
                    _stage(item, "detect")
                    detections = _detect_item(ctx, item, pair, fused, references)
            for what, n in take_clipped().items():
                counters[f"clipped: {what}"] = n
            yield ItemResult(item.key, "done", seconds=time.perf_counter() - t1 + shared,
                             pair_hash=pair_hash, artifacts=artifacts, scores=scores,
                             counters=counters, detections=detections)
        except Exception as exc:
            yield ItemResult(item.key, "failed", error=_message(exc),
                             seconds=time.perf_counter() - t1, pair_hash=pair_hash,
                             artifacts=artifacts, counters=counters)


def _implementation_key(spec: Any) -> str:
    """The weights' sha256s and the plugin's code hash: part of an artifact's identity, like the
    plugin version (a code change without a version bump recomputes instead of reusing)."""
    return ",".join(w.sha256 for w in spec.weights) + "|code:" + plugin_code_hash(spec)


def _message(exc: BaseException) -> str:
    """The stored error: its kind (see ``failure_kind``) then the message."""
    text = str(exc) if isinstance(exc, BenchbedError) else f"{type(exc).__name__}: {exc}"
    return f"[{failure_kind(exc)}] {text}"


STAGE_HOOK: Any = None
"""In-process runs: a callable that receives ``"<item> <stage>"`` as each stage starts (the
progress bar's in-flight label); None in pool workers."""


def item_label(item: WorkItem) -> str:
    """``dataset/pair degradation@severity method``: how runs and errors name an item."""
    return (f"{item.dataset['name']}/{item.pair_id} {item.degradation['label']}"
            f"@{item.severity['label']} {item.method.get('label', '')}")


def _stage(item: WorkItem, stage: str) -> None:
    if STAGE_HOOK is not None:
        STAGE_HOOK(f"{item_label(item)}: {stage}")


@contextmanager
def deadline(seconds: float | None, what: str) -> Iterator[None]:
    """Raise :class:`ItemTimeoutError` in this (main) thread once ``seconds`` have passed.

    SIGALRM interrupts Python code and sleeps; a single long native call (one torch op) is
    interrupted when it returns. Off the main thread (Dask) the run refuses ``--timeout``.
    """
    if not seconds:
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise ItemTimeoutError(f"{what} ran past --timeout {seconds:g} s",
                               fix="raise --timeout, or rerun with --overwrite failed on a "
                                   "faster device")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _fuse_item(ctx, item, pair, observations, deg_hashes, restored, counters, artifacts):  # type: ignore[no-untyped-def]
    method = item.method
    if method.get("source"):
        return _source_item(ctx, item, pair, observations, deg_hashes, restored, counters,
                            artifacts)
    fspec = get_registry(ctx.plugin_modules).get("fuser", method["fuse"]["name"])
    fuser = _obj(ctx, "fuser", method["fuse"])
    out_shape = tuple(observations[0].clean_shape[:2])
    if fspec.degradation_aware:
        images = tuple(o.y for o in observations)
        input_keys = [h for h, _ in deg_hashes]
        obs_for_fuser = observations
    else:
        images_l, input_keys = [], []
        for obs, (h, mod) in zip(observations, deg_hashes):
            img, key = _input_image(ctx, method, obs, h, mod, restored, counters, artifacts)
            images_l.append(img)
            input_keys.append(key)
        images = tuple(images_l)
        obs_for_fuser = None
    seed = item.seed
    fkey = content_hash(*input_keys, method["fuse"]["name"], fspec.version,
                        json.dumps(method["fuse"]["params"], sort_keys=True), fspec.colour,
                        _implementation_key(fspec),
                        str(seed) if fspec.degradation_aware else "",
                        *(_describe_obs(o) for o in observations) if fspec.degradation_aware
                        else ())
    colour = any(im.ndim == 3 for im in images) and fspec.colour != "gray"
    fused, computed = _cached(
        ctx, "fused", fkey, 3 if colour else 2,
        lambda: fuse_with_policy(fspec, fuser, images, pair.modalities, out_shape,
                                 obs_for_fuser, ctx.device, seed),
    )
    counters["fusions_computed" if computed else "fusions_reused"] += 1
    return fused, fkey


def _input_image(ctx, method, obs, h, mod, restored, counters, artifacts):  # type: ignore[no-untyped-def]
    """One fuser input: the observation on the clean grid, or its (cached) restoration."""
    ref = (method["restore"] or {}).get(mod) or {"name": None, "params": {}}
    if ref["name"] is None:
        return (obs.y if obs.y.shape == obs.clean_shape else resize(obs.y, obs.clean_shape[:2])), h
    rspec = get_registry(ctx.plugin_modules).get("restorer", ref["name"])
    rkey = content_hash(h, mod, ref["name"], rspec.version, json.dumps(ref["params"], sort_keys=True),
                        _implementation_key(rspec))
    if rkey not in restored:
        restorer = _obj(ctx, "restorer", ref)

        def run_restore(restorer=restorer, obs=obs, mod=mod, name=ref["name"]):
            out = check_image(restorer.restore(obs, mod), f"restorer {name!r}", obs.clean_shape)
            return out

        img, computed = _cached(ctx, "restored", rkey, obs.y.ndim, run_restore)
        counters["restorations_computed" if computed else "restorations_reused"] += 1
        restored[rkey] = (img, 0.0)
    else:
        counters["restorations_reused"] += 1
    artifacts[f"restored_{mod}"] = rkey
    return restored[rkey][0], rkey


def _source_item(ctx, item, pair, observations, deg_hashes, restored, counters, artifacts):  # type: ignore[no-untyped-def]
    """A single-modality row: one (optionally restored) source stands in for the fused image."""
    mod = item.method["source"]
    if mod not in pair.modalities:
        raise BenchbedError(f"pair {pair.id} has no modality {mod!r} (it has {list(pair.modalities)})",
                            fix="remove this single_modality row or use a dataset with that modality")
    i = pair.modalities.index(mod)
    img, key = _input_image(ctx, item.method, observations[i], deg_hashes[i][0], mod, restored,
                            counters, artifacts)
    skey = content_hash("source", key, mod)
    out, _ = _cached(ctx, "fused", skey, img.ndim, lambda: img)
    return out, skey


# --- detection ---------------------------------------------------------------------------------------


def _detect_cached(ctx: RunContext, ref: dict[str, Any], image: Image):  # type: ignore[no-untyped-def]
    """Detections of ``image`` (cached by image content + detector name/version/params)."""
    from benchbed.detection import Detections

    spec = get_registry(ctx.plugin_modules).get("detector", ref["name"])
    params = {k: v for k, v in ref["params"].items() if k != "device"}
    key = content_hash(image_hash(image), ref["name"], spec.version,
                       json.dumps(params, sort_keys=True, default=str), _implementation_key(spec))
    path = Path(ctx.cache_dir) / "detections" / key[:2] / f"{key}.json"
    if path.is_file():
        try:
            return Detections.from_json(json.loads(path.read_text())), key
        except (ValueError, KeyError, TypeError, BenchbedError):
            path.unlink(missing_ok=True)  # a damaged cache file is recomputed, not trusted
    dets = _obj(ctx, "detector", ref).detect(image)
    if not isinstance(dets, Detections):
        raise PluginOutputError(f"detector {ref['name']!r} returned {type(dets).__name__}",
                                fix="return benchbed.detection.Detections")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(dets.to_json()))
    os.replace(tmp, path)
    return dets, key


def detection_classes(cfg: dict[str, Any], labels: Any, detector_names: tuple[str, ...]) -> list[str]:
    """Dataset class names: declared, else class_map keys (clean-reference), classes.txt, detector's."""
    from benchbed.detection import read_class_names

    if cfg.get("classes"):
        return list(cfg["classes"])
    if isinstance(labels, (str, Path)) and cfg["protocol"] == "labels":
        return read_class_names(labels)
    if cfg["protocol"] == "labels":
        raise BenchbedError("detection labels come without class names",
                            fix="give `detection: {classes: [...]}` in the suite")
    return list(cfg["class_map"]) if cfg["class_map"] else list(detector_names)


def _labels_of(cfg: dict[str, Any], item: WorkItem, pair) -> Any:  # type: ignore[no-untyped-def]
    if pair.labels is None:
        raise DataError(f"{item.dataset['name']}/{pair.id} has no detection labels",
                        fix="use a labelled split (e.g. `split: detection`) or "
                        "`protocol: clean-reference`")
    mod = item.method.get("source")
    if not mod or cfg.get("labels", "fused") != "view":
        return pair.labels
    if not isinstance(pair.labels, (str, Path)):
        raise DataError(f"{item.dataset['name']}/{pair.id}: per-view labels need label files",
                        fix="use `labels: fused`")
    p = Path(pair.labels)
    view = p.parent.with_name(f"{p.parent.name}_{mod}") / p.name
    if not view.is_file():
        raise DataError(f"no {mod} view labels for {item.dataset['name']}/{pair.id}: {view}",
                        fix=f"add {view.parent}/ or use `labels: fused` (score every row against "
                        "the fused-view labels)")
    return str(view)


def _reference_image(ctx, item, pair, references):  # type: ignore[no-untyped-def]
    """Clean-reference protocol: the clean source or the reference method's clean fusion."""
    ref = item.detection["reference"]
    if ref["label"] in references:
        return references[ref["label"]]
    if pair.sources is None:
        raise DataError(f"{item.dataset['name']}/{pair.id} has no clean images for the "
                        "clean-reference protocol", fix="use `protocol: labels`")
    if ref.get("source"):
        if ref["source"] not in pair.modalities:
            raise DataError(f"pair {pair.id} has no modality {ref['source']!r} for the reference",
                            fix=f"use one of {list(pair.modalities)}")
        image = pair.sources[pair.modalities.index(ref["source"])]
    else:
        clean = tuple(Observation(y=s, operator=Identity(s.shape), clean_shape=s.shape,
                                  degradation="clean") for s in pair.sources)
        hashes = [(content_hash(image_hash(o.y), _describe_obs(o)), m)
                  for o, m in zip(clean, pair.modalities)]
        method = ref["method"]
        pseudo = replace(item, method=method, seed=derive_seed(
            ctx.suite_seed, "detection-reference", item.dataset["name"], item.pair_id,
            method["label"]))
        counters: dict[str, int] = defaultdict(int)
        image, _ = _fuse_item(ctx, pseudo, pair, clean, hashes, {}, counters, {})
    references[ref["label"]] = image
    return image


def _detect_item(ctx, item, pair, image, references) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Detections of the item's image and its ground truth, one stored row per class (+ "*")."""
    from benchbed.detection import (
        item_rows,
        map_detections,
        protocol_label,
        read_yolo_labels,
        resolve_class_map,
    )

    cfg = item.detection
    dets, dkey = _detect_cached(ctx, cfg["detector"], image)
    labels = _labels_of(cfg, item, pair) if cfg["protocol"] == "labels" else None
    classes = detection_classes(cfg, labels, dets.names)
    id_map = resolve_class_map(classes, dets.names, cfg["class_map"], detector=cfg["label"],
                               dataset=item.dataset["name"])
    pb, ps, pc = map_detections(dets, id_map)
    h, w = image.shape[:2]
    summary: dict[str, Any] = {"config": cfg["key"], "conf": cfg["conf"], "image_size": [h, w],
                               "classes": classes, "detections": dkey}
    if cfg["protocol"] == "labels":
        gb, gc = read_yolo_labels(labels, w, h, len(classes))
        summary["labels"] = str(labels) if isinstance(labels, (str, Path)) else "inline"
    else:
        ref_img = _reference_image(ctx, item, pair, references)
        rdets, rkey = _detect_cached(ctx, cfg["detector"], ref_img)
        rb, rs, rc = map_detections(rdets, id_map)
        keep = rs >= cfg["reference_conf"]
        gb, gc = rb[keep], rc[keep]
        rh, rw = ref_img.shape[:2]
        if (rh, rw) != (h, w):
            gb = gb * np.array([w / rw, h / rh, w / rw, h / rh])
        summary.update(reference=cfg["reference"]["label"], reference_detections=rkey,
                       reference_conf=cfg["reference_conf"])
    summary.update(n_gt=len(gc), n_pred=len(pc))
    det, proto = cfg["label"], protocol_label(cfg)
    rows = [{"detector": det, "protocol": proto, "class_name": "*", "payload": summary}]
    for name, payload in item_rows(classes, gb, gc, pb, ps, pc).items():
        rows.append({"detector": det, "protocol": proto, "class_name": name, "payload": payload})
    return rows


def _score(ctx, item, pair, observations, fused) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    if ctx.references == "degraded":
        refs = [o.y if o.y.shape[:2] == o.clean_shape[:2] else resize(o.y, o.clean_shape[:2])
                for o in observations]
    elif pair.sources is None:
        raise DataError(f"{item.dataset['name']}/{pair.id} has no clean sources to score against",
                        fix="set `references: degraded` in the suite")
    else:
        refs = list(pair.sources)
    a, b, f = (to_gray_255(x) for x in (*refs, fused))
    out = []
    for m in item.metrics:
        metric = _obj(ctx, "metric", m)
        value = float(metric.compute(a, b, f))
        if not np.isfinite(value):
            raise PluginOutputError(f"metric {m['name']!r} returned {value}",
                                    fix="check the metric plugin on this input")
        out.append({"metric": m["name"], "profile": m["profile"], "version": m["version"],
                    "value": value})
    return out


# One torch/BLAS thread wherever items are computed: torch's CPU kernels reduce in an order that
# depends on the thread count, so pinning it everywhere makes --workers 1 and --workers N (and
# Dask) give bit-identical numbers; N workers then use N cores, not N x N.
THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def pin_torch_threads() -> int | None:
    """Set torch to one thread if it is imported (returns the previous count)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    before = int(torch.get_num_threads())
    torch.set_num_threads(1)
    return before


def run_group_list(ctx: RunContext, items: list[WorkItem]) -> list[ItemResult]:
    """Pool and Dask entry point: a whole group's results at once, torch pinned to one thread
    (a Dask worker does not run the pool's initializer)."""
    os.environ.update(THREAD_ENV)
    pin_torch_threads()
    out = []
    for result in compute_group(ctx, items):
        out.append(result)
        pin_torch_threads()  # a plugin of this group may have imported torch
    return out
