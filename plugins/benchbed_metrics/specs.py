"""The metric specs of the panel: names, directions, profiles (conventions) and citations.

Profiles name published conventions: ``evaluator`` = the Python evaluator recent papers ship
(CDDFuse ``utils/Evaluator.py``), ``vifb`` = VIFB's MATLAB ``metrics/*.m`` (Zhang, Ye & Xiao,
CVPRW 2020), ``liu2012`` = Zheng Liu's MATLAB toolbox (Liu et al., IEEE TPAMI 34(1):94-109,
2012), ``mean`` = the two per-source values averaged instead of summed. A profile lists every
parameter, so ``benchbed info NAME`` shows exactly what each convention computes.
"""

from __future__ import annotations

import math
from typing import Any

from benchbed import MetricSpec, lazy

LIU2012 = (
    "Z. Liu, E. Blasch, Z. Xue, J. Zhao, R. Laganiere, W. Wu, Objective assessment of "
    "multiresolution image fusion algorithms for context enhancement in night vision: a "
    "comparative study, IEEE TPAMI 34(1):94-109, 2012 (toolbox zhengliu6699/imageFusionMetrics)"
)
EVALUATOR = "CDDFuse Evaluator (Zhao et al., CVPR 2023, Zhaozixiang1228/MMIF-CDDFuse utils/Evaluator.py)"
VIFB = "VIFB (X. Zhang, P. Ye, G. Xiao, CVPRW 2020, xingchenzhang/VIFB metrics/*.m)"


# Value range of each metric's definition (default profile) with units, for the generated docs
# table; the bounds as numbers are each spec's ``range`` / ``profile_ranges``.
VALUE_RANGES: dict[str, str] = {
    "EN": "[0, 8] bits", "SD": "[0, 127.5]", "SF": "[0, 360.6]", "AG": "[0, 255]",
    "MI": "[0, 2 H] (nats; bits for liu2012)", "CC": "[-1, 1]", "SCD": "[-2, 2]",
    "VIF": "[0, inf), 2 for F = A = B (sum)", "SSIM": "[-2, 2] (sum), [-1, 1] (mean)",
    "PSNR": "[-100, 100] dB", "QABF": "[0, 1]", "QMI": "[0, 2]", "QNCIE": "[0.80, 1]",
    "QP": "[-1, 1]", "QCB": "[0, 1]", "QW": "[-1, 1]", "QY": "[-1, 1]",
}


INF = math.inf
BITS_8 = 8.0  # log2(256): the largest entropy (and mutual information) of 8-bit levels
NCIE_MIN = 1.0 - math.log(3.0, 256.0)  # Q_NCIE of three independent images (R = I)


def _spec(
    name: str, version: str, summary: str, target: tuple[str, str], citation: str, *,
    profiles: dict[str, dict[str, Any]], default: str, value_range: tuple[float, float] | None,
    profile_ranges: dict[str, tuple[float, float]] | None = None, needs_sources: bool = True,
) -> MetricSpec:
    """A MetricSpec whose params are the default profile's (every profile lists all params).

    ``value_range`` bounds the default profile, ``profile_ranges`` the profiles that differ.
    """
    assert default in profiles
    return MetricSpec(
        name=name, version=version, summary=summary,
        factory=lazy(f"benchbed_metrics.{target[0]}:{target[1]}"),
        params=dict(profiles[default]), profile=default, profiles=profiles,
        higher_is_better=True, needs_sources=needs_sources, citation=citation,
        range=value_range, profile_ranges=profile_ranges or {},
    )


