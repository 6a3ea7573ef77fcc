"""ReCoFuse (CVPR 2026) as a degradation-aware benchbed fuser: latent dual IR-SDE restoration
coupled by a time-aware interaction module at every reverse step.

Heavy imports (torch) happen in the factory and the trainer, not at registration.
"""

from __future__ import annotations

from typing import Any

from benchbed import FuserSpec, hookimpl, lazy

CITATION = (
    "H. Zhang et al., 'ReCoFuse: Ultra-Robust Image Fusion via Restorative Multi-Modal Diffusion "
    "Reciprocal Coupling', CVPR 2026; code github.com/HaoZhang1018/ReCoFuse @ 690a90b (no weights); "
    "IR-SDE: Luo et al., ICML 2023"
)


def _trainer(**options: Any) -> Any:
    from benchbed_recofuse.train import train

    return train(**options)


def _summary() -> str:
    from benchbed_recofuse.configs import PARAM_COUNTS

    def fmt(c: dict[str, int]) -> str:
        return (f"{c['total'] / 1e6:.2f} M = AE {c['ae'] / 1e6:.3f} M + 2 x DiM {c['dim_vis'] / 1e6:.3f} M"
                f" + TIM {c['tim'] / 1e6:.3f} M")

    return ("Dual IR-SDE restoration in a fusion-AE latent (8 ch at H/8), TIM fusion at every step "
            f"(100 steps, stochastic). Params: small {fmt(PARAM_COUNTS['small'])}; "
            f"paper {fmt(PARAM_COUNTS['paper'])}.")


@hookimpl
def benchbed_register_fusers() -> list[FuserSpec]:
    """`recofuse` (small checkpoint shipped; paper weights via checkpoint=...) and its ablation."""
    from benchbed_recofuse.fuser import shipped_weights

    ref = shipped_weights("small")
    common: dict[str, Any] = dict(
        # 2: the fewer-step sampler clamps its predicted clean latent (x0_clip)
        version="2",
        params={"config": "small", "steps": 100, "device": "cpu", "checkpoint": "",
                "edge_pad": 0, "stochastic": True, "x0_clip": 3.0},
        modalities=("ir", "vi"),
        weights=(ref,) if ref else (),
        citation=CITATION,
        colour="y-cbcr",
        degradation_aware=True,
    )
    return [
        FuserSpec(name="recofuse", summary=_summary(),
                  factory=lazy("benchbed_recofuse.fuser:ReCoFuseFuser"), trainer=_trainer, **common),
        FuserSpec(name="recofuse-uncoupled",
                  summary="ReCoFuse without the reciprocal coupling (the paper's Model-I ablation): "
                          "each branch restores alone, TIM only fuses the final latents; same weights",
                  factory=lazy("benchbed_recofuse.fuser:ReCoFuseFuser", coupled=False), **common),
    ]
