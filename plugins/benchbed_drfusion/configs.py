"""Model and training configurations: `paper` (the published width) and `small` (CPU-trainable)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from benchbed import BenchbedError


@dataclass(frozen=True)
class DRFusionConfig:
    """Everything that fixes the network's shape plus the training defaults that go with it."""

    name: str
    base: int = 64  # channels of the first level (paper: 64)
    mults: tuple[int, ...] = (1, 2, 4, 8)
    res_blocks: int = 2
    groups: int = 32  # GroupNorm groups (paper: 32; the small config has too few channels for 32)
    dropout: float = 0.1
    temb_mult: int = 4
    max_steps: int = 5  # any T <= max_steps can be sampled
    steps: int = 3  # default T (paper Table 5); training uses exactly this T
    # Fixed schedule abar_t = alpha^t (the public code's initial value, 0.5). The public code
    # learns alpha; ours drifted to (.556, .243, .127) with no gain, so it is fixed.
    alpha: float = 0.5
    # DDNM+ observation-noise level. None: each source's own noise std from its observation
    # (0 for noise-free blur, so the correction is a full projection, lambda = 1). The public
    # code hard-codes 0.03, which switches the correction off at the last step for every input.
    sigma_y: float | None = None
    # Pseudo-inverse regulariser gamma = operator gamma + gain * noise_sigma^2 per source (Wiener
    # and the least-squares A† of blur + pooling). The paper gives no gamma.
    wiener_noise_gain: float = 100.0
    # training defaults
    crop: int = 256
    batch: int = 8
    lr: float = 1e-4
    train_steps: int = 20000
    # fractions of the run (public code: MultiStepLR at epochs 10, 20, 30, 40 of 100)
    milestones: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4)
    lr_gamma: float = 0.5
    # Reconstruction-dominated, as the public code (5 L_int + L_grad + 5 L_rec); the paper's
    # lambda = 10, gamma = 20 made the gradient term ~97 % of the loss and taught the net to
    # invent texture (see losses.py). "weights" is the same fusion loss on W1 X̄1 + W2 X̄2.
    loss_weights: dict[str, float] = field(
        default_factory=lambda: {"rec": 5.0, "int": 5.0, "grad": 1.0, "ssim": 1.0, "weights": 1.0}
    )

    def model_kwargs(self) -> dict[str, Any]:
        """Arguments of :class:`benchbed_drfusion.model.NoisePred`."""
        return {"base": self.base, "mults": self.mults, "res_blocks": self.res_blocks,
                "groups": self.groups, "dropout": self.dropout, "temb_mult": self.temb_mult}

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form stored inside every checkpoint."""
        d = asdict(self)
        d["mults"] = list(self.mults)
        d["milestones"] = list(self.milestones)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DRFusionConfig:
        """Inverse of :meth:`to_dict` (unknown keys are ignored so old checkpoints still load)."""
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        for key in ("mults", "milestones"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)


CONFIGS: dict[str, DRFusionConfig] = {
    # The published network: NoisePred(3, 3, 64, 2, 0.1, 4, (1, 2, 4, 8)), Adam 1e-4, batch 8, 256 crops.
    "paper": DRFusionConfig(name="paper"),
    # A quarter of the width (~1/16 of the parameters), 96-px crops and a higher learning rate, so
    # that a ~15-minute run on two shared CPU cores gets somewhere.
    "small": DRFusionConfig(name="small", base=16, groups=8, crop=96, batch=4, lr=5e-4,
                            train_steps=600, milestones=(0.6, 0.85), dropout=0.0),
    # The GPU budget's model: half the paper's width (~8 M parameters), bf16, batch 64.
    "gpu": DRFusionConfig(name="gpu", base=32, groups=16, crop=128, batch=64, lr=4e-4,
                          train_steps=15000, milestones=(0.6, 0.85), dropout=0.0),
}


def get_config(name: str, **overrides: Any) -> DRFusionConfig:
    """A named config, optionally with fields overridden (e.g. from `benchbed train --set`)."""
    if name not in CONFIGS:
        raise BenchbedError(f"DRFusion has no config {name!r}", fix=f"use one of {sorted(CONFIGS)}")
    cfg = CONFIGS[name]
    bad = set(overrides) - set(cfg.__dataclass_fields__)
    if bad:
        raise BenchbedError(f"unknown DRFusion config field(s) {sorted(bad)}",
                            fix=f"use some of {sorted(cfg.__dataclass_fields__)}")
    return replace(cfg, **overrides)
