"""Invariants every registered metric must satisfy, torchmetrics-style: one tester, parametrised
over the registry (every metric x every profile), driven by a per-metric property table.

A metric registered without a PROPERTIES entry still runs the generic checks (finite, float,
deterministic, size errors, its declared range) and fails
``test_property_table_covers_the_registry`` until its properties are written down here.

Direction and bounds are not written here: they are the spec's own ``higher_is_better`` and
``range`` / ``profile_ranges`` (``MetricSpec.value_range(profile)``), declared once in the
plugin and read by every check below.

Properties (values from each metric's definition, see the plugin docstrings):
  symmetric  score(A, B, F) == score(B, A, F)
  perfect    F == A == B (textured X): the exact value where the definition fixes one
             (a callable of X for MI), and no degraded F may beat it; "max" = no fixed value,
             only that check. None = no such notion (no-reference statistics, SCD whose
             difference images vanish).
  constant   documented value when A, B and F are one constant image (no NaN/inf allowed)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from scipy import ndimage

from benchbed.registry import Registry

TG, TA = 0.9994, 0.9879  # Q_AB/F (VIFB) sigmoid amplitudes
_QABF_VIFB_PERFECT = TG * TA / (1 + math.exp(-4.4))  # G = gF >= 1 (Q_g ~ Tg), A = 1
_QG_LIU_PERFECT = (1 / (1 + math.exp(-5.0))) ** 2  # G = 1, A = 1: both sigmoids at +5
_NCIE_MIN = 1 - math.log(3, 256)  # three independent images: eigenvalues 1, 1, 1


@dataclass(frozen=True)
class Props:
    """What the definition of one metric promises (see the module docstring)."""

    symmetric: bool = True
    perfect: float | str | Callable[[np.ndarray, str], float] | None = None
    constant: float | None = None
    perfect_tol: float = 1e-9
    # Per-profile overrides of the above, e.g. {"mean": {"perfect": 1.0}}.
    profiles: dict[str, dict[str, Any]] | None = None

    def for_profile(self, profile: str) -> Props:
        over = (self.profiles or {}).get(profile, {})
        return Props(**{**self.__dict__, **over, "profiles": None})


def _entropy(x: np.ndarray, base: float) -> float:
    p = np.bincount(np.rint(x).astype(int).ravel(), minlength=256) / x.size
    p = p[p > 0]
    return float(-(p * np.log(p)).sum() / math.log(base))


def _mi_perfect(x: np.ndarray, profile: str) -> float:
    """I(X;X) + I(X;X) = 2 H(X), in nats (evaluator, vifb) or bits (liu2012)."""
    return 2 * _entropy(x, 2.0 if profile == "liu2012" else math.e)


PROPERTIES: dict[str, Props] = {
    "EN": Props(constant=0.0),
    "SD": Props(constant=0.0),
    "SF": Props(constant=0.0),
    "AG": Props(constant=0.0),
    "MI": Props(perfect=_mi_perfect, constant=0.0),
    "CC": Props(perfect=1.0, constant=0.0),
    "SCD": Props(constant=0.0),
    # VIF(X, X) = 1 per source; a constant source gives 0/0 -> 1 (the Evaluator's rule).
    "VIF": Props(perfect=2.0, constant=2.0, profiles={"mean": {"perfect": 1.0, "constant": 1.0}}),
    "SSIM": Props(perfect=2.0, constant=2.0, profiles={"mean": {"perfect": 1.0, "constant": 1.0}}),
    "PSNR": Props(perfect=100.0, constant=100.0),
    # Zero padding makes the border of a constant image an edge, oriented and equally strong in
    # A, B and F: the perfect-fusion value again.
    "QABF": Props(perfect=_QABF_VIFB_PERFECT, constant=_QABF_VIFB_PERFECT,
                  perfect_tol=1e-3,  # Q_g = Tg / (1 + exp(-15 (gF - 0.5))) is Tg only for large gF
                  profiles={"liu2012": {"perfect": _QG_LIU_PERFECT, "constant": _QG_LIU_PERFECT,
                                        "perfect_tol": 1e-9}}),
    "QMI": Props(perfect=2.0, constant=0.0),
    "QNCIE": Props(constant=_NCIE_MIN),
    # metricZhao.m masks the sources' feature maps but not F's, so F == A == B scores < 1.
    "QP": Props(perfect="max", constant=0.0),
    "QCB": Props(perfect=1.0, constant=1.0),
    "QW": Props(perfect=1.0, constant=1.0),
    "QY": Props(perfect=1.0, constant=1.0),
}

REGISTRY = Registry()
CASES = [
    (name, profile)
    for name in REGISTRY.names("metric")
    for profile in REGISTRY.get("metric", name).profiles
]
IDS = [f"{n}/{p}" for n, p in CASES]
SHAPE = (64, 80)  # VIF needs 41x41, the SSIM family 11x11


def _build(name: str, profile: str) -> Any:
    spec = REGISTRY.get("metric", name)
    return spec.factory(**spec.profile_params(profile))


def _props(name: str, profile: str) -> Props:
    return PROPERTIES.get(name, Props(symmetric=False)).for_profile(profile)


def _bounds(name: str, profile: str) -> tuple[float, float]:
    """The spec's declared range of the profile; (-inf, inf) when it declares none."""
    return REGISTRY.get("metric", name).value_range(profile) or (-math.inf, math.inf)


