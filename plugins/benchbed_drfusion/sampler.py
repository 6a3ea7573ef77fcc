"""DRFusion's sampler: implicit denoising with DDIM (eta = 0) over T steps and the joint
observation-model correction x̄ = x̂ − Σt Â†(Â x̂ − y) (paper Eqs. 9-19, reference notes section 3).

The state is x = [X1, X2, Xf] (N x 3 x H x W on the clean grid). Each step:
  1. (eps, W1) = NoisePred(x, t);  x̂0 = (x − sqrt(1 − ᾱt) eps) / sqrt(ᾱt)
  2. with r_i = A_i X̂i − y_i and c_i = A_i† r_i (block operators Â, Â†):
       X̄i = X̂i − λ_i c_i
       X̄f = X̂f − λ_f [W1 c1 + W2 c2 + (X̂f − W1 X̂1 − W2 X̂2)],  W2 = 1 − W1
  3. x_{t−1} = sqrt(ᾱ_{t−1}) x̄0 + sqrt(1 − ᾱ_{t−1}) eps
Σt = diag(λ_1, λ_2, λ_f): λ_i is the DDNM+ scalar of (ᾱt, ᾱ_{t−1}, σ_i) with σ_i the noise std of
source i's own observation (0 for noise-free blur: λ = 1 at every step, so the output satisfies
A_i X̄i = y_i up to the pseudo-inverse's regulariser), λ_f that of the noisier source. ᾱ_t = a^t
is a fixed schedule (a = 0.5, the public code's initial value).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import NamedTuple

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


class SamplerOutput(NamedTuple):
    """Final state [X1, X2, Xf] and the last step's fusion weight W1."""

    state: torch.Tensor
    w1: torch.Tensor


def correct(x0: torch.Tensor, w1: torch.Tensor, ys: Sequence[torch.Tensor],
            ops: Sequence[TorchOperator],
            lams: Sequence[torch.Tensor | float]) -> torch.Tensor:
    """One joint correction x̄ = x̂ − Σ Â†(Â x̂ − y), Σ = diag(λ1, λ2, λf), block-wise (Eq. 15/17)."""
    x1, x2, xf = x0[:, 0:1], x0[:, 1:2], x0[:, 2:3]
    lam1, lam2, lamf = lams
    # The operators run in float32 even under autocast: the Wiener filter needs the precision.
    c1 = ops[0].A_pinv(ops[0].A(x1.float()) - ys[0]).to(x0.dtype)
    c2 = ops[1].A_pinv(ops[1].A(x2.float()) - ys[1]).to(x0.dtype)
    w2 = 1.0 - w1
    fused_res = w1 * c1 + w2 * c2 + (xf - w1 * x1 - w2 * x2)
    return torch.cat([x1 - lam1 * c1, x2 - lam2 * c2, xf - lamf * fused_res], dim=1)


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
    """NoisePred plus the fixed ᾱ schedule; ``forward`` runs the whole T-step sampler."""

    def __init__(self, cfg: DRFusionConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.unet = NoisePred(**cfg.model_kwargs())

    def alpha_bar(self) -> torch.Tensor:
        """[ᾱ0 = 1, ᾱ1, ..., ᾱ_max] with ᾱ_t = alpha^t."""
        return torch.tensor([self.cfg.alpha**t for t in range(self.cfg.max_steps + 1)])

    def noise_levels(self, sigmas: Sequence[float] | None,
                     sigma_y: float | None) -> tuple[float, float]:
        """σ_y per source: an explicit override, else the config's, else each observation's own."""
        fixed = self.cfg.sigma_y if sigma_y is None else sigma_y
        if fixed is not None:
            return float(fixed), float(fixed)
        if sigmas is None:
            raise ValueError("the observations' noise levels are needed when sigma_y is None")
        return float(sigmas[0]), float(sigmas[1])

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
        return math.sqrt(self.cfg.alpha**steps) * torch.cat([s1, s2, 0.5 * (s1 + s2)], dim=1)

    def forward(self, ys: Sequence[torch.Tensor], ops: Sequence[TorchOperator],
                sigmas: Sequence[float] | None = None, steps: int | None = None,
                constraint: bool = True, sigma_y: float | None = None, tile: int = 0,
                amp: bool = False) -> SamplerOutput:
        """Run the sampler from the observations (noise stds ``sigmas`` on [0, 1])."""
        steps = self.cfg.steps if steps is None else int(steps)
        if not 1 <= steps <= self.cfg.max_steps:
            raise ValueError(f"steps must be in 1..{self.cfg.max_steps}, got {steps}")
        s1, s2 = self.noise_levels(sigmas, sigma_y)
        abar = self.alpha_bar().tolist()
        x = self.initial_state(ys, ops, steps)
        w1 = torch.full_like(x[:, :1], 0.5)
        for t in range(steps, 0, -1):
            eps, w1 = self.predict(x, t, tile=tile, amp=amp)
            x0 = (x - math.sqrt(1.0 - abar[t]) * eps) / math.sqrt(abar[t])
            if constraint:
                lams = [float(ddnm_lambda(torch.tensor(abar[t]), torch.tensor(abar[t - 1]), s))
                        for s in (s1, s2, max(s1, s2))]
                x0 = correct(x0, w1, ys, ops, lams)
            x = math.sqrt(abar[t - 1]) * x0 + math.sqrt(1.0 - abar[t - 1]) * eps
        return SamplerOutput(x, w1)
