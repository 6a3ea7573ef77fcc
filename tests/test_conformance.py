"""Every registered plugin, of every kind, passes the public conformance kit (benchbed.testing).

The cases are collected from the registry, so a plugin installed through an entry point or
named in BENCHBED_PLUGINS is checked without touching this file. Known contract violations
of built-in plugins are strict xfails with the evidence in the reason.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_data, shared_weights
from PIL import Image as PILImage

from benchbed.registry import Registry, get_registry
from benchbed.testing import (
    ContractError,
    check_dataset,
    check_fuser,
    check_plugin,
    skip_reason,
    tiny_image,
)
from benchbed.types import KINDS, Observation

REPO = Path(__file__).resolve().parent.parent

KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {
    ("degradation", "ir_stripes"): (
        "operator consistency: linear=True with A = I, but y - A(x) holds the column stripes "
        "that noise_sigma leaves out (level 1: noise_sigma 0, y - x up to ~5/255; levels 2 and "
        "4: std of y - x 1.25x and 1.22x noise_sigma)"),
    ("restorer", "bm3d"): (
        "deterministic: repeated restore() of one observation differs by ~2e-7..9e-7 (the bm3d/"
        "bm4d binary, also with OMP_NUM_THREADS=1); an 8-bit pixel of the cached artifact can flip"),
}
"""Built-in plugins that break a contract today: (kind, name) -> the evidence."""

SLOW: set[tuple[str, str]] = {("fuser", "recofuse"), ("detector", "yolo")}
"""Checks that take more than a few seconds on CPU (100 diffusion steps; ONNX session at 640)."""

NEEDS_MODULES: dict[tuple[str, str], tuple[str, ...]] = {
    ("detector", "yolo"): ("ultralytics", "onnxruntime"),  # the optional extra benchbed[yolo]
}


@pytest.fixture(autouse=True)
def shared_roots(monkeypatch: pytest.MonkeyPatch) -> None:
    """BENCHBED_WEIGHTS / BENCHBED_DATA default to the shared folders next to the checkout."""
    for var, root in (("BENCHBED_WEIGHTS", shared_weights()), ("BENCHBED_DATA", shared_data())):
        if not os.environ.get(var) and root is not None:
            monkeypatch.setenv(var, str(root))


def _cases() -> list[object]:
    registry = get_registry()
    out = []
    for kind in KINDS:
        for name in registry.names(kind):
            marks: list[pytest.MarkDecorator] = []
            if (kind, name) in SLOW:
                marks.append(pytest.mark.slow)
            if (kind, name) in KNOWN_VIOLATIONS:
                marks.append(pytest.mark.xfail(strict=True, raises=ContractError,
                                               reason=KNOWN_VIOLATIONS[(kind, name)]))
            out.append(pytest.param(kind, name, id=f"{kind}-{name}", marks=marks))
    return out


def _image_folder(root: Path) -> Path:
    """A folder dataset of two tiny ir/vi pairs (gray IR, RGB visible)."""
    for i in range(2):
        for mod, shape in (("ir", (24, 32)), ("vi", (24, 32, 3))):
            (root / mod).mkdir(parents=True, exist_ok=True)
            img = (tiny_image(shape, seed=i) * 255).round().astype(np.uint8)
            PILImage.fromarray(img).save(root / mod / f"{i:02d}.png")
    return root


@pytest.mark.parametrize(("kind", "name"), _cases())
def test_plugin_conformance(kind: str, name: str, tmp_path: Path) -> None:
    spec = get_registry().get(kind, name)  # type: ignore[arg-type]
    missing = [m for m in NEEDS_MODULES.get((kind, name), ()) if importlib.util.find_spec(m) is None]
    if missing:  # find_spec, not import: the plugin imports them itself, offline
        pytest.skip(f"{kind} {name!r} needs {', '.join(missing)}")
    if (kind, name) == ("dataset", "folder"):  # needs a folder: give it one
        check_dataset(spec, params={"path": str(_image_folder(tmp_path / "pairs"))})  # type: ignore[arg-type]
        return
    reason = skip_reason(spec)
    if reason:
        pytest.skip(reason)
    check_plugin(spec)


def test_every_kind_has_a_checker() -> None:
    from benchbed.testing import CHECKS

    assert set(CHECKS) == set(KINDS)


# --- the kit on plugins that are not built in ---------------------------------------------------

GOOD_PLUGIN = '''
import numpy as np
from benchbed import FuserSpec, hookimpl


class MinFuser:
    def fuse(self, inputs):
        a, b = (np.asarray(x, np.float32) for x in inputs.images)
        return np.minimum(a, b)


@hookimpl
def benchbed_register_fusers():
    return [FuserSpec(name="conformance_throwaway_min", version="1", summary="pixel minimum",
                      factory=MinFuser)]
'''

BROKEN_PLUGIN = '''
import numpy as np
from benchbed import FuserSpec, hookimpl


def _pair(inputs):
    return (np.asarray(x, np.float32) for x in inputs.images)


class WrongShape:
    def fuse(self, inputs):
        a, b = _pair(inputs)
        return ((a + b) / 2)[:-1]


class Noisy:
    def fuse(self, inputs):
        a, b = _pair(inputs)
        return np.clip((a + b) / 2 + 0.01 * np.random.random(a.shape), 0, 1).astype(np.float32)


class Scale255:
    def fuse(self, inputs):
        a, b = _pair(inputs)
        return (a + b) / 2 * 255


class Float64:
    def fuse(self, inputs):
        a, b = _pair(inputs)
        return (a.astype(np.float64) + b) / 2


class InPlace:
    def fuse(self, inputs):
        a = inputs.images[0]
        np.maximum(a, inputs.images[1], out=a)
        return a.copy()


class Raises:
    def fuse(self, inputs):
        raise ValueError("needs images of at least 256 x 256")


FUSERS = {"wrong_shape": WrongShape, "noisy": Noisy, "scale255": Scale255, "float64": Float64,
          "in_place": InPlace, "raises": Raises}


@hookimpl
def benchbed_register_fusers():
    return [FuserSpec(name=f"broken_{n}", version="1", summary="broken on purpose", factory=f)
            for n, f in FUSERS.items()]
'''


def _plugin_file(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_local_plugin_is_checked_automatically(tmp_path: Path) -> None:
    """BENCHBED_PLUGINS=file.py adds its fuser to this file's cases, and it passes."""
    plugin = _plugin_file(tmp_path, "throwaway_min", GOOD_PLUGIN)
    env = {**os.environ, "BENCHBED_PLUGINS": str(plugin)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", str(Path(__file__)), "-rA", "-p", "no:cacheprovider",
         "-k", "conformance_throwaway_min"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert "PASSED tests/test_conformance.py::test_plugin_conformance[fuser-conformance_throwaway_min]" \
        in out, out
    assert "1 passed" in out, out


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """A registry with the broken fusers of BROKEN_PLUGIN, loaded from a local .py file."""
    return Registry([str(_plugin_file(tmp_path_factory.mktemp("plugins"), "conformance_broken",
                                      BROKEN_PLUGIN))])


@pytest.mark.parametrize(("name", "contract", "evidence"), [
    ("wrong_shape", "output shape", "returned shape (31, 40), expected (32, 40)"),
    ("noisy", "deterministic", "a second fuse"),
    ("scale255", "values in [0, 1]", "outside [0, 1] by more than RANGE_TOLERANCE"),
    ("float64", "dtype float32", "dtype float64"),
    ("in_place", "does not modify its inputs", "changed its input array in place"),
    ("raises", "fuses a tiny pair", "ValueError: needs images of at least 256 x 256"),
])
def test_the_kit_rejects_broken_fusers(broken: Registry, name: str, contract: str,
                                       evidence: str) -> None:
    spec = broken.get("fuser", f"broken_{name}")
    with pytest.raises(ContractError) as info:
        check_fuser(spec)  # type: ignore[arg-type]
    err = info.value
    assert (err.kind, err.name, err.contract) == ("fuser", f"broken_{name}", contract), str(err)
    assert f"fuser 'broken_{name}'" in str(err) and f"[{contract}]" in str(err)
    assert evidence in str(err)


def test_the_kit_rejects_an_unversioned_spec(broken: Registry) -> None:
    from dataclasses import replace

    good = replace(broken.get("fuser", "broken_noisy"), factory=lambda: _Mean())
    check_fuser(good)  # type: ignore[arg-type]
    with pytest.raises(ContractError, match=r"\[version in cache key\].*non-empty"):
        check_fuser(replace(good, version=""))  # type: ignore[arg-type]


class _Mean:
    def fuse(self, inputs):  # type: ignore[no-untyped-def]
        a, b = (np.asarray(x, np.float32) for x in inputs.images)
        return (a + b) / 2


# --- broken plugins of the other kinds, made by hand ----------------------------------------------


class _LiesAboutNoise:
    """Adds 20/255 noise, reports 5/255."""

    def apply(self, image, modality, severity, rng):  # type: ignore[no-untyped-def]
        from benchbed.operators import Identity

        y = np.clip(image + 20 / 255 * rng.standard_normal(image.shape), 0, 1).astype(np.float32)
        return Observation(y=y, operator=Identity(image.shape), clean_shape=image.shape,
                           noise_sigma=5 / 255)


class _GlobalRandom:
    """Draws its noise from numpy's global generator instead of ``rng``."""

    def apply(self, image, modality, severity, rng):  # type: ignore[no-untyped-def]
        from benchbed.operators import Identity

        y = np.clip(image + 0.02 * np.random.standard_normal(image.shape), 0, 1).astype(np.float32)
        return Observation(y=y, operator=Identity(image.shape), clean_shape=image.shape,
                           noise_sigma=0.02)


class _BadAdjoint:
    """Pooling whose AT forgets to divide by the block size."""

    def apply(self, image, modality, severity, rng):  # type: ignore[no-untyped-def]
        from benchbed.operators import AvgPoolDown

        class Op(AvgPoolDown):
            def AT(self, y):  # type: ignore[no-untyped-def]  # noqa: N802
                return self.A_pinv(np.asarray(y, np.float64))

        op = Op(image.shape, 2)
        return Observation(y=op.A(image).astype(np.float32), operator=op, clean_shape=image.shape)


class _NoOperator:
    """Declared linear, attaches nothing."""

    def apply(self, image, modality, severity, rng):  # type: ignore[no-untyped-def]
        return Observation(y=image.copy(), operator=None, clean_shape=image.shape)


class _KeepsLowRes:
    """Returns a pooled observation as it is, not on the clean grid."""

    def restore(self, observation, modality):  # type: ignore[no-untyped-def]
        return observation.y


class _Float32Metric:
    def compute(self, a, b, f):  # type: ignore[no-untyped-def]
        return np.float32(np.mean(f))


class _CountingMetric:
    def __init__(self) -> None:
        self.calls = 0

    def compute(self, a, b, f):  # type: ignore[no-untyped-def]
        self.calls += 1
        return float(np.mean(f)) + self.calls


def _hand_made(kind: str, factory: object) -> object:
    from benchbed import DegradationSpec, MetricSpec, RestorerSpec

    common = {"name": f"hand_{getattr(factory, '__name__', 'x').strip('_').lower()}", "version": "1",
              "summary": "broken on purpose", "factory": factory}
    if kind == "degradation":
        return DegradationSpec(**common, severities={"1": {}}, linear=True)  # type: ignore[arg-type]
    if kind == "restorer":
        return RestorerSpec(**common, handles=("lowres",))  # type: ignore[arg-type]
    return MetricSpec(**common)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kind", "factory", "contract", "evidence"), [
    ("degradation", _LiesAboutNoise, "operator consistency", "noise_sigma says 0.01961 (5.00/255)"),
    ("degradation", _GlobalRandom, "deterministic", "with the same rng seed"),
    ("degradation", _BadAdjoint, "operator adjoint", "<A x, r>"),
    ("degradation", _NoOperator, "linear degradations attach their operator", "no operator"),
    ("restorer", _KeepsLowRes, "output shape", "expected (32, 40)"),
    ("metric", _Float32Metric, "returns a Python float", "float32"),
    ("metric", _CountingMetric, "deterministic", "then"),
])
def test_the_kit_rejects_broken_plugins_of_other_kinds(kind: str, factory: object, contract: str,
                                                       evidence: str) -> None:
    spec = _hand_made(kind, factory)
    with pytest.raises(ContractError) as info:
        check_plugin(spec)  # type: ignore[arg-type]
    assert info.value.contract == contract, str(info.value)
    assert evidence in str(info.value), str(info.value)
