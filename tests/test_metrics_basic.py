"""EN, SD, SF, MI, QABF (benchbed_metrics): hand-derived golden values and invariants.

(Reference-run goldens for the whole panel: test_metrics_calibration.py; registry-wide
invariants: test_metrics_invariants.py.)

Every expected number below is derived in the comments from the metric's definition
(paper + reference implementation conventions), not taken from running this code.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_data

from benchbed.registry import Registry

NAMES = ["EN", "SD", "SF", "MI", "QABF"]
TG, TA = 0.9994, 0.9879  # Q_AB/F sigmoid amplitudes of the standard implementation


@pytest.fixture(scope="module")
def metrics() -> dict:
    registry = Registry()
    return {name: registry.get("metric", name) for name in NAMES}


def _score(metrics: dict, name: str, a, b, f, **overrides) -> float:
    return (
        metrics[name]
        .build(**overrides)
        .compute(np.asarray(a, np.float64), np.asarray(b, np.float64), np.asarray(f, np.float64))
    )


def _pair(shape: tuple[int, int] = (48, 64), seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two 8-bit sources with complementary structure: A a bright blob, B vertical bars."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    blob = 200.0 * np.exp(-((yy - shape[0] / 2) ** 2 + (xx - shape[1] / 3) ** 2) / 80.0)
    a = np.rint(np.clip(20 + blob + 3 * rng.standard_normal(shape), 0, 255))
    b = np.rint(np.clip(60 + 120 * ((xx // 6) % 2) + 3 * rng.standard_normal(shape), 0, 255))
    return a, b


def _in_range(metrics: dict, name: str, value: float, slack: float = 1e-9) -> bool:
    """``value`` lies in the spec's declared range (default profile)."""
    lo, hi = metrics[name].range
    return lo - slack <= value <= hi + slack


def test_specs(metrics: dict) -> None:
    for name in NAMES:
        spec = metrics[name]
        assert spec.name == name and spec.higher_is_better and spec.citation
        assert spec.range is not None and spec.range[0] < spec.range[1]
    # Q_AB/F is a weighted mean of products of sigmoids below 1: [0, 1] by definition.
    assert metrics["QABF"].range == (0.0, 1.0)


# --- EN ----------------------------------------------------------------------------------


def test_en_uniform_histogram_is_8_bits(metrics: dict) -> None:
    f = np.arange(256, dtype=np.float64).reshape(16, 16)  # each level once: p = 1/256
    assert _score(metrics, "EN", f, f, f) == pytest.approx(8.0, abs=1e-12)


def test_en_constant_is_zero_and_two_levels_one_bit(metrics: dict) -> None:
    const = np.full((10, 12), 77.0)
    en = _score(metrics, "EN", const, const, const)
    assert en == 0.0 and math.copysign(1.0, en) == 1.0  # +0.0, not -0.0
    half = np.zeros((10, 12))
    half[:, 6:] = 255.0  # p = (1/2, 1/2) -> 1 bit
    assert _score(metrics, "EN", const, const, half) == pytest.approx(1.0, abs=1e-12)


# --- SD ----------------------------------------------------------------------------------


def test_sd_two_valued_population(metrics: dict) -> None:
    # Half 0, half 255: mean 127.5, every |F - mean| = 127.5 -> population SD = 127.5.
    # (The sample SD would be 127.5 * sqrt(120/119) = 128.04.)
    f = np.zeros((10, 12))
    f[:5] = 255.0
    assert _score(metrics, "SD", f, f, f) == pytest.approx(127.5, abs=1e-12)
    const = np.full((5, 5), 9.0)
    assert _score(metrics, "SD", const, const, const) == 0.0


# --- SF ----------------------------------------------------------------------------------


def test_sf_hand_computed(metrics: dict) -> None:
    f = np.array([[0.0, 1.0, 3.0], [2.0, 2.0, 2.0]])
    # Row differences: (1, 2) and (0, 0) -> sum of squares 1 + 4 = 5 over M(N-1) = 4 pairs.
    # Column differences: (2, 1, -1) -> 4 + 1 + 1 = 6 over (M-1)N = 3 pairs. MN = 6.
    # "image" (Eskicioglu & Fisher / VIFB): RF^2 = 5/6, CF^2 = 6/6 -> SF = sqrt(11/6).
    image = _score(metrics, "SF", f, f, f, normalisation="image")
    assert image == pytest.approx(math.sqrt(11 / 6), abs=1e-12)
    # "pairs" (CDDFuse Evaluator, the default profile): RF^2 = 5/4, CF^2 = 6/3 = 2 -> sqrt(13/4).
    assert _score(metrics, "SF", f, f, f) == pytest.approx(math.sqrt(13 / 4), abs=1e-12)
    const = np.full((4, 4), 200.0)
    assert _score(metrics, "SF", const, const, const) == 0.0


# --- MI ----------------------------------------------------------------------------------


