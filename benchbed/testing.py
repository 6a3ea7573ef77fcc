"""Conformance kit for plugin authors: contract checks per plugin kind (like torchmetrics' MetricTester).

Each ``check_<kind>(spec)`` builds the plugin from its spec, runs it on tiny generated inputs
and raises :class:`ContractError` (an ``AssertionError``) naming the plugin and the broken
contract; :func:`check_plugin` dispatches on ``spec.kind``. :func:`skip_reason` says why a spec
cannot be checked here (weights missing under BENCHBED_WEIGHTS, data missing under
BENCHBED_DATA), so a test can skip instead of failing. Use it from a plugin's own tests::

    import pytest
    from benchbed.testing import check_plugin, skip_reason
    from my_plugin import benchbed_register_fusers

    @pytest.mark.parametrize("spec", benchbed_register_fusers(), ids=lambda s: s.name)
    def test_conformance(spec):
        reason = skip_reason(spec)
        if reason:
            pytest.skip(reason)
        check_plugin(spec)

The contracts are what the core relies on (benchbed/work.py, benchbed/fusion.py,
benchbed/leaderboard.py): images are float32 HxW or HxWx3 in [0, 1] (up to
:data:`benchbed.imaging.RANGE_TOLERANCE`), outputs depend on the inputs and the seed only (the
same call gives the same bytes, on the same object or a freshly built one), inputs are never
modified in place (the core shares restored images between methods), and the spec's version
enters the cache keys.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from benchbed.errors import BenchbedError, DataError, WeightsError
from benchbed.imaging import RANGE_TOLERANCE
from benchbed.operators import AvgPoolDown, Identity
from benchbed.types import (
    DatasetSpec,
    DegradationSpec,
    DetectorSpec,
    FuserSpec,
    FusionInputs,
    MetricSpec,
    Observation,
    Pair,
    PluginSpec,
    PublisherSpec,
    RestorerSpec,
)

__all__ = [
    "CHECKS",
    "DEFAULT_SIZE",
    "ContractError",
    "check_dataset",
    "check_degradation",
    "check_detector",
    "check_fuser",
    "check_metric",
    "check_plugin",
    "check_publisher",
    "check_restorer",
    "check_version_in_cache_key",
    "noisy_observation",
    "skip_reason",
    "tiny_image",
]

DEFAULT_SIZE: tuple[int, int] = (32, 40)
"""Height x width of the generated inputs: small, non-square (a swapped H/W shows), multiples of 8."""

_SEED = 1234


class ContractError(AssertionError):
    """A plugin broke a contract of the core: ``kind``, ``name``, ``contract`` and the evidence."""

    def __init__(self, spec: PluginSpec, contract: str, detail: str) -> None:
        self.kind = spec.kind
        self.name = spec.name
        self.contract = contract
        self.detail = detail
        provider = f" (from {spec.provider})" if spec.provider else ""
        super().__init__(f"{spec.kind} {spec.name!r}{provider} breaks the contract "
                         f"[{contract}]: {detail}")


def _fail(spec: PluginSpec, contract: str, detail: str) -> None:
    raise ContractError(spec, contract, detail)


@contextmanager
def _running(spec: PluginSpec, contract: str, what: str) -> Iterator[None]:
    """Turn an exception of the plugin's code into a violation of ``contract``."""
    try:
        yield
    except ContractError:
        raise
    except Exception as exc:
        raise ContractError(spec, contract, f"{what} raised {type(exc).__name__}: {exc}") from exc


# --- inputs ---------------------------------------------------------------------------------------


