"""Built-in fusion metrics: EN, SD, SF, MI, QABF.

Inputs follow the metric contract: gray float64 arrays on 0..255 holding 8-bit values
(the core quantises and takes BT.601 luma). Factories import their module on first use.
"""

from __future__ import annotations

from typing import Any

from benchbed import MetricSpec, hookimpl


def _en(**params: Any) -> Any:
    from .information import Entropy

    return Entropy(**params)


def _mi(**params: Any) -> Any:
    from .information import MutualInformation

    return MutualInformation(**params)


def _sd(**params: Any) -> Any:
    from .statistics import StandardDeviation

    return StandardDeviation(**params)


def _sf(**params: Any) -> Any:
    from .statistics import SpatialFrequency

    return SpatialFrequency(**params)


def _qabf(**params: Any) -> Any:
    from .qabf import QABF

    return QABF(**params)


@hookimpl
def benchbed_register_metrics() -> list[MetricSpec]:
    """The first five metrics of the panel."""
    return [
        MetricSpec(
            name="EN",
            version="1",
            summary="Entropy of the fused image's 256-bin histogram, bits",
            factory=_en,
            higher_is_better=True,
            profile="vifb",
            needs_sources=False,
            citation=(
                "J. W. Roberts, J. van Aardt, F. Ahmed, Assessment of image fusion procedures "
                "using entropy, image quality, and multispectral classification, J. Appl. "
                "Remote Sens. 2(1):023522, 2008; EN = -sum_l p_l log2 p_l"
            ),
        ),
        MetricSpec(
            name="SD",
            version="1",
            summary="Standard deviation of the fused image (population, divide by M*N)",
            factory=_sd,
            higher_is_better=True,
            profile="vifb",
            needs_sources=False,
            citation=(
                "Standard deviation as in VIFB (X. Zhang, P. Ye, G. Xiao, CVPRW 2020) "
                "metricsVariance.m: SD = sqrt(sum (F - mean F)^2 / (M N))"
            ),
        ),
        MetricSpec(
            name="SF",
            version="1",
            summary="Spatial frequency sqrt(RF^2 + CF^2) of the fused image",
            factory=_sf,
            params={"normalisation": "image"},
            higher_is_better=True,
            profile="vifb",
            needs_sources=False,
            citation=(
                "A. M. Eskicioglu, P. S. Fisher, Image quality measures and their performance, "
                "IEEE Trans. Commun. 43(12):2959-2965, 1995; SF = sqrt(RF^2 + CF^2), "
                "RF^2 = 1/(MN) sum (F[i,j] - F[i,j-1])^2, CF^2 = 1/(MN) sum (F[i,j] - F[i-1,j])^2"
            ),
        ),
        MetricSpec(
            name="MI",
            version="1",
            summary="Mutual information I(A;F) + I(B;F), 256-bin joint histograms, bits",
            factory=_mi,
            params={"base": 2.0},
            higher_is_better=True,
            profile="liu2012",
            citation=(
                "G. Qu, D. Zhang, P. Yan, Information measure for performance of image fusion, "
                "Electron. Lett. 38(7):313-315, 2002; MI = I(A;F) + I(B;F), "
                "I(X;F) = sum p_XF log2 p_XF / (p_X p_F)"
            ),
        ),
        MetricSpec(
            name="QABF",
            version="1",
            summary="Q_AB/F: edge strength and orientation of A and B preserved in F",
            factory=_qabf,
            higher_is_better=True,
            profile="vifb",
            citation=(
                "C. S. Xydeas, V. Petrovic, Objective image fusion performance measure, "
                "Electron. Lett. 36(4):308-309, 2000; Q_AB/F = sum(Q^AF w^A + Q^BF w^B) / "
                "sum(w^A + w^B), Q^XF = Q_g^XF Q_alpha^XF (sigmoids, Tg=0.9994, kg=-15, "
                "Dg=0.5, Ta=0.9879, ka=-22, Da=0.8; Sobel, L=1) as VIFB metricsQabf.m"
            ),
        ),
    ]