def metric_specs() -> list[MetricSpec]:
    """Every metric of the panel (all higher-is-better).

    Ranges hold for every input on the metric contract (gray 8-bit values on 0..255) and
    follow from each definition (see the metric's class docstring), up to float round-off.
    """
    same = {"evaluator": {}, "vifb": {}}
    return [
        _spec("EN", "1", "Entropy of the fused image's 256-bin histogram, bits",
              ("information", "Entropy"),
              "J. W. Roberts, J. van Aardt, F. Ahmed, J. Appl. Remote Sens. 2(1):023522, 2008; "
              f"EN = -sum_l p_l log2 p_l; as {EVALUATOR} and {VIFB} (identical on 8-bit input)",
              profiles=same, default="evaluator",
              value_range=(0.0, BITS_8), needs_sources=False),
        _spec("SD", "1", "Standard deviation of the fused image (population, divide by M*N)",
              ("statistics", "StandardDeviation"),
              f"SD = sqrt(sum (F - mean F)^2 / (M N)); as {EVALUATOR} (np.std) and {VIFB} "
              "metricsVariance.m", profiles=same, default="evaluator",
              # Popoviciu: a variable on [0, 255] has SD <= 255 / 2
              value_range=(0.0, 127.5), needs_sources=False),
        _spec("SF", "2", "Spatial frequency sqrt(RF^2 + CF^2) of the fused image",
              ("statistics", "SpatialFrequency"),
              "A. M. Eskicioglu, P. S. Fisher, IEEE Trans. Commun. 43(12):2959-2965, 1995; "
              "SF = sqrt(RF^2 + CF^2). evaluator: RF^2, CF^2 are means over the M(N-1), (M-1)N "
              f"differences ({EVALUATOR}); vifb: sums over M N ({VIFB} "
              "metricsSpatial_frequency.m)",
              profiles={"evaluator": {"normalisation": "pairs"}, "vifb": {"normalisation": "image"}},
              default="evaluator",
              # every neighbour difference is <= 255, so RF^2 + CF^2 <= 2 * 255^2 in both profiles
              value_range=(0.0, 255.0 * math.sqrt(2.0)), needs_sources=False),
        _spec("AG", "1", "Average gradient sqrt((Fx^2 + Fy^2) / 2) of the fused image",
              ("statistics", "AverageGradient"),
              "G. Cui, H. Feng, Z. Xu, Q. Li, Y. Chen, Opt. Commun. 341:199-209, 2015; central "
              f"differences (np.gradient); evaluator: mean over M N ({EVALUATOR}); vifb: sum / "
              f"((M-1)(N-1)) ({VIFB} metricsAvg_gradient.m)",
              profiles={"evaluator": {"normalisation": "image"}, "vifb": {"normalisation": "vifb"}},
              default="evaluator",
              # per pixel <= 255 (one-sided differences at the border); vifb divides the M N terms
              # by (M-1)(N-1) <= M N / 4, reached by a 2x2 checkerboard
              value_range=(0.0, 255.0), profile_ranges={"vifb": (0.0, 4 * 255.0)}, needs_sources=False),
        _spec("MI", "2", "Mutual information I(A;F) + I(B;F), 256-bin joint histograms",
              ("information", "MutualInformation"),
              "G. Qu, D. Zhang, P. Yan, Electron. Lett. 38(7):313-315, 2002; MI = I(A;F) + "
              f"I(B;F). evaluator/vifb: nats ({EVALUATOR} sklearn mutual_info_score; {VIFB} "
              f"metricsMutinf.m); liu2012: bits ({LIU2012}, mutual_info.m)",
              profiles={"evaluator": {"base": math.e}, "vifb": {"base": math.e},
                        "liu2012": {"base": 2.0}}, default="evaluator",
              # I(X;F) <= H(X) <= 8 bits per source (ln 256 nats)
              value_range=(0.0, 2 * BITS_8 * math.log(2.0)), profile_ranges={"liu2012": (0.0, 2 * BITS_8)}),
        _spec("CC", "1", "Mean correlation coefficient (r(A,F) + r(B,F)) / 2",
              ("correlation", "CorrelationCoefficient"),
              f"Pearson correlation of F with each source, averaged; as {EVALUATOR} CC "
              "(constant images: coefficient 0)", profiles={"evaluator": {}}, default="evaluator",
              value_range=(-1.0, 1.0)),
        _spec("SCD", "1", "Sum of the correlations of differences r(F-B, A) + r(F-A, B)",
              ("correlation", "SumOfCorrelationsOfDifferences"),
              "V. Aslantas, E. Bendes, A new image quality metric for image fusion: the sum of "
              "the correlations of differences, AEU Int. J. Electron. Commun. 69(12):1890-1896, "
              f"2015, Eq. 5; as {EVALUATOR} SCD", profiles={"evaluator": {}}, default="evaluator",
              value_range=(-2.0, 2.0)),
        _spec("VIF", "1", "Pixel-domain visual information fidelity VIF(A,F) + VIF(B,F)",
              ("vif", "VIF"),
              "H. R. Sheikh, A. C. Bovik, Image information and visual quality, IEEE TIP "
              f"15(2):430-444, 2006 (vifp_mscale); evaluator: sum over sources ({EVALUATOR} "
              "VIFF); mean: their average",
              profiles={"evaluator": {"aggregate": "sum"}, "mean": {"aggregate": "mean"}},
              default="evaluator",
              value_range=(0.0, INF)),
        _spec("SSIM", "1", "Structural similarity SSIM(A,F) + SSIM(B,F)",
              ("structural", "SSIM"),
              "Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, IEEE TIP 13(4):600-612, "
              f"2004. evaluator: skimage defaults (7x7 uniform, data_range 2), sum ({EVALUATOR}); "
              f"vifb: 11x11 Gaussian sigma 1.5, L = 255, sum ({VIFB} metricsSsim.m); mean: "
              "the Gaussian SSIM averaged over the sources",
              profiles={"evaluator": {"window": "uniform", "aggregate": "sum"},
                        "vifb": {"window": "gaussian", "aggregate": "sum"},
                        "mean": {"window": "gaussian", "aggregate": "mean"}},
              default="evaluator",
              value_range=(-2.0, 2.0), profile_ranges={"mean": (-1.0, 1.0)}),
        _spec("PSNR", "1", "PSNR of F against both sources, dB (clipped to [-100, 100])",
              ("fidelity", "PSNR"),
              "P. Jagalingam, A. V. Hegde, Aquatic Procedia 4:133-142, 2015; PSNR = 10 log10(P^2 / "
              f"((MSE(A,F) + MSE(B,F)) / 2)). evaluator: P = max F ({EVALUATOR}); vifb: P = 255 "
              f"with VIFB's root-sum-square 'mse' ({VIFB} metricsPsnr.m); peak255: P = 255, true MSE",
              profiles={"evaluator": {"peak": "max_f", "mse": "mean"},
                        "vifb": {"peak": 255.0, "mse": "vifb"},
                        "peak255": {"peak": 255.0, "mse": "mean"}},
              default="evaluator",
              value_range=(-100.0, 100.0)),
        _spec("QABF", "1", "Q_AB/F: edge strength and orientation of A and B preserved in F",
              ("qabf", "QABF"),
              "C. S. Xydeas, V. Petrovic, Objective image fusion performance measure, Electron. "
              "Lett. 36(4):308-309, 2000; Q_AB/F = sum(Q^AF w^A + Q^BF w^B) / sum(w^A + w^B). "
              f"vifb/evaluator: Tg=0.9994, kg=-15, Dg=0.5, Ta=0.9879, ka=-22, Da=0.8 ({VIFB} "
              f"metricsQabf.m = {EVALUATOR} Qabf); liu2012: Q_G of metricXydeas.m ({LIU2012})",
              profiles={"vifb": {"variant": "vifb"}, "evaluator": {"variant": "vifb"},
                        "liu2012": {"variant": "liu2012"}}, default="vifb",
              value_range=(0.0, 1.0)),
        _spec("QMI", "1", "Q_MI: normalised mutual information (Hossny 2008), in [0, 2]",
              ("information", "NormalizedMutualInformation"),
              "M. Hossny, S. Nahavandi, D. Creighton, Comments on 'Information measure for "
              "performance of image fusion', Electron. Lett. 44(18):1066-1067, 2008, Eq. 3: "
              f"Q_MI = 2 [I(A;F)/(H(A)+H(F)) + I(B;F)/(H(B)+H(F))]; as {LIU2012} metricMI.m sw=1",
              profiles={"liu2012": {}}, default="liu2012",
              value_range=(0.0, 2.0)),
        _spec("QNCIE", "1", "Q_NCIE: nonlinear correlation information entropy of (A, B, F)",
              ("information", "NonlinearCorrelationEntropy"),
              "Q. Wang, Y. Shen, J. Jin, Performance evaluation of image fusion techniques, in "
              "Image Fusion: Algorithms and Applications (T. Stathaki, ed.), Academic Press, "
              "2008, ch. 19, pp. 469-492; Q_NCIE = 1 + sum_i (r_i/3) log_256(r_i/3), r_i the "
              f"eigenvalues of the NCC matrix; as {LIU2012} metricWang.m",
              profiles={"liu2012": {}}, default="liu2012",
              value_range=(NCIE_MIN, 1.0)),
        _spec("QP", "1", "Q_P: phase-congruency feature preservation (Zhao 2007)",
              ("phase", "ZhaoQP"),
              "J. Zhao, R. Laganiere, Z. Liu, Performance assessment of combinative pixel-level "
              "image fusion based on an absolute feature measurement, Int. J. Innov. Comput. Inf. "
              "Control 3(6A):1433-1447, 2007; Q_P = P_p P_M P_m over phase congruency and its "
              f"moments; as {LIU2012} metricZhao.m with myphasecong3.m",
              profiles={"liu2012": {"precision": "single"}}, default="liu2012",
              value_range=(-1.0, 1.0)),
        _spec("QCB", "1", "Q_CB: Chen-Blum perceptual contrast preservation",
              ("contrast", "ChenBlumQCB"),
              "Y. Chen, R. S. Blum, A new automated quality assessment algorithm for image "
              "fusion, Image Vis. Comput. 27(10):1421-1432, 2009; as "
              f"{LIU2012} metricChenBlum.m (= {VIFB} metricsQcb.m)",
              profiles={"liu2012": {}, "vifb": {}}, default="liu2012",
              value_range=(0.0, 1.0)),
        _spec("QW", "1", "Q_W: Piella's weighted fusion quality index",
              ("structural", "PiellaQW"),
              "G. Piella, H. Heijmans, A new quality metric for image fusion, Proc. ICIP 2003, "
              "vol. 3, pp. 173-176, Eq. 6 (weighted fusion quality index, saliency = local "
              f"variance); as {LIU2012} metricPeilla.m sw=2 (ssim_index.m windows)",
              profiles={"liu2012": {}}, default="liu2012",
              value_range=(-1.0, 1.0)),
        _spec("QY", "1", "Q_Y: Yang's structural-similarity fusion metric",
              ("structural", "YangQY"),
              "C. Yang, J.-Q. Zhang, X.-R. Wang, X. Liu, A novel similarity based quality metric "
              "for image fusion, Inf. Fusion 9(2):156-160, 2008, Eq. 7; as "
              f"{LIU2012} metricYang.m", profiles={"liu2012": {}}, default="liu2012",
              value_range=(-1.0, 1.0)),
    ]