def tiny_image(shape: tuple[int, ...] = DEFAULT_SIZE, seed: int = 0, low: float = 0.1,
               high: float = 0.9) -> np.ndarray:
    """A deterministic float32 test image (smooth field plus hard edges) in [low, high], HxW or HxWx3."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    h, w = int(shape[0]), int(shape[1])
    channels = int(shape[2]) if len(shape) == 3 else 1
    yy, xx = np.mgrid[:h, :w]
    out = []
    for c in range(channels):
        field = ndimage.gaussian_filter(rng.standard_normal((h, w)), 1.5 + c, mode="reflect")
        field = (field - field.min()) / max(float(np.ptp(field)), 1e-12)
        edges = (((xx + 3 * c) // 8 + (yy + seed) // 6) % 2).astype(np.float64)
        out.append(0.6 * field + 0.4 * edges)
    img = out[0] if channels == 1 else np.stack(out, axis=-1)
    return (low + (high - low) * img).astype(np.float32)


def noisy_observation(image: np.ndarray, sigma: float = 10 / 255, factor: int = 1,
                      seed: int = 0) -> Observation:
    """A hand-made linear Observation of ``image``: s x s average pooling (factor 1: none) + noise."""
    op = Identity(image.shape) if factor == 1 else AvgPoolDown(image.shape, factor)
    rng = np.random.default_rng(seed)
    y = np.asarray(op.A(np.asarray(image, np.float64)), np.float64)
    y = np.clip(y + sigma * rng.standard_normal(y.shape), 0.0, 1.0).astype(np.float32)
    return Observation(y=y, operator=op, clean_shape=tuple(image.shape), noise_sigma=float(sigma),
                       degradation="gaussian_noise" if factor == 1 else "composite",
                       params={"sigma": float(sigma), "factor": int(factor)})


def _pair_modalities(spec: PluginSpec) -> tuple[str, str]:
    mods = [m for m in spec.modalities if m != "*"]
    return (mods[0], mods[1]) if len(mods) >= 2 else ("ir", "vi")


def _build(spec: PluginSpec, params: Mapping[str, Any] | None) -> Any:
    with _running(spec, "builds from its spec", f"spec.build(**{dict(params or {})})"):
        return spec.build(**dict(params or {}))


# --- image checks -----------------------------------------------------------------------------------


def _check_image(spec: PluginSpec, out: object, what: str, shape: tuple[int, ...]) -> np.ndarray:
    """An output image: ndarray, exact ``shape``, float32, finite, in [0, 1] up to the tolerance."""
    if not isinstance(out, np.ndarray):
        _fail(spec, "returns a numpy array", f"{what} returned {type(out).__name__}")
    assert isinstance(out, np.ndarray)
    if tuple(out.shape) != tuple(shape):
        _fail(spec, "output shape", f"{what} returned shape {tuple(out.shape)}, expected "
                                    f"{tuple(shape)}")
    if out.dtype != np.float32:
        _fail(spec, "dtype float32", f"{what} returned dtype {out.dtype}")
    if not np.all(np.isfinite(out)):
        _fail(spec, "finite values", f"{what} returned {int(np.sum(~np.isfinite(out)))} NaN/inf "
                                     "values")
    lo, hi = float(out.min()), float(out.max())
    if lo < -RANGE_TOLERANCE or hi > 1.0 + RANGE_TOLERANCE:
        _fail(spec, "values in [0, 1]", f"{what} returned values in [{lo:.4g}, {hi:.4g}], outside "
                                        f"[0, 1] by more than RANGE_TOLERANCE={RANGE_TOLERANCE}")
    return out


def _same(spec: PluginSpec, first: np.ndarray, again: object, what: str) -> None:
    if not (isinstance(again, np.ndarray) and again.shape == first.shape
            and again.dtype == first.dtype and np.array_equal(first, again, equal_nan=True)):
        diff = ""
        if isinstance(again, np.ndarray) and again.shape == first.shape:
            diff = f" (max abs difference {float(np.nanmax(np.abs(first - again.astype(first.dtype)))):.3g})"
        _fail(spec, "deterministic", f"{what} gave a different output{diff}")


def _unchanged(spec: PluginSpec, before: np.ndarray, after: np.ndarray, what: str) -> None:
    if not np.array_equal(before, after):
        _fail(spec, "does not modify its inputs", f"{what} changed its input array in place (the "
                                                  "core shares inputs between methods)")


# --- cache keys ---------------------------------------------------------------------------------


class _OneSpec:
    """The ``registry.get`` a suite uses to turn a plugin reference into a plan entry."""

    def __init__(self, spec: PluginSpec) -> None:
        self.spec = spec

    def get(self, kind: str, name: str) -> PluginSpec:
        return self.spec


def _item_key(spec: PluginSpec) -> str:
    """The key of an item using ``spec``, through the path a suite takes (``checked_ref`` ->
    plan refs -> ``work.item_key``)."""
    from benchbed import suites
    from benchbed.plan import CascadeMethod, DatasetRef, DegradationRef, FuserMethod, PluginRef, Severity
    from benchbed.work import item_key

    checked = getattr(suites, "checked_ref", None) or suites._checked  # type: ignore[attr-defined]
    ref = checked(_OneSpec(spec), spec.kind, {"name": spec.name, "params": {}}, "conformance")
    other = {"name": "other", "version": "1", "params": {}}
    dataset = DatasetRef.from_dict(ref if spec.kind == "dataset" else other)
    degradation = DegradationRef.from_dict(ref if spec.kind == "degradation" else other)
    fuse = PluginRef.from_dict(ref if spec.kind == "fuser" else other)
    method = (CascadeMethod(label="m", fuse=fuse, restore={m: PluginRef.from_dict(ref)
                                                           for m in ("ir", "vi")})
              if spec.kind == "restorer" else FuserMethod(label="m", fuse=fuse))
    return item_key(0, dataset, "pair", degradation, Severity("1", {}), method)


def _implementation_key(spec: PluginSpec) -> str:
    from benchbed import work

    key = getattr(work, "implementation_key", None) or work._implementation_key  # type: ignore[attr-defined]
    return str(key(spec))


def check_version_in_cache_key(spec: PluginSpec) -> None:
    """The spec's version is a non-empty string that changes the item key, and its code hash resolves."""
    from benchbed.code_hash import factory_module

    if not isinstance(spec.version, str) or not spec.version.strip():
        _fail(spec, "version in cache key", f"version is {spec.version!r}; give a non-empty string "
                                            "and bump it whenever outputs change")
    if spec.kind in ("fuser", "restorer", "degradation", "dataset"):
        bumped = dataclasses.replace(spec, version=f"{spec.version}+conformance")
        if _item_key(spec) == _item_key(bumped):
            _fail(spec, "version in cache key", "changing spec.version leaves the item key "
                                                "unchanged, so stale results would be reused")
    module = factory_module(spec.factory)
    if not module or module == "__main__":
        _fail(spec, "version in cache key", f"the factory's module is {module!r}: its code cannot "
                                            "be hashed, so code changes would not enter the key")
    with _running(spec, "version in cache key", "benchbed.work.implementation_key(spec)"):
        first = _implementation_key(spec)
    if first != _implementation_key(spec):
        _fail(spec, "version in cache key", "the implementation key (weights + code hash) is not "
                                            "stable")


