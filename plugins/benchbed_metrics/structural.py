"""SSIM-based metrics: SSIM, Piella's weighted fusion quality index Q_W, Yang's Q_Y."""

from __future__ import annotations

import numpy as np

from ._common import as_gray, block_moments, check_same_shape, flat, gaussian_taps

_K1, _K2 = 0.01, 0.03


def _ssim_map(m: dict[str, np.ndarray], x: str, y: str, c1: float, c2: float) -> np.ndarray:
    """SSIM map (2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(s_x + s_y + C2))."""
    mx, my = m[f"mu{x}"], m[f"mu{y}"]
    num = (2.0 * mx * my + c1) * (2.0 * m[f"s{x}{y}"] + c2)
    return num / ((mx * mx + my * my + c1) * (m[f"s{x}{x}"] + m[f"s{y}{y}"] + c2))


def _check_size(shape: tuple[int, ...], window: int, name: str) -> None:
    if min(shape) < window:
        # Wang's ssim_index.m returns -Inf below the window size; refuse rather than guess.
        raise ValueError(f"{name} needs images of at least {window}x{window}, got {shape}")


def _zero_flat(m: dict[str, np.ndarray], keys: str) -> None:
    """Exact-arithmetic variances: round-off in flat windows -> 0, and covariances with them.

    Zeroes the (co)variance maps in place (they are the caller's own arrays).
    """
    flats = {k: flat(m[f"s{k}{k}"], m[f"mu{k}"]) for k in keys}
    for name, arr in m.items():
        hit = [flats[k] for k in sorted(set(name[1:])) if k in flats] if name.startswith("s") else []
        if hit:
            np.copyto(arr, 0.0, where=hit[0] if len(hit) == 1 else np.logical_or(*hit))


