"""Worker side of a run: one degraded pair -> restorations, fusions and scores (content-addressed)."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from benchbed.cache import artifact_path
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
from benchbed.plan import (
    DatasetRef,
    DegradationRef,
    DetectionConfig,
    Method,
    MetricRef,
    PluginRef,
    PrecomputedMethod,
    Severity,
)
from benchbed.registry import get_registry
from benchbed.types import Image, Kind, Observation, ObservedDataset, Pair
from benchbed.weights import param_weight_files


def derive_seed(*parts: object) -> int:
    """A 32-bit seed from the suite seed and an item's identity (same anywhere, any process)."""
    return int(content_hash(*(json.dumps(p, sort_keys=True, default=str) for p in parts))[:8], 16)


@dataclass(frozen=True)
class WorkItem:
    """One (dataset, pair, degradation, severity, method) unit and the metrics it still needs."""

    key: str
    dataset: DatasetRef
    pair_id: str
    degradation: DegradationRef
    severity: Severity
    method: Method
    seed: int
    metrics: tuple[MetricRef, ...]
    detection: DetectionConfig | None = None
    """The plan's `detection:` config when this item still needs its detections."""

    @property
    def group(self) -> tuple[str, str, str, str]:
        """Items sharing a degraded pair (and so its restorations)."""
        return (self.dataset.name, self.pair_id, self.degradation.label, self.severity.label)


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


def item_key(suite_seed: int, dataset: DatasetRef, pair_id: str, degradation: DegradationRef,
             severity: Severity, method: Method) -> str:
    """Identity of an item: what it computes, independent of the suite's other entries."""
    ident = {
        "seed": suite_seed,
        "dataset": dataset.identity(),
        "pair": pair_id,
        "degradation": degradation.identity(),
        "severity": severity.params,
        "method": method.identity(),
    }
    return content_hash(json.dumps(ident, sort_keys=True, default=str))


# --- worker side ----------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _built(kind: Kind, name: str, params_json: str, modules: tuple[str, ...], device: str) -> Any:
    spec = get_registry(modules).get(kind, name)
    params = json.loads(params_json)
    if "device" in spec.params:
        params["device"] = device
    return spec.build(**params)


def build_plugin(ctx: RunContext, kind: Kind, ref: PluginRef) -> Any:
    """The plugin object of ``ref`` for this worker (built once per process and parameters)."""
    return _built(kind, ref.name, json.dumps(ref.params, sort_keys=True), ctx.plugin_modules,
                  ctx.device)


def _artifact(ctx: RunContext, kind: str, key: str) -> Path:
    return artifact_path(ctx.cache_dir, kind, key)


def _read_artifact(path: Path, like: Image) -> Image:
    img = read_image(path)
    if like.ndim == 3 and img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)  # the loader stores equal channels as gray
    return img


DIGEST_KEY = "benchbed-pixels"
"""PNG text chunk holding a cached artifact's :func:`pixel_digest`."""

ARTIFACT_PNG_LEVEL = 1
"""zlib level of cached artifacts: every item writes one, so write speed matters more than bytes
(a 640x480 RGB image: 18 ms and 381 KB at level 1, 105 ms and 335 KB at PIL's default 6)."""


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
    write_image(path, image, text={DIGEST_KEY: pixel_digest(image)},
                compress_level=ARTIFACT_PNG_LEVEL)
    return image, True


def _observed(ds: Any, item: WorkItem, pair: Pair) -> tuple[Observation, ...]:
    """The dataset's own degraded images of the pair under the item's condition (`given`)."""
    condition = str(item.severity.params["condition"])
    what = f"dataset {item.dataset.name!r} pair {pair.id!r} condition {condition!r}"
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


def _degrade(ctx: RunContext, item: WorkItem, pair: Pair, ds: Any) -> tuple[Observation, ...]:
    spec = get_registry(ctx.plugin_modules).get("degradation", item.degradation.name)
    if getattr(spec, "given", False):
        return _observed(ds, item, pair)
    if pair.sources is None:
        raise DataError(f"dataset {item.dataset.name!r} pair {pair.id!r} has no clean sources "
                        f"to apply {item.degradation.name!r} to",
                        fix="use the `given` degradation with this dataset's conditions")
    deg = build_plugin(ctx, "degradation", item.degradation)
    name = item.degradation.name
    out = []
    for image, modality in zip(pair.sources, pair.modalities):
        if not item.degradation.applies_to(modality):
            out.append(Observation(y=image, operator=Identity(image.shape), clean_shape=image.shape))
            continue
        rng = np.random.default_rng(
            derive_seed(ctx.suite_seed, item.dataset.name, item.pair_id, name,
                        item.severity.label, modality)
        )
        obs = deg.apply(image, modality, dict(item.severity.params), rng)
        if not isinstance(obs, Observation):
            raise PluginOutputError(f"degradation {name!r} returned {type(obs).__name__}",
                                    fix="return benchbed.Observation")
        out.append(_stored(obs, f"degradation {name!r}"))
    return tuple(out)


