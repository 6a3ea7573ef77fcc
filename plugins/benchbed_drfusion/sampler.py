"""DRFusion's sampler: implicit denoising with DDIM (eta = 0) over T steps and the joint
observation-model correction x̄ = x̂ − Σt Â†(Â x̂ − y) (paper Eqs. 9-19, reference notes section 3).

The state is x = [X1, X2, Xf] (N x 3 x H x W on the clean grid). Each step:
  1. (eps, W1) = NoisePred(x, t);  x̂0 = (x − sqrt(1 − ᾱt) eps) / sqrt(ᾱt)
  2. with r_i = A_i X̂i − y_i and c_i = A_i† r_i (block operators Â, Â†):
       X̄i = X̂i − λt c_i
       X̄f = X̂f − λt [W1 c1 + W2 c2 + (X̂f − W1 X̂1 − W2 X̂2)],  W2 = 1 − W1
  3. x_{t−1} = sqrt(ᾱ_{t−1}) x̄0 + sqrt(1 − ᾱ_{t−1}) eps
Σt = λt is the DDNM+ scalar of (ᾱt, ᾱ_{t−1}, σy). ᾱ is learnable (ᾱ = [1, cumprod(alpha)]) as in
the public code; alpha has ``max_steps`` entries so one network serves every T <= max_steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext

import torch
from torch import nn

from benchbed_drfusion.configs import DRFusionConfig
from benchbed_drfusion.model import NoisePred
from benchbed_drfusion.operators_torch import TorchOperator, sym_pad


def ddnm_lambda(abar_t: torch.Tensor, abar_prev: torch.Tensor, sigma_y: float,
                eps: float = 1e-12) -> torch.Tensor:
    """DDNM+ step size λt: 1 when the DDIM noise σt covers at·σy, else σt / (at·σy)."""
    alpha_t = abar_t / torch.clamp(abar_prev, min=eps)
    beta_t = 1.0 - alpha_t
    sigma_t = torch.sqrt(torch.clamp(beta_t * (1.0 - abar_prev) / torch.clamp(1.0 - abar_t, min=eps),
                                     min=eps))
    a_t = torch.sqrt(torch.clamp(abar_prev, min=eps)) * beta_t / torch.clamp(1.0 - abar_t, min=eps)
    thresh = a_t * sigma_y
    if sigma_y <= 0:
        return torch.ones_like(sigma_t)
    return torch.where(sigma_t >= thresh, torch.ones_like(sigma_t), sigma_t / torch.clamp(thresh, min=eps))


def correct(x0: torch.Tensor, w1: torch.Tensor, ys: Sequence[torch.Tensor],
            ops: Sequence[TorchOperator], lam: torch.Tensor | float) -> torch.Tensor:
    """One joint correction x̄ = x̂ − λ Â†(Â x̂ − y), written block-wise (paper Eq. 15/17)."""
    x1, x2, xf = x0[:, 0:1], x0[:, 1:2], x0[:, 2:3]
    # The operators run in float32 even under autocast: the Wiener filter needs the precision.
    c1 = ops[0].A_pinv(ops[0].A(x1.float()) - ys[0]).to(x0.dtype)
    c2 = ops[1].A_pinv(ops[1].A(x2.float()) - ys[1]).to(x0.dtype)
    w2 = 1.0 - w1
    fused_res = w1 * c1 + w2 * c2 + (xf - w1 * x1 - w2 * x2)
    return torch.cat([x1 - lam * c1, x2 - lam * c2, xf - lam * fused_res], dim=1)


def _pad_to(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        x = sym_pad(x, 0, ph, 0, pw)
    return x, (h, w)


def _amp(x: torch.Tensor, amp: bool) -> AbstractContextManager[object]:
    """bf16 autocast for the U-Net on CUDA (training and optional inference); a no-op elsewhere."""
    if amp and x.device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def _ramp(n: int, lead: int, trail: int, device: torch.device) -> torch.Tensor:
    """1-D blending weights: linear ramps over ``lead`` first and ``trail`` last samples."""
    w = torch.ones(n, device=device)
    if lead > 0:
        w[:lead] = torch.linspace(0.0, 1.0, lead + 2, device=device)[1:-1]
    if trail > 0:
        w[-trail:] = torch.minimum(w[-trail:], torch.linspace(1.0, 0.0, trail + 2, device=device)[1:-1])
    return w


class DRFusionNet(nn.Module):
    """NoisePred plus the learnable ᾱ schedule; ``forward`` runs the whole T-step sampler."""

    def __init__(self, cfg: DRFusionConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.unet = NoisePred(**cfg.model_kwargs())
        self.alpha = nn.Parameter(torch.full((cfg.max_steps,), 0.5))

    def alpha_bar(self) -> torch.Tensor:
        """[ᾱ0 = 1, ᾱ1, ..., ᾱ_max]; alpha is clamped so that every square root stays defined."""
        a = torch.clamp(self.alpha, 1e-3, 0.999)
        return torch.cat([torch.ones(1, device=a.device, dtype=a.dtype), torch.cumprod(a, 0)])

    def predict(self, x: torch.Tensor, t: int, tile: int = 0, overlap: int = 32,
                amp: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(eps, W1) for state ``x`` of any size: padded to the U-Net's multiple, tiled if asked."""
        mult = self.unet.multiple
        h, w = x.shape[-2:]
        tt = torch.tensor([t], device=x.device, dtype=torch.long)
        if not tile or (h <= tile and w <= tile):
            xp, _ = _pad_to(x, mult)
            with _amp(x, amp):
                eps, w1 = self.unet(xp, tt)
            return eps[..., :h, :w].float(), w1[..., :h, :w].float()
        return self._tiled(x, tt, tile - tile % mult, overlap, amp)

    def _tiled(self, x: torch.Tensor, tt: torch.Tensor, tile: int, overlap: int,
               amp: bool) -> tuple[torch.Tensor, torch.Tensor]:
        n, _, h, w = x.shape
        acc = torch.zeros(n, 4, h, w, device=x.device)
        norm = torch.zeros(1, 1, h, w, device=x.device)
        step = max(tile - overlap, 8)
        tops = sorted({*range(0, max(h - tile, 0) + 1, step), max(h - tile, 0)})
        lefts = sorted({*range(0, max(w - tile, 0) + 1, step), max(w - tile, 0)})
        for top in tops:
            for left in lefts:
                patch = x[..., top : top + tile, left : left + tile]
                ph, pw = patch.shape[-2:]
                pp, _ = _pad_to(patch, self.unet.multiple)
                with _amp(x, amp):
                    eps, w1 = self.unet(pp, tt)
                out = torch.cat([eps, w1], 1)[..., :ph, :pw].float()
                # ramps only where a neighbouring tile overlaps, so image borders keep full weight
                wt = (_ramp(ph, overlap if top else 0, overlap if top + ph < h else 0, x.device)[:, None]
                      * _ramp(pw, overlap if left else 0, overlap if left + pw < w else 0, x.device)[None])
                acc[..., top : top + ph, left : left + pw] += out * wt
                norm[..., top : top + ph, left : left + pw] += wt
        acc = acc / norm.clamp(min=1e-8)
        return acc[:, :3], acc[:, 3:4]

    def initial_state(self, ys: Sequence[torch.Tensor], ops: Sequence[TorchOperator],
                      steps: int) -> torch.Tensor:
        """x_T = sqrt(ᾱ_T)·[A1†y1, A2†y2, (A1†y1 + A2†y2)/2] (no Gaussian noise, as the code)."""
        s1, s2 = ops[0].A_pinv(ys[0]), ops[1].A_pinv(ys[1])
        abar = self.alpha_bar()
        return abar[steps].sqrt() * torch.cat([s1, s2, 0.5 * (s1 + s2)], dim=1)

    def forward(self, ys: Sequence[torch.Tensor], ops: Sequence[TorchOperator], steps: int | None = None,
                constraint: bool = True, sigma_y: float | None = None, tile: int = 0,
                amp: bool = False) -> torch.Tensor:
        """Run the sampler from the observations; returns the final state [X1, X2, Xf]."""
        steps = self.cfg.steps if steps is None else int(steps)
        if not 1 <= steps <= self.cfg.max_steps:
            raise ValueError(f"steps must be in 1..{self.cfg.max_steps}, got {steps}")
        sigma_y = self.cfg.sigma_y if sigma_y is None else float(sigma_y)
        abar = self.alpha_bar()
        x = self.initial_state(ys, ops, steps)
        for t in range(steps, 0, -1):
            eps, w1 = self.predict(x, t, tile=tile, amp=amp)
            x0 = (x - (1.0 - abar[t]).sqrt() * eps) / abar[t].sqrt()
            if constraint:
                x0 = correct(x0, w1, ys, ops, ddnm_lambda(abar[t], abar[t - 1], sigma_y))
            x = abar[t - 1].sqrt() * x0 + (1.0 - abar[t - 1]).sqrt() * eps
        return x
