"""ReCoFuse's photometric degradations: formulas, seeding, severity ordering."""

from __future__ import annotations

import numpy as np
import pytest

from benchbed.registry import Registry

NAMES = ("low_light", "haze", "low_contrast", "ir_stripes")


def _scene(shape=(64, 80)) -> np.ndarray:
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:shape[0], 0:shape[1]]
    img = 0.2 + 0.6 * (x / shape[1]) + 0.1 * np.sin(y / 5.0) + 0.02 * rng.standard_normal(shape)
    return np.clip(img, 0, 1).astype(np.float32)


def _apply(name: str, level: str, image: np.ndarray, seed: int = 0):
    spec = Registry().get("degradation", name)
    return spec.build().apply(image, "ir", dict(spec.severities[level]), np.random.default_rng(seed))


@pytest.mark.parametrize("name", NAMES)
def test_shape_range_seed(name: str) -> None:
    img = _scene()
    for rgb in (False, True):
        x = np.repeat(img[..., None], 3, axis=2) if rgb else img
        a, b = _apply(name, "3", x, 5), _apply(name, "3", x, 5)
        assert a.y.shape == x.shape and a.y.dtype == np.float32
        assert 0.0 <= a.y.min() and a.y.max() <= 1.0
        assert np.array_equal(a.y, b.y)
    assert len(Registry().get("degradation", name).severities) >= 4


def test_low_light_formula() -> None:
    x = np.full((8, 8), 0.5, np.float32)
    obs = _apply("low_light", "2", x)  # gamma 1.5, scale 0.7, no noise
    np.testing.assert_allclose(obs.y, 0.7 * 0.5 ** 1.5, atol=1e-6)
    assert obs.operator is None


def test_low_contrast_formula() -> None:
    x = _scene()
    obs = _apply("low_contrast", "4", x)  # y = 0.29 x + 126/255
    np.testing.assert_allclose(obs.y, np.clip(0.29 * x + 126 / 255, 0, 1), atol=1e-6)


def test_haze_brightens_and_flattens_far_rows_more() -> None:
    x = np.full((60, 40), 0.2, np.float32)
    obs = _apply("haze", "3", x)
    # the depth map puts far (thick haze) at the top: y moves towards the airlight there
    assert obs.y[:10].mean() > obs.y[-10:].mean() > 0.2
    levels = [_apply("haze", str(k), _scene()).y.std() for k in (1, 2, 3, 4)]
    assert levels == sorted(levels, reverse=True)  # denser haze, less contrast


def test_stripes_are_column_constant() -> None:
    x = np.full((50, 70), 0.5, np.float32)
    obs = _apply("ir_stripes", "1", x)  # stripes only, no white noise
    cols = obs.y - x
    assert np.allclose(cols, cols[0:1, :], atol=1e-7)  # every row carries the same offsets
    assert abs(cols[0].std() - 1.7 / 255) < 0.5 / 255