# --- fusers ---------------------------------------------------------------------------------------


def _fusion_cases(spec: FuserSpec, size: tuple[int, int]) -> list[tuple[str, FusionInputs]]:
    rgb = spec.colour == "rgb"
    shape = (*size, 3) if rgb else tuple(size)
    a, b = tiny_image(shape, seed=1), tiny_image(shape, seed=2)
    mods = _pair_modalities(spec)
    if not spec.degradation_aware:
        return [("clean pair", FusionInputs((a, b), mods, None, "cpu", _SEED))]
    cases = []
    for label, factor in (("noisy pair", 1), ("noisy pair, first source pooled x2", 2)):
        obs = (noisy_observation(a, factor=factor, seed=3), noisy_observation(b, seed=4))
        cases.append((label, FusionInputs((obs[0].y, obs[1].y), mods, obs, "cpu", _SEED)))
    return cases


def check_fuser(spec: FuserSpec, inputs: FusionInputs | None = None,
                params: Mapping[str, Any] | None = None,
                size: tuple[int, int] = DEFAULT_SIZE) -> None:
    """Fuse tiny inputs: shape, float32, finite, range, deterministic, inputs untouched, version keyed."""
    if spec.colour not in ("y-cbcr", "rgb", "gray"):
        _fail(spec, "colour policy", f"colour={spec.colour!r}; use 'y-cbcr', 'rgb' or 'gray'")
    fuser = _build(spec, params)
    if not callable(getattr(fuser, "fuse", None)):
        _fail(spec, "has fuse(inputs)", f"the built {type(fuser).__name__} has no fuse method")
    cases = [("given inputs", inputs)] if inputs is not None else _fusion_cases(spec, size)
    for i, (label, case) in enumerate(cases):
        clean = case.observations[0].clean_shape[:2] if case.observations else case.images[0].shape[:2]
        shape = (*clean, 3) if spec.colour == "rgb" else tuple(clean)
        before = [np.array(im, copy=True) for im in case.images]
        what = f"fuse({label}, {'x'.join(map(str, shape))})"
        with _running(spec, "fuses a tiny pair", what):
            out = fuser.fuse(case)
        _check_image(spec, out, what, shape)
        for im, old in zip(case.images, before):
            _unchanged(spec, old, im, what)
        if i > 0:
            continue  # determinism is checked on the first case (keeps slow networks cheap)
        with _running(spec, "deterministic", f"second {what}"):
            again = fuser.fuse(case)
        _same(spec, out, again, f"a second {what} on the same object")
        with _running(spec, "deterministic", f"{what} on a fresh build"):
            fresh = _build(spec, params).fuse(case)
        _same(spec, out, fresh, f"{what} on a freshly built object")
    check_version_in_cache_key(spec)


# --- restorers ------------------------------------------------------------------------------------


def _restorer_observations(spec: RestorerSpec, size: tuple[int, int]
                           ) -> list[tuple[str, Observation, str]]:
    """(label, observation, modality): gray and colour from each of (up to) two registered
    degradations the restorer handles (``*``: noise and pooling), else hand-made noisy ones."""
    from benchbed.registry import get_registry

    reg = get_registry()
    known = set(reg.names("degradation"))
    wanted = ["gaussian_noise", "lowres"] if "*" in spec.handles else list(spec.handles)
    out: list[tuple[str, Observation, str]] = []
    for name in [n for n in wanted if n in known][:2]:
        dspec = reg.get("degradation", name)
        if getattr(dspec, "given", False):
            continue
        deg = dspec.build()
        mods = [m for m in dspec.modalities if m != "*"]
        for label, shape, mod in (("gray", tuple(size), mods[0] if mods else "ir"),
                                  ("colour", (*size, 3), mods[0] if mods else "vi")):
            obs = deg.apply(tiny_image(shape, seed=5), mod, {}, np.random.default_rng(_SEED))
            out.append((f"{label} {name}", obs, mod))
    return out or [
        ("gray hand-made noise", noisy_observation(tiny_image(tuple(size), seed=5)), "ir"),
        ("colour hand-made noise", noisy_observation(tiny_image((*size, 3), seed=5)), "vi")]


