"""Correlation metrics against the sources: CC and SCD (CDDFuse Evaluator conventions)."""

from __future__ import annotations

import numpy as np

from ._common import as_gray, check_same_shape, safe_corr


class CorrelationCoefficient:
    """CC = (r(A, F) + r(B, F)) / 2, r the Pearson correlation over all pixels.

    Definition as the CDDFuse Evaluator ``CC`` (the mean of the two coefficients; e.g.
    Ma et al., Inf. Fusion 45:153-178, 2019, Eq. for CC). A constant image has no defined
    correlation (0/0, NaN in the reference): its coefficient counts as 0 here.
    """

    def compute(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        """Mean correlation of the fused image with each source, in [-1, 1]."""
        check_same_shape(a, b, f)
        a, b, f = as_gray(a, b, f)
        return (safe_corr(a, f) + safe_corr(b, f)) / 2.0


class SumOfCorrelationsOfDifferences:
    """SCD = r(F - B, A) + r(F - A, B) (Aslantas & Bendes, AEU 69(12):1890-1896, 2015, Eq. 5).

    F - B approximates what F took from A, and it should correlate with A (likewise for B).
    As the CDDFuse Evaluator ``SCD``. A term whose difference image (or source) is constant
    (e.g. F == B, 0/0 in the reference) counts as 0 here. Range [-2, 2].
    """

    def compute(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        """Sum of the correlations of the difference images with the other source."""
        check_same_shape(a, b, f)
        a, b, f = as_gray(a, b, f)
        return safe_corr(a, f - b) + safe_corr(b, f - a)