def _better(name: str, value: float, than: float, slack: float = 1e-9) -> bool:
    """``value`` strictly beats ``than`` in the spec's direction (beyond ``slack``)."""
    if REGISTRY.get("metric", name).higher_is_better:
        return value > than + slack
    return value < than - slack


def _score(metric: Any, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    value = metric.compute(a, b, f)
    assert isinstance(value, float), f"compute must return a Python float, got {type(value)}"
    return value


def _sources(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two 8-bit sources with different content: a smooth blob with texture, and bars."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]]
    blob = 180.0 * np.exp(-((yy - 30) ** 2 + (xx - 25) ** 2) / 200.0)
    a = np.rint(np.clip(30 + blob + 12 * rng.standard_normal(SHAPE), 0, 255))
    b = np.rint(np.clip(70 + 110 * ((xx // 7) % 2) + 8 * rng.standard_normal(SHAPE) + yy, 0, 255))
    return a, b


def _degraded(x: np.ndarray) -> dict[str, np.ndarray]:
    """Worse stand-ins for a perfect fusion of X (all 8-bit)."""
    rng = np.random.default_rng(7)
    q = lambda y: np.rint(np.clip(y, 0, 255))  # noqa: E731
    return {
        "blur": q(ndimage.gaussian_filter(x, 1.5)),
        "noise": q(x + 20 * rng.standard_normal(x.shape)),
        "half_contrast": q((x - x.mean()) / 2 + x.mean()),
        "shift": np.roll(x, 3, axis=1),
    }


def _in_bounds(value: float, bounds: tuple[float, float], slack: float = 1e-9) -> bool:
    lo, hi = bounds
    return lo - slack <= value <= hi + slack


def test_property_table_covers_the_registry() -> None:
    missing = sorted(set(REGISTRY.names("metric")) - set(PROPERTIES))
    assert not missing, f"add PROPERTIES entries for {missing} (symmetry, perfect, constant)"


def test_builtin_metrics_declare_their_range() -> None:
    """Each built-in metric states its bounds in its spec (every profile through value_range)."""
    for name in REGISTRY.names("metric"):
        spec = REGISTRY.get("metric", name)
        if "benchbed_metrics" not in spec.provider:
            continue
        for profile in spec.profiles:
            bounds = spec.value_range(profile)
            assert bounds is not None and bounds[0] < bounds[1], (name, profile, bounds)
        assert set(spec.profile_ranges) <= set(spec.profiles), name


@pytest.mark.parametrize(("name", "profile"), CASES, ids=IDS)
def test_finite_deterministic_and_bounded(name: str, profile: str) -> None:
    metric = _build(name, profile)
    a, b = _sources()
    for f in (np.rint((a + b) / 2), np.maximum(a, b), a, 255.0 - b):
        v1 = _score(metric, a, b, f)
        assert math.isfinite(v1), (name, profile, v1)
        assert _score(metric, a.copy(), b.copy(), f.copy()) == v1, "not deterministic"
        bounds = _bounds(name, profile)
        assert _in_bounds(v1, bounds), f"{name}/{profile} = {v1} outside its declared range {bounds}"


@pytest.mark.parametrize(("name", "profile"), CASES, ids=IDS)
def test_inputs_not_modified(name: str, profile: str) -> None:
    a, b = _sources()
    f = np.rint((a + b) / 2)
    copies = [x.copy() for x in (a, b, f)]
    _score(_build(name, profile), a, b, f)
    for x, c in zip((a, b, f), copies):
        np.testing.assert_array_equal(x, c)


@pytest.mark.parametrize(("name", "profile"), CASES, ids=IDS)
def test_symmetric_in_the_sources(name: str, profile: str) -> None:
    props = _props(name, profile)
    if not props.symmetric:
        pytest.skip("not symmetric by definition")
    metric = _build(name, profile)
    a, b = _sources()
    for f in (np.rint(0.7 * a + 0.3 * b), np.maximum(a, b)):
        assert _score(metric, b, a, f) == pytest.approx(_score(metric, a, b, f), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(("name", "profile"), CASES, ids=IDS)
def test_perfect_fusion_is_best(name: str, profile: str) -> None:
    props = _props(name, profile)
    if props.perfect is None:
        pytest.skip("no perfect-fusion value by definition")
    metric = _build(name, profile)
    x, _ = _sources()
    best = _score(metric, x, x, x)
    if props.perfect != "max":
        expected = props.perfect(x, profile) if callable(props.perfect) else props.perfect
        assert best == pytest.approx(expected, rel=props.perfect_tol, abs=props.perfect_tol)
    for label, f in _degraded(x).items():
        value = _score(metric, x, x, f)
        assert not _better(name, value, best), (
            f"{name}/{profile}: degraded F ({label}) {value} beats perfect {best}")


@pytest.mark.parametrize("level", [0.0, 1.0, 128.0, 255.0])
@pytest.mark.parametrize(("name", "profile"), CASES, ids=IDS)
def test_constant_images_give_the_documented_value(name: str, profile: str, level: float) -> None:
    props = _props(name, profile)
    metric = _build(name, profile)
    c = np.full(SHAPE, level)
    value = _score(metric, c, c.copy(), c.copy())
    assert math.isfinite(value), f"{name}/{profile} on a constant {level}: {value}"
    expected = props.constant
    if name == "QABF" and profile != "liu2012" and level == 0.0:
        expected = 0.0  # all-zero sources have no edge at all: 0, not the reference's 0/0
    if name == "PSNR" and profile == "evaluator" and level == 0.0:
        expected = 100.0  # MSE = 0 is checked before the zero peak
    if expected is not None:
        assert value == pytest.approx(expected, rel=1e-9, abs=1e-12), (name, profile, level, value)


@pytest.mark.parametrize(("name", "profile"), CASES, ids=IDS)
def test_one_constant_input_is_finite(name: str, profile: str) -> None:
    metric, bounds = _build(name, profile), _bounds(name, profile)
    a, b = _sources()
    c = np.full(SHAPE, 90.0)
    for args in ((c, b, np.rint((a + b) / 2)), (a, b, c), (a, c, a)):
        value = _score(metric, *args)
        assert math.isfinite(value) and _in_bounds(value, bounds), (name, profile, value)


@pytest.mark.parametrize(("name", "profile"), CASES, ids=IDS)
def test_size_mismatch_raises(name: str, profile: str) -> None:
    spec = REGISTRY.get("metric", name)
    if not spec.needs_sources:
        pytest.skip("no-reference metric: sources are not read")
    a, b = _sources()
    with pytest.raises(ValueError):
        _build(name, profile).compute(a, b, a[:, :-1])


@pytest.mark.parametrize(("name", "profile"), CASES, ids=IDS)
def test_odd_sizes(name: str, profile: str) -> None:
    metric, bounds = _build(name, profile), _bounds(name, profile)
    a, b = _sources()
    a, b = a[:47, :61], b[:47, :61]  # odd in both directions
    value = _score(metric, a, b, np.rint((a + b) / 2))
    assert math.isfinite(value) and _in_bounds(value, bounds)


TINY_SHAPES = [(2, 2), (3, 5), (11, 12), (41, 43)]  # the SSIM family needs 7x7 or 11x11, VIF 41x41


def _random_tiny(shape: tuple[int, int], seed: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Random 8-bit triples: uniform levels, and 0/255 images whose edges push metrics to their
    bounds (e.g. SD 127.5, SF 255 sqrt 2, AG/vifb 1020 on 2x2), mixed and with F == A == B."""
    rng = np.random.default_rng(seed)
    u = rng.integers(0, 256, (3, *shape)).astype(np.float64)
    e = 255.0 * rng.integers(0, 2, (3, *shape)).astype(np.float64)
    return [(u[0], u[1], u[2]), (e[0], e[1], e[2]), (u[0], u[1], e[2]), (e[0], e[0], e[1]),
            (u[0], u[0], u[0])]


@pytest.mark.parametrize(("name", "profile"), CASES, ids=IDS)
def test_random_tiny_inputs_stay_in_the_declared_range(name: str, profile: str) -> None:
    metric, bounds = _build(name, profile), _bounds(name, profile)
    scored = 0
    for shape in TINY_SHAPES:
        for seed in range(3):
            for a, b, f in _random_tiny(shape, seed):
                try:
                    value = _score(metric, a, b, f)
                except ValueError as exc:  # below the metric's documented minimum size
                    assert "at least" in str(exc), (name, profile, shape, exc)
                    continue
                scored += 1
                assert math.isfinite(value) and _in_bounds(value, bounds), (
                    f"{name}/{profile} = {value} on a random {shape} triple (seed {seed}), "
                    f"outside its declared range {bounds}")
    assert scored >= 10, f"{name}/{profile}: no tiny shape it accepts"
