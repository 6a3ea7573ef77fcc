"""Single-image statistics of the fused image: standard deviation (SD), spatial frequency (SF),
average gradient (AG)."""

from __future__ import annotations

import numpy as np


class StandardDeviation:
    """SD = sqrt(1/(MN) sum (F - mean F)^2): population normalisation (divide by M*N).

    Both VIFB ``metricsVariance.m`` (``sqrt(sum((F-mean)^2)/(r*c))``) and the CDDFuse
    Evaluator (``np.std``, ddof=0) use M*N, not M*N - 1. Constant image: 0.
    """

    def compute(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        """Population standard deviation of the fused image on the 0..255 scale."""
        return float(np.std(np.asarray(f, dtype=np.float64)))


class SpatialFrequency:
    """SF = sqrt(RF^2 + CF^2) (Eskicioglu & Fisher, IEEE Trans. Commun. 43(12), 1995).

    RF^2 = 1/(MN) sum_{i, j>=2} (F[i,j] - F[i,j-1])^2 and CF^2 likewise down the columns.
    ``normalisation="image"`` divides both sums by M*N, as the paper and VIFB
    ``metricsSpatial_frequency.m`` do; ``"pairs"`` divides by the number of differences,
    M(N-1) and (M-1)N, as the CDDFuse Evaluator (``np.mean`` of the differences) does.
    Constant image: 0.
    """

    def __init__(self, normalisation: str = "pairs") -> None:
        if normalisation not in ("image", "pairs"):
            raise ValueError(f"normalisation must be 'image' or 'pairs', got {normalisation!r}")
        self.normalisation = normalisation

    def compute(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        """Spatial frequency of the fused image on the 0..255 scale."""
        f = np.asarray(f, dtype=np.float64)
        row = np.diff(f, axis=1) ** 2  # horizontal neighbours: row frequency
        col = np.diff(f, axis=0) ** 2
        if self.normalisation == "image":
            rf2, cf2 = row.sum() / f.size, col.sum() / f.size
        else:
            rf2 = row.mean() if row.size else 0.0
            cf2 = col.mean() if col.size else 0.0
        return float(np.sqrt(rf2 + cf2))


class AverageGradient:
    """AG = 1/K sum sqrt((dF/dx^2 + dF/dy^2) / 2) (Cui et al., Opt. Commun. 341:199-209, 2015).

    Derivatives as MATLAB ``gradient`` / ``np.gradient``: central differences inside, one-sided
    at the borders. ``normalisation="image"`` takes the mean over all M*N pixels (CDDFuse
    Evaluator ``AG``); ``"vifb"`` divides the sum by (M-1)(N-1) as VIFB
    ``metricsAvg_gradient.m`` does. Constant image: 0. Needs at least 2x2 pixels.
    """

    def __init__(self, normalisation: str = "image") -> None:
        if normalisation not in ("image", "vifb"):
            raise ValueError(f"normalisation must be 'image' or 'vifb', got {normalisation!r}")
        self.normalisation = normalisation

    def compute(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        """Average gradient magnitude of the fused image on the 0..255 scale."""
        f = np.asarray(f, dtype=np.float64)
        m, n = f.shape
        if m < 2 or n < 2:
            raise ValueError(f"AG needs at least 2x2 pixels, got {f.shape}")
        gy, gx = np.gradient(f)
        total = float(np.sqrt((gx * gx + gy * gy) / 2.0).sum())
        return total / (m * n) if self.normalisation == "image" else total / ((m - 1) * (n - 1))