def check_restorer(spec: RestorerSpec, observation: Observation | None = None,
                   modality: str = "vi", params: Mapping[str, Any] | None = None,
                   size: tuple[int, int] = DEFAULT_SIZE) -> None:
    """Restore tiny observations: clean_shape, float32, finite, range, deterministic, version keyed."""
    restorer = _build(spec, params)
    if not callable(getattr(restorer, "restore", None)):
        _fail(spec, "has restore(observation, modality)",
              f"the built {type(restorer).__name__} has no restore method")
    cases = ([("given observation", observation, modality)] if observation is not None
             else _restorer_observations(spec, size))
    for i, (label, obs, mod) in enumerate(cases):
        y0 = np.array(obs.y, copy=True)
        what = f"restore({label}, y {'x'.join(map(str, obs.y.shape))}, modality {mod!r})"
        with _running(spec, "restores a tiny observation", what):
            out = restorer.restore(obs, mod)
        _check_image(spec, out, what, tuple(obs.clean_shape))
        _unchanged(spec, y0, obs.y, what)
        if i > 1:
            continue  # determinism is checked on the first degradation (gray and colour)
        with _running(spec, "deterministic", f"second {what}"):
            again = restorer.restore(obs, mod)
        _same(spec, out, again, f"a second {what} on the same object")
        with _running(spec, "deterministic", f"{what} on a fresh build"):
            fresh = _build(spec, params).restore(obs, mod)
        _same(spec, out, fresh, f"{what} on a freshly built object")
    check_version_in_cache_key(spec)


# --- degradations -----------------------------------------------------------------------------------


def _check_operator(spec: DegradationSpec, obs: Observation, x: np.ndarray, what: str) -> None:
    """A(x) explains y up to noise of std noise_sigma; A_pinv, linearity and the adjoint agree."""
    op = obs.operator
    assert op is not None
    if tuple(op.in_shape[:2]) != tuple(obs.clean_shape[:2]):
        _fail(spec, "operator shapes", f"{what}: operator.in_shape {op.in_shape} != clean_shape "
                                       f"{obs.clean_shape}")
    x64 = np.asarray(x, np.float64)
    with _running(spec, "operator A", f"{what}: operator.A(x)"):
        ax = np.asarray(op.A(x64), np.float64)
    if ax.shape != obs.y.shape:
        _fail(spec, "operator shapes", f"{what}: A(x) has shape {ax.shape}, y has {obs.y.shape}")
    if tuple(op.out_shape[:2]) != tuple(obs.y.shape[:2]):
        _fail(spec, "operator shapes", f"{what}: operator.out_shape {op.out_shape} != y shape "
                                       f"{obs.y.shape}")
    resid = np.asarray(obs.y, np.float64) - ax
    sigma = float(obs.noise_sigma)
    if sigma == 0.0:
        worst = float(np.abs(resid).max())
        if worst > 1e-4:
            _fail(spec, "operator consistency", f"{what}: noise_sigma is 0 but y differs from "
                                                f"A(x) by up to {worst:.4g} ({worst * 255:.2f}/255)")
    else:
        n = resid.size
        std, mean = float(resid.std()), float(resid.mean())
        # sampling error of a std over n values (4 standard errors), clipping at 0 and 1 (5 %)
        if abs(std - sigma) > (0.05 + 4 / math.sqrt(2 * n)) * sigma + 0.25 / 255:
            _fail(spec, "operator consistency", f"{what}: y - A(x) has std {std:.4g} "
                                                f"({std * 255:.2f}/255), noise_sigma says {sigma:.4g} "
                                                f"({sigma * 255:.2f}/255)")
        if abs(mean) > 4 * sigma / math.sqrt(n) + 1e-3:
            _fail(spec, "operator consistency", f"{what}: y - A(x) has mean {mean:.4g}; the noise "
                                                "must be zero-mean around A(x)")
    rng = np.random.default_rng(_SEED + 7)
    x1, x2 = rng.random(x64.shape), rng.random(x64.shape)
    with _running(spec, "operator A is linear", f"{what}: A(2 x1 - 3 x2)"):
        lhs = np.asarray(op.A(2.0 * x1 - 3.0 * x2), np.float64)
        rhs = 2.0 * np.asarray(op.A(x1), np.float64) - 3.0 * np.asarray(op.A(x2), np.float64)
    if not np.allclose(lhs, rhs, rtol=1e-4, atol=1e-4):
        _fail(spec, "operator A is linear", f"{what}: A(2 x1 - 3 x2) != 2 A(x1) - 3 A(x2) (max "
                                            f"difference {float(np.abs(lhs - rhs).max()):.3g})")
    with _running(spec, "operator A_pinv", f"{what}: operator.A_pinv(y)"):
        back = np.asarray(op.A_pinv(obs.y))
    if back.shape != tuple(obs.clean_shape):
        _fail(spec, "operator A_pinv", f"{what}: A_pinv(y) has shape {back.shape}, expected "
                                       f"clean_shape {tuple(obs.clean_shape)}")
    if not np.all(np.isfinite(back)):
        _fail(spec, "operator A_pinv", f"{what}: A_pinv(y) has NaN/inf values")
    r = rng.standard_normal(ax.shape)
    try:
        atr = op.AT(r)
    except NotImplementedError:
        return  # no adjoint offered
    except Exception as exc:
        raise ContractError(spec, "operator adjoint", f"{what}: operator.AT(r) raised "
                                                          f"{type(exc).__name__}: {exc}") from exc
    atr = np.asarray(atr, np.float64)
    if atr.shape != x64.shape:
        _fail(spec, "operator adjoint", f"{what}: AT(r) has shape {atr.shape}, expected {x64.shape}")
    ax1 = np.asarray(op.A(x1), np.float64)
    lhs_dot, rhs_dot = float(np.sum(ax1 * r)), float(np.sum(x1 * atr))
    scale = float(np.linalg.norm(ax1) * np.linalg.norm(r)) + 1e-12
    if abs(lhs_dot - rhs_dot) > 1e-6 * scale:
        _fail(spec, "operator adjoint", f"{what}: <A x, r> = {lhs_dot:.8g} but <x, AT r> = "
                                        f"{rhs_dot:.8g}")


