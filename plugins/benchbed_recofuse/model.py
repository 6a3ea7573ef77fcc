"""ReCoFuse: frozen fusion autoencoder + two IR-SDE restoration branches coupled by TIM at every step."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as nnf
from torch import nn

from benchbed_recofuse.autoencoder import FusionAutoencoder
from benchbed_recofuse.configs import ModelConfig, get_config
from benchbed_recofuse.dim import ConditionalNAFNet
from benchbed_recofuse.sde import IRSDE
from benchbed_recofuse.tim import TIM

CHECKPOINT_FORMAT = "benchbed-recofuse/1"


@dataclass
class Outputs:
    """Decoded results of one sampling run, each (B, 1, H, W)."""

    fused: torch.Tensor
    vis: torch.Tensor
    ir: torch.Tensor


class ReCoFuse(nn.Module):
    """All four networks; parameters are prefixed ``ae.``, ``dim_vis.``, ``dim_ir.``, ``tim.``."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.ae = FusionAutoencoder(cfg.ae)
        self.dim_vis = ConditionalNAFNet(cfg.dim)
        self.dim_ir = ConditionalNAFNet(cfg.dim)
        self.tim = TIM(cfg.tim)
        self.sde = IRSDE(cfg.sde)
        # Var(z0 - mu) of training latents (set with the AE's latent_scale); used by eps_skip.
        self.register_buffer("eps_skip_var", torch.tensor(0.0625))

    def _apply(self, fn: Any, *args: Any, **kwargs: Any) -> ReCoFuse:
        # Keep the SDE tables on the same device as the parameters.
        out = super()._apply(fn, *args, **kwargs)
        p = next(self.parameters(), None)
        if p is not None:
            self.sde.to(p.device)
        return out  # type: ignore[return-value]

    def param_counts(self) -> dict[str, int]:
        """Parameters per network and in total."""
        parts = {n: sum(p.numel() for p in getattr(self, n).parameters())
                 for n in ("ae", "dim_vis", "dim_ir", "tim")}
        parts["total"] = sum(parts.values())
        return parts

    def eps(self, branch: str, x: torch.Tensor, mu: torch.Tensor, t: int | torch.Tensor,
            z_f: torch.Tensor | None = None) -> torch.Tensor:
        """Noise prediction of the ``vis`` or ``ir`` branch for state ``x`` (float32); ``z_f``:
        TIM's fused latent for a ``condition``-coupled branch (None: the branch alone).

        With ``eps_skip`` the net predicts a residual over E[eps | x - mu] under a Gaussian
        prior on z0 - mu: c_t (x - mu) / sigma_bar_t with c_t = sigma_bar^2 / (d^2 v + sigma_bar^2),
        d = e^{-bar_theta_t dt}, v = eps_skip_var. Same function class as the published
        parameterisation, but an untrained net now returns towards mu instead of diverging.
        """
        if self.cfg.dim.param == "x0":
            sb, d = self.sde.sigma_bar(t), self.sde.decay(t)
            return (x.float() - mu.float() - d * (self.x0(branch, x, mu, t, z_f) - mu.float())) / sb
        net = self.dim_vis if branch == "vis" else self.dim_ir
        out = net(x, mu, t).float()
        if not self.cfg.dim.eps_skip:
            return out
        sb, d = self.sde.sigma_bar(t), self.sde.decay(t)
        c = sb**2 / (d**2 * self.eps_skip_var + sb**2)
        return out + c * (x.float() - mu.float()) / sb

    def x0(self, branch: str, x: torch.Tensor, mu: torch.Tensor, t: int | torch.Tensor,
           z_f: torch.Tensor | None = None) -> torch.Tensor:
        """Clean-latent prediction of an ``x0``-parameterised branch (float32); ``z_f`` as in
        :meth:`eps`.

        mu + k_t (x - mu) + net(...), k_t = d v / (d^2 v + sigma_bar^2) the linear-MMSE gain of
        z0 - mu from x - mu under the Gaussian prior of ``eps_skip`` (v = eps_skip_var): a net
        whose output layer is zero returns that estimate, mu itself at t = T.
        """
        if self.cfg.dim.param != "x0":
            return self.sde.x0_from_noise(x.float(), mu.float(), self.eps(branch, x, mu, t), t)
        net = self.dim_vis if branch == "vis" else self.dim_ir
        sb, d = self.sde.sigma_bar(t), self.sde.decay(t)
        k = d * self.eps_skip_var / (d**2 * self.eps_skip_var + sb**2)
        return mu.float() + k * (x.float() - mu.float()) + net(x, mu, t, z_f).float()

    def x0_limit(self, x0_clip: float) -> float | None:
        """``x0_clip`` training-latent stds (sqrt(eps_skip_var)) as the jump sampler's z_0 bound."""
        return float(x0_clip) * float(self.eps_skip_var) ** 0.5 if x0_clip > 0 else None

    def couple_step(self, z_vis: torch.Tensor, z_ir: torch.Tensor, mu_vis: torch.Tensor,
                    mu_ir: torch.Tensor, t: int, s: int, noise: tuple[torch.Tensor, torch.Tensor] | None,
                    x0_clip: float = 0.0, coupled: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """One reverse step t -> s: fuse with TIM, then both branches step from z_f (coupling
        ``state``, as published) or each from its own state given z_f (``condition``).

        ``coupled=False`` is the ablation without reciprocal coupling: each branch steps from its
        own state (TIM is not used during sampling).
        """
        nv, ni = noise if noise is not None else (None, None)
        z_f = self.tim(z_vis, z_ir, t) if coupled else None
        if z_f is not None and self.cfg.dim.coupling == "state":
            z_vis = z_ir = z_f
            z_f = None  # the nets see the shared state itself
        if self.cfg.dim.param == "x0":  # (coupling "condition" is always x0)
            # The sampler the x0 loss trains for: the exact bridge posterior at the predicted
            # clean latent, for one step or a jump alike (nothing divides by e^{-bar_theta dt}).
            return (self.sde.bridge_step(z_vis, mu_vis, self.x0("vis", z_vis, mu_vis, t, z_f), t, s, nv),
                    self.sde.bridge_step(z_ir, mu_ir, self.x0("ir", z_ir, mu_ir, t, z_f), t, s, ni))
        eps_v = self.eps("vis", z_vis, mu_vis, t)
        eps_i = self.eps("ir", z_ir, mu_ir, t)
        if s == t - 1:
            # The published sampler: Euler-Maruyama with the SDE's dispersion noise.
            if nv is None:
                return (self.sde.reverse_mean_step(z_vis, mu_vis, eps_v, t),
                        self.sde.reverse_mean_step(z_ir, mu_ir, eps_i, t))
            return (self.sde.reverse_sde_step(z_vis, mu_vis, eps_v, t, nv),
                    self.sde.reverse_sde_step(z_ir, mu_ir, eps_i, t, ni))
        # Fewer steps than T: jump through the OU bridge posterior at the predicted clean latent.
        lim = self.x0_limit(x0_clip)
        return (self.sde.posterior_step(z_vis, mu_vis, eps_v, t, s, nv, lim),
                self.sde.posterior_step(z_ir, mu_ir, eps_i, t, s, ni, lim))

    @torch.no_grad()
    def sample(self, vis: torch.Tensor, ir: torch.Tensor, steps: int | None = None,
               stochastic: bool = True, generator: torch.Generator | None = None,
               x0_clip: float = 3.0, coupled: bool = True) -> Outputs:
        """Restore and fuse degraded (B, 1, H, W) images in [0, 1]; returns decoded outputs.

        ``x0_clip`` bounds the predicted clean latent of the fewer-step (jump) sampler in
        training-latent stds (0 = off); the T-step Euler-Maruyama sampler does not use it.
        ``coupled=False``: the branches restore alone and TIM only fuses their final latents.
        """
        size = tuple(vis.shape[-2:])
        mu_v, h_v = self.ae.encode(vis)
        mu_i, h_i = self.ae.encode(ir)

        def randn(like: torch.Tensor) -> torch.Tensor:
            return torch.randn(like.shape, generator=generator, device=like.device, dtype=like.dtype)

        sig = self.sde.max_sigma
        z_v, z_i = mu_v + sig * randn(mu_v), mu_i + sig * randn(mu_i)
        ts = self.sde.timesteps(steps or self.sde.T)
        for t, s in zip(ts, [*ts[1:], 0]):
            noise = (randn(z_v), randn(z_i)) if stochastic else None
            z_v, z_i = self.couple_step(z_v, z_i, mu_v, mu_i, t, s, noise, x0_clip, coupled)
        z_f = self.tim(z_v, z_i, 0)
        h_f = [(a + b) / 2 for a, b in zip(h_v, h_i)]
        return Outputs(fused=self.ae.decode(z_f, h_f, size), vis=self.ae.decode(z_v, h_v, size),
                       ir=self.ae.decode(z_i, h_i, size))


# Pad so the latent needs neither the AE's reflect pad nor the DiM's zero pad: with 4 AE levels
# (latent /8) and 4 DiM levels (/16), images are padded to multiples of 128.
PAD_MULTIPLE = 128


def pad_bottom_right(x: torch.Tensor, multiple: int = PAD_MULTIPLE, edge_pad: int = 0
                     ) -> torch.Tensor:
    """Edge-pad (..., H, W) bottom/right by ``edge_pad``, then up to multiples of ``multiple``."""
    h, w = x.shape[-2:]
    ph, pw = (-(h + edge_pad)) % multiple + edge_pad, (-(w + edge_pad)) % multiple + edge_pad
    return nnf.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x


@torch.no_grad()
def run_pair(model: ReCoFuse, vis: torch.Tensor, ir: torch.Tensor, steps: int | None = None,
             stochastic: bool = True, generator: torch.Generator | None = None, edge_pad: int = 0,
             multiple: int = PAD_MULTIPLE, x0_clip: float = 3.0, coupled: bool = True) -> Outputs:
    """Edge-pad (H, W) tensors bottom/right by ``edge_pad`` and up to ``multiple``, sample, crop back."""
    h, w = vis.shape[-2:]
    out = model.sample(pad_bottom_right(vis, multiple, edge_pad),
                       pad_bottom_right(ir, multiple, edge_pad), steps=steps,
                       stochastic=stochastic, generator=generator, x0_clip=x0_clip,
                       coupled=coupled)
    return Outputs(*(t[..., :h, :w] for t in (out.fused, out.vis, out.ir)))


def save_weights(model: ReCoFuse, path: Path, meta: dict[str, Any] | None = None) -> Path:
    """Write the weights with the architecture they belong to (float32, strict-loadable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": CHECKPOINT_FORMAT, "config": model.cfg.name, "arch": model.cfg.arch(),
               "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
               "meta": meta or {}}
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def load_weights(path: Path, config: str | None = None, map_location: str = "cpu") -> ReCoFuse:
    """Build the checkpoint's model and load it strictly (missing or unexpected keys raise)."""
    return load_checkpoint(path, config, map_location)[0]


def load_checkpoint(path: Path, config: str | None = None, map_location: str = "cpu"
                    ) -> tuple[ReCoFuse, dict[str, Any]]:
    """The checkpoint's model (strictly loaded, in eval mode) and the meta saved with it."""
    from benchbed.errors import WeightsError

    payload = torch.load(path, map_location=map_location, weights_only=True)
    if payload.get("format") != CHECKPOINT_FORMAT:
        raise WeightsError(f"{path} is not a benchbed ReCoFuse checkpoint",
                           fix="train one with `benchbed train recofuse`")
    name = payload["config"]
    if config is not None and config != name:
        raise WeightsError(f"{path} holds the {name!r} config, not {config!r}",
                           fix=f"pass config={name!r} or a {config!r} checkpoint")
    cfg = get_config(name)
    stored = dict(payload["arch"])
    if "dim" in stored:  # files written before DiMConfig.param / .coupling existed: eps, state
        stored["dim"] = {"param": "eps", "coupling": "state", **stored["dim"]}
    if "tim" in stored:  # files written before TIMConfig.attn_pool existed attend every token
        stored["tim"] = {"attn_pool": 1, **stored["tim"]}
    if stored != cfg.arch():
        raise WeightsError(f"{path} was trained with a different {name!r} architecture",
                           fix="retrain, or check out the code version named in its provenance")
    model = ReCoFuse(cfg)
    model.load_state_dict(payload["state_dict"], strict=True)
    return model.eval(), dict(payload.get("meta") or {})

