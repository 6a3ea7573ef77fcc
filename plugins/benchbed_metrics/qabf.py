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

``variant="liu2012"`` is Liu's toolbox ``metricXydeas.m`` (Liu et al., TPAMI 34(1), 2012, Q_G),
a different published variant, vectorised:

* the same Sobel pair via ``filter2`` (correlation, zero padding); sy's sign is flipped relative
  to the above, which changes no |alpha_A - alpha_F|;
* sx == 0 is replaced by 1e-5 before alpha = atan(sy / sx); g == 0 is replaced by 1e-5 before
  the ratios and in the weights (so no 0/0 anywhere, and A and B all-zero is fine);
* G^AF = gF/gA where gA > gF else gA/gF (no "== gF" quirk); for the B term the 1e-5-patched gF
  is used, because the reference patches gF in place between the two terms;
* A^AF = | |alpha_A - alpha_F| - pi/2 | * 2/pi;
* Q^AF = 1 / (1 + exp(-10 (G^AF - 0.5))) * 1 / (1 + exp(-20 (A^AF - 0.75)));
* Q_G = mean over pixels of (Q^AF w^A + Q^BF w^B) / (w^A + w^B), w = g (L = 1): a per-pixel
  weighted mean, not the ratio of sums.
"""

from __future__ import annotations

import numpy as np

from ._common import check_same_shape, parallel_map, row_chunks, scratch

TG, KG, DG = 0.9994, -15.0, 0.5
TA, KA, DA = 0.9879, -22.0, 0.8
_HALF_PI = np.pi / 2.0
_TINY = 0.00001  # metricXydeas.m's guard against division by zero


_ROWS = 32  # output rows per cache-sized block


def _sobel_padded(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sobel responses (sx, sy) of the interior of ...x(R+2)x(W+2) arrays (zeros = outside)."""
    # Sobel is separable: smooth [1 2 1] across the derivative axis, then central difference.
    v = p[..., 1:-1, :] * 2.0
    v += p[..., :-2, :]
    v += p[..., 2:, :]
    sx = v[..., 2:] - v[..., :-2]  # right column minus left column
    h = p[..., 1:-1] * 2.0
    h += p[..., :-2]
    h += p[..., 2:]
    sy = h[..., :-2, :] - h[..., 2:, :]  # top row minus bottom row
    return sx, sy


