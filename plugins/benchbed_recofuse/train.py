"""`benchbed train recofuse`: AE stage, IR-SDE branch pretraining, then the coupled ReCoFuse stage.

Stage order follows the paper's pipeline: (1) the OmniFuse autoencoder with its 16 cross-
reconstruction terms; (2) each DiM branch as a single-modality IR-SDE (the paper initialises from
VIS.pth / IR.pth trained this way); (3) the frozen-AE joint stage alternating Step A (restoration
regulariser through TIM; updates both DiMs and TIM) and Step B (fusion regulariser; TIM only).
Degradations are synthesised on the fly from training splits. Everything is seeded, resumable
(``out/state.pt``) and ends with the weights plus a provenance JSON.
"""

from __future__ import annotations

import json
import math
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as nnf

from benchbed_recofuse.configs import ModelConfig, get_config, with_train
from benchbed_recofuse.data import Batch, BatchMaker, load_pairs, split_holdout
from benchbed_recofuse.lion import Lion
from benchbed_recofuse.losses import ae_loss, fusion_loss
from benchbed_recofuse.model import ReCoFuse, save_weights
from benchbed_recofuse.synth import DegradationSampler

STAGES = ("ae", "dim", "joint")
TRAIN_KEYS = ("ae_steps", "dim_steps", "joint_steps", "ae_batch", "ae_crop", "batch", "crop",
              "lr_ae", "lr", "lr_min", "latent_std", "ckpt_every", "log_every", "dim_loss",
              "tim_init", "joint_curriculum", "recipes", "tone_jitter", "joint_train")


def stage_plan(cfg: ModelConfig, steps: int | None) -> dict[str, int]:
    """Steps per stage: the config's, rescaled to total ``steps`` when given."""
    base = {"ae": cfg.train.ae_steps, "dim": cfg.train.dim_steps, "joint": cfg.train.joint_steps}
    if not steps:
        return base
    total = sum(base.values())
    plan = {k: round(v * steps / total) for k, v in base.items()}
    plan["joint"] += steps - sum(plan.values())
    return plan


def cosine_lr(lr0: float, lr_min: float, k: int, n: int) -> float:
    """Cosine annealing from lr0 at k = 0 to lr_min at k = n (CosineAnnealingLR without state)."""
    return lr_min + (lr0 - lr_min) * 0.5 * (1 + math.cos(math.pi * min(k, n) / max(n, 1)))


def git_commit(where: Path) -> str:
    """`git rev-parse HEAD` of the checkout holding ``where`` (+ ' (dirty)'), or 'unknown'."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "."],
                               cwd=where, capture_output=True, text=True).stdout.strip()
        return head + (" (recofuse plugin has uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine(device: str) -> dict[str, Any]:
    """Where this ran: host, CPU, threads, torch, and the accelerator's name."""
    info: dict[str, Any] = {"host": platform.node(), "platform": platform.platform(),
                            "processor": platform.processor() or platform.machine(),
                            "torch": torch.__version__, "threads": torch.get_num_threads(),
                            "device": device}
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


