"""Built-in restorers for restore-then-fuse cascades: identity, bicubic, Wiener, BM3D, NLM, auto,
and blind classical restorers for ReCoFuse's degradations: dehaze, low_light_enhance,
contrast_stretch, destripe.

Every restorer returns an image of ``observation.clean_shape`` (a low-resolution y is
interpolated to the clean grid), float32 in [0, 1], gray or RGB like y.
"""

from __future__ import annotations

from benchbed import RestorerSpec, hookimpl
from benchbed_restorers.auto import Auto
from benchbed_restorers.basic import Bicubic, Identity
from benchbed_restorers.dehaze import Dehaze
from benchbed_restorers.denoise import BM3D, NLM
from benchbed_restorers.destripe import Destripe
from benchbed_restorers.photometric import ContrastStretch, LowLightEnhance
from benchbed_restorers.wiener import Wiener

BM3D_CITE = (
    "Dabov, Foi, Katkovnik, Egiazarian, 'Image Denoising by Sparse 3-D Transform-Domain "
    "Collaborative Filtering', IEEE TIP 16(8), 2007; implementation: Makinen, Azzari, Foi, "
    "'Collaborative Filtering of Correlated Noise', IEEE TIP 29, 2020 (PyPI bm3d)"
)
NLM_CITE = (
    "Buades, Coll, Morel, 'A non-local algorithm for image denoising', CVPR 2005; fast variant: "
    "Darbon et al., ISBI 2008 (scikit-image denoise_nl_means)"
)
WIENER_CITE = (
    "Wiener deconvolution conj(H)/(|H|^2 + gamma) as in DRFusion's blur pseudo-inverse "
    "(Shi et al., CVPR 2026); gamma rule fitted in benchbed_restorers.wiener"
)

DCP_CITE = (
    "He, Sun, Tang, 'Single Image Haze Removal Using Dark Channel Prior', CVPR 2009 / IEEE TPAMI "
    "33(12), 2011; transmission refined by the guided filter: He, Sun, Tang, 'Guided Image "
    "Filtering', ECCV 2010 / IEEE TPAMI 35(6), 2013"
)
LIME_CITE = (
    "Guo, Li, Ling, 'LIME: Low-Light Image Enhancement via Illumination Map Estimation', IEEE TIP "
    "26(2), 2017 (simplified: guided-filter refinement of the max-RGB illumination)"
)
STRETCH_CITE = (
    "percentile-clipped linear contrast stretching, Gonzalez & Woods, 'Digital Image "
    "Processing', ch. 3 (intensity transformations)"
)
DESTRIPE_CITE = (
    "column-statistics destriping (moment-matching family: Gadallah, Csillag, Smith, 'Destriping "
    "multisensor imagery with moment matching', Int. J. Remote Sensing 21(12), 2000); "
    "median-of-column-differences variant in benchbed_restorers.destripe"
)
BLIND_NOTE = "Blind: ignores the severity parameters; denoises (nlm) when noise_sigma > 0."


