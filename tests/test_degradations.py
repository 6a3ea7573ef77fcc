"""Built-in degradations: noise levels, operator exactness, determinism, composite shapes, specs."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest
from benchbed_degradations import benchbed_register_degradations
from helpers import psnr, textured

from benchbed import BenchbedError, Observation
from benchbed.imaging import quantise
from benchbed.operators import find_part

SPECS = {s.name: s for s in benchbed_register_degradations()}






def degrade(name: str, level: str | dict, x: np.ndarray, modality: str = "vi",
            seed: int = 0) -> Observation:
    spec = SPECS[name]
    severity = spec.severities[level] if isinstance(level, str) else level
    return spec.build().apply(x, modality, severity, np.random.default_rng(seed))


@pytest.mark.parametrize("level", ["1", "2", "3", "4"])
@pytest.mark.parametrize("rgb", [False, True])
def test_noise_std_matches_declared_sigma(level: str, rgb: bool) -> None:
    sigma = SPECS["gaussian_noise"].severities[level]["sigma"]
    assert 4.5 * sigma <= 0.5  # mid-gray: no pixel clipped, so the std is the declared one
    x = np.full((128, 128, 3) if rgb else (256, 256), 0.5, np.float32)
    obs = degrade("gaussian_noise", level, x, seed=3)
    assert obs.noise_sigma == pytest.approx(sigma)
    resid = obs.y.astype(np.float64) - x
    stds = resid.reshape(-1, 3).std(axis=0) if rgb else [resid.std()]
    for s in stds:  # per channel: noise is independent per colour channel
        assert abs(s / sigma - 1) < 0.05
    if rgb:
        corr = np.corrcoef(resid.reshape(-1, 3).T)
        assert np.all(np.abs(corr[np.triu_indices(3, 1)]) < 0.05)


def test_blur_noise_param_and_composite_effective_noise() -> None:
    x = np.full((512, 512), 0.5, np.float32)
    obs = degrade("gaussian_blur", {"noise_sigma": 10 / 255}, x, seed=1)
    assert obs.noise_sigma == pytest.approx(10 / 255)
    assert abs(np.std(obs.y - obs.operator.A(x)) / (10 / 255) - 1) < 0.05
    ir = degrade("composite", "2", x, modality="ir", seed=1)
    assert ir.noise_sigma == pytest.approx(8 / 255 / 4)  # noise before x4 pooling: sigma / s
    assert abs(np.std(ir.y - ir.operator.A(x)) / ir.noise_sigma - 1) < 0.05
    vi = degrade("composite", "2", x, modality="vi", seed=1)
    assert vi.noise_sigma == pytest.approx(8.07 / 255, abs=1e-4)
    assert abs(np.std(vi.y - vi.operator.A(x)) / vi.noise_sigma - 1) < 0.05


@pytest.mark.parametrize("shape", [(37, 50), (37, 50, 3), (16, 16)])
@pytest.mark.parametrize("level", ["1", "2", "3", "4"])
def test_lowres_pinv_is_exact_right_inverse(shape: tuple[int, ...], level: str) -> None:
    x = np.random.default_rng(0).random(shape).astype(np.float32)
    obs = degrade("lowres", level, x)
    s = SPECS["lowres"].severities[level]["factor"]
    assert obs.y.shape == (-(-shape[0] // s), -(-shape[1] // s), *shape[2:])
    assert obs.y.shape == obs.operator.out_shape
    assert obs.noise_sigma == 0.0
    for y in (obs.y, quantise(obs.y)):  # also for what the core actually hands on (8 bit)
        assert np.array_equal(obs.operator.A(obs.operator.A_pinv(y)), y)


@pytest.mark.parametrize("rgb", [False, True])
def test_wiener_pinv_of_blurred_image_gains_psnr(rgb: bool) -> None:
    x = textured(rgb=rgb)
    obs = degrade("gaussian_blur", "3", x)
    y = quantise(obs.y)
    restored = np.clip(obs.operator.A_pinv(y), 0, 1)
    assert restored.shape == x.shape
    assert psnr(restored, x) > psnr(y, x) + 1.0


_CHILD = """
import hashlib, numpy as np
from benchbed_degradations import benchbed_register_degradations
specs = {s.name: s for s in benchbed_register_degradations()}
x = np.random.default_rng(7).random((33, 47, 3)).astype(np.float32)
for name, level, mod in (("gaussian_noise", "3", "vi"), ("composite", "2", "ir")):
    spec = specs[name]
    y = spec.build().apply(x, mod, spec.severities[level], np.random.default_rng(123)).y
    print(hashlib.sha256(y.tobytes()).hexdigest())
