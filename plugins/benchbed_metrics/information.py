"""Information-theoretic metrics: entropy (EN) and mutual information (MI)."""

from __future__ import annotations

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


def mutual_information(x: np.ndarray, y: np.ndarray, base: float = 2.0) -> float:
    """I(X;Y) = H(X) + H(Y) - H(X,Y) from the 256x256 joint histogram of grey levels."""
    lx, ly = gray_levels(x).ravel(), gray_levels(y).ravel()
    joint = np.bincount(lx * 256 + ly, minlength=256 * 256).reshape(256, 256)
    hx = entropy(joint.sum(axis=1), base)
    hy = entropy(joint.sum(axis=0), base)
    # Clamp the float round-off of H(X)+H(Y)-H(X,Y) for independent images at 0.
    return max(hx + hy - entropy(joint, base), 0.0)


class MutualInformation:
    """MI = I(A;F) + I(B;F), Qu, Zhang & Yan, Electron. Lett. 38(7):313-315, 2002.

    I(X;F) = sum_{x,f} p_XF(x,f) log p_XF(x,f) / (p_X(x) p_F(f)) = H(X) + H(F) - H(X,F).

    256-bin joint histograms of the 8-bit levels, logarithm base ``base`` (2: bits, as Liu's
    toolbox ``mutual_info.m``). VIFB ``metricsMutinf.m`` and the CDDFuse Evaluator
    (sklearn ``mutual_info_score``) use the natural log, i.e. nats = bits * ln 2; pass
    ``base=e`` for their scale. VIFB's min-max stretch before binning does not change MI on
    8-bit input (it relabels levels one-to-one).
    """

    def __init__(self, base: float = 2.0) -> None:
        if not base > 1.0:
            raise ValueError(f"log base must be > 1, got {base}")
        self.base = float(base)

    def compute(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        """Sum of the mutual information of each source with the fused image."""
        check_same_shape(a, b, f)
        return mutual_information(a, f, self.base) + mutual_information(b, f, self.base)