def check_degradation(spec: DegradationSpec, image: np.ndarray | None = None,
                      params: Mapping[str, Any] | None = None,
                      size: tuple[int, int] = (64, 80)) -> None:
    """Every severity level on gray and colour: Observation, float32 y, seeded, operator consistent."""
    if getattr(spec, "given", False):
        raise ValueError(f"degradation {spec.name!r} is `given`: it reads a dataset's images (see "
                         "skip_reason); check the dataset's observe() with check_dataset")
    degradation = _build(spec, params)
    if not callable(getattr(degradation, "apply", None)):
        _fail(spec, "has apply(image, modality, severity, rng)",
              f"the built {type(degradation).__name__} has no apply method")
    levels = dict(spec.severities) or {"default": {}}
    mods = [m for m in spec.modalities if m != "*"]
    if image is not None:
        images = [("given image", np.asarray(image, np.float32), mods[0] if mods else "vi")]
    else:  # mid-grey so that clipping barely touches the noise statistics
        images = [("gray", tiny_image(tuple(size), seed=6, low=0.3, high=0.7), mods[0] if mods else "ir"),
                  ("colour", tiny_image((*size, 3), seed=7, low=0.3, high=0.7),
                   mods[0] if mods else "vi")]
    for level, sev in levels.items():
        for label, x, mod in images:
            what = f"apply({label} {'x'.join(map(str, x.shape))}, {mod!r}, level {level!r})"
            x0 = x.copy()
            np.random.seed(1)  # the global generator must not matter
            with _running(spec, "applies every severity level", what):
                obs = degradation.apply(x, mod, dict(sev), np.random.default_rng(_SEED))
            if not isinstance(obs, Observation):
                _fail(spec, "returns an Observation", f"{what} returned {type(obs).__name__}")
            _unchanged(spec, x0, x, what)
            y = obs.y
            if not isinstance(y, np.ndarray):
                _fail(spec, "float32 y", f"{what}: y is {type(y).__name__}")
            if y.dtype != np.float32:
                _fail(spec, "float32 y", f"{what}: y has dtype {y.dtype}")
            if y.ndim != x.ndim or (y.ndim == 3 and y.shape[2] != x.shape[2]):
                _fail(spec, "y keeps the channels", f"{what}: y has shape {y.shape} for an input of "
                                                    f"shape {x.shape}")
            if not np.all(np.isfinite(y)):
                _fail(spec, "finite values", f"{what}: y has NaN/inf values")
            lo, hi = float(y.min()), float(y.max())
            if lo < -RANGE_TOLERANCE or hi > 1.0 + RANGE_TOLERANCE:
                _fail(spec, "values in [0, 1]", f"{what}: y in [{lo:.4g}, {hi:.4g}]")
            if tuple(obs.clean_shape) != tuple(x.shape):
                _fail(spec, "clean_shape", f"{what}: clean_shape {tuple(obs.clean_shape)} != input "
                                           f"shape {x.shape}")
            if not (math.isfinite(float(obs.noise_sigma)) and float(obs.noise_sigma) >= 0):
                _fail(spec, "noise_sigma", f"{what}: noise_sigma={obs.noise_sigma!r}")
            np.random.seed(2)
            with _running(spec, "deterministic", f"second {what}"):
                again = degradation.apply(x, mod, dict(sev), np.random.default_rng(_SEED))
            _same(spec, y, again.y, f"{what} with the same rng seed")
            if again.noise_sigma != obs.noise_sigma:
                _fail(spec, "deterministic", f"{what}: noise_sigma differs between equal calls")
            if spec.linear:
                if obs.operator is None:
                    _fail(spec, "linear degradations attach their operator",
                          f"{what}: the spec says linear=True but the observation has no operator")
                _check_operator(spec, obs, x, what)
    check_version_in_cache_key(spec)


# --- metrics --------------------------------------------------------------------------------------