def describe_observation(obs: Observation) -> str:
    """An observation's forward model and noise level as canonical JSON (part of cache keys)."""
    op = obs.operator.describe() if obs.operator is not None else None
    return json.dumps({"op": op, "sigma": round(float(obs.noise_sigma), 8)}, sort_keys=True)


def _prepare_group(ctx: RunContext, first: WorkItem
                   ) -> tuple[Pair, tuple[Observation, ...], str, list[tuple[str, str]]]:
    """Load and degrade the group's pair once: (pair, observations, pair hash, degraded keys)."""
    ds = build_plugin(ctx, "dataset", first.dataset)
    pair = ds.load(first.pair_id)
    observations = _degrade(ctx, first, pair, ds)
    # A degraded-only pair is identified by what the dataset gives for this condition.
    pair_hash = content_hash(*(image_hash(s) for s in
                               (pair.sources or tuple(o.y for o in observations))))
    deg_hashes = []
    for obs, mod in zip(observations, pair.modalities):
        h = content_hash(image_hash(obs.y), describe_observation(obs))
        path = _artifact(ctx, "degraded", h)
        if not path.is_file():
            write_image(path, obs.y, text={DIGEST_KEY: pixel_digest(obs.y)},
                        compress_level=ARTIFACT_PNG_LEVEL)
        deg_hashes.append((h, mod))
    return pair, observations, pair_hash, deg_hashes


def compute_group(ctx: RunContext, items: list[WorkItem]) -> Iterator[ItemResult]:
    """Compute every item of one degraded pair, sharing degradation and restorations."""
    first = items[0]
    t0 = time.perf_counter()
    try:
        _stage(first, "load and degrade")
        with deadline(ctx.timeout, f"loading and degrading {first.dataset.name}/"
                                   f"{first.pair_id}"):
            pair, observations, pair_hash, deg_hashes = _prepare_group(ctx, first)
    except Exception as exc:  # the whole group shares the failure: report it per item
        msg = _message(exc)
        for item in items:
            yield ItemResult(item.key, "failed", error=msg)
        return
    shared = time.perf_counter() - t0
    restored: dict[str, Image] = {}
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
                fused, fused_key = fuse_item(ctx, item, pair, observations, deg_hashes,
                                              restored, counters, artifacts)
                artifacts["fused"] = fused_key
                _stage(item, "score")
                scores = _score(ctx, item, pair, observations, fused)
                detections = []
                if item.detection:
                    _stage(item, "detect")
                    from benchbed.detection.worker import detect_item

                    detections = detect_item(ctx, item, pair, fused, references)
            for what, n in take_clipped().items():
                counters[f"clipped: {what}"] = n
            yield ItemResult(item.key, "done", seconds=time.perf_counter() - t1 + shared,
                             pair_hash=pair_hash, artifacts=artifacts, scores=scores,
                             counters=counters, detections=detections)
        except Exception as exc:
            yield ItemResult(item.key, "failed", error=_message(exc),
                             seconds=time.perf_counter() - t1, pair_hash=pair_hash,
                             artifacts=artifacts, counters=counters)


def implementation_key(spec: Any) -> str:
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
    return (f"{item.dataset.name}/{item.pair_id} {item.degradation.label}"
            f"@{item.severity.label} {item.method.label}")


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


def fuse_item(ctx: RunContext, item: WorkItem, pair: Pair, observations: tuple[Observation, ...],
              deg_hashes: list[tuple[str, str]], restored: dict[str, Image],
              counters: dict[str, int], artifacts: dict[str, str]) -> tuple[Image, str]:
    """The item's fused image (or source stand-in) and its artifact key, cached by content."""
    method = item.method
    if method.source:
        return _source_item(ctx, item, pair, observations, deg_hashes, restored, counters,
                            artifacts)
    if isinstance(method, PrecomputedMethod):
        return _precomputed_item(ctx, method, pair, observations, counters)
    assert method.fuse is not None
    fspec = get_registry(ctx.plugin_modules).get("fuser", method.fuse.name)
    fuser = build_plugin(ctx, "fuser", method.fuse)
    out_shape = tuple(observations[0].clean_shape[:2])
    aware = bool(getattr(fspec, "degradation_aware", False))
    obs_for_fuser: tuple[Observation, ...] | None
    if aware:
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
    colour_policy = getattr(fspec, "colour", "y-cbcr")
    fkey = content_hash(*input_keys, method.fuse.name, fspec.version,
                        json.dumps(method.fuse.params, sort_keys=True), colour_policy,
                        implementation_key(fspec), *param_weight_files(method.fuse.params),
                        str(seed) if aware else "",
                        *(describe_observation(o) for o in observations) if aware else ())
    colour = any(im.ndim == 3 for im in images) and colour_policy != "gray"
    fused, computed = _cached(
        ctx, "fused", fkey, 3 if colour else 2,
        lambda: fuse_with_policy(fspec, fuser, images, pair.modalities, out_shape,
                                 obs_for_fuser, ctx.device, seed),
    )
    counters["fusions_computed" if computed else "fusions_reused"] += 1
    return fused, fkey