def test_mi_hand_computed_independent_halves(metrics: dict) -> None:
    a = np.zeros((4, 4))
    a[:, 2:] = 255.0  # left/right halves
    b = np.zeros((4, 4))
    b[2:, :] = 255.0  # top/bottom halves: the joint histogram of (A, B) is 4 x 1/4
    # F = A: I(A;A) = H(A) = 1 bit; A and B are independent so I(B;A) = 0 -> MI = 1 bit.
    assert _score(metrics, "MI", a, b, a, base=2.0) == pytest.approx(1.0, abs=1e-12)
    # In nats (the default: CDDFuse Evaluator / VIFB scale) the same quantity is ln 2.
    assert _score(metrics, "MI", a, b, a) == pytest.approx(math.log(2), abs=1e-12)
    # F = B = A: each term is H(A) = 1 bit.
    assert _score(metrics, "MI", a, a, a, base=2.0) == pytest.approx(2.0, abs=1e-12)
    # Constant F carries no information about either source.
    assert _score(metrics, "MI", a, b, np.full((4, 4), 5.0)) == 0.0


def test_mi_f_equal_a_at_least_entropy_and_symmetric(metrics: dict) -> None:
    a, b = _pair()
    mi = _score(metrics, "MI", a, b, a, base=2.0)
    en_a = _score(metrics, "EN", a, a, a)  # H(A) in bits
    assert mi >= en_a - 1e-12  # I(A;A) = H(A) and I(B;A) >= 0
    f = np.rint((a + b) / 2)
    assert _score(metrics, "MI", a, b, f) == pytest.approx(_score(metrics, "MI", b, a, f))


# --- QABF --------------------------------------------------------------------------------


def test_qabf_gradient_conventions() -> None:
    from benchbed_metrics.qabf import gradient

    corner = np.zeros((3, 3))
    corner[2, 2] = 9.0
    g, alpha = gradient(corner)
    # Centre pixel sees the whole image: sx = right column - left column = 9,
    # sy = top row - bottom row = -9 (conv2 flips both signs: same ratio) -> atan(-1) = -pi/4.
    assert g[1, 1] == pytest.approx(9.0 * math.sqrt(2.0))
    assert alpha[1, 1] == pytest.approx(-math.pi / 4)
    bottom = np.zeros((3, 3))
    bottom[2, 1] = 9.0
    g, alpha = gradient(bottom)
    # Centre: sx = 0 (the bright pixel is in the middle column), sy = -2 * 9 = -18.
    # The reference sets alpha = pi/2 whenever sx == 0 (not atan(-inf) = -pi/2).
    assert g[1, 1] == pytest.approx(18.0)
    assert alpha[1, 1] == math.pi / 2


def test_qabf_per_pixel_formula() -> None:
    from benchbed_metrics.qabf import edge_preservation

    one = np.ones((1, 1))
    # gA = 2, gF = 1 -> G = gF/gA = 0.5 -> Q_g = Tg / (1 + exp(-15 * 0)) = Tg / 2.
    # alpha_A = 0, alpha_F = pi/4 -> A = 1 - (pi/4)/(pi/2) = 0.5
    # -> Q_a = Ta / (1 + exp(-22 * (0.5 - 0.8))) = Ta / (1 + exp(6.6)).
    q = edge_preservation(2 * one, 0 * one, one, math.pi / 4 * one)
    assert q[0, 0] == pytest.approx(TG / 2 * TA / (1 + math.exp(6.6)), rel=1e-12)


def test_qabf_hand_computed_constant_3x3(metrics: dict) -> None:
    # A = B = F = 10 on 3x3. Zero padding makes the border an edge: a corner sees in-image
    # Sobel weights summing to 3 on each axis (g = 30 sqrt 2), an edge middle 4 on one axis
    # (g = 40), the centre 0 (weight 0). Where gA == gF > 0 the reference sets G = gF
    # (>= 30), so Q_g = Tg / (1 + exp(-15 (gF - 0.5))) = Tg to double precision; orientations
    # agree (A = 1) so Q_a = Ta / (1 + exp(-22 * 0.2)) = Ta / (1 + exp(-4.4)). Every weighted
    # pixel has the same Q, so Q_AB/F = Tg Ta / (1 + exp(-4.4)) = 0.97533...
    # (With G = 1 instead of the reference's G = gF this would be 0.97480.)
    c = np.full((3, 3), 10.0)
    expected = TG * TA / (1 + math.exp(-4.4))
    assert _score(metrics, "QABF", c, c, c) == pytest.approx(expected, rel=1e-12)
    # Replicate padding would see no edge at all (0/0); zero padding is what makes this finite.


def test_qabf_hand_computed_half_contrast(metrics: dict) -> None:
    # B = 0 has no gradient, so only A counts: Q = sum(Q^AF gA) / sum(gA).
    # F = A / 2: Sobel is linear, so gF = gA / 2 exactly (G = 0.5, Q_g = Tg / 2) and
    # sy/sx is unchanged (A = 1, Q_a = Ta / (1 + exp(-4.4))) at every pixel with gA > 0.
    a = 2.0 * np.random.default_rng(9).integers(0, 128, (11, 13))  # even values: F is 8-bit
    zero = np.zeros_like(a)
    expected = TG / 2 * TA / (1 + math.exp(-4.4))  # 0.48767...
    assert _score(metrics, "QABF", a, zero, a / 2) == pytest.approx(expected, rel=1e-12)
    assert _score(metrics, "QABF", zero, a, a / 2) == pytest.approx(expected, rel=1e-12)


