"""Built-in restorers: output contract, PSNR gains, cascade dispatch, exactness on clean input."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from benchbed_degradations import benchbed_register_degradations
from benchbed_restorers import benchbed_register_restorers
from helpers import psnr, textured

from benchbed import BenchbedError, Observation
from benchbed.imaging import quantise

DEGS = {s.name: s for s in benchbed_register_degradations()}
RESTORERS = {s.name: s for s in benchbed_register_restorers()}






def observe(name: str, level: str | dict, x: np.ndarray, modality: str = "vi",
            seed: int = 0) -> Observation:
    """Degrade like the core does: apply, then quantise y to 8 bits."""
    spec = DEGS[name]
    severity = spec.severities[level] if isinstance(level, str) else level
    obs = spec.build().apply(x, modality, severity, np.random.default_rng(seed))
    return replace(obs, y=quantise(obs.y))


def restore(name: str, obs: Observation, modality: str = "vi", **params: object) -> np.ndarray:
    return RESTORERS[name].build(**params).restore(obs, modality)


CONDITIONS = [
    ("clean", "0", "vi"),
    ("gaussian_noise", "3", "vi"),
    ("gaussian_blur", "3", "vi"),
    ("lowres", "2", "vi"),
    ("composite", "2", "ir"),
    ("composite", "3", "vi"),
]


# BM3D costs ~1 s per call even on tiny images, so it runs only where its code path differs:
# gray and colour noise on the clean grid, and denoising on the low-resolution grid.
CONTRACT_CASES = [
    (name, cond, rgb)
    for name in sorted(RESTORERS)
    for cond in CONDITIONS
    for rgb in (False, True)
    if name != "bm3d" or cond[0] == "gaussian_noise" or (cond[2] == "ir" and not rgb)
]


@pytest.mark.parametrize(
    ("name", "condition", "rgb"),
    CONTRACT_CASES,
    ids=[f"{n}-{c[0]}-{c[2]}-{'rgb' if r else 'gray'}" for n, c, r in CONTRACT_CASES],
)
def test_output_contract(name: str, condition: tuple[str, str, str], rgb: bool) -> None:
    x = textured(34, 45, rgb=rgb)
    deg, level, mod = condition
    obs = observe(deg, level, x, modality=mod)
    out = restore(name, obs, mod)
    assert out.shape == x.shape == obs.clean_shape
    assert out.dtype == np.float32 and np.all(np.isfinite(out))
    assert out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.slow
@pytest.mark.parametrize("rgb", [False, True])
@pytest.mark.parametrize("name", ["bm3d", "nlm"])
def test_denoisers_raise_psnr(name: str, rgb: bool) -> None:
    x = textured(48, 48, rgb=rgb)
    obs = observe("gaussian_noise", "4", x)
    assert psnr(restore(name, obs), x) > psnr(obs.y, x) + 2.0


@pytest.mark.parametrize("rgb", [False, True])
def test_wiener_raises_psnr_on_blur(rgb: bool) -> None:
    x = textured(rgb=rgb)
    obs = observe("gaussian_blur", "3", x)
    assert psnr(restore("wiener", obs), x) > psnr(obs.y, x) + 1.0


@pytest.mark.parametrize("modality", ["ir", "vi"])
@pytest.mark.parametrize("level", ["2", "3"])
def test_auto_beats_identity_on_composite(modality: str, level: str) -> None:
    x = textured(96, 128, rgb=modality == "vi")
    obs = observe("composite", level, x, modality=modality)
    base = psnr(restore("identity", obs), x)
    assert psnr(restore("auto", obs), x) > base + 0.5


def test_auto_with_bm3d_beats_identity_on_composite() -> None:
    x = textured(48, 64)
    obs = observe("composite", "2", x, modality="vi")
    assert psnr(restore("auto", obs, denoiser="bm3d"), x) > psnr(restore("identity", obs), x)


@pytest.mark.parametrize("rgb", [False, True])
def test_identity_and_auto_are_exact_on_clean(rgb: bool) -> None:
    x = quantise(textured(30, 40, rgb=rgb))
    obs = observe("clean", "0", x)
    for name in ("identity", "auto", "wiener", "bicubic", "nlm", "bm3d"):
        assert np.array_equal(restore(name, obs), x), name


def test_auto_dispatches_single_degradations() -> None:
    x = textured(48, 64)
    noisy = observe("gaussian_noise", "3", x)
    assert np.array_equal(restore("auto", noisy), restore("nlm", noisy))
    low = observe("lowres", "3", x)
    assert np.array_equal(restore("auto", low), restore("bicubic", low))
    assert np.array_equal(restore("identity", low), restore("bicubic", low))
    blurred = observe("gaussian_blur", "3", x)
    assert np.array_equal(restore("auto", blurred), restore("wiener", blurred))


def test_denoiser_sigma_override_and_zero() -> None:
    x = textured(32, 32)
    obs = observe("gaussian_noise", "3", x)
    for name in ("bm3d", "nlm"):
        assert np.array_equal(restore(name, obs, sigma=0.0), obs.y)
    assert not np.array_equal(restore("nlm", obs, sigma=0.1), restore("nlm", obs))


def test_wiener_fixed_gamma_and_bad_params() -> None:
    x = textured(40, 40)
    obs = observe("gaussian_blur", "3", x)
    assert not np.array_equal(restore("wiener", obs, gamma=1e-1), restore("wiener", obs))
    with pytest.raises(BenchbedError, match="denoiser"):
        RESTORERS["auto"].build(denoiser="dncnn")
    with pytest.raises(BenchbedError):
        RESTORERS["nlm"].build(sigma=-1.0)


def test_non_linear_observation_without_operator() -> None:
    x = textured(24, 30)
    obs = Observation(y=x, operator=None, clean_shape=x.shape, noise_sigma=0.0, degradation="haze")
    # restorers for linear degradations pass a non-linear observation through untouched;
    # `auto` hands it to the matching blind restorer (tests/test_restorers_recofuse.py)
    for name in ("identity", "bicubic", "wiener", "bm3d", "nlm"):
        assert np.array_equal(restore(name, obs), x), name
    assert np.array_equal(restore("auto", obs), restore("dehaze", obs))


def test_specs_declare_handles_and_citation() -> None:
    assert set(RESTORERS) == {"identity", "bicubic", "wiener", "bm3d", "nlm", "auto", "dehaze",
                              "low_light_enhance", "contrast_stretch", "destripe"}
    for spec in RESTORERS.values():
        assert spec.handles and spec.citation and spec.summary and spec.version