def check_metric(spec: MetricSpec, inputs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                 size: tuple[int, int] = (48, 48)) -> None:
    """Every profile on tiny 0..255 gray inputs: a finite float, deterministic; f = a = b finite."""
    if not isinstance(spec.higher_is_better, bool):
        _fail(spec, "higher_is_better is a bool", f"higher_is_better={spec.higher_is_better!r}")
    if not isinstance(spec.needs_sources, bool):
        _fail(spec, "needs_sources is a bool", f"needs_sources={spec.needs_sources!r}")
    if inputs is None:
        a, b = (np.round(tiny_image(tuple(size), seed=s, low=0.05, high=0.95) * 255).astype(np.float64)
                for s in (8, 9))
        f = np.round(0.5 * a + 0.5 * b)
    else:
        a, b, f = (np.asarray(v, np.float64) for v in inputs)
    cases = [("a, b, f", (a, b, f))]
    if spec.needs_sources:
        cases.append(("f = a = b", (a, a.copy(), a.copy())))
    for profile in spec.profiles:
        with _running(spec, "every profile builds", f"profile_params({profile!r})"):
            params = spec.profile_params(profile)
        metric = _build(spec, params)
        if not callable(getattr(metric, "compute", None)):
            _fail(spec, "has compute(a, b, f)", f"the built {type(metric).__name__} has no compute")
        for label, args in cases:
            what = f"profile {profile!r}: compute({label}, {'x'.join(map(str, size))} gray 0..255)"
            before = [v.copy() for v in args]
            with _running(spec, "computes on tiny inputs", what):
                value = metric.compute(*args)
            if isinstance(value, bool) or not isinstance(value, float):
                _fail(spec, "returns a Python float", f"{what} returned {type(value).__name__} "
                                                      f"{value!r}")
            if not math.isfinite(value):
                _fail(spec, "finite value", f"{what} returned {value}")
            for old, new in zip(before, args):
                _unchanged(spec, old, new, what)
            with _running(spec, "deterministic", f"second {what}"):
                again = metric.compute(*args)
            with _running(spec, "deterministic", f"{what} on a fresh build"):
                fresh = _build(spec, params).compute(*args)
            if not (again == value and fresh == value):
                _fail(spec, "deterministic", f"{what} gave {value!r}, then {again!r}, then "
                                             f"{fresh!r} on a fresh build")
    check_version_in_cache_key(spec)


# --- datasets -------------------------------------------------------------------------------------


def _check_source(spec: PluginSpec, im: object, what: str) -> np.ndarray:
    if not isinstance(im, np.ndarray):
        _fail(spec, "sources are float32 images", f"{what} is {type(im).__name__}")
    assert isinstance(im, np.ndarray)
    if im.dtype != np.float32:
        _fail(spec, "sources are float32 images", f"{what} has dtype {im.dtype}")
    if not (im.ndim == 2 or (im.ndim == 3 and im.shape[2] == 3)) or im.size == 0:
        _fail(spec, "sources are HxW or HxWx3", f"{what} has shape {im.shape}")
    if not np.all(np.isfinite(im)) or float(im.min()) < 0.0 or float(im.max()) > 1.0:
        _fail(spec, "sources in [0, 1]", f"{what} has values in [{float(np.nanmin(im)):.4g}, "
                                         f"{float(np.nanmax(im)):.4g}] or NaN/inf")
    return im


def check_dataset(spec: DatasetSpec, params: Mapping[str, Any] | None = None) -> None:
    """Stable pair ids; the first pair loads as a Pair of the declared modalities, float32 in [0, 1]."""
    ds = _build(spec, params)
    for method in ("pair_ids", "load"):
        if not callable(getattr(ds, method, None)):
            _fail(spec, f"has {method}()", f"the built {type(ds).__name__} has no {method} method")
    with _running(spec, "lists its pairs", "pair_ids(None)"):
        ids, again = list(ds.pair_ids(None)), list(ds.pair_ids(None))
    if ids != again:
        _fail(spec, "stable pair ids", "two pair_ids(None) calls returned different lists")
    if not ids:
        _fail(spec, "lists its pairs", "pair_ids(None) is empty")
    if not all(isinstance(i, str) for i in ids) or len(set(ids)) != len(ids):
        _fail(spec, "pair ids are unique strings", f"pair_ids(None) = {ids[:5]}...")
    for split in spec.splits:
        with _running(spec, "lists every declared split", f"pair_ids({split!r})"):
            part = list(ds.pair_ids(split))
        if part != list(ds.pair_ids(split)):
            _fail(spec, "stable pair ids", f"two pair_ids({split!r}) calls differ")
        if set(part) - set(ids):
            _fail(spec, "splits are subsets of all pairs",
                  f"pair_ids({split!r}) has ids pair_ids(None) lacks: {sorted(set(part) - set(ids))[:3]}")
    first = ids[0]
    with _running(spec, "loads a pair", f"load({first!r})"):
        pair = ds.load(first)
    if not isinstance(pair, Pair):
        _fail(spec, "load returns a Pair", f"load({first!r}) returned {type(pair).__name__}")
    if pair.id != first:
        _fail(spec, "load returns a Pair", f"load({first!r}) returned a pair with id {pair.id!r}")
    mods = tuple(pair.modalities)
    if len(mods) != 2 or not all(isinstance(m, str) for m in mods):
        _fail(spec, "two modalities", f"load({first!r}).modalities = {pair.modalities!r}")
    if spec.modalities and mods != tuple(spec.modalities):
        _fail(spec, "modalities as declared", f"load({first!r}).modalities = {mods}, the spec "
                                              f"declares {tuple(spec.modalities)}")
    hw: tuple[int, ...] | None = None
    if pair.sources is None:
        if spec.has_clean:
            _fail(spec, "clean sources", f"load({first!r}).sources is None but has_clean=True")
    else:
        if len(pair.sources) != 2:
            _fail(spec, "clean sources", f"load({first!r}) has {len(pair.sources)} sources")
        a, b = (_check_source(spec, im, f"load({first!r}) source {m!r}")
                for im, m in zip(pair.sources, mods))
        if a.shape[:2] != b.shape[:2]:
            _fail(spec, "sources of equal HxW", f"load({first!r}): {a.shape} and {b.shape}")
        hw = a.shape[:2]
        reload = ds.load(first)
        for old, new, m in zip(pair.sources, reload.sources or (None, None), mods):
            _same(spec, old, new, f"a second load({first!r}) of source {m!r}")
    for condition in spec.conditions:
        what = f"observe({first!r}, {condition!r})"
        if not callable(getattr(ds, "observe", None)):
            _fail(spec, "datasets with conditions observe()", f"conditions {spec.conditions} are "
                                                               "declared but there is no observe()")
        with _running(spec, "observes every declared condition", what):
            obs = tuple(ds.observe(first, condition))
        if len(obs) != 2 or not all(isinstance(o, Observation) for o in obs):
            _fail(spec, "observe returns two Observations", f"{what} returned {obs!r:.200}")
        for o, m in zip(obs, mods):
            _check_source(spec, o.y, f"{what} y of {m!r}")
        shapes = {tuple(o.clean_shape[:2]) for o in obs}
        if len(shapes) != 1 or (hw is not None and shapes != {tuple(hw)}):
            _fail(spec, "observations on the sources' grid",
                  f"{what}: clean shapes {[o.clean_shape for o in obs]}, sources {hw}")
    check_version_in_cache_key(spec)


