"""Information-theoretic metrics: EN, MI, Q_MI (Hossny) and Q_NCIE (Wang)."""

from __future__ import annotations

import math

import numpy as np

from ._common import check_same_shape, entropy, gray_levels


class Entropy:
    """EN = -sum_{l=0}^{255} p_l log2 p_l over the 256-bin histogram of F.

    Roberts, van Aardt & Ahmed, J. Appl. Remote Sens. 2:023522, 2008. A constant
    image has one occupied bin and EN = 0; the maximum, a flat histogram, is 8 bits.
    """

    def compute(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        """Entropy of the fused image in bits (sources unused)."""
        return entropy(np.bincount(gray_levels(f).ravel(), minlength=256), base=2.0)


def _joint_levels(lx: np.ndarray, ly: np.ndarray) -> np.ndarray:
    """256x256 joint histogram of two grey-level maps (from ``gray_levels``)."""
    return np.bincount((lx * 256 + ly).ravel(), minlength=256 * 256).reshape(256, 256)


def joint_histogram(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """256x256 joint histogram of the grey levels of x (rows) and y (columns)."""
    return _joint_levels(gray_levels(x), gray_levels(y))


def _terms(joint: np.ndarray, base: float) -> tuple[float, float, float]:
    """(I(X;Y), H(X), H(Y)) of a joint histogram, logarithm ``base``."""
    hx = entropy(joint.sum(axis=1), base)
    hy = entropy(joint.sum(axis=0), base)
    # Clamp the float round-off of H(X)+H(Y)-H(X,Y) for independent images at 0.
    return max(hx + hy - entropy(joint, base), 0.0), hx, hy


def information_terms(x: np.ndarray, y: np.ndarray, base: float = 2.0) -> tuple[float, float, float]:
    """(I(X;Y), H(X), H(Y)) from the 256-bin joint histogram, logarithm ``base``."""
    return _terms(joint_histogram(x, y), base)


def mutual_information(x: np.ndarray, y: np.ndarray, base: float = 2.0) -> float:
    """I(X;Y) = H(X) + H(Y) - H(X,Y) from the 256x256 joint histogram of grey levels."""
    return information_terms(x, y, base)[0]


class MutualInformation:
    """MI = I(A;F) + I(B;F), Qu, Zhang & Yan, Electron. Lett. 38(7):313-315, 2002.

    I(X;F) = sum_{x,f} p_XF(x,f) log p_XF(x,f) / (p_X(x) p_F(f)) = H(X) + H(F) - H(X,F).

    256-bin joint histograms of the 8-bit levels, logarithm base ``base``: e (nats) as the
    CDDFuse Evaluator (sklearn ``mutual_info_score``) and VIFB ``metricsMutinf.m`` (natural
    log); 2 (bits) as Liu's toolbox ``mutual_info.m``. bits = nats / ln 2. VIFB's min-max
    stretch before binning does not change MI on 8-bit input (it relabels levels one-to-one).
    Constant images carry no information: 0.
    """

    def __init__(self, base: float = math.e) -> None:
        if not base > 1.0:
            raise ValueError(f"log base must be > 1, got {base}")
        self.base = float(base)

    def compute(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        """Sum of the mutual information of each source with the fused image."""
        check_same_shape(a, b, f)
        la, lb, lf = gray_levels(a), gray_levels(b), gray_levels(f)  # F's levels once for both
        return _terms(_joint_levels(la, lf), self.base)[0] + _terms(_joint_levels(lb, lf), self.base)[0]


class NormalizedMutualInformation:
    """Q_MI = 2 [I(A;F) / (H(A) + H(F)) + I(B;F) / (H(B) + H(F))].

    Hossny, Nahavandi & Creighton, Comments on 'Information measure for performance of image
    fusion', Electron. Lett. 44(18):1066-1067, 2008, Eq. 3; Liu et al. 2012 toolbox
    ``metricMI.m`` (sw = 1) with 256-bin histograms of ``normalize1`` images (a one-to-one
    relabelling of 8-bit levels, so it does not change any entropy). Range [0, 2]; the log base
    cancels. Liu's code fails on a constant image (NaN bin index); here a term whose
    H(X) + H(F) is 0 counts as 0 (a constant image shares no information).
    """

    def compute(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        """Normalised mutual information of the sources with F, in [0, 2]."""
        check_same_shape(a, b, f)
        total = 0.0
        lf = gray_levels(f)
        for x in (a, b):
            i_xf, h_x, h_f = _terms(_joint_levels(gray_levels(x), lf), 2.0)
            if h_x + h_f > 0.0:
                total += i_xf / (h_x + h_f)
        return 2.0 * total


class NonlinearCorrelationEntropy:
    """Q_NCIE = 1 + sum_i (r_i / 3) log_256(r_i / 3), r_i the eigenvalues of the 3x3 nonlinear
    correlation matrix R of (A, B, F).

    Q. Wang, Y. Shen, J. Jin, Performance evaluation of image fusion techniques, ch. 19 in
    Image Fusion: Algorithms and Applications (T. Stathaki, ed.), 2008, pp. 469-492, Eqs.
    19.29-19.33; Liu et al. 2012 toolbox ``metricWang.m`` / ``NCC.m``: R has unit diagonal and
    NCC(X, Y) = I(X;Y) / log2(256) (256-bin joint histogram, so NCC is MI in bits / 8).
    Range [1 - log_256 3, 1] = [0.80, 1]: 0.80 for three independent images (R = I), 1 when
    all three are one bijective relabelling of a flat histogram.
    Eigenvalues are clipped at 0 (round-off) and 0 log 0 = 0; the reference gives NaN for a
    zero eigenvalue and fails on a constant image, which has NCC 0 with everything here.
    """

    def compute(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        """Nonlinear correlation information entropy of (A, B, F), in [0.80, 1]."""
        check_same_shape(a, b, f)
        la, lb, lf = gray_levels(a), gray_levels(b), gray_levels(f)
        ab = _terms(_joint_levels(la, lb), 2.0)[0] / 8.0
        af = _terms(_joint_levels(la, lf), 2.0)[0] / 8.0
        bf = _terms(_joint_levels(lb, lf), 2.0)[0] / 8.0
        r = np.linalg.eigvalsh(np.array([[1.0, ab, af], [ab, 1.0, bf], [af, bf, 1.0]]))
        p = np.clip(r, 0.0, None) / 3.0
        p = p[p > 0]
        hr = float(-(p * np.log(p)).sum() / np.log(256.0))
        return 1.0 - hr
