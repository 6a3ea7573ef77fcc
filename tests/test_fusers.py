"""Classical fusers (benchbed_fusers): contract, identities, determinism and detail transfer."""

from __future__ import annotations

import numpy as np
import pytest

from benchbed import BenchbedError, FusionInputs
from benchbed.registry import Registry

FUSERS = ["average", "maxabs", "laplacian", "wavelet", "gff"]


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry()


def _inputs(a: np.ndarray, b: np.ndarray) -> FusionInputs:
    return FusionInputs(images=(a, b), modalities=("ir", "vi"))


def _random_pair(shape: tuple[int, int], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    # Smooth-ish content plus texture, like real sources (pure noise would be a corner case).
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    a = 0.5 + 0.3 * np.sin(xx / 4.0) * np.cos(yy / 5.0) + 0.05 * rng.standard_normal(shape)
    b = 0.4 + 0.3 * (xx > shape[1] / 2) + 0.05 * rng.standard_normal(shape)
    return np.clip(a, 0, 1).astype(np.float32), np.clip(b, 0, 1).astype(np.float32)


def _complementary_pair(shape: tuple[int, int] = (64, 96)) -> tuple[np.ndarray, np.ndarray]:
    """A has stripes on the left half only, B on the right half only; both 0.2 elsewhere."""
    h, w = shape
    stripes = 0.2 + 0.6 * ((np.arange(w) // 2) % 2)[None, :].repeat(h, axis=0)
    left = np.arange(w)[None, :].repeat(h, axis=0) < w // 2
    a = np.where(left, stripes, 0.2).astype(np.float32)
    b = np.where(~left, stripes, 0.2).astype(np.float32)
    return a, b


def _spatial_frequency(x: np.ndarray) -> float:
    x = x.astype(np.float64)
    return float(np.sqrt((np.diff(x, axis=1) ** 2).mean() + (np.diff(x, axis=0) ** 2).mean()))


def test_all_registered_with_y_cbcr(registry: Registry) -> None:
    for name in FUSERS:
        spec = registry.get("fuser", name)
        assert spec.colour == "y-cbcr"
        assert spec.citation
        assert not spec.degradation_aware


@pytest.mark.parametrize("name", FUSERS)
@pytest.mark.parametrize("shape", [(37, 53), (64, 64), (9, 14), (2, 3)])
def test_shape_dtype_range(registry: Registry, name: str, shape: tuple[int, int]) -> None:
    a, b = _random_pair(shape)
    out = registry.get("fuser", name).build().fuse(_inputs(a, b))
    assert out.shape == shape
    assert out.dtype == np.float32
    assert np.all(np.isfinite(out))
    assert out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize("name", ["average", "maxabs"])
def test_identical_sources_exact(registry: Registry, name: str) -> None:
    a, _ = _random_pair((37, 53))
    out = registry.get("fuser", name).build().fuse(_inputs(a, a.copy()))
    np.testing.assert_array_equal(out, a)


@pytest.mark.parametrize("name", ["laplacian", "wavelet", "gff"])
@pytest.mark.parametrize("shape", [(37, 53), (64, 64)])
def test_identical_sources_approx(registry: Registry, name: str, shape: tuple[int, int]) -> None:
    a, _ = _random_pair(shape)
    out = registry.get("fuser", name).build().fuse(_inputs(a, a.copy()))
    np.testing.assert_allclose(out, a, atol=1e-5)


@pytest.mark.parametrize("name", FUSERS)
def test_deterministic(registry: Registry, name: str) -> None:
    a, b = _random_pair((37, 53), seed=3)
    spec = registry.get("fuser", name)
    first = spec.build().fuse(_inputs(a, b))
    np.testing.assert_array_equal(first, spec.build().fuse(_inputs(a, b)))
    np.testing.assert_array_equal(first, spec.build().fuse(_inputs(a.copy(), b.copy())))


@pytest.mark.parametrize("name", ["maxabs", "laplacian", "wavelet", "gff"])
def test_more_detail_than_average(registry: Registry, name: str) -> None:
    a, b = _complementary_pair()
    avg = registry.get("fuser", "average").build().fuse(_inputs(a, b))
    out = registry.get("fuser", name).build().fuse(_inputs(a, b))
    # The average halves each source's stripe contrast; a detail-selecting rule keeps it.
    assert _spatial_frequency(out) > 1.5 * _spatial_frequency(avg)


def test_maxabs_is_max_for_intensities(registry: Registry) -> None:
    a, b = _random_pair((20, 30), seed=5)
    out = registry.get("fuser", "maxabs").build().fuse(_inputs(a, b))
    np.testing.assert_array_equal(out, np.maximum(a, b))


def test_gff_weights_sum_to_one(registry: Registry) -> None:
    a, b = _random_pair((37, 53), seed=7)
    fuser = registry.get("fuser", "gff").build()
    for w in fuser.weights(a, b):
        assert w.shape == (2, 37, 53)
        np.testing.assert_allclose(w.sum(axis=0), 1.0, atol=1e-12)
        assert w.min() >= 0.0 and w.max() <= 1.0


def test_gff_box_mean_matches_brute_force() -> None:
    from benchbed_fusers.gff import box_mean

    x = np.random.default_rng(1).random((7, 10))
    r = 2
    expected = np.empty_like(x)
    for i in range(7):
        for j in range(10):
            # Window clipped to the image, mean over the pixels that exist (He et al. boxfilter/N).
            expected[i, j] = x[max(i - r, 0) : i + r + 1, max(j - r, 0) : j + r + 1].mean()
    np.testing.assert_allclose(box_mean(x, r), expected, rtol=1e-12)
    # A radius larger than the image gives the global mean everywhere.
    np.testing.assert_allclose(box_mean(x, 45), np.full_like(x, x.mean()), rtol=1e-12)


def test_guided_filter_flat_guide_gives_box_mean_twice() -> None:
    from benchbed_fusers.gff import box_mean, guided_filter

    # With a constant guide var_I = 0 and cov = 0, so a = 0, b = mean(p) and q = mean(mean(p)).
    p = np.random.default_rng(2).random((12, 15))
    q = guided_filter(np.full_like(p, 0.5), p, 2, 1e-3)
    np.testing.assert_allclose(q, box_mean(box_mean(p, 2), 2), atol=1e-12)


def test_laplacian_pyramid_reconstructs_odd_sizes() -> None:
    from benchbed_fusers.pyramid import laplacian_pyramid, reconstruct

    x = np.random.default_rng(4).random((37, 53))
    for levels in (1, 4, 10):  # 10 is more than a 37x53 image allows: capped, still exact
        pyr = laplacian_pyramid(x, levels)
        np.testing.assert_allclose(reconstruct(pyr), x, atol=1e-12)


def test_params_and_overrides(registry: Registry) -> None:
    a, b = _random_pair((33, 47))
    for name, overrides in [("laplacian", {"levels": 2}), ("wavelet", {"wavelet": "haar"})]:
        out = registry.get("fuser", name).build(**overrides).fuse(_inputs(a, b))
        assert out.shape == (33, 47)
    with pytest.raises(BenchbedError):
        registry.get("fuser", "laplacian").build(level=2)


def test_rejects_colour_or_mismatched_inputs(registry: Registry) -> None:
    a, b = _random_pair((16, 16))
    fuser = registry.get("fuser", "average").build()
    with pytest.raises(BenchbedError):
        fuser.fuse(_inputs(np.stack([a] * 3, axis=-1), np.stack([b] * 3, axis=-1)))
    with pytest.raises(BenchbedError):
        fuser.fuse(_inputs(a, b[:8]))