# --- detectors ------------------------------------------------------------------------------------


def check_detector(spec: DetectorSpec, params: Mapping[str, Any] | None = None,
                   size: tuple[int, int] = (64, 80)) -> None:
    """detect() on tiny gray and RGB images: Detections in the image's pixels, scores in [0, 1], seeded."""
    from benchbed.detection import Detections

    detector = _build(spec, params)
    if not callable(getattr(detector, "detect", None)):
        _fail(spec, "has detect(image)", f"the built {type(detector).__name__} has no detect method")
    h, w = size
    for label, shape in (("gray", (h, w)), ("rgb", (h, w, 3))):
        image = tiny_image(shape, seed=10)
        before = image.copy()
        what = f"detect({label} {'x'.join(map(str, shape))})"
        with _running(spec, "detects on a tiny image", what):
            dets = detector.detect(image)
        if not isinstance(dets, Detections):
            _fail(spec, "returns Detections", f"{what} returned {type(dets).__name__}")
        _unchanged(spec, before, image, what)
        if spec.classes and tuple(dets.names) != tuple(spec.classes):
            _fail(spec, "class names as declared", f"{what}: names {dets.names[:5]}... differ from "
                                                   f"the spec's classes {spec.classes[:5]}...")
        bx = dets.boxes
        if len(bx):
            inside = ((bx[:, 0] >= -1) & (bx[:, 1] >= -1) & (bx[:, 2] <= w + 1) & (bx[:, 3] <= h + 1)
                      & (bx[:, 2] >= bx[:, 0]) & (bx[:, 3] >= bx[:, 1]))
            if not inside.all():
                _fail(spec, "boxes are xyxy pixels of the image",
                      f"{what}: box {bx[~inside][0].tolist()} is not x1<=x2, y1<=y2 inside {w}x{h}")
            if dets.scores.min() < 0 or dets.scores.max() > 1:
                _fail(spec, "scores in [0, 1]", f"{what}: scores in [{dets.scores.min():.3g}, "
                                                f"{dets.scores.max():.3g}]")
        with _running(spec, "deterministic", f"second {what}"):
            again = detector.detect(image)
        for field in ("boxes", "scores", "classes"):
            _same(spec, getattr(dets, field), getattr(again, field), f"a second {what} ({field})")
    check_version_in_cache_key(spec)


# --- publishers -----------------------------------------------------------------------------------