class Trainer:
    """Holds the model, the optimisers of the current stage and the resumable state."""

    def __init__(self, cfg: ModelConfig, plan: dict[str, int], maker: BatchMaker, device: str,
                 seed: int, amp: bool) -> None:
        self.cfg, self.plan, self.maker = cfg, plan, maker
        self.device = torch.device(device)
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.model = ReCoFuse(cfg).to(self.device)
        self.amp = amp and self.device.type == "cuda"
        self.stage_idx, self.k = 0, 0
        self.elapsed = 0.0
        self.stage_seconds = {s: 0.0 for s in STAGES}
        self.history: dict[str, list[float]] = {}
        self.opts: dict[str, torch.optim.Optimizer] = {}
        self._build_opts()

    # -- optimisers -------------------------------------------------------------------------
    @property
    def stage(self) -> str:
        """Name of the current stage ('done' after the last)."""
        return STAGES[self.stage_idx] if self.stage_idx < len(STAGES) else "done"

    def _build_opts(self) -> None:
        t, m = self.cfg.train, self.model
        self.opts = {}
        if self.stage == "ae":
            self.opts = {"ae": Lion(m.ae.parameters(), lr=t.lr_ae, betas=t.betas)}
        elif self.stage in ("dim", "joint"):
            # The AE is frozen after its own stage (the paper loads a trained latent-AE).
            m.ae.requires_grad_(False)
            trained = {"vis": m.dim_vis, "ir": m.dim_ir}
            if self.stage == "joint" and t.joint_train == "coupling":  # (ModelConfig checks it)
                for net in trained.values():
                    net.requires_grad_(False)
                trained = {k: net.couple.requires_grad_(True) for k, net in trained.items()}
            self.opts = {k: Lion(net.parameters(), lr=t.lr, betas=t.betas)
                         for k, net in trained.items()}
            if self.stage == "joint":
                self.opts["tim"] = Lion(m.tim.parameters(), lr=t.lr, betas=t.betas)

    def _set_lr(self) -> float:
        t = self.cfg.train
        lr0 = t.lr_ae if self.stage == "ae" else t.lr
        lr = cosine_lr(lr0, t.lr_min, self.k, self.plan[self.stage])
        for opt in self.opts.values():
            for g in opt.param_groups:
                g["lr"] = lr
        return lr

    # -- one step per stage -----------------------------------------------------------------
    def _autocast(self) -> Any:
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.amp)

    def _encode(self, b: Batch) -> dict[str, Any]:
        ae = self.model.ae
        with torch.no_grad(), self._autocast():
            mu_v, h_v = ae.encode(b.vis_lq)
            z0_v, _ = ae.encode(b.vis_gt)
            mu_i, h_i = ae.encode(b.ir_lq)
            z0_i, _ = ae.encode(b.ir_gt)
        f = lambda x: x.float()  # noqa: E731
        return {"mu_v": f(mu_v), "z0_v": f(z0_v), "mu_i": f(mu_i), "z0_i": f(z0_i),
                "h_v": [f(h) for h in h_v], "h_i": [f(h) for h in h_i]}

    def joint_t_max(self) -> int:
        """Largest t the joint stage draws at its current step (the curriculum from small t)."""
        T, frac = self.model.sde.T, self.cfg.train.joint_curriculum
        if frac <= 0:
            return T
        ramp = max(1.0, frac * self.plan["joint"])
        return min(T, 1 + int((T - 1) * self.k / ramp))

    def _states(self, e: dict[str, Any], t_max: int | None = None) -> tuple[torch.Tensor, ...]:
        """(t, x_vis, x_ir, noise_vis, noise_ir): both latents diffused to a random t <= t_max."""
        sde, n = self.model.sde, e["mu_v"].shape[0]
        t_max = sde.T if t_max is None else t_max
        t = torch.randint(1, t_max + 1, (n,), device=self.device)  # shared by both modalities
        n_v, n_i = torch.randn_like(e["mu_v"]), torch.randn_like(e["mu_i"])
        x_v = sde.sample_marginal(e["z0_v"], e["mu_v"], t, n_v)
        x_i = sde.sample_marginal(e["z0_i"], e["mu_i"], t, n_i)
        return t, x_v, x_i, n_v, n_i

    def _matching(self, branch: str, start: torch.Tensor, xt: torch.Tensor, z0: torch.Tensor,
                  mu: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """L1 between the sampler's reverse mean step from ``start`` and the optimum z*_{t-1}
        from ``xt``."""
        return nnf.l1_loss(self._mean_step(branch, start, mu, t), self.model.sde.optimum_step(xt, z0, mu, t))

    def _mean_step(self, branch: str, start: torch.Tensor, mu: torch.Tensor,
                   t: torch.Tensor) -> torch.Tensor:
        """The noise-free reverse step t -> t-1 from ``start`` that the model's sampler takes:
        Euler-Maruyama from the predicted noise (eps), or the OU-bridge posterior mean at the
        predicted clean latent (x0), so the joint stage trains the step the suites sample with."""
        m = self.model
        if m.cfg.dim.param == "x0":
            with self._autocast():
                x0 = m.x0(branch, start, mu, t)
            return m.sde.posterior_mean(start.float(), x0, mu.float(), t, t - 1)
        with self._autocast():
            eps = m.eps(branch, start, mu, t)
        return m.sde.reverse_mean_step(start, mu, eps, t)

    def _x0_loss(self, branch: str, xt: torch.Tensor, mu: torch.Tensor, z0: torch.Tensor,
                 t: torch.Tensor, z_f: torch.Tensor | None = None) -> torch.Tensor:
        """MSE of the branch's clean-latent prediction from ``xt`` (given TIM's ``z_f``), weighted
        per sample by SNR_t + 1 = (d^2 + sigma_bar^2) / sigma_bar^2 (the v-prediction weight)
        scaled to mean 1 over t = 1..T: the noise-MSE weight where t is small, x0-MSE where t is
        large."""
        sde = self.model.sde

        def weight(tt: torch.Tensor) -> torch.Tensor:
            return (sde.decay(tt) ** 2 + sde.sigma_bar(tt) ** 2) / sde.sigma_bar(tt) ** 2

        with self._autocast():
            x0 = self.model.x0(branch, xt, mu, t, z_f)
        w = weight(t) / weight(torch.arange(1, sde.T + 1, device=t.device)).mean()
        return (w * (x0 - z0) ** 2).mean()

    def step_ae(self) -> dict[str, float]:
        """One AE update on the 16-term cross-reconstruction loss."""
        t = self.cfg.train
        b = self.maker.make(t.ae_batch, t.ae_crop, self.rng).to(self.device)
        with self._autocast():
            loss = ae_loss(self.model.ae, [b.vis_lq, b.vis_gt, b.ir_lq, b.ir_gt])
        self.opts["ae"].zero_grad(set_to_none=True)
        loss.backward()
        self.opts["ae"].step()
        return {"ae": loss.item() / 16}

    def step_dim(self) -> dict[str, float]:
        """One single-modality IR-SDE update per branch (no coupling yet)."""
        m = self.model
        e = self._encode(self.maker.make(self.cfg.train.batch, self.cfg.train.crop, self.rng)
                         .to(self.device))
        t, x_v, x_i, n_v, n_i = self._states(e)
        if self.cfg.train.dim_loss == "x0":
            lv = self._x0_loss("vis", x_v, e["mu_v"], e["z0_v"], t)
            li = self._x0_loss("ir", x_i, e["mu_i"], e["z0_i"], t)
        elif self.cfg.train.dim_loss == "eps":
            with self._autocast():
                eps_v = m.eps("vis", x_v, e["mu_v"], t)
                eps_i = m.eps("ir", x_i, e["mu_i"], t)
            # every t weighs the same (the matching loss weighs the eps error at t by
            # sigma_t^2 dt / sigma_bar_t, which leaves the small t barely trained)
            lv, li = nnf.mse_loss(eps_v, n_v), nnf.mse_loss(eps_i, n_i)
        else:
            lv = self._matching("vis", x_v, x_v, e["z0_v"], e["mu_v"], t)
            li = self._matching("ir", x_i, x_i, e["z0_i"], e["mu_i"], t)
        for opt in self.opts.values():
            opt.zero_grad(set_to_none=True)
        (lv + li).backward()
        for opt in self.opts.values():
            opt.step()
        return {"vis": lv.item(), "ir": li.item()}

    def step_joint(self) -> dict[str, float]:
        """Step A (restoration through TIM; DiMs + TIM) then Step B (fusion; TIM only)."""
        m = self.model
        e = self._encode(self.maker.make(self.cfg.train.batch, self.cfg.train.crop, self.rng)
                         .to(self.device))
        t, x_v, x_i, _, _ = self._states(e, self.joint_t_max())
        for opt in self.opts.values():
            opt.zero_grad(set_to_none=True)
        with self._autocast():
            z_f = m.tim(x_v, x_i, t).float()
        if m.cfg.dim.coupling == "condition":
            # Each branch from its own x_t given z_f: the branch stage's loss, so the zero-
            # initialised coupling starts at Model I and is asked for the same target.
            lv = self._x0_loss("vis", x_v, e["mu_v"], e["z0_v"], t, z_f)
            li = self._x0_loss("ir", x_i, e["mu_i"], e["z0_i"], t, z_f)
        else:
            # Prediction starts from z_f; the target is each branch's own optimum from its x_t.
            lv = self._matching("vis", z_f, x_v, e["z0_v"], e["mu_v"], t)
            li = self._matching("ir", z_f, x_i, e["z0_i"], e["mu_i"], t)
        (lv + li).backward()
        for opt in self.opts.values():
            opt.step()

        for opt in self.opts.values():
            opt.zero_grad(set_to_none=True)
        ae = m.ae
        with self._autocast():
            fuse = m.tim(e["z0_v"], e["z0_i"], torch.zeros_like(t))
            with torch.no_grad():
                vis_ref = ae.decode(e["z0_v"], e["h_v"]).float()
                ir_ref = ae.decode(e["z0_i"], e["h_i"]).float()
            h_f = [(a + b) / 2 for a, b in zip(e["h_v"], e["h_i"])]
            fused = ae.decode(fuse, h_f).float()
        lf, parts = fusion_loss(vis_ref, ir_ref, fused)
        lf.backward()
        self.opts["tim"].step()
        return {"vis": lv.item(), "ir": li.item(), "fuse": lf.item(), **parts}

    @torch.no_grad()
    def calibrate_latent(self, batches: int = 8) -> float:
        """Set the AE's latent_scale so training latents (LQ and GT, both modalities) have latent_std."""
        ae, t = self.model.ae, self.cfg.train
        ae.latent_scale.fill_(1.0)
        zs, gaps = [], []
        for _ in range(batches):
            b = self.maker.make(t.batch, t.crop, self.rng).to(self.device)
            z = [ae.encode(x)[0].float() for x in (b.vis_lq, b.vis_gt, b.ir_lq, b.ir_gt)]
            zs += [x.flatten() for x in z]
            gaps += [(z[1] - z[0]).flatten(), (z[3] - z[2]).flatten()]
        scale = t.latent_std / max(float(torch.cat(zs).std()), 1e-8)
        ae.latent_scale.fill_(scale)
        # Var(z0 - mu) after rescaling: the prior of the eps_skip preconditioning.
        self.model.eps_skip_var.fill_(float(torch.cat(gaps).pow(2).mean()) * scale**2)
        return scale

    # -- state ------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Everything needed to resume bit-for-bit on the same device."""
        return {"config": self.cfg.name, "plan": self.plan, "stage_idx": self.stage_idx, "k": self.k,
                "model": self.model.state_dict(),
                "opts": {k: o.state_dict() for k, o in self.opts.items()},
                "rng": self.rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                "elapsed": self.elapsed, "stage_seconds": self.stage_seconds, "history": self.history}

    def load_state(self, st: dict[str, Any]) -> None:
        """Restore a state written by :meth:`state`."""
        self.model.load_state_dict(st["model"], strict=True)
        self.stage_idx, self.k = st["stage_idx"], st["k"]
        self._build_opts()
        for k, o in self.opts.items():
            if k in st["opts"]:
                o.load_state_dict(st["opts"][k])
        self.rng.bit_generator.state = st["rng"]
        torch.set_rng_state(st["torch_rng"])
        if st.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(st["cuda_rng"])
        self.elapsed, self.history = st["elapsed"], st["history"]
        self.stage_seconds.update(st.get("stage_seconds", {}))

    def save_state(self, path: Path) -> None:
        """Atomically write the resumable state."""
        tmp = path.with_suffix(".tmp")
        torch.save(self.state(), tmp)
        tmp.replace(path)

    def progress(self) -> dict[str, Any]:
        """Where training stands, saved with exported weights so another session can go on."""
        return {"stage": self.stage, "k": self.k, "elapsed": round(self.elapsed, 1),
                "stage_seconds": {k: round(v, 1) for k, v in self.stage_seconds.items()}}

    def export(self, path: Path, seed: int) -> Path:
        """Write the weights with :meth:`progress` (small enough to commit, unlike the state)."""
        return save_weights(self.model, path, meta={"seed": seed, "plan": dict(self.plan),
                                                    "progress": self.progress()})

    def start_from(self, path: Path, seed: int) -> None:
        """Go on from weights written by :meth:`export`, up to this trainer's plan.

        Stages the file finished count as done up to the plan they were trained with; training
        goes on in the first stage whose new plan asks for more steps (so a run that ended can
        be given a longer branch stage or its joint stage), never in a stage before one the file
        had already begun. The optimiser moments and the data order are not in the weights: the
        moments restart at zero and the batch stream is reseeded from (seed, stage, step) so no
        batch is replayed.
        """
        from benchbed.errors import BenchbedError
        from benchbed.work import derive_seed
        from benchbed_recofuse.model import load_checkpoint

        model, meta = load_checkpoint(path, None, map_location=str(self.device))
        prog = meta.get("progress")
        if not prog or prog.get("stage") not in (*STAGES, "done"):
            raise BenchbedError(f"{path} records no training progress",
                                fix="pass weights exported by `benchbed train recofuse` "
                                    "(recofuse-CONFIG-progress.pt)")
        self._load_compatible(path, model)
        at = STAGES.index(prog["stage"]) if prog["stage"] in STAGES else len(STAGES)
        trained_plan = meta.get("plan") or {}
        done = {s: int(trained_plan.get(s, 0)) for s in STAGES[:at]}
        if at < len(STAGES):
            done[STAGES[at]] = int(prog["k"])
        idx = next((i for i, s in enumerate(STAGES) if done.get(s, 0) < self.plan[s]), len(STAGES))
        begun = [s for s in STAGES[idx + 1:] if done.get(s, 0) > 0]
        if begun:
            name = STAGES[idx]
            raise BenchbedError(
                f"{path} trained its {name} stage for {done.get(name, 0)} steps and then began the "
                f"{begun[0]} stage; the {name} stage cannot be extended to {self.plan[name]} now",
                fix=f"keep --set {name}_steps={done.get(name, 0)}")
        # Extending a stage the file had finished starts there; otherwise go on from the recorded
        # step and let advance() leave a finished stage (the AE's latent calibration included).
        self.stage_idx, self.k = (idx, done.get(STAGES[idx], 0)) if idx < at else (at, int(prog["k"]))
        self.elapsed = float(prog.get("elapsed", 0.0))
        self.stage_seconds.update(prog.get("stage_seconds", {}))
        self.rng = np.random.default_rng(derive_seed(seed, self.stage_idx, self.k))
        torch.manual_seed(derive_seed(seed, self.stage_idx, self.k, "torch"))
        if self.k == 0 and self.stage != "done":
            self._enter_stage()
        else:
            self._build_opts()

    def _load_compatible(self, path: Path, model: ReCoFuse) -> None:
        """Load ``model``'s weights: the same config, or one that differs only in having no
        coupling conv (a ``state``-coupled branch stage continued as ``condition``-coupled,
        whose coupling convs keep their zero initialisation)."""
        from benchbed.errors import BenchbedError

        if model.cfg.name == self.cfg.name:
            self.model.load_state_dict(model.state_dict(), strict=True)
            return
        mine, theirs = self.cfg.arch(), model.cfg.arch()
        mine["dim"] = {**mine["dim"], "coupling": theirs["dim"]["coupling"]}
        if mine != theirs or self.cfg.dim.coupling != "condition":
            raise BenchbedError(f"{path} holds the {model.cfg.name!r} config, not {self.cfg.name!r}",
                                fix=f"pass --config {model.cfg.name} or weights of {self.cfg.name!r}")
        missing, unexpected = self.model.load_state_dict(model.state_dict(), strict=False)
        if unexpected or any(".couple." not in k for k in missing):
            raise BenchbedError(f"{path} does not fit {self.cfg.name!r}: missing {missing}, "
                                f"unexpected {unexpected}", fix="retrain")

    def _enter_stage(self) -> None:
        """Set up the current stage at its step 0 (TIM's initial blend, the optimisers)."""
        if self.stage == "joint" and self.cfg.train.tim_init == "equal":
            self.model.tim.init_equal_blend()
        self._build_opts()

    def advance(self) -> dict[str, float] | None:
        """Run one step of the current stage (moving on when a stage is complete)."""
        while self.stage != "done" and self.k >= self.plan[self.stage]:
            if self.stage == "ae":
                self.calibrate_latent()
            self.stage_idx, self.k = self.stage_idx + 1, 0
            self._enter_stage()
        if self.stage == "done":
            return None
        lr = self._set_lr()
        losses = {"ae": self.step_ae, "dim": self.step_dim, "joint": self.step_joint}[self.stage]()
        self.k += 1
        for name, v in losses.items():
            self.history.setdefault(f"{self.stage}/{name}", []).append(round(float(v), 6))
        return {**losses, "lr": lr}


def _summary(history: dict[str, list[float]], window: int = 50) -> dict[str, dict[str, float]]:
    return {k: {"first": float(np.mean(v[:window])), "last": float(np.mean(v[-window:])),
                "n": len(v)} for k, v in history.items() if v}


def train(config: str = "small", data: str | None = None, out: Path | None = None,
          steps: int | None = None, device: str = "cpu", seed: int = 0, resume: bool = True,
          echo: Callable[[str], Any] = print, **extra: Any) -> Path:
    """Train a ReCoFuse config; returns the path of the exported weights (provenance beside it)."""
    from tqdm import tqdm

    from benchbed.errors import BenchbedError
    from benchbed.weights import file_sha256

    unknown = set(extra) - {*TRAIN_KEYS, "threads", "val", "val_steps", "val_pairs", "amp",
                            "use_plugins", "command", "init"}
    if unknown:
        raise BenchbedError(f"recofuse trainer has no option(s) {sorted(unknown)}",
                            fix=f"use --set with some of {sorted(TRAIN_KEYS)}, threads, val, "
                                "val_steps, val_pairs, amp, use_plugins, init")
    if extra.get("threads"):
        torch.set_num_threads(int(extra["threads"]))
    cfg = get_config(config)
    try:
        cfg = with_train(cfg, **{k: type(getattr(cfg.train, k))(extra[k])
                                 for k in TRAIN_KEYS if k in extra})
    except ValueError as exc:
        raise BenchbedError(f"bad --set value for recofuse training: {exc}",
                            fix="give a value of the stated kind") from exc
    plan = stage_plan(cfg, steps)
    for k in ("ae", "dim", "joint"):
        if f"{k}_steps" in extra:
            plan[k] = int(extra[f"{k}_steps"])
    out = Path(out) if out else Path("runs") / f"recofuse-{config}"
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / "state.pt"

    pairs, data_labels = load_pairs(data)
    pairs, held = split_holdout(pairs, cfg.train.holdout)
    if held:
        data_labels = [*data_labels, "held out (not trained on): " + ", ".join(p.id for p in held)]
    sampler = DegradationSampler(use_plugins=bool(extra.get("use_plugins", True)),
                                 recipes=cfg.train.recipes)
    trainer = Trainer(cfg, plan, BatchMaker(pairs, sampler, tone=cfg.train.tone_jitter), device, seed,
                      amp=bool(extra.get("amp", True)))
    if resume and state_path.exists():
        st = torch.load(state_path, map_location=trainer.device, weights_only=True)
        if st["config"] != config:
            raise BenchbedError(f"{state_path} belongs to config {st['config']!r}",
                                fix="use another --out or --no-resume")
        trainer.load_state(st)
        echo(f"resumed from {state_path}: stage {trainer.stage}, step {trainer.k}")
    elif extra.get("init"):
        trainer.start_from(Path(extra["init"]), seed)
        echo(f"went on from {extra['init']}: stage {trainer.stage}, step {trainer.k} "
             "(fresh optimiser moments)")
    progress_path = out / f"recofuse-{config}-progress.pt"
    counts = trainer.model.param_counts()
    echo(f"recofuse {config}: {counts['total'] / 1e6:.3f} M params; plan {plan}; data {data_labels}; "
         f"degradations {sampler.backends}")

    total = sum(plan.values())
    done = sum(plan[s] for s in STAGES[: trainer.stage_idx]) + trainer.k
    t_start, last_save = time.time(), time.time()
    # disable=None: no bar when stderr is not a terminal, so a background run's log holds the
    # periodic step lines and no carriage-return spam.
    bar = tqdm(total=total, initial=done, desc=f"recofuse {config}", unit="step", dynamic_ncols=True,
               disable=None)
    try:
        while True:
            t0 = time.time()
            losses = trainer.advance()
            if losses is None:
                break
            trainer.elapsed += time.time() - t0
            trainer.stage_seconds[trainer.stage] += time.time() - t0
            bar.update(1)
            bar.set_postfix(stage=trainer.stage, **{k: f"{v:.4f}" for k, v in losses.items()
                                                     if k != "lr"})
            t = trainer.cfg.train
            if trainer.k % t.log_every == 0 or trainer.k == plan[trainer.stage]:
                msg = " ".join(f"{k}={v:.5g}" for k, v in losses.items())
                echo(f"[{trainer.stage} {trainer.k}/{plan[trainer.stage]}] {msg} "
                     f"({trainer.elapsed:.0f}s)")
            if trainer.k % t.ckpt_every == 0 or trainer.k == plan[trainer.stage]:
                trainer.save_state(state_path)
                trainer.export(progress_path, seed)
                last_save = time.time()
    finally:
        bar.close()
        if time.time() - last_save > 1:
            trainer.save_state(state_path)
            trainer.export(progress_path, seed)

    weights = out / f"recofuse-{config}.pt"
    trainer.export(weights, seed)
    prov: dict[str, Any] = {
        "command": extra.get("command") or " ".join(["benchbed", *sys.argv[1:]]
                                                   if Path(sys.argv[0]).name == "benchbed"
                                                   else sys.argv),
        "config": config, "seed": seed, "device": device, "amp_bf16": trainer.amp,
        "data": data_labels, "degradation_backends": sampler.backends,
        "steps": plan, "batch": {"ae": [cfg.train.ae_batch, cfg.train.ae_crop],
                                 "dim_joint": [cfg.train.batch, cfg.train.crop]},
        "optimiser": {"name": "Lion", "lr_ae": cfg.train.lr_ae, "lr": cfg.train.lr,
                      "lr_min": cfg.train.lr_min, "betas": list(cfg.train.betas),
                      "schedule": "cosine per stage"},
        "dim_loss": cfg.train.dim_loss, "holdout_per_split": cfg.train.holdout,
        "tim_init": cfg.train.tim_init, "joint_curriculum": cfg.train.joint_curriculum,
        "recipes": cfg.train.recipes, "tone_jitter": cfg.train.tone_jitter,
        "train_seconds": round(trainer.elapsed, 1),
        "stage_seconds": {k: round(v, 1) for k, v in trainer.stage_seconds.items()},
        "session_wall_seconds": round(time.time() - t_start, 1),
        "machine": machine(device), "commit": git_commit(Path(__file__).resolve().parent),
        "param_counts": counts, "latent_scale": float(trainer.model.ae.latent_scale),
        "eps_skip": cfg.dim.eps_skip, "eps_skip_var": float(trainer.model.eps_skip_var),
        "losses": _summary(trainer.history),
        "weights": weights.name,
    }
    if extra.get("init"):
        # Losses before this point are not in `losses` (the exported weights carry no history).
        prov["continued_from"] = {"weights": str(extra["init"]),
                                  "sha256": file_sha256(Path(extra["init"])),
                                  "optimiser_moments": "restarted at zero"}
    if extra.get("val", True):
        from benchbed_recofuse.validate import validate

        echo("validating on the ReCoFuse seed pairs ...")
        prov["validation"] = validate(trainer.model.eval(), steps=int(extra.get("val_steps", 20)),
                                      limit=extra.get("val_pairs"), device=device, seed=seed)
    prov["sha256"] = file_sha256(weights)
    prov["bytes"] = weights.stat().st_size
    (out / f"recofuse-{config}.json").write_text(json.dumps(prov, indent=2) + "\n")
    echo(f"wrote {weights} ({prov['bytes'] / 1e6:.1f} MB) and its provenance JSON")
    return weights
