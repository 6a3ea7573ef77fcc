"""Blind classical restorers for ReCoFuse's degradations: contract, PSNR gains, blindness, auto."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from benchbed_degradations import benchbed_register_degradations
from benchbed_restorers import benchbed_register_restorers
from benchbed_restorers.denoise import nlm_denoise
from benchbed_restorers.destripe import destripe_columns
from benchbed_restorers.photometric import lime_enhance
from helpers import psnr, textured
from scipy import ndimage

from benchbed import BenchbedError, Observation
from benchbed.imaging import quantise

# The specs straight from the plugins' hooks (what the registry serves), so these tests do not
# depend on every other installed plugin importing.
DEGS = {s.name: s for s in benchbed_register_degradations()}
RESTORERS = {s.name: s for s in benchbed_register_restorers()}

# degradation -> (its blind restorer, the modality the degradation hits)
MATCH = {
    "low_light": ("low_light_enhance", "vi"),
    "haze": ("dehaze", "vi"),
    "low_contrast": ("contrast_stretch", "ir"),
    "ir_stripes": ("destripe", "ir"),
}






def observe(name: str, level: str, x: np.ndarray, modality: str, seed: int = 0) -> Observation:
    """Degrade like the core does: the plugin's severity level, then 8-bit quantisation."""
    spec = DEGS[name]
    obs = spec.build().apply(x, modality, dict(spec.severities[level]),
                             np.random.default_rng(seed))
    return replace(obs, y=quantise(obs.y))


def restore(name: str, obs: Observation, modality: str, **params: object) -> np.ndarray:
    return RESTORERS[name].build(**params).restore(obs, modality)


CASES = [(deg, rgb) for deg in MATCH for rgb in (False, True)]
IDS = [f"{d}-{'rgb' if r else 'gray'}" for d, r in CASES]


@pytest.mark.parametrize(("degradation", "rgb"), CASES, ids=IDS)
def test_contract_and_psnr_gain_at_level_3(degradation: str, rgb: bool) -> None:
    name, modality = MATCH[degradation]
    x = textured(rgb=rgb)
    obs = observe(degradation, "3", x, modality)
    out = restore(name, obs, modality)
    assert out.shape == x.shape == obs.clean_shape
    assert out.dtype == np.float32 and np.all(np.isfinite(out))
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert psnr(out, x) > psnr(obs.y, x) + 1.5


@pytest.mark.parametrize("rgb", [False, True])
def test_low_resolution_and_extreme_inputs_keep_the_contract(rgb: bool) -> None:
    x = textured(40, 48, rgb=rgb)
    low = observe("lowres", "1", x, "vi")
    flat = [np.zeros_like(x), np.ones_like(x), np.full_like(x, 0.4)]
    for name, _ in MATCH.values():
        out = restore(name, low, "vi")
        assert out.shape == x.shape and out.dtype == np.float32
        for img in flat:
            obs = Observation(y=img, operator=None, clean_shape=img.shape)
            res = restore(name, obs, "vi")
            assert res.shape == img.shape and np.all(np.isfinite(res)), name


@pytest.mark.parametrize("degradation", list(MATCH))
def test_restorers_are_blind(degradation: str) -> None:
    """The output depends on y and its noise level only, never on the true severity."""
    name, modality = MATCH[degradation]
    obs = observe(degradation, "3", textured(48, 56), modality)
    lied = replace(obs, params={k: 0.5 for k in obs.params})
    assert np.array_equal(restore(name, obs, modality), restore(name, lied, modality))


@pytest.mark.parametrize("degradation", list(MATCH))
def test_auto_dispatches_to_the_matching_chain(degradation: str) -> None:
    name, modality = MATCH[degradation]
    obs = observe(degradation, "3", textured(48, 56, rgb=modality == "vi"), modality)
    assert np.array_equal(restore("auto", obs, modality), restore(name, obs, modality))


def test_chain_order_denoise_first_except_destripe() -> None:
    x = textured(48, 56)
    dark = observe("low_light", "3", x, "vi")  # noise 5/255: denoise, then enhance
    expected = lime_enhance(np.asarray(nlm_denoise(dark.y, dark.noise_sigma), np.float64))
    assert np.allclose(restore("low_light_enhance", dark, "vi"), np.clip(expected, 0, 1),
                       atol=1e-6)
    striped = observe("ir_stripes", "3", x, "ir")  # noise 10/255: destripe, then denoise
    clean_cols = np.clip(destripe_columns(np.asarray(striped.y, np.float64)), 0, 1)
    expected = nlm_denoise(clean_cols.astype(np.float32), striped.noise_sigma)
    assert np.allclose(restore("destripe", striped, "ir"), expected, atol=1e-6)
    plain = restore("destripe", striped, "ir", denoiser="none")
    assert np.allclose(plain, clean_cols, atol=1e-6)


def test_destripe_is_robust_to_a_full_height_vertical_edge() -> None:
    rng = np.random.default_rng(1)
    x = np.where(np.arange(160)[None, :] < 70, 0.25, 0.7) * np.ones((128, 1))
    x = np.clip(x + 0.05 * ndimage.gaussian_filter(rng.standard_normal(x.shape), 2), 0, 1)
    x = x.astype(np.float32)
    # On clean input the edge must not be mistaken for a stripe (no ringing around it).
    assert psnr(restore("destripe", Observation(y=x, operator=None, clean_shape=x.shape), "ir"),
                x) > 45.0
    obs = observe("ir_stripes", "1", x, "ir")  # stripes only, no white noise
    assert psnr(restore("destripe", obs, "ir"), x) > psnr(obs.y, x) + 3.0


def test_bad_params_and_specs() -> None:
    with pytest.raises(BenchbedError, match="denoiser"):
        RESTORERS["dehaze"].build(denoiser="dncnn")
    with pytest.raises(BenchbedError, match="gamma"):
        RESTORERS["low_light_enhance"].build(gamma=1.5)
    with pytest.raises(BenchbedError, match="percentiles"):
        RESTORERS["contrast_stretch"].build(low=99.0, high=1.0)
    for degradation, (name, _) in MATCH.items():
        spec = RESTORERS[name]
        assert spec.handles == (degradation,) and spec.citation and spec.version