def _publish_context(cache_dir: Path) -> Any:
    """A small synthetic leaderboard: 6 pairs, 2 methods, clean + a 2-level noise sweep, 2 metrics."""
    import pandas as pd

    from benchbed.leaderboard import PublishContext

    rng = np.random.default_rng(_SEED)
    rows = []
    for deg, sev, drop in (("clean", "0", 0.0), ("gaussian_noise", "1", 0.1), ("gaussian_noise", "2", 0.3)):
        for method, base in (("average", 0.6), ("wavelet", 0.7)):
            for p in range(6):
                for metric, hib in (("QABF", True), ("MSE", False)):
                    v = base - drop + 0.02 * rng.standard_normal()
                    rows.append({"suite": "conformance", "dataset": "demo", "pair_id": f"p{p}",
                                 "degradation": deg, "severity": sev, "method": method,
                                 "metric": metric, "profile": "default",
                                 "value": float(v if hib else 1 - v), "seconds": 0.01})
    prov = {"run_id": 1, "suite": "conformance", "plan_hash": "0" * 16, "benchbed_version": "0",
            "git_commit": "unknown", "packages": {"numpy": np.__version__}, "device": "cpu",
            "host": "conformance", "workers": 1, "status": "finished",
            "started_at": "2000-01-01T00:00:00Z", "finished_at": "2000-01-01T00:00:01Z",
            "items": {"done": 36}, "computed_by": []}
    return PublishContext(suite="conformance", frame=pd.DataFrame(rows),
                          higher_is_better={"QABF": True, "MSE": False}, provenance=prov, plan={},
                          items=None, cache_dir=cache_dir, n_boot=50, seed=0, examples=False)


def _published(spec: PublisherSpec, out_dir: Path, params: Mapping[str, Any] | None
               ) -> dict[str, bytes]:
    sentinel = out_dir / "not-benchbed.txt"
    out_dir.mkdir(parents=True, exist_ok=True)
    sentinel.write_text("a file the publisher must leave alone\n")
    publisher = _build(spec, params)
    if not callable(getattr(publisher, "publish", None)):
        _fail(spec, "has publish(frame, out_dir, context)",
              f"the built {type(publisher).__name__} has no publish method")
    context = _publish_context(out_dir.parent / "cache")
    with _running(spec, "publishes a small leaderboard", "publish(frame, out_dir, context)"):
        written = publisher.publish(context.frame, out_dir, context)
    if not isinstance(written, (list, tuple)) or not written:
        _fail(spec, "returns the written paths", f"publish returned {written!r:.200}")
    root = out_dir.resolve()
    files: dict[str, bytes] = {}
    for p in written:
        if not isinstance(p, (str, Path)):
            _fail(spec, "returns the written paths", f"publish returned a {type(p).__name__} entry")
        path = Path(p).resolve()
        if not path.is_file():
            _fail(spec, "returns the written paths", f"returned {p} is not a written file")
        if not path.is_relative_to(root):
            _fail(spec, "writes under out_dir", f"wrote {path} outside {root}")
        files[str(path.relative_to(root))] = path.read_bytes()
    if sentinel.read_text() != "a file the publisher must leave alone\n":
        _fail(spec, "leaves other files alone", f"publish changed {sentinel}")
    if not any(rel.split("/")[0] == "conformance" for rel in files):
        _fail(spec, "writes under out_dir/<suite>/", f"no returned file under out_dir/conformance: "
                                                     f"{sorted(files)[:5]}")
    return files


def check_publisher(spec: PublisherSpec, params: Mapping[str, Any] | None = None) -> None:
    """Publish a synthetic leaderboard twice: existing files under out_dir, others untouched, same files."""
    with tempfile.TemporaryDirectory(prefix="benchbed-conformance-") as tmp:
        first = _published(spec, Path(tmp) / "a" / "out", params)
        second = _published(spec, Path(tmp) / "b" / "out", params)
    if sorted(first) != sorted(second):
        _fail(spec, "deterministic", f"two publishes wrote different files: {sorted(first)} vs "
                                     f"{sorted(second)}")
    changed = sorted(k for k in first if first[k] != second[k])
    if changed:
        _fail(spec, "deterministic", f"two publishes of the same leaderboard differ in {changed}")
    check_version_in_cache_key(spec)


# --- dispatch and skips ---------------------------------------------------------------------------


CHECKS: dict[str, Callable[..., None]] = {
    "fuser": check_fuser,
    "restorer": check_restorer,
    "degradation": check_degradation,
    "metric": check_metric,
    "dataset": check_dataset,
    "detector": check_detector,
    "publisher": check_publisher,
}
"""Plugin kind -> its checker."""


def check_plugin(spec: PluginSpec, **kwargs: Any) -> None:
    """Run the checker of ``spec.kind`` (keyword arguments go to it)."""
    if spec.kind not in CHECKS:
        raise ValueError(f"no conformance check for plugin kind {spec.kind!r}")
    CHECKS[spec.kind](spec, **kwargs)


def skip_reason(spec: PluginSpec) -> str | None:
    """Why ``spec`` cannot be checked here (missing weights or data, a `given` degradation), or None."""
    from benchbed.weights import resolve_weights

    what = f"{spec.kind} {spec.name!r}"
    for ref in spec.weights:
        try:
            resolve_weights(ref)
        except WeightsError as exc:
            return f"{what}: {exc.message}"
    if spec.kind == "degradation" and getattr(spec, "given", False):
        return (f"{what} is `given`: it reads a dataset's own degraded images, which check_dataset "
                "checks through Dataset.observe")
    if spec.kind == "dataset":
        try:
            spec.build().pair_ids(None)
        except DataError as exc:  # DataRootError included: BENCHBED_DATA unset or missing
            return f"{what}: data not available here: {exc}"
        except BenchbedError as exc:
            return f"{what}: cannot be built with its default params: {exc}"
    return None