@hookimpl
def benchbed_register_restorers() -> list[RestorerSpec]:
    """The built-in restorer specs."""
    return [
        RestorerSpec(
            name="identity",
            version="1",
            summary="No restoration; a low-resolution y is bicubic-resized to the clean grid.",
            factory=Identity,
            params={},
            handles=("*",),
            citation="baseline: the degraded observation itself",
        ),
        RestorerSpec(
            name="bicubic",
            version="1",
            summary="Bicubic interpolation of a low-resolution y to the clean grid; else identity.",
            factory=Bicubic,
            params={"method": "bicubic"},
            handles=("lowres", "composite"),
            citation="Keys, 'Cubic convolution interpolation for digital image processing', "
            "IEEE TASSP 29(6), 1981 (PIL bicubic)",
        ),
        RestorerSpec(
            name="wiener",
            version="2",  # 2: DC-normalised Wiener filter (benchbed.operators.wiener_filter)
            summary="Non-blind Wiener deconvolution with the observation's blur operator, gamma "
            "from its noise level (or fixed); identity when there is no blur.",
            factory=Wiener,
            params={"gamma": None, "gamma_scale": 2.0, "alias": 0.03},
            handles=("gaussian_blur", "composite"),
            citation=WIENER_CITE,
        ),
        RestorerSpec(
            name="bm3d",
            version="1",
            summary="BM3D denoiser at the observation's noise sigma (``sigma`` overrides; 0 = "
            "identity); bm3d_rgb for colour. Slow: ~8 s gray, ~20-30 s RGB per 640x480 on 2 cores.",
            factory=BM3D,
            params={"sigma": None, "profile": "np"},
            handles=("gaussian_noise", "composite"),
            citation=BM3D_CITE,
            requires={"bm3d": "pip install 'benchbed[bm3d]' (BM3D is free for non-commercial "
                              "use only)"},
        ),
        RestorerSpec(
            name="nlm",
            version="1",
            summary="Fast non-local means at the observation's noise sigma (h = 0.6 sigma, 5x5 "
            "patches, 13x13 search); ~0.3 s per 640x480.",
            factory=NLM,
            params={"sigma": None, "h_factor": 0.6, "patch_size": 5, "patch_distance": 6},
            handles=("gaussian_noise", "composite"),
            citation=NLM_CITE,
        ),
        RestorerSpec(
            name="dehaze",
            version="1",
            summary="Dark channel prior dehazing: 15x15 dark channel, A from the brightest 0.1%, "
            f"omega 0.95, guided-filter t (r 60, eps 1e-4), t0 0.1; ~0.2-0.3 s per 640x480. "
            f"{BLIND_NOTE}",
            factory=Dehaze,
            params={"patch": 15, "omega": 0.95, "t0": 0.1, "top": 0.001, "radius": 60,
                    "eps": 1e-4, "denoiser": "nlm"},
            handles=("haze",),
            citation=DCP_CITE,
        ),
        RestorerSpec(
            name="low_light_enhance",
            version="1",
            summary="Simplified LIME: R = L / T^0.6, T = guided-filtered max-RGB illumination, "
            f"same gain on every channel; ~0.1-0.2 s per 640x480 (+ NLM). {BLIND_NOTE}",
            factory=LowLightEnhance,
            params={"gamma": 0.6, "radius": 15, "eps": 1e-3, "denoiser": "nlm"},
            handles=("low_light",),
            citation=LIME_CITE,
        ),
        RestorerSpec(
            name="contrast_stretch",
            version="1",
            summary="Percentile linear stretch (0.5%-99.5% -> [0, 1], one range for all "
            f"channels): blind inverse of y = a x + b. {BLIND_NOTE}",
            factory=ContrastStretch,
            params={"low": 0.5, "high": 99.5, "denoiser": "nlm"},
            handles=("low_contrast",),
            citation=STRETCH_CITE,
        ),
        RestorerSpec(
            name="destripe",
            version="1",
            summary="Vertical-stripe removal: column offsets from the median of column "
            "differences, edge-clamped and Gaussian high-passed, then NLM when noise_sigma > 0; "
            "~0.01 s gray (+ NLM ~0.5 s) per 640x480. Blind: ignores the severity parameters.",
            factory=Destripe,
            params={"smooth": 3.0, "clamp": 5.0, "denoiser": "nlm"},
            handles=("ir_stripes",),
            citation=DESTRIPE_CITE,
        ),
        RestorerSpec(
            name="auto",
            version="3",  # 3: DC-normalised Wiener deblurring
            summary="Cascade for any linear degradation: denoise (NLM by default, bm3d optional) "
            "-> bicubic upsampling -> Wiener deblurring on the high-resolution grid; low_light, "
            "haze, low_contrast and ir_stripes go to low_light_enhance, dehaze, contrast_stretch "
            "and destripe (with this denoiser).",
            factory=Auto,
            params={"denoiser": "nlm", "residual": 0.5, "gamma": None, "gamma_scale": 2.0,
                    "alias": 0.03},
            handles=("*",),
            citation=f"restore-then-fuse protocol of DRFusion's competitors (Shi et al., CVPR "
            f"2026) and ReCoFuse's (Zhang et al., CVPR 2026); {NLM_CITE}; {WIENER_CITE}; "
            f"{DCP_CITE}; {LIME_CITE}; {DESTRIPE_CITE}",
        ),
    ]