class SSIM:
    """SSIM(A, F) + SSIM(B, F) (or their mean), SSIM of Wang, Bovik, Sheikh & Simoncelli,
    IEEE TIP 13(4):600-612, 2004, Eq. 13, averaged over the window map (Eq. 17).

    ``window="gaussian"``: Wang's ``ssim_index.m`` as used by VIFB ``metricsSsim.m`` and Liu's
    toolbox: 11x11 Gaussian (sigma 1.5) 'valid' windows, L = 255, K = (0.01, 0.03).
    ``window="uniform"``: the CDDFuse Evaluator, skimage ``structural_similarity`` defaults:
    7x7 uniform windows, sample covariances (x 49/48), the border of 3 cropped, and data_range
    2 -- what skimage < 0.20 took for float input (float dtype range [-1, 1]; 0.20+ refuses to
    guess), so C1 = (0.01*2)^2, C2 = (0.03*2)^2 on 0..255 data.
    ``aggregate="sum"`` (VIFB, Evaluator: range [-2, 2]) or ``"mean"`` (range [-1, 1]).
    Constant images are finite: the constants keep every denominator positive.
    """

    def __init__(self, window: str = "uniform", aggregate: str = "sum") -> None:
        if window not in ("gaussian", "uniform"):
            raise ValueError(f"window must be 'gaussian' or 'uniform', got {window!r}")
        if aggregate not in ("sum", "mean"):
            raise ValueError(f"aggregate must be 'sum' or 'mean', got {aggregate!r}")
        self.window, self.aggregate = window, aggregate

    def compute(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        """SSIM of F with each source, summed (or averaged)."""
        check_same_shape(a, b, f)
        a, b, f = as_gray(a, b, f)
        pairs = [("A", "A"), ("B", "B"), ("F", "F"), ("A", "F"), ("B", "F")]
        if self.window == "gaussian":
            _check_size(a.shape, 11, "SSIM")
            taps, c1, c2, norm = gaussian_taps(11, 1.5), (_K1 * 255) ** 2, (_K2 * 255) ** 2, 1.0
            size = 11
        else:
            _check_size(a.shape, 7, "SSIM")
            taps, c1, c2, norm = 7, (_K1 * 2) ** 2, (_K2 * 2) ** 2, 49.0 / 48.0
            size = 7

        def sums(m: dict[str, np.ndarray]) -> tuple[float, float]:
            for p, q in pairs:
                m[f"s{p}{q}"] *= norm
            return float(_ssim_map(m, "A", "F", c1, c2).sum()), float(_ssim_map(m, "B", "F", c1, c2).sum())

        parts = np.array(block_moments({"A": a, "B": b, "F": f}, pairs, taps, sums))
        count = (a.shape[0] - size + 1) * (a.shape[1] - size + 1)
        total = float(parts[:, 0].sum() / count + parts[:, 1].sum() / count)
        return total if self.aggregate == "sum" else total / 2.0


class PiellaQW:
    """Q_W = sum_w c(w) [lambda(w) Q0(A, F | w) + (1 - lambda(w)) Q0(B, F | w)].

    Piella & Heijmans, A new quality metric for image fusion, ICIP 2003, Eq. 6 (weighted
    fusion quality index), with Q0 the SSIM map and the saliency s = local variance:
    lambda = s_A / (s_A + s_B), c(w) = max(s_A, s_B) / sum_w' max(s_A, s_B).
    As Liu et al. 2012 toolbox ``metricPeilla.m`` (sw = 2): Wang's SSIM map (11x11 Gaussian
    sigma 1.5, valid, L = 255, K = (0.01, 0.03)); where s_A + s_B = 0 both get 0.5 (so
    lambda = 1/2 and the window keeps weight 0.5). Flat windows are detected in exact
    arithmetic (the reference sees float round-off there instead of 0). Range [-1, 1], 1 for
    F == A == B; symmetric in A and B.
    """

    def compute(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        """Weighted fusion quality index of F."""
        check_same_shape(a, b, f)
        a, b, f = as_gray(a, b, f)
        _check_size(a.shape, 11, "QW")
        c1, c2 = (_K1 * 255) ** 2, (_K2 * 255) ** 2
        pairs = [("A", "A"), ("B", "B"), ("F", "F"), ("A", "F"), ("B", "F")]

        def sums(m: dict[str, np.ndarray]) -> tuple[float, float]:
            _zero_flat(m, "ABF")
            sa, sb = m["sAA"], m["sBB"]
            both = (sa + sb) == 0.0
            sa, sb = np.where(both, 0.5, sa), np.where(both, 0.5, sb)
            lam = sa / (sa + sb)
            q = lam * _ssim_map(m, "A", "F", c1, c2) + (1.0 - lam) * _ssim_map(m, "B", "F", c1, c2)
            cw = np.maximum(sa, sb)
            return float((cw * q).sum()), float(cw.sum())

        parts = np.array(block_moments({"A": a, "B": b, "F": f}, pairs, gaussian_taps(11, 1.5), sums))
        return float(parts[:, 0].sum() / parts[:, 1].sum())


class YangQY:
    """Q_Y (Yang, Zhang, Wang & Li, A novel similarity based quality metric for image fusion,
    Inf. Fusion 9(2):156-160, 2008, Eq. 7):

    Q_Y(w) = lambda SSIM(A, F | w) + (1 - lambda) SSIM(B, F | w)   where SSIM(A, B | w) >= 0.75,
    Q_Y(w) = max(SSIM(A, F | w), SSIM(B, F | w))                  otherwise,
    lambda = s_A / (s_A + s_B), averaged over the windows. As Liu et al. 2012 toolbox
    ``metricYang.m``: 7x7 Gaussian (sigma 1.5) valid windows and C1 = C2 = 2e-16 (i.e. SSIM
    without stabilising constants). Where A and B are both flat, lambda is 0/0 (NaN for the
    reference, which then returns NaN for the whole image): lambda = 1/2 there. Flat windows
    are detected in exact arithmetic (the reference sees round-off, which with C = 2e-16 turns
    SSIM over flat windows into noise). Range [-1, 1]; symmetric in A and B.
    """

    def compute(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        """Yang's structural-similarity fusion metric of F."""
        check_same_shape(a, b, f)
        a, b, f = as_gray(a, b, f)
        _check_size(a.shape, 11, "QY")  # metricYang.m's own size check
        c = 2e-16
        pairs = [("A", "A"), ("B", "B"), ("F", "F"), ("A", "B"), ("A", "F"), ("B", "F")]

        def sums(m: dict[str, np.ndarray]) -> float:
            _zero_flat(m, "ABF")
            s_ab = _ssim_map(m, "A", "B", c, c)
            s_af = _ssim_map(m, "A", "F", c, c)
            s_bf = _ssim_map(m, "B", "F", c, c)
            den = m["sAA"] + m["sBB"]
            with np.errstate(invalid="ignore"):
                lam = m["sAA"] / den  # variances >= 0 here: den == 0 only as 0/0, patched
            np.copyto(lam, 0.5, where=den == 0)
            similar = s_ab >= 0.75
            # Either branch as exact 0/1 factors (branch-free, unlike where=); both are finite.
            q = (lam * s_af + (1.0 - lam) * s_bf) * similar
            q += np.maximum(s_af, s_bf) * ~similar
            return float(q.sum())

        parts = block_moments({"A": a, "B": b, "F": f}, pairs, gaussian_taps(7, 1.5), sums)
        return float(sum(parts) / ((a.shape[0] - 6) * (a.shape[1] - 6)))