"""


def test_same_seed_gives_identical_bytes_across_processes() -> None:
    x = np.random.default_rng(7).random((33, 47, 3)).astype(np.float32)
    here = [
        hashlib.sha256(degrade(n, lv, x, modality=m, seed=123).y.tobytes()).hexdigest()
        for n, lv, m in (("gaussian_noise", "3", "vi"), ("composite", "2", "ir"))
    ]
    out = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.split() == here


def test_different_seeds_differ() -> None:
    x = textured(32, 32)
    for name, level in (("gaussian_noise", "1"), ("composite", "1")):
        a = degrade(name, level, x, seed=1).y
        b = degrade(name, level, x, seed=2).y
        assert not np.array_equal(a, b)
        assert np.array_equal(a, degrade(name, level, x, seed=1).y)


def test_composite_shapes_and_operators() -> None:
    vi, ir = textured(50, 70, rgb=True), textured(50, 70)
    o_ir = degrade("composite", "2", ir, modality="ir")
    assert o_ir.y.shape == (13, 18) and o_ir.clean_shape == (50, 70)
    assert [p.kind for p in o_ir.operator.parts] == ["blur", "downsample"]
    assert find_part(o_ir.operator, "downsample").factor == 4
    o_vi = degrade("composite", "2", vi, modality="VI")
    assert o_vi.y.shape == vi.shape and o_vi.operator.kind == "blur"
    o_pet = degrade("composite", "3", vi, modality="pet")  # PET-MRI protocol: x2
    assert o_pet.y.shape == (25, 35, 3)
    assert o_pet.noise_sigma == pytest.approx(8 / 255 / 2)
    assert degrade("composite", "3", ir, modality="mri").y.shape == ir.shape
    custom = degrade("composite", {"lowres_modalities": ["vi"]}, vi, modality="vi")
    assert custom.y.shape == (13, 18, 3)


@pytest.mark.parametrize("modality", ["ir", "vi"])
def test_composite_operator_reproduces_noise_free_observation(modality: str) -> None:
    x = textured(45, 61, rgb=modality == "vi")
    obs = degrade("composite", {"noise_sigma": 0.0, "noise_sigma_full": 0.0}, x,
                  modality=modality)
    assert obs.noise_sigma == 0.0
    np.testing.assert_allclose(obs.y, obs.operator.A(x), atol=1e-7)
    assert obs.y.shape == obs.operator.out_shape


def test_every_spec_and_level_is_usable() -> None:
    assert set(SPECS) >= {"clean", "gaussian_noise", "gaussian_blur", "lowres", "composite"}
    x = textured(24, 28, rgb=True)
    for spec in SPECS.values():
        if spec.given:  # reads the dataset's images (tests/test_given.py), synthesises nothing
            continue
        assert spec.severities and spec.citation and spec.summary and spec.version
        deg = spec.build()
        for level, sev in spec.severities.items():
            assert set(sev) <= set(spec.params), (spec.name, level)
            for mod in ("ir", "vi"):
                obs = deg.apply(x, mod, sev, np.random.default_rng(0))
                assert isinstance(obs, Observation) and obs.degradation == spec.name
                assert obs.y.dtype == np.float32 and obs.clean_shape == x.shape
                assert 0.0 <= obs.y.min() and obs.y.max() <= 1.0
                if spec.linear:  # non-linear degradations (haze, low light, ...) have none
                    assert obs.operator is not None and obs.operator.out_shape == obs.y.shape
                else:
                    assert obs.operator is None
                assert set(obs.params) == set(spec.params)


def test_missing_keys_default_and_unknown_keys_fail() -> None:
    x = textured(20, 20)
    spec = SPECS["gaussian_blur"]
    assert np.array_equal(degrade("gaussian_blur", {}, x).y, degrade("gaussian_blur", "3", x).y)
    assert degrade("gaussian_blur", {"sigma": 1.0}, x).params["gamma"] == spec.params["gamma"]
    with pytest.raises(BenchbedError, match="sigm"):
        degrade("gaussian_noise", {"sigm": 0.1}, x)
    with pytest.raises(BenchbedError, match="factor"):
        degrade("lowres", {"factor": 2.5}, x)
    with pytest.raises(BenchbedError):
        degrade("gaussian_noise", {"sigma": 0.1}, np.zeros((4, 4, 2), np.float32))


def test_clean_is_identity_and_registry_finds_specs() -> None:
    from benchbed.registry import Registry

    x = textured(20, 24, rgb=True)
    obs = degrade("clean", "0", x)
    assert np.array_equal(obs.y, x) and obs.noise_sigma == 0 and obs.operator.kind == "identity"
    spec = Registry().get("degradation", "gaussian_noise")
    assert "benchbed_degradations" in spec.provider
