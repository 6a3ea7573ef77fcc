"""Built-in synthetic IR/visible street scenes: 8 pairs made from code, identical on every machine.

Only exactly-rounded arithmetic (+ - * /, min/max, comparisons) on numbers from PCG64's
``random()`` is used — no exp/sin, no library filters — and the result is quantised to 8 bits,
so the bytes do not depend on the CPU, SIMD path or numpy/scipy version.
"""

from __future__ import annotations

import numpy as np

from benchbed import DataError, Pair
from benchbed.imaging import quantise

SEED = 20250
# (H, W) per pair: mostly ~128x128, some landscape/portrait and one not a multiple of 8.
SIZES: tuple[tuple[int, int], ...] = (
    (128, 128), (96, 128), (128, 128), (128, 96), (112, 128), (96, 128), (100, 132), (128, 128),
)
GRAY_VISIBLE = (0, 3, 6)  # TNO-like gray visible; the others are RGB like RoadScene/MSRS
NIGHT = (3, 7)  # dark, noisy visible: the case where the IR targets carry the scene
IDS: tuple[str, ...] = tuple(f"demo-{i:02d}" for i in range(len(SIZES)))


def _smooth(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """Low-frequency noise in [0, 1]: a coarse random grid, bilinearly interpolated."""
    g = rng.random((h // cell + 2, w // cell + 2))
    y, x = np.arange(h) / cell, np.arange(w) / cell
    y0, x0 = y.astype(int), x.astype(int)
    fy, fx = (y - y0)[:, None], (x - x0)[None, :]
    top = g[y0][:, x0] * (1 - fx) + g[y0][:, x0 + 1] * fx
    bot = g[y0 + 1][:, x0] * (1 - fx) + g[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bot * fy


def _bump(yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    """Smooth elliptical bump, 1 at the centre and 0 outside: (1 - d^2)^2 (no exp)."""
    dy, dx = (yy - cy) / ry, (xx - cx) / rx
    t = np.maximum(1.0 - (dy * dy + dx * dx), 0.0)
    return t * t


def _paint(img: np.ndarray, mask: np.ndarray, value: np.ndarray | float) -> None:
    """Blend ``value`` into ``img`` with weight ``mask`` (0..1), in place."""
    m = mask[..., None] if img.ndim == 3 else mask
    img *= 1 - m
    img += m * value


def make_pair(index: int) -> tuple[np.ndarray, np.ndarray]:
    """IR (HxW) and visible (HxWx3 or HxW) float32 images of demo pair ``index``."""
    rng = np.random.default_rng(SEED + index)
    h, w = SIZES[index]
    yy = np.arange(h, dtype=np.float64)[:, None] + np.zeros((1, w))
    xx = np.arange(w, dtype=np.float64)[None, :] + np.zeros((h, 1))
    hz = float(int(h * (0.38 + 0.12 * rng.random())))  # horizon row
    sky, ground = yy < hz, yy >= hz

    # Visible: sky gradient, textured ground. IR: cold sky, cool low-contrast ground.
    t = np.minimum(yy / hz, 1.0)[..., None]
    vis = np.array([0.30, 0.50, 0.85]) + np.array([0.50, 0.35, 0.07]) * t
    grass = np.array([0.30, 0.38, 0.22]) + 0.18 * (_smooth(rng, h, w, 6) - 0.5)[..., None]
    vis = np.where(ground[..., None], grass + 0.08 * (rng.random((h, w, 1)) - 0.5), vis)
    ir = np.where(sky, 0.10 + 0.06 * t[..., 0], 0.30 + 0.06 * _smooth(rng, h, w, 16))

    # Buildings on the horizon: strong edges in both, windows textured in visible, warm in IR.
    x = 0.0
    while x < w:
        bw, bh = 12 + 20 * rng.random(), hz * (0.35 + 0.6 * rng.random())
        box = (xx >= x) & (xx < x + bw) & (yy >= hz - bh) & (yy < hz)
        colour = 0.25 + 0.5 * rng.random(3)
        lit = rng.random() < 0.5
        win = box & ((xx - x) % 6 >= 2) & ((xx - x) % 6 < 4) & ((yy - hz + bh) % 7 >= 3)
        _paint(vis, box.astype(float), colour)
        _paint(vis, win.astype(float), np.array([0.95, 0.85, 0.5]) if lit else colour * 0.4)
        _paint(ir, box.astype(float), 0.36 + 0.12 * rng.random())
        _paint(ir, win.astype(float), 0.55 if lit else 0.45)
        x += bw + 10 * rng.random()

    # Road: trapezoid to the horizon with dashed centre line (paint is invisible in IR).
    cx = w * (0.35 + 0.3 * rng.random())
    s = np.clip((yy - hz) / (h - hz), 0.0, 1.0)
    road = ground & (np.abs(xx - cx) < 2 + 0.4 * w * s)
    _paint(vis, road.astype(float), np.array([0.33, 0.33, 0.35]) + 0.1 * rng.random((h, w, 1)))
    _paint(vis, (road & (np.abs(xx - cx) < 0.5 + 1.5 * s) & (yy % 10 < 5)).astype(float), 0.92)
    _paint(ir, road.astype(float), 0.42 + 0.04 * rng.random((h, w)))

    # A bush (air temperature in IR) with a person behind it: hidden in visible, plain in IR.
    by = hz + (h - hz) * (0.3 + 0.3 * rng.random())
    bx = w * (0.08 + 0.1 * rng.random()) if cx > w / 2 else w * (0.82 + 0.1 * rng.random())
    bush = np.minimum(_bump(yy, xx, by, bx, 9, 11) * 3, 1.0)
    _paint(ir, bush, 0.33)
    people = [(by + 2, bx)]  # (foot row, column)
    for _ in range(1 + int(3 * rng.random())):
        fy = hz + (h - hz) * (0.25 + 0.7 * rng.random())
        people.append((fy, w * (0.05 + 0.9 * rng.random())))

    # Warm targets: people (body + head) bright in IR, dim and low-contrast in visible.
    for fy, px in people:
        size = 10 + 20 * (fy - hz) / (h - hz)  # perspective: nearer = taller
        body = _bump(yy, xx, fy - 0.38 * size, px, 0.4 * size, 0.2 * size)
        head = _bump(yy, xx, fy - 0.84 * size, px, 0.14 * size, 0.12 * size)
        prof = np.maximum(body, head)
        ir = np.maximum(ir, 0.6 * np.minimum(4 * prof, 1.0) + 0.35 * prof)
        alpha = 0.3 + 0.3 * rng.random()  # weak in visible: dark clothes, low contrast
        _paint(vis, alpha * np.minimum(4 * prof, 1.0), 0.15 + 0.2 * rng.random(3))
    _paint(vis, bush, np.array([0.12, 0.28, 0.1]) + 0.1 * rng.random((h, w, 1)))

    # A car on the road: coloured in visible, hot engine and wheels in IR.
    cy_, cw = hz + (h - hz) * (0.5 + 0.3 * rng.random()), 0.12 * w + 4
    car = (np.abs(yy - cy_) < 0.3 * cw) & (np.abs(xx - cx) < cw / 2)
    _paint(vis, car.astype(float), rng.random(3) * 0.8 + 0.1)
    _paint(ir, car.astype(float), 0.5)
    ir = np.maximum(ir, 0.9 * _bump(yy, xx, cy_, cx - 0.3 * cw, 0.25 * cw, 0.2 * cw))
    for wx in (cx - 0.35 * cw, cx + 0.35 * cw):
        ir = np.maximum(ir, 0.75 * _bump(yy, xx, cy_ + 0.3 * cw, wx, 0.12 * cw, 0.12 * cw))

    # Sensor character: smooth IR with mild noise; textured visible, dark and noisy at night.
    ir = ir + 0.02 * (rng.random((h, w)) - 0.5)
    if index in NIGHT:
        vis = vis * 0.3 + 0.06 * (rng.random((h, w, 3)) - 0.5)
    else:
        vis = vis + 0.03 * (rng.random((h, w, 3)) - 0.5)
    vis = np.clip(vis, 0.0, 1.0)
    if index in GRAY_VISIBLE:
        vis = 0.299 * vis[..., 0] + 0.587 * vis[..., 1] + 0.114 * vis[..., 2]
    return quantise(np.clip(ir, 0.0, 1.0)), quantise(vis)


class DemoDataset:
    """The built-in ``demo`` dataset: 8 synthetic IR/visible pairs, no files, split ``test``."""

    splits = ("test",)
    modalities = ("ir", "vi")  # same attribute as the folder datasets expose

    def pair_ids(self, split: str | None = None) -> list[str]:
        """All 8 ids for ``test`` or None."""
        if split not in (None, "test"):
            raise DataError(
                f"dataset 'demo' has no split {split!r}", fix="use split 'test' (all 8 pairs)"
            )
        return list(IDS)

    def load(self, pair_id: str) -> Pair:
        """Generate one pair (a few ms)."""
        if pair_id not in IDS:
            raise DataError(f"dataset 'demo' has no pair {pair_id!r}", fix=f"use one of {IDS}")
        index = IDS.index(pair_id)
        ir, vis = make_pair(index)
        meta = {"dataset": "demo", "synthetic": True, "seed": SEED + index,
                "size": (ir.shape[1], ir.shape[0])}
        return Pair(id=pair_id, modalities=("ir", "vi"), sources=(ir, vis), meta=meta)
