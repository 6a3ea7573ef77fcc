"""Pretrained restorers (benchbed_zoo): published Set12 figures, contract, deblurring, cascade.

Needs the shared weights (BENCHBED_WEIGHTS or ../shared/weights) and, for the figures, the
shared datasets; skips cleanly when they are absent.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import shared_data, use_shared_weights

from benchbed import BenchbedError, Observation
from benchbed.imaging import quantise, read_image
from benchbed.operators import AvgPoolDown, Compose, GaussianBlur, Identity
from benchbed.registry import Registry

RESTORERS = ["dncnn", "dncnn_blind", "ffdnet", "vdsr", "wiener_dncnn", "zoo_auto"]
SIGMA25 = 25.0 / 255.0


weights_env = use_shared_weights("restoration")


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry()


def _set12(count: int) -> list[np.ndarray]:
    root = shared_data()
    folder = root / "restoration_testsets" / "Set12" if root else None
    if folder is None or not folder.is_dir():
        pytest.skip("Set12 not available under the shared datasets")
    return [read_image(p) for p in sorted(folder.glob("*.png"))[:count]]


def _psnr(x: np.ndarray, ref: np.ndarray) -> float:
    """PSNR on the [0, 255] scale of the clipped estimate."""
    mse = np.mean((np.clip(x, 0, 1).astype(np.float64) * 255 - ref.astype(np.float64) * 255) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def _noisy(x: np.ndarray, sigma: float, seed: int) -> Observation:
    # The papers' protocol: additive N(0, sigma) on the 8-bit image, neither clipped nor rounded.
    y = (x + sigma * np.random.default_rng(seed).standard_normal(x.shape)).astype(np.float32)
    return Observation(y=y, operator=Identity(x.shape), clean_shape=x.shape, noise_sigma=sigma,
                       degradation="gaussian_noise")


def _set12_psnr(registry: Registry, name: str, count: int) -> float:
    restorer = registry.get("restorer", name).build()
    images = _set12(count)
    return float(np.mean([_psnr(restorer.restore(_noisy(x, SIGMA25, i), "gray"), x)
                          for i, x in enumerate(images)]))


# Gray Set12, sigma 25, noise from default_rng(image index), PSNR on [0, 255]. The test uses the
# first 3 images (256x256; the full set takes ~40 s on 2 busy CPU cores); the values are what
# this code measures. The full set of 12 (run by hand, and by test_set12_full_published when
# BENCHBED_ZOO_FULL=1) reproduces the published averages: DnCNN-S 30.48 vs 30.44 and DnCNN-B
# 30.38 vs 30.36 (Zhang et al., IEEE TIP 2017, Set12 table, Table III), FFDNet 30.45 vs 30.43
# (Zhang et al., IEEE TIP 2018, Set12 table, Table III).
@pytest.mark.slow
@pytest.mark.parametrize(("name", "measured"), [
    ("dncnn", 31.42), ("dncnn_blind", 31.30), ("ffdnet", 31.37),
])
def test_set12_sigma25_first3(registry: Registry, name: str, measured: float) -> None:
    assert _set12_psnr(registry, name, 3) == pytest.approx(measured, abs=0.1)


@pytest.mark.skipif(not os.environ.get("BENCHBED_ZOO_FULL"), reason="set BENCHBED_ZOO_FULL=1")
@pytest.mark.parametrize(("name", "published"), [
    ("dncnn", 30.44), ("dncnn_blind", 30.36), ("ffdnet", 30.43),
])
def test_set12_full_published(registry: Registry, name: str, published: float) -> None:
    assert _set12_psnr(registry, name, 12) == pytest.approx(published, abs=0.1)


def _rgb_scene(shape: tuple[int, int]) -> np.ndarray:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    base = 0.5 + 0.3 * np.sin(xx / 3.0) * np.cos(yy / 4.0)
    return np.clip(np.stack([base, base[::-1], 0.6 - 0.2 * base], -1), 0, 1).astype(np.float32)


def _observations(x: np.ndarray) -> list[Observation]:
    """Noise, blur + noise and composite (blur, x2 pooling, noise) on one clean image."""
    rng = np.random.default_rng(0)
    blur = GaussianBlur(x.shape, 1.5)
    pool = AvgPoolDown(x.shape, 2)
    comp = Compose([blur, pool])
    lr = comp.A(x)
    return [
        _noisy(x, 10 / 255, 1),
        Observation(y=quantise(np.clip(blur.A(x) + 0.02 * rng.standard_normal(x.shape), 0, 1)),
                    operator=blur, clean_shape=x.shape, noise_sigma=0.02,
                    degradation="gaussian_blur"),
        Observation(y=quantise(np.clip(lr + 0.01 * rng.standard_normal(lr.shape), 0, 1)),
                    operator=comp, clean_shape=x.shape, noise_sigma=0.01, degradation="composite"),
    ]


@pytest.mark.parametrize("name", RESTORERS)
@pytest.mark.parametrize("shape", [(37, 53), (37, 53, 3), (9, 14)])
def test_contract_odd_sizes_colour(registry: Registry, name: str, shape: tuple[int, ...]) -> None:
    x = _rgb_scene(shape[:2])
    x = x if len(shape) == 3 else x[..., 0]
    # The contract does not depend on the HQS iteration count; 2 keeps CPU time small.
    fast = {"iters": 2} if name in ("wiener_dncnn", "zoo_auto") else {}
    restorer = registry.get("restorer", name).build(**fast)
    for obs in _observations(x):
        out = restorer.restore(obs, "vi")
        assert out.shape == x.shape, (name, obs.degradation)
        assert out.dtype == np.float32
        assert np.all(np.isfinite(out)) and out.min() >= 0 and out.max() <= 1


def test_registered(registry: Registry) -> None:
    for name in RESTORERS:
        spec = registry.get("restorer", name)
        assert spec.citation and spec.weights and spec.params["device"] == "cpu"
        assert all(len(w.sha256) == 64 for w in spec.weights)


def test_deterministic(registry: Registry) -> None:
    x = _rgb_scene((40, 48))
    obs = _observations(x)[2]
    r = registry.get("restorer", "zoo_auto").build()
    assert np.array_equal(r.restore(obs, "ir"), r.restore(obs, "ir"))


def test_ffdnet_sigma_override(registry: Registry) -> None:
    x = _rgb_scene((32, 32))[..., 0]
    obs = _noisy(x, 0.1, 3)
    same = registry.get("restorer", "ffdnet").build(sigma=0.0).restore(obs, "ir")
    assert np.array_equal(same, np.clip(obs.y, 0, 1))  # sigma 0: nothing to remove
    weak = registry.get("restorer", "ffdnet").build(sigma=0.02).restore(obs, "ir")
    strong = registry.get("restorer", "ffdnet").build().restore(obs, "ir")
    assert _psnr(strong, x) > _psnr(weak, x)  # the observation's true level is the right map
    with pytest.raises(BenchbedError):
        registry.get("restorer", "ffdnet").build(sigma=-1.0)


def _crop(x: np.ndarray, size: int = 128) -> np.ndarray:
    h, w = x.shape[:2]
    return np.ascontiguousarray(x[(h - size) // 2 : (h + size) // 2, (w - size) // 2 : (w + size) // 2])


def test_vdsr_beats_bicubic(registry: Registry) -> None:
    # x2 average pooling of a Set12 crop; VDSR was trained on bicubic degradation, still helps.
    x = _crop(_set12(2)[1])
    op = AvgPoolDown(x.shape, 2)
    obs = Observation(y=quantise(op.A(x)), operator=op, clean_shape=x.shape, degradation="lowres")
    vdsr = _psnr(registry.get("restorer", "vdsr").build().restore(obs, "vi"), x)
    bicubic = _psnr(registry.get("restorer", "bicubic").build().restore(obs, "vi"), x)
    assert vdsr > bicubic + 0.3


def test_wiener_dncnn_beats_wiener(registry: Registry) -> None:
    # Blur sigma 2 + noise 5/255, 8-bit: PnP-HQS with FFDNet vs the built-in Wiener. This crop
    # gains 0.94 dB; on 4 full Set12 images (01, 02, 05, 07) the gain was 1.6 dB (26.9 vs 25.3).
    x = _crop(_set12(1)[0])
    op = GaussianBlur(x.shape, 2.0)
    y = np.clip(op.A(x) + 5 / 255 * np.random.default_rng(0).standard_normal(x.shape), 0, 1)
    obs = Observation(y=quantise(y), operator=op, clean_shape=x.shape, noise_sigma=5 / 255,
                      degradation="gaussian_blur")
    pnp = _psnr(registry.get("restorer", "wiener_dncnn").build().restore(obs, "vi"), x)
    wiener = _psnr(registry.get("restorer", "wiener").build().restore(obs, "vi"), x)
    assert pnp > wiener + 0.5


def test_zoo_auto_beats_auto_on_composite(registry: Registry) -> None:
    # DRFusion's PET-MRI composite (level 3: blur 2, x2 pooling, noise 8/255). On 2 Set12 images
    # + a TNO crop (256x256) zoo_auto beat `auto` at all four levels: 30.5/26.9/28.2/25.8 dB vs
    # 30.0/26.6/27.5/25.0. On this 128x128 crop the margin is 0.26 dB (20.87 vs 20.61); at x4
    # (32x32 observed) the crop is too small to tell.
    x = _crop(_set12(1)[0])
    deg = registry.get("degradation", "composite").build()
    obs = deg.apply(x, "ir", registry.get("degradation", "composite").severities["3"],
                    np.random.default_rng(0))
    obs = Observation(**{**obs.__dict__, "y": quantise(obs.y)})
    zoo = _psnr(registry.get("restorer", "zoo_auto").build().restore(obs, "ir"), x)
    auto = _psnr(registry.get("restorer", "auto").build().restore(obs, "ir"), x)
    assert zoo > auto


def test_unavailable_device_is_a_clear_error(registry: Registry) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(BenchbedError, match="CUDA is not available"):
        registry.get("restorer", "dncnn").build(device="cuda")