def sobel(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sobel responses (sx, sy) of HxW (or stacked ...xHxW) images with zero padding."""
    x = np.asarray(x, dtype=np.float64)
    pad = [(0, 0)] * (x.ndim - 2) + [(1, 1), (1, 1)]
    return _sobel_padded(np.pad(x, pad))  # zeros outside: conv2 'same'


def _padded_rows(x: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Rows lo..hi-1 of a stack (n, H, W) with a one-pixel frame of neighbours or zeros (a
    per-thread work array: used up by the block before the thread's next one)."""
    rows, cols = x.shape[-2:]
    p = scratch("sobel", (x.shape[0], hi - lo + 2, cols + 2), np.float64)
    top, bottom = max(lo - 1, 0), min(hi + 1, rows)
    p[:, : top - lo + 1] = 0.0
    p[:, bottom - lo + 1 :] = 0.0
    p[:, :, 0] = 0.0
    p[:, :, -1] = 0.0
    p[:, top - lo + 1 : bottom - lo + 1, 1:-1] = x[:, top:bottom]
    return p


def _orientation(sx: np.ndarray, sy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edge strength g and orientation alpha = atan(sy/sx), alpha = pi/2 where sx == 0."""
    g = np.sqrt(sx * sx + sy * sy)
    zero = sx == 0
    sx += zero  # placeholder divisor 1; those angles are overwritten just below
    alpha = np.arctan(sy / sx)
    # alpha = pi/2 where sx == 0, as exact 0/1 factors (branch-free, unlike masked assignment).
    alpha *= ~zero
    alpha += zero * _HALF_PI
    return g, alpha


def gradient(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edge strength g and orientation alpha = atan(sy/sx), alpha = pi/2 where sx == 0."""
    return _orientation(*sobel(x))


def edge_preservation(
    g_src: np.ndarray, a_src: np.ndarray, g_fused: np.ndarray, a_fused: np.ndarray
) -> np.ndarray:
    """Per-pixel Q^XF = Q_g^XF * Q_alpha^XF of one source X against the fused image."""
    # min/max ratio is gF/gA where gA > gF and gA/gF where gA < gF.
    # Where gA == gF (including 0 == 0) the reference takes gF itself (quirk, see the module
    # docstring): dividing min = gF by 1 there gives exactly that. 0/1 factors, branch-free.
    equal = g_src == g_fused
    larger = np.maximum(g_src, g_fused)
    larger *= ~equal
    larger += equal
    ratio = np.minimum(g_src, g_fused)
    ratio /= larger
    orient = np.abs(a_src - a_fused)
    orient /= -_HALF_PI
    orient += 1.0
    # Tg / (1 + exp(kg (G - Dg))) * Ta / (1 + exp(ka (A - Da)))
    ratio -= DG
    ratio *= KG
    qg = np.exp(ratio, out=ratio)
    qg += 1.0
    np.divide(TG, qg, out=qg)
    orient -= DA
    orient *= KA
    qa = np.exp(orient, out=orient)
    qa += 1.0
    np.divide(TA, qa, out=qa)
    qg *= qa
    return qg


def _liu_term(
    g_src: np.ndarray, a_src: np.ndarray, g_fused: np.ndarray, g_fused_patched: np.ndarray,
    a_fused: np.ndarray,
) -> np.ndarray:
    """Per-pixel Q^XF of ``metricXydeas.m``: gF (unpatched) only in the gX > gF branch."""
    g_src_p = np.where(g_src == 0, _TINY, g_src)
    ratio = np.where(g_src > g_fused, g_fused / g_src_p, g_src_p / g_fused_patched)
    orient = np.abs(np.abs(a_src - a_fused) - _HALF_PI) * (2.0 / np.pi)
    return 1.0 / (1.0 + np.exp(-10.0 * (ratio - 0.5))) / (1.0 + np.exp(-20.0 * (orient - 0.75)))


def _liu_block(p: np.ndarray) -> float:
    """Sum over one block of the per-pixel Q_G of ``metricXydeas.m`` (p from _padded_rows)."""
    sx, sy = _sobel_padded(p)
    g = np.sqrt(sx * sx + sy * sy)
    alpha = np.arctan(-sy / np.where(sx == 0, _TINY, sx))
    g_f_p = np.where(g[2] == 0, _TINY, g[2])
    q_a = _liu_term(g[0], alpha[0], g[2], g_f_p, alpha[2])
    # The reference has patched gF in place by now: the B term compares against the patched map.
    q_b = _liu_term(g[1], alpha[1], g_f_p, g_f_p, alpha[2])
    w_a = np.where(g[0] == 0, _TINY, g[0])
    w_b = np.where(g[1] == 0, _TINY, g[1])
    return float(((q_a * w_a + q_b * w_b) / (w_a + w_b)).sum())


def qg_liu(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    """Q_G of Liu's toolbox ``metricXydeas.m`` (see the module docstring)."""
    x = np.stack([a, b, f]).astype(np.float64, copy=False)
    rows = x.shape[1]
    parts = parallel_map(lambda r: _liu_block(_padded_rows(x, *r)), row_chunks(rows, _ROWS))
    return float(sum(parts) / x[0].size)


def _vifb_block(p: np.ndarray) -> tuple[float, float, float, float]:
    """(sum Q^AF gA, sum Q^BF gB, sum gA, sum gB) over one block (p from _padded_rows)."""
    g, alpha = _orientation(*_sobel_padded(p))
    num_a = float((edge_preservation(g[0], alpha[0], g[2], alpha[2]) * g[0]).sum())
    num_b = float((edge_preservation(g[1], alpha[1], g[2], alpha[2]) * g[1]).sum())
    return num_a, num_b, float(g[0].sum()), float(g[1].sum())


class QABF:
    """Q_AB/F = sum(Q^AF w^A + Q^BF w^B) / sum(w^A + w^B), w = Sobel edge strength.

    ``variant="vifb"``: VIFB ``metricsQabf.m`` = CDDFuse Evaluator ``Qabf``;
    ``variant="liu2012"``: Liu's ``metricXydeas.m`` (Q_G). See the module docstring.
    Computed by row blocks (each with its one-row Sobel frame) on the thread pool.
    """

    def __init__(self, variant: str = "vifb") -> None:
        if variant not in ("vifb", "liu2012"):
            raise ValueError(f"variant must be 'vifb' or 'liu2012', got {variant!r}")
        self.variant = variant

    def compute(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        """Edge information of A and B preserved in F, in [0, 1]; higher is better."""
        check_same_shape(a, b, f)
        if self.variant == "liu2012":
            return qg_liu(a, b, f)
        x = np.stack([a, b, f]).astype(np.float64, copy=False)  # one pass over the three images
        parts = np.array(
            parallel_map(lambda r: _vifb_block(_padded_rows(x, *r)), row_chunks(x.shape[1], _ROWS))
        )
        num_a, num_b, den_a, den_b = parts.sum(axis=0)
        den = float(den_a + den_b)
        if den == 0.0:
            return 0.0  # A and B all zero: the reference's 0/0 (NaN), see module docstring
        return float(num_a + num_b) / den
