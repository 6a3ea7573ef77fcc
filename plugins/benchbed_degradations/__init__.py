"""Built-in degradations: clean, noise, blur, low resolution, DRFusion composite, and ReCoFuse's
low light, haze, low contrast and infrared stripes.

Formulas and values follow shared/reference/degradations.md (D1-D5). Noise stds are stored on the
[0, 1] scale (``per255(14)`` = 14/255). Level "1" is always the mildest; the summary of each spec
says which level is the paper's setting.
"""

from __future__ import annotations

from benchbed import DegradationSpec, SeverityAxis, hookimpl
from benchbed_degradations._base import per255
from benchbed_degradations.blur import Blur
from benchbed_degradations.composite import SIGMA_FULL_DRFUSION, Composite
from benchbed_degradations.given import Given
from benchbed_degradations.lowres import LowResolution
from benchbed_degradations.noise import Clean, GaussianNoise
from benchbed_degradations.photometric import Haze, LowContrast, LowLight
from benchbed_degradations.stripes import IRStripes

RECOFUSE = (
    "H. Zhang et al., 'ReCoFuse: Ultra-Robust Image Fusion via Restorative Multi-Modal Diffusion "
    "Reciprocal Coupling', CVPR 2026"
)

DRFUSION = (
    "Shi, Liu, Wu, Cheng, Li, Chen, 'Degradation-Robust Fusion: An Efficient Degradation-Aware "
    "Diffusion Framework for Multimodal Image Fusion in Arbitrary Degradation Scenarios', "
    "CVPR 2026 (arXiv 2604.08922)"
)

NOISE_LEVELS = {
    "1": {"sigma": per255(5)},
    "2": {"sigma": per255(10)},
    "3": {"sigma": per255(14)},  # DRFusion "Noise" (sigma ~14/255 inferred from M3FD/MRI)
    "4": {"sigma": per255(25)},
    "5": {"sigma": per255(50)},
}

BLUR_LEVELS = {
    "1": {"sigma": 1.0},
    "2": {"sigma": 1.5},
    "3": {"sigma": 2.0},  # DRFusion "Blur" (sigma ~2 px inferred, fits 1.8-2.5)
    "4": {"sigma": 3.0},
}

LOWRES_LEVELS = {
    "1": {"factor": 2},  # DRFusion PET (256 -> 128)
    "2": {"factor": 3},
    "3": {"factor": 4},  # DRFusion M3FD IR (1024x768 -> 256x192)
    "4": {"factor": 8},
}

# Levels "2" and "3" are the two paper protocols (IVF at x4, PET-MRI at x2), so "3" is milder in
# resolution than "2"; pick the one matching the dataset rather than reading them as a sweep.
COMPOSITE_LEVELS = {
    "1": {"blur_sigma": 1.0, "factor": 2, "noise_sigma": per255(5), "noise_sigma_full": per255(5)},
    "2": {"blur_sigma": 2.0, "factor": 4, "noise_sigma": per255(8),
          "noise_sigma_full": SIGMA_FULL_DRFUSION},  # DRFusion composite, IR-VIS (M3FD)
    "3": {"blur_sigma": 2.0, "factor": 2, "noise_sigma": per255(8),
          "noise_sigma_full": SIGMA_FULL_DRFUSION},  # DRFusion composite, PET-MRI (Harvard)
    "4": {"blur_sigma": 3.0, "factor": 4, "noise_sigma": per255(14),
          "noise_sigma_full": per255(14)},
}


# ReCoFuse levels bracket the statistics inferred from its shipped LQ/HQ test pairs
# (shared/reference/degradations.md R1-R6); level "3" is the closest to those pairs.
LOW_LIGHT_LEVELS = {
    "1": {"gamma": 1.2, "scale": 0.9},
    "2": {"gamma": 1.5, "scale": 0.7},
    "3": {"gamma": 1.9, "scale": 0.5, "noise_sigma": per255(5)},  # ReCoFuse-like (g 1.2-1.9)
    "4": {"gamma": 2.5, "scale": 0.37, "noise_sigma": per255(10)},
}
HAZE_LEVELS = {  # mean transmission about 0.85, 0.65, 0.45, 0.35
    "1": {"beta": 0.16, "airlight": 0.8},
    "2": {"beta": 0.43, "airlight": 0.8},
    "3": {"beta": 0.8, "airlight": 0.82},  # ReCoFuse-like (t 0.37-0.42, A 0.76-0.87)
    "4": {"beta": 1.05, "airlight": 0.85},
}
LOW_CONTRAST_LEVELS = {
    "1": {"gain": 0.71, "offset": per255(57)},
    "2": {"gain": 0.5, "offset": per255(80)},
    "3": {"gain": 0.35, "offset": per255(100)},  # ReCoFuse-like (a 0.29-0.71, b 57-126)
    "4": {"gain": 0.29, "offset": per255(126)},
}
STRIPE_LEVELS = {
    "1": {"stripe_sigma": per255(1.7), "noise_sigma": 0.0},
    "2": {"stripe_sigma": per255(3.4), "noise_sigma": per255(5)},
    "3": {"stripe_sigma": per255(3.4), "noise_sigma": per255(10)},  # ReCoFuse-like (R5 + R6)
    "4": {"stripe_sigma": per255(8), "noise_sigma": per255(12.6)},
}


