"""DRFusion (CVPR 2026) as a degradation-aware fuser: implicit-denoising DDIM with the joint
observation-model correction, consuming the core's observations and linear operators.

Registers ``drfusion`` and ``drfusion-noconstraint`` (the paper's Table 3 ablation: the same
network with the correction step removed). Heavy imports (torch) happen in the factories.
Notes: shared/reference/drfusion.md; modules: model, sampler, operators_torch, losses, data,
train, checkpoints, fuser.
"""

from __future__ import annotations

from typing import Any

from benchbed import FuserSpec, hookimpl, lazy

CITATION = (
    "Shi, Liu, Wu, Cheng, Li, Chen, 'Degradation-Robust Fusion: An Efficient Degradation-Aware "
    "Diffusion Framework for Multimodal Image Fusion in Arbitrary Degradation Scenarios', "
    "CVPR 2026 (arXiv 2604.08922); code github.com/YShi-cool/DRFusion"
)

PARAMS: dict[str, Any] = {
    "steps": 3,  # DDIM steps T (1..5; paper default 3)
    "config": "small",  # small | paper: which released model 'auto' picks
    "checkpoint": "auto",  # auto = the released model of the modality family (ivf | med), or a path
    "device": "cpu",  # set by the runner from --device
    "tile": 0,  # 0 = whole image through the U-Net; N = N x N tiles (overlap 32) for big images
    "sigma_y": None,  # DDNM+ sigma_y for the step size lambda_t (None = each source's own noise std)
    # Wiener A^+ regulariser = operator gamma + gain * noise_sigma^2 (None = the model's, 100; 0 = core's)
    "wiener_noise_gain": None,
}


def _weights_tag() -> str:
    """Short hash of the released checkpoints' sha256s: part of the version, so that new weights
    invalidate cached fusions (the cache key holds the version, not the weights)."""
    import hashlib
    import json
    from pathlib import Path

    try:
        prov = json.loads((Path(__file__).parent / "checkpoints" / "provenance.json").read_text())
        shas = sorted(c["sha256"] for c in prov.get("checkpoints", {}).values())
    except (OSError, ValueError, KeyError):
        return "0"
    return hashlib.sha256("".join(shas).encode()).hexdigest()[:8]


def _train(**options: Any) -> Any:
    from benchbed_drfusion.train import train

    return train(**options)


@hookimpl
def benchbed_register_fusers() -> list[FuserSpec]:
    """DRFusion and its no-constraint ablation."""
    # 2: per-source sigma_y, fixed schedule, least-squares A† for blur + pooling, DC-normalised Wiener
    version = f"2+{_weights_tag()}"
    common = {"params": PARAMS, "colour": "y-cbcr", "degradation_aware": True,
              "modalities": ("ir", "vi", "mri", "pet", "spect", "ct"), "citation": CITATION}
    return [
        FuserSpec(name="drfusion", version=version,
                  summary="DRFusion: DDIM (T steps) with implicit denoising and the joint "
                          "observation-model correction x - Sigma_t A^+(A x - y); any linear operator",
                  factory=lazy("benchbed_drfusion.fuser:DRFusionFuser"), trainer=_train, **common),
        FuserSpec(name="drfusion-noconstraint", version=version,
                  summary="DRFusion without the observation-model correction (paper Table 3 "
                          "ablation; same network, correction removed at sampling)",
                  factory=lazy("benchbed_drfusion.fuser:DRFusionFuser", constraint=False), **common),
    ]
