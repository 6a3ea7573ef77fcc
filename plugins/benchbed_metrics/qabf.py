"""Gradient-based fusion quality Q_AB/F (Xydeas & Petrovic, Electron. Lett. 36(4):308-309, 2000).

Reproduces the standard implementation (VIFB ``metrics/metricsQabf.m``, same code as the
CDDFuse ``Evaluator.Qabf``), vectorised:

* Sobel gradients with zero padding (MATLAB ``conv2(x, h, 'same')``), so the image border
  counts as an edge; sx from [-1 0 1; -2 0 2; -1 0 1], sy from [1 2 1; 0 0 0; -1 -2 -1].
  ``conv2`` flips both kernels, which negates sx and sy together and changes neither
  g = sqrt(sx^2 + sy^2) nor alpha = atan(sy / sx), so correlation is used here.
* alpha = atan(sy / sx), and alpha = pi/2 wherever sx == 0 (also where sy == 0 too).
* G^AF = gF/gA if gA > gF, gA/gF if gA < gF, and **gF** (not 1) if gA == gF: a quirk of the
  reference kept for agreement. Its effect is tiny: where gA == gF > 0 on 8-bit data gF >= 1,
  so Q_g is within 6e-4 of Tg either way, and where gA == gF == 0 the weight gA is 0.
* A^AF = 1 - |alpha_A - alpha_F| / (pi/2).
* Q^AF = Tg / (1 + exp(kg (G^AF - Dg))) * Ta / (1 + exp(ka (A^AF - Da))),
  Tg=0.9994, kg=-15, Dg=0.5, Ta=0.9879, ka=-22, Da=0.8.
* Q_AB/F = sum(Q^AF gA + Q^BF gB) / sum(gA + gB)  (weights w = g^L with L = 1).

The reference returns NaN (0/0) only when gA and gB vanish everywhere, which with zero padding
means A and B are both all-zero; this returns 0.0 then (no edge information to transfer).
Liu's toolbox ``metricXydeas.m`` is a different variant (other constants, per-pixel mean).
"""

from __future__ import annotations

import numpy as np

from ._common import check_same_shape

TG, KG, DG = 0.9994, -15.0, 0.5
TA, KA, DA = 0.9879, -22.0, 0.8
_HALF_PI = np.pi / 2.0


def sobel(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sobel responses (sx, sy) of HxW (or stacked ...xHxW) images with zero padding."""
    x = np.asarray(x, dtype=np.float64)
    pad = [(0, 0)] * (x.ndim - 2) + [(1, 1), (1, 1)]
    p = np.pad(x, pad)  # zeros outside: conv2 'same'
    # Sobel is separable: smooth [1 2 1] across the derivative axis, then central difference.
    v = p[..., :-2, :] + 2.0 * p[..., 1:-1, :] + p[..., 2:, :]
    sx = v[..., 2:] - v[..., :-2]  # right column minus left column
    h = p[..., :-2] + 2.0 * p[..., 1:-1] + p[..., 2:]
    sy = h[..., :-2, :] - h[..., 2:, :]  # top row minus bottom row
    return sx, sy


def gradient(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edge strength g and orientation alpha = atan(sy/sx), alpha = pi/2 where sx == 0."""
    sx, sy = sobel(x)
    g = np.sqrt(sx * sx + sy * sy)
    zero = sx == 0
    sx[zero] = 1.0  # placeholder divisor; those angles are overwritten just below
    alpha = np.arctan(sy / sx)
    alpha[zero] = _HALF_PI
    return g, alpha


def edge_preservation(
    g_src: np.ndarray, a_src: np.ndarray, g_fused: np.ndarray, a_fused: np.ndarray
) -> np.ndarray:
    """Per-pixel Q^XF = Q_g^XF * Q_alpha^XF of one source X against the fused image."""
    # min/max ratio is gF/gA where gA > gF and gA/gF where gA < gF.
    equal = g_src == g_fused
    larger = np.maximum(g_src, g_fused)
    larger[equal] = 1.0  # equal pixels (including 0 == 0) are set below
    ratio = np.minimum(g_src, g_fused) / larger
    ratio[equal] = g_fused[equal]  # reference quirk, see module docstring
    orient = 1.0 - np.abs(a_src - a_fused) / _HALF_PI
    qg = TG / (1.0 + np.exp(KG * (ratio - DG)))
    qa = TA / (1.0 + np.exp(KA * (orient - DA)))
    return qg * qa


class QABF:
    """Q_AB/F = sum(Q^AF w^A + Q^BF w^B) / sum(w^A + w^B), w = Sobel edge strength."""

    def compute(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        """Edge information of A and B preserved in F, in [0, 1]; higher is better."""
        check_same_shape(a, b, f)
        g, alpha = gradient(np.stack([a, b, f]))  # one pass over the three images
        den = float(g[0].sum() + g[1].sum())
        if den == 0.0:
            return 0.0  # A and B all zero: the reference's 0/0 (NaN), see module docstring
        num = float((edge_preservation(g[0], alpha[0], g[2], alpha[2]) * g[0]).sum())
        num += float((edge_preservation(g[1], alpha[1], g[2], alpha[2]) * g[1]).sum())
        return num / den