@hookimpl
def benchbed_register_degradations() -> list[DegradationSpec]:
    """The built-in degradation specs."""
    return [
        DegradationSpec(
            name="clean",
            version="1",
            summary="No degradation (y = x, A = I); the reference condition.",
            factory=Clean,
            params={},
            modalities=("*",),
            severities={"0": {}},
            linear=True,
            citation="identity observation; reference condition for robustness scores",
        ),
        DegradationSpec(
            name="given",
            version="1",
            summary="The dataset's own degraded images (real or shipped with a paper); severities "
            "are the dataset's conditions, e.g. DRFusion's noise/blur/composite test images.",
            factory=Given,
            params={},
            modalities=("*",),
            severities={},
            linear=False,
            given=True,
            citation="observations read through Dataset.observe (see `benchbed list dataset`)",
        ),
        DegradationSpec(
            name="gaussian_noise",
            version="1",
            summary="Additive white Gaussian noise y = clip(x + n), sigma/255 = 5, 10, 14, 25, 50 "
            "for levels 1-5; level 3 (14/255) is DRFusion's noise setting.",
            factory=GaussianNoise,
            params={"sigma": per255(14)},
            modalities=("*",),
            severities=NOISE_LEVELS,
            axis=SeverityAxis("sigma", "noise σ (/255)", scale=255.0),
            linear=True,
            citation=f"{DRFUSION}, 'Noise' scenario; shared/reference/degradations.md D1",
        ),
        DegradationSpec(
            name="gaussian_blur",
            version="1",
            summary="Isotropic Gaussian blur, reflect padding, sigma = 1, 1.5, 2, 3 px for levels "
            "1-4; level 3 (2 px) is DRFusion's blur setting. A_pinv = Wiener(gamma).",
            factory=Blur,
            params={"sigma": 2.0, "gamma": 1e-3, "noise_sigma": 0.0},
            modalities=("*",),
            severities=BLUR_LEVELS,
            axis=SeverityAxis("sigma", "blur σ (px)"),
            linear=True,
            citation=f"{DRFUSION}, 'Blur' scenario; shared/reference/degradations.md D2",
        ),
        DegradationSpec(
            name="lowres",
            version="1",
            summary="Average-pool downsampling by s = 2, 3, 4, 8 for levels 1-4; level 1 (x2) is "
            "DRFusion's PET setting, level 3 (x4) its M3FD IR setting. A_pinv = replication.",
            factory=LowResolution,
            params={"factor": 4},
            modalities=("*",),
            severities=LOWRES_LEVELS,
            axis=SeverityAxis("factor", "pooling factor s", clean=1.0),
            linear=True,
            citation=f"{DRFUSION}, low-resolution operator; shared/reference/degradations.md D3",
        ),
        DegradationSpec(
            name="composite",
            version="1",
            summary="DRFusion composite: IR/PET/SPECT get y = D_s(k * x + n) (noise before "
            "pooling), VI/MRI/CT get y = k * x + n. Level 2 = DRFusion IR-VIS (blur 2, x4, "
            "8/255; 8.07/255 on VI), level 3 = DRFusion PET-MRI (x2); 1 mild, 4 severe.",
            factory=Composite,
            params={
                "blur_sigma": 2.0,
                "factor": 4,
                "noise_sigma": per255(8),
                "noise_sigma_full": SIGMA_FULL_DRFUSION,
                "gamma": 1e-3,
                "lowres_modalities": ("ir", "pet", "spect"),
            },
            modalities=("*",),
            severities=COMPOSITE_LEVELS,
            linear=True,
            citation=f"{DRFUSION}, 'Composite' scenario; shared/reference/degradations.md D4-D5",
        ),
        DegradationSpec(
            name="low_light",
            version="1",
            summary="Low light y = s * x^g (+ noise at levels 3-4); gamma 1.2-2.5, scale "
            "0.9-0.37; level 3 is ReCoFuse-like. Non-linear, no operator.",
            factory=LowLight,
            params={"gamma": 1.5, "scale": 0.6, "noise_sigma": 0.0},
            modalities=("vi",),
            severities=LOW_LIGHT_LEVELS,
            linear=False,
            citation=f"{RECOFUSE}; shared/reference/degradations.md R1",
        ),
        DegradationSpec(
            name="haze",
            version="1",
            summary="Haze by atmospheric scattering y = t x + A (1 - t), t = exp(-beta (0.5 + "
            "depth)) with a seeded far-at-top depth map; level 3 is ReCoFuse-like (t ~0.4).",
            factory=Haze,
            params={"beta": 0.9, "airlight": 0.8, "smooth": 0.08},
            modalities=("vi",),
            severities=HAZE_LEVELS,
            linear=False,
            citation=f"{RECOFUSE}; Koschmieder/McCartney scattering model; "
            "shared/reference/degradations.md R2",
        ),
        DegradationSpec(
            name="low_contrast",
            version="1",
            summary="Low contrast y = a x + b; gain 0.71-0.29, offset 57-126/255; level 3 is "
            "ReCoFuse-like. Affine, no operator.",
            factory=LowContrast,
            params={"gain": 0.5, "offset": per255(80)},
            modalities=("ir",),
            severities=LOW_CONTRAST_LEVELS,
            linear=False,
            citation=f"{RECOFUSE}; shared/reference/degradations.md R4",
        ),
        DegradationSpec(
            name="ir_stripes",
            version="1",
            summary="Infrared column stripes y = x + 1 s^T + n, stripe sigma 1.7-8/255 with white "
            "noise 0-12.6/255 (R5 + R6); level 3 is ReCoFuse-like. A = I.",
            factory=IRStripes,
            params={"stripe_sigma": per255(3.4), "noise_sigma": 0.0},
            modalities=("ir",),
            severities=STRIPE_LEVELS,
            linear=True,
            citation=f"{RECOFUSE}; shared/reference/degradations.md R5-R6",
        ),
    ]