def test_qabf_all_zero_sources_is_zero(metrics: dict) -> None:
    zero = np.zeros((8, 8))
    # The reference divides 0 by 0 (NaN); the plugin documents 0 (no edges to transfer).
    assert _score(metrics, "QABF", zero, zero, np.full((8, 8), 100.0)) == 0.0


def test_qabf_ordering_range_symmetry(metrics: dict) -> None:
    a, b = _pair()
    xx = np.mgrid[0:48, 0:64][1]
    weak = np.rint(10 + 5 * np.sin(xx / 10.0))  # a source with little edge information
    avg_weak = np.rint((a + weak) / 2)
    # When A holds the edges, F = A keeps them (G ~ 1) while the average halves A's contrast
    # where B is flat (G ~ 0.5, Q_g ~ Tg / 2): F = A must score higher.
    assert _score(metrics, "QABF", a, weak, a) > _score(metrics, "QABF", a, weak, avg_weak)
    # When both sources carry edges, dropping B's bars (F = A) must cost more than averaging.
    avg = np.rint((a + b) / 2)
    q_a = _score(metrics, "QABF", a, b, a)
    q_avg = _score(metrics, "QABF", a, b, avg)
    q_max = _score(metrics, "QABF", a, b, np.maximum(a, b))
    for q in (q_a, q_avg, q_max):
        assert _in_range(metrics, "QABF", q)
    assert q_avg > q_a
    assert _score(metrics, "QABF", b, a, avg) == pytest.approx(q_avg, rel=1e-12)
    assert _score(metrics, "QABF", b, a, a) == pytest.approx(q_a, rel=1e-12)


def test_inputs_must_match(metrics: dict) -> None:
    a, b = _pair()
    with pytest.raises(ValueError):
        _score(metrics, "QABF", a, b, a[:10])


def test_qp_source_cache_is_bit_identical_and_hit_per_pair() -> None:
    """Q_P keeps A's and B's phase-congruency features per pair: the items of a pair (same A, B,
    other F) give exactly the values computed without the cache, and only the first one misses."""
    from benchbed_metrics import phase

    a, b = _pair((64, 80))
    fused = [np.rint(w * a + (1 - w) * b) for w in (0.3, 0.5, 0.8)]
    cache = phase.SOURCE_CACHE
    saved = cache.maxsize
    try:
        for precision in ("single", "double"):
            qp = Registry().get("metric", "QP").build(precision=precision)
            cache.resize(0)
            cache.clear()
            uncached = [qp.compute(a, b, f) for f in fused]
            assert (cache.hits, cache.misses) == (0, 0)
            cache.resize(4)
            cached = [qp.compute(a, b, f) for f in fused]
            assert cached == uncached  # bit-identical, not merely close
            assert (cache.hits, cache.misses) == (2, 1)
            # another pair is a miss; the first pair is still kept (LRU of 4), then evicted
            other = _pair((64, 80), seed=1)
            assert qp.compute(*other, fused[0]) == qp.compute(*other, fused[0])
            assert qp.compute(a, b, fused[1]) == uncached[1]
            assert (cache.hits, cache.misses) == (4, 2)
            cache.resize(1)
            assert qp.compute(a, b, fused[2]) == uncached[2]
            assert (cache.hits, cache.misses) == (5, 2)
            assert qp.compute(*other, fused[1]) == qp.compute(*other, fused[1])
            assert cache.misses == 3  # `other` was evicted by the resize to one pair
            # a changed source is another key, even with the same shape
            moved = a.copy()
            moved[0, 0] += 1
            qp.compute(moved, b, fused[0])
            assert cache.misses == 4
            cache.clear()
    finally:
        cache.resize(saved)
        cache.clear()


# --- shared metric triples ---------------------------------------------------------------


def _triples_root() -> Path | None:
    root = shared_data("metric_triples")
    return root / "metric_triples" if root else None


@pytest.mark.shared
def test_metric_triples_finite(metrics: dict) -> None:
    from benchbed.imaging import read_image, to_gray_255

    root = _triples_root()
    if root is None:
        pytest.skip("metric_triples not found (set BENCHBED_DATA)")
    folders = sorted(p for p in root.iterdir() if (p / "F.png").is_file())
    assert folders
    built = {name: metrics[name].build() for name in NAMES}
    for folder in folders:
        a, b, f = (to_gray_255(read_image(folder / f"{x}.png")) for x in "ABF")
        scores = {name: m.compute(a, b, f) for name, m in built.items()}
        assert all(math.isfinite(v) for v in scores.values()), (folder.name, scores)
        assert all(_in_range(metrics, n, v) for n, v in scores.items()), (folder.name, scores)
