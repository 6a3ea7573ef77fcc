"""Model, SDE and training configurations: `paper` (as published) and `small` (trains on CPU).

Values of `paper` follow shared/reference/recofuse.md (ReCoFuse_train.yml, OmniFuse train_AE.yml).
Both configs keep the published latent geometry (8 channels at H/8 x W/8) so that the two differ
only in width and depth.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from benchbed_recofuse.synth import RECIPE_SETS


@dataclass(frozen=True)
class AEConfig:
    """The OmniFuse fusion autoencoder (UNet without time input)."""

    in_ch: int = 1  # the core hands fusers the Y channel; the published AE takes RGB (3)
    ch: int = 8
    ch_mult: tuple[int, ...] = (4, 8, 8, 16)
    embed_dim: int = 8
    attn_heads: int = 4
    attn_dim_head: int = 32


@dataclass(frozen=True)
class DiMConfig:
    """One conditional NAFNet restoration branch (there are two: VIS and IR)."""

    latent_ch: int = 8
    width: int = 64
    enc_blocks: tuple[int, ...] = (1, 1, 1, 28)
    middle_blocks: int = 1
    dec_blocks: tuple[int, ...] = (1, 1, 1, 1)
    # eps = c_t (x - mu) / sigma_bar_t + net(...), c_t the linear-MMSE gain (see ReCoFuse.eps).
    # False = the published parameterisation (the net predicts eps alone).
    eps_skip: bool = False
    # What the net predicts: "eps" (the noise, as published) or "x0" (the clean latent:
    # z0_hat = mu + k_t (x - mu) + net(...), k_t the linear-MMSE gain, sampled by the exact
    # OU-bridge posterior step). With eps, the implied z0 divides the net's error by
    # e^{-bar_theta_t dt} (~0.005 at T = 20): a bias of 0.1 % of the noise at t = 20 compounded
    # into a darkened, contrast-less output on bright daytime scenes (issue 19, gate 2b).
    param: str = "eps"
    # How TIM's fused latent z_f reaches the branches at every reverse step. "state" (as
    # published): both branches step from z_f, the net's input is concat(z_f - mu, mu). "condition":
    # each branch steps from its own state (the net sees concat(x - mu, mu)) and z_f - mu enters
    # through a zero-initialised conv added to the intro conv, so a coupled net starts as the
    # branch alone (Model I). With "state" a branch's next state inherits the other modality's
    # content through the posterior's z_t term (issue 19, gate 3: noise 36.6 dB alone, 6.0 coupled).
    coupling: str = "state"


@dataclass(frozen=True)
class TIMConfig:
    """The time-aware interaction module that fuses the two branch latents."""

    latent_ch: int = 8
    model_channels: int = 64
    cbam_ratio: int = 16
    # True: normalise the two sigmoid weights to sum to 1 (a convex combination). False = the
    # published TIM, whose unconstrained weights make the 100-fold coupling expansive where
    # w_ir + w_vis > ~1.1 unless TIM is trained long.
    convex: bool = False
    # Cross-attention token grid = the latent average-pooled by this factor (1 = every latent
    # token, as published). The gated-x0 latent is at H/4, where full attention has 16x the
    # published H/8 token count (19.2k tokens, 9.8 s per TIM call at 640x480 on 2 cores);
    # pooling by 2 restores the published H/8 token grid and cost.
    attn_pool: int = 1


@dataclass(frozen=True)
class SDEConfig:
    """IR-SDE: max_sigma 50/255, T = 100, cosine theta schedule, eps 0.005 (ReCoFuse_train.yml)."""

    max_sigma: float = 50.0 / 255.0
    T: int = 100
    schedule: str = "cosine"
    eps: float = 0.005


@dataclass(frozen=True)
class TrainConfig:
    """Training stages and optimiser settings (per-stage steps; `--steps` rescales them).

    ``latent_std``: after the AE stage the latent is rescaled to this std, so that max_sigma
    50/255 relates to the latent as it does to [0, 1] images in IR-SDE. The OmniFuse latent's
    scale is unpublished; without this, a briefly trained AE gave latents of std ~15 and the
    SDE noise became negligible.
    """

    ae_steps: int = 300_000  # OmniFuse train_AE.yml
    dim_steps: int = 0  # single-modality IR-SDE pretraining (VIS.pth / IR.pth); length unpublished
    joint_steps: int = 200_000  # ReCoFuse_train.yml niter
    ae_batch: int = 12
    ae_crop: int = 128
    batch: int = 16
    crop: int = 480
    lr_ae: float = 3e-5
    lr: float = 3e-5
    lr_min: float = 1e-7
    # Target std of the latents after the AE stage (image-like spread, see TrainConfig docs).
    latent_std: float = 0.25
    betas: tuple[float, float] = (0.9, 0.99)
    ckpt_every: int = 10_000
    log_every: int = 200
    # Pairs per training dataset split held out of training for the gates (data.split_holdout).
    holdout: int = 0
    # Branch stage loss: "matching" (IR-SDE's, as published), "eps" (MSE of the noise
    # prediction, every t weighted alike: what gate 2's error at every t asks of the nets) or
    # "x0" (for param = "x0": MSE of the clean latent weighted by SNR_t + 1, i.e. the v-prediction
    # weighting: the noise-MSE weight where t is small, the clean-latent MSE where t is large).
    dim_loss: str = "matching"
    # TIM at the start of the joint stage: "default" (PyTorch's init, as published: TIM from
    # scratch) or "equal" (the last conv of both weight heads zeroed, so TIM starts as the equal
    # blend z_f = z_vis / 2 + z_ir / 2 and the first coupled steps do not scramble the branches).
    tim_init: str = "default"
    # Joint-stage curriculum: over this fraction of the joint steps the largest t drawn rises
    # linearly from 1 to T (0 = off, t ~ U{1..T} from the first step as published).
    joint_curriculum: float = 0.0
    # LQ synthesis recipes (synth.RECIPE_SETS): "v1" as first shipped; "v2" adds R3's VIS
    # "mild contrast (+ noise)" case and more clean inputs.
    recipes: str = "v1"
    # Probability of a random global tone change of each clean crop (data.tone_jitter); 0 = off.
    tone_jitter: float = 0.0
    # What the joint stage trains of the branch nets: "all" (as published) or "coupling" (only
    # the zero-initialised z_f convs of coupling "condition"; the trunk stays Model I's).
    joint_train: str = "all"

    def __post_init__(self) -> None:
        for name, value, allowed in (("dim_loss", self.dim_loss, ("matching", "eps", "x0")),
                                     ("joint_train", self.joint_train, ("all", "coupling")),
                                     ("tim_init", self.tim_init, ("default", "equal")),
                                     ("recipes", self.recipes, tuple(RECIPE_SETS))):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, not {value!r}")
        if not 0.0 <= self.joint_curriculum <= 1.0:
            raise ValueError(f"joint_curriculum is a fraction in [0, 1], not {self.joint_curriculum}")
        if not 0.0 <= self.tone_jitter <= 1.0:
            raise ValueError(f"tone_jitter is a probability in [0, 1], not {self.tone_jitter}")


@dataclass(frozen=True)
class ModelConfig:
    """Everything that defines one ReCoFuse variant."""

    name: str
    ae: AEConfig = field(default_factory=AEConfig)
    dim: DiMConfig = field(default_factory=DiMConfig)
    tim: TIMConfig = field(default_factory=TIMConfig)
    sde: SDEConfig = field(default_factory=SDEConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        if self.dim.param not in ("eps", "x0"):
            raise ValueError(f"param must be 'eps' or 'x0', not {self.dim.param!r}")
        if self.dim.coupling not in ("state", "condition"):
            raise ValueError(f"coupling must be 'state' or 'condition', not {self.dim.coupling!r}")
        if self.dim.coupling == "condition" and self.dim.param != "x0":
            raise ValueError("coupling 'condition' is built for the x0 parameterisation")
        if self.train.joint_train == "coupling" and self.dim.coupling != "condition":
            raise ValueError("joint_train 'coupling' trains the z_f convs of coupling "
                             "'condition'; this config has none (use gated-x0-cond or "
                             "joint_train=all)")
        if (self.dim.param == "x0") != (self.train.dim_loss == "x0"):
            raise ValueError(f"dim_loss {self.train.dim_loss!r} does not fit param "
                             f"{self.dim.param!r}: the x0 loss goes with the x0 parameterisation")

    def arch(self) -> dict[str, Any]:
        """The architecture part as plain data (stored in checkpoints and checked on load)."""
        from dataclasses import asdict

        return {"ae": asdict(self.ae), "dim": asdict(self.dim), "tim": asdict(self.tim),
                "sde": asdict(self.sde)}


PAPER = ModelConfig(name="paper")

SMALL = ModelConfig(
    name="small",
    ae=AEConfig(ch=4, ch_mult=(2, 4, 4, 8), attn_heads=2, attn_dim_head=16),
    # eps_skip: a briefly trained score net under-predicts the (x - mu) part of eps, and the
    # reverse drift then pushes states away from mu (x e^{sum theta dt} ~ 200 over 100 steps).
    dim=DiMConfig(width=16, enc_blocks=(1, 1, 1, 2), middle_blocks=1, dec_blocks=(1, 1, 1, 1),
                  eps_skip=True),
    tim=TIMConfig(model_channels=32, convex=True),
    # Short CPU schedule: Lion at a higher lr than the paper's 3e-5, which is tuned for 200k steps.
    # crop 128 gives a 16x16 latent, which the 4-level DiM takes without zero padding.
    train=TrainConfig(ae_steps=200, dim_steps=200, joint_steps=300, ae_batch=4, ae_crop=64,
                      batch=4, crop=128, lr_ae=2e-4, lr=1e-4, ckpt_every=50, log_every=25),
)

# The gated rebuild (issue 19): each stage must pass its gate before the next is trained.
# Latent at H/4 (3 AE levels): 8 channels per 4x4 patch of the Y image, so that the latent can
# carry the content at >= 28 dB when the skips are interchangeable (at H/8 the 8 channels hold
# 64 pixels each). The IR-SDE has the 20 steps the suites sample with (trained at those steps).
GATED = ModelConfig(
    name="gated",
    ae=AEConfig(ch=8, ch_mult=(2, 4, 8), attn_heads=2, attn_dim_head=16),
    dim=DiMConfig(width=16, enc_blocks=(1, 1, 1, 2), middle_blocks=1, dec_blocks=(1, 1, 1, 1),
                  eps_skip=True),
    tim=TIMConfig(model_channels=32, convex=True),
    sde=SDEConfig(T=20),
    train=TrainConfig(ae_steps=3000, dim_steps=20_000, joint_steps=10_000, ae_batch=8,
                      ae_crop=64, batch=8, crop=128, lr_ae=2e-4, lr=1e-4, ckpt_every=100,
                      log_every=50, holdout=1, dim_loss="eps", tim_init="equal",
                      joint_curriculum=0.5, recipes="v2", tone_jitter=0.5),
)

# The gated rebuild with the clean-latent parameterisation (issue 19, after gate 2b failed on
# the eps nets): same modules and sizes, the branch nets trained again from the eps nets' trunk
# (their output layer zeroed, so they start as the linear-MMSE estimate) with the x0 loss.
GATED_X0 = replace(GATED, name="gated-x0", dim=replace(GATED.dim, param="x0"),
                   tim=replace(GATED.tim, attn_pool=2),
                   train=replace(GATED.train, dim_loss="x0", dim_steps=8000))

# Coupling through conditioning (issue 19, after gate 3 failed with branches stepping from z_f):
# the same modules plus one zero-initialised 3x3 conv per branch for z_f - mu; the joint stage
# trains with the branch stage's x0 loss (so it starts at Model I and is asked for the same
# target), at the paper's lr 3e-5 (Lion at 1e-4 wrecked the visible branch within 100 steps).
GATED_X0_COND = replace(GATED_X0, name="gated-x0-cond",
                        dim=replace(GATED_X0.dim, coupling="condition"),
                        train=replace(GATED_X0.train, lr=3e-5))

# The paper schedule is far beyond a lent GPU's minutes; `--steps` rescales these proportions.
CONFIGS: dict[str, ModelConfig] = {"small": SMALL, "gated": GATED, "gated-x0": GATED_X0,
                                   "gated-x0-cond": GATED_X0_COND, "paper": PAPER}

# Parameter counts of the modules as built here (1-channel AE); tests/test_recofuse.py checks them.
PARAM_COUNTS: dict[str, dict[str, int]] = {
    "small": {"ae": 127_241, "dim_vis": 1_377_368, "dim_ir": 1_377_368, "tim": 63_401,
              "total": 2_945_378},
    "gated": {"ae": 373_137, "dim_vis": 1_377_368, "dim_ir": 1_377_368, "tim": 63_401,
              "total": 3_191_274},
    "gated-x0": {"ae": 373_137, "dim_vis": 1_377_368, "dim_ir": 1_377_368, "tim": 63_401,
                 "total": 3_191_274},
    "gated-x0-cond": {"ae": 373_137, "dim_vis": 1_378_536, "dim_ir": 1_378_536, "tim": 63_401,
                      "total": 3_193_610},
    "paper": {"ae": 2_007_569, "dim_vis": 76_617_032, "dim_ir": 76_617_032, "tim": 231_273,
              "total": 155_472_906},
}


def get_config(name: str) -> ModelConfig:
    """The named config, or a BenchbedError listing the known ones."""
    if name not in CONFIGS:
        from benchbed.errors import BenchbedError

        raise BenchbedError(f"recofuse has no config {name!r}", fix=f"use one of {sorted(CONFIGS)}")
    return CONFIGS[name]


def with_train(cfg: ModelConfig, **changes: Any) -> ModelConfig:
    """``cfg`` with some training settings replaced."""
    return replace(cfg, train=replace(cfg.train, **changes))


def format_millions(n: int) -> str:
    """A parameter count in millions with 3 significant decimals."""
    return f"{n / 1e6:.3f} M"
