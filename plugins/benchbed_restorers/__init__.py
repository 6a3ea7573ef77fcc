"""Built-in restorers for restore-then-fuse cascades: identity, bicubic, Wiener, BM3D, NLM, auto.

Every restorer returns an image of ``observation.clean_shape`` (a low-resolution y is
interpolated to the clean grid), float32 in [0, 1], gray or RGB like y.
"""

from __future__ import annotations

from benchbed import RestorerSpec, hookimpl
from benchbed_restorers.auto import Auto
from benchbed_restorers.basic import Bicubic, Identity
from benchbed_restorers.denoise import BM3D, NLM
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
            version="1",
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
            name="auto",
            version="1",
            summary="Cascade for any linear degradation: denoise (NLM by default, bm3d optional) "
            "-> bicubic upsampling -> Wiener deblurring on the high-resolution grid.",
            factory=Auto,
            params={"denoiser": "nlm", "residual": 0.5, "gamma": None, "gamma_scale": 2.0,
                    "alias": 0.03},
            handles=("*",),
            citation=f"restore-then-fuse protocol of DRFusion's competitors (Shi et al., CVPR "
            f"2026); {NLM_CITE}; {WIENER_CITE}",
        ),
    ]