def _input_image(ctx: RunContext, method: Method, obs: Observation, h: str, mod: str,
                 restored: dict[str, Image], counters: dict[str, int],
                 artifacts: dict[str, str]) -> tuple[Image, str]:
    """One fuser input: the observation on the clean grid, or its (cached) restoration."""
    ref = method.restorer_for(mod)
    if ref is None:
        return (obs.y if obs.y.shape == obs.clean_shape else resize(obs.y, obs.clean_shape[:2])), h
    rspec = get_registry(ctx.plugin_modules).get("restorer", ref.name)
    rkey = content_hash(h, mod, ref.name, rspec.version, json.dumps(ref.params, sort_keys=True),
                        implementation_key(rspec), *param_weight_files(ref.params))
    if rkey not in restored:
        restorer = build_plugin(ctx, "restorer", ref)

        def run_restore() -> Image:
            return check_image(restorer.restore(obs, mod), f"restorer {ref.name!r}",
                               obs.clean_shape)

        img, computed = _cached(ctx, "restored", rkey, obs.y.ndim, run_restore)
        counters["restorations_computed" if computed else "restorations_reused"] += 1
        restored[rkey] = img
    else:
        counters["restorations_reused"] += 1
    artifacts[f"restored_{mod}"] = rkey
    return restored[rkey], rkey


def _precomputed_item(ctx: RunContext, method: PrecomputedMethod, pair: Pair,
                      observations: tuple[Observation, ...], counters: dict[str, int]
                      ) -> tuple[Image, str]:
    """A fused image made elsewhere: read from the method's folder, checked against the pair
    (size, colour), then cached and scored like any other."""
    path = method.image_path(pair.id)
    if path is None:
        raise DataError(f"method {method.label!r}: no fused image for pair {pair.id!r} in "
                        f"{method.folder}", fix=f"add {pair.id}.png (or .jpg, .bmp, .tif) there, "
                        "or remove the pair from the dataset split")
    image = read_image(path)
    out_shape = tuple(observations[0].clean_shape[:2])
    if image.shape[:2] != out_shape:
        raise DataError(f"method {method.label!r}: {path} is {image.shape[1]}x{image.shape[0]} "
                        f"but pair {pair.id!r} is {out_shape[1]}x{out_shape[0]}",
                        fix="give the fused image at the sources' size (not resized or cropped)")
    if image.ndim == 3 and all(o.y.ndim == 2 for o in observations):
        raise DataError(f"method {method.label!r}: {path} is colour but both sources of pair "
                        f"{pair.id!r} are gray", fix="check that the folder belongs to this "
                        "dataset (a colour fusion cannot come from two gray sources)")
    key = content_hash("precomputed", image_hash(image))
    fused, _ = _cached(ctx, "fused", key, image.ndim, lambda: image)
    counters["fusions_read"] = counters.get("fusions_read", 0) + 1
    return fused, key


def _source_item(ctx: RunContext, item: WorkItem, pair: Pair,
                 observations: tuple[Observation, ...], deg_hashes: list[tuple[str, str]],
                 restored: dict[str, Image], counters: dict[str, int],
                 artifacts: dict[str, str]) -> tuple[Image, str]:
    """A single-modality row: one (optionally restored) source stands in for the fused image."""
    mod = item.method.source
    assert mod is not None
    if mod not in pair.modalities:
        raise BenchbedError(f"pair {pair.id} has no modality {mod!r} (it has {list(pair.modalities)})",
                            fix="remove this single_modality row or use a dataset with that modality")
    i = pair.modalities.index(mod)
    img, key = _input_image(ctx, item.method, observations[i], deg_hashes[i][0], mod, restored,
                            counters, artifacts)
    skey = content_hash("source", key, mod)
    out, _ = _cached(ctx, "fused", skey, img.ndim, lambda: img)
    return out, skey


def _score(ctx: RunContext, item: WorkItem, pair: Pair, observations: tuple[Observation, ...],
           fused: Image) -> list[dict[str, Any]]:
    if ctx.references == "degraded":
        refs = [o.y if o.y.shape[:2] == o.clean_shape[:2] else resize(o.y, o.clean_shape[:2])
                for o in observations]
    elif pair.sources is None:
        raise DataError(f"{item.dataset.name}/{pair.id} has no clean sources to score against",
                        fix="set `references: degraded` in the suite")
    else:
        refs = list(pair.sources)
    a, b, f = (to_gray_255(x) for x in (*refs, fused))
    out = []
    for m in item.metrics:
        metric = build_plugin(ctx, "metric", m)
        value = float(metric.compute(a, b, f))
        if not np.isfinite(value):
            raise PluginOutputError(f"metric {m.name!r} returned {value}",
                                    fix="check the metric plugin on this input")
        out.append({"metric": m.name, "profile": m.profile, "version": m.version, "value": value})
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
