"""NoisePred: DRFusion's multi-task U-Net (noise head + fusion-weight head), written from the paper
and shared/reference/drfusion.md section 4.

One encoder, a bottleneck and two decoders of identical shape with unshared weights: the noise
decoder predicts the 3-channel epsilon of the state [X1, X2, Xf]; the fusion decoder predicts the
weight map W1 (sigmoid), W2 = 1 - W1. Skips are gated by CBAM-like attention and *added*.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps, cosine half first (as the public code)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32)
                      / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


class SkipAttention(nn.Module):
    """Channel gate sigmoid(MLP(avg) + MLP(max)) times spatial gate sigmoid(1x1 conv), applied to x."""

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.ReLU(),
                                 nn.Conv2d(hidden, channels, 1))
        self.spatial = nn.Conv2d(channels, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Gate ``x`` by channel and by position."""
        avg = self.mlp(torch.mean(x, dim=(2, 3), keepdim=True))
        mx = self.mlp(torch.amax(x, dim=(2, 3), keepdim=True))
        return torch.sigmoid(avg + mx) * torch.sigmoid(self.spatial(x)) * x


class ResBlock(nn.Module):
    """GN-SiLU-conv, + time projection, GN-SiLU-dropout-conv, residual (1x1 when widths differ)."""

    def __init__(self, cin: int, cout: int, tdim: int, groups: int, dropout: float) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(nn.GroupNorm(min(groups, cin), cin), nn.SiLU(),
                                   nn.Conv2d(cin, cout, 3, padding=1))
        self.temb = nn.Sequential(nn.SiLU(), nn.Linear(tdim, cout))
        self.conv2 = nn.Sequential(nn.GroupNorm(min(groups, cout), cout), nn.SiLU(), nn.Dropout(dropout),
                                   nn.Conv2d(cout, cout, 3, padding=1))
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        """Residual block conditioned on the time embedding."""
        h = self.conv1(x) + self.temb(temb)[:, :, None, None]
        return self.conv2(h) + self.skip(x)


class Decoder(nn.Module):
    """One of the two decoders: per level two ResBlocks (then a x2 transposed conv except at the
    bottleneck level); gated skips are added after the first level and after each upsampling."""

    def __init__(self, chans: list[int], base: int, res_blocks: int, tdim: int, groups: int,
                 dropout: float) -> None:
        super().__init__()
        up = chans[::-1]  # e.g. 512, 256, 128, 64
        self.levels = nn.ModuleList()
        self.ups = nn.ModuleList()
        cin = up[0]
        for level, c in enumerate(up):
            cout = base if level == len(up) - 1 else c // 2
            blocks = nn.ModuleList()
            for _ in range(res_blocks):
                blocks.append(ResBlock(cin, cout, tdim, groups, dropout))
                cin = cout
            self.levels.append(blocks)
            self.ups.append(nn.ConvTranspose2d(cout, cout, 3, stride=2, padding=1, output_padding=1)
                            if level > 0 else nn.Identity())
        # gates for the skips (deepest first): widths of the encoder levels
        self.gates = nn.ModuleList([SkipAttention(c) for c in up])

    def forward(self, h: torch.Tensor, skips: list[torch.Tensor], temb: torch.Tensor) -> torch.Tensor:
        """``skips`` deepest first: [bottleneck-level, H/8, H/4, H/2]."""
        h = h + self.gates[0](skips[0])
        for level, blocks in enumerate(self.levels):
            for block in blocks:
                h = block(h, temb)
            h = self.ups[level](h)
            if level + 1 < len(skips):
                s = skips[level + 1]
                h = h[:, :, : s.shape[2], : s.shape[3]] + self.gates[level + 1](s)
        return h


class NoisePred(nn.Module):
    """U-Net with time embedding returning (epsilon [N,3,H,W], W1 [N,1,H,W] in (0, 1)).

    H and W must be multiples of 2**(len(mults) - 1) (8 for the paper's four levels).
    """

    def __init__(self, base: int = 64, mults: tuple[int, ...] = (1, 2, 4, 8), res_blocks: int = 2,
                 groups: int = 32, dropout: float = 0.1, temb_mult: int = 4, in_ch: int = 3,
                 out_ch: int = 3) -> None:
        super().__init__()
        self.base = base
        self.multiple = 2 ** (len(mults) - 1)
        tdim = base * temb_mult
        self.time_embed = nn.Sequential(nn.Linear(base, tdim), nn.SiLU(), nn.Linear(tdim, tdim))
        chans = [base * m for m in mults]
        self.inc = nn.Conv2d(in_ch, chans[0], 3, padding=1)
        self.enc = nn.ModuleList()
        self.downs = nn.ModuleList()
        cin = chans[0]
        for level, c in enumerate(chans):
            blocks = nn.ModuleList()
            for _ in range(res_blocks):
                blocks.append(ResBlock(cin, c, tdim, groups, dropout))
                cin = c
            self.enc.append(blocks)
            self.downs.append(nn.Conv2d(c, c, 3, stride=2, padding=1) if level < len(chans) - 1
                              else nn.Identity())
        self.mid = nn.ModuleList([ResBlock(chans[-1], chans[-1], tdim, groups, dropout)
                                  for _ in range(res_blocks)])
        self.noise_dec = Decoder(chans, base, res_blocks, tdim, groups, dropout)
        self.fusion_dec = Decoder(chans, base, res_blocks, tdim, groups, dropout)
        self.noise_head = nn.Sequential(nn.GroupNorm(min(groups, base), base), nn.SiLU(),
                                        nn.Conv2d(base, out_ch, 3, padding=1))
        self.weight_head = nn.Sequential(nn.GroupNorm(min(groups, base), base), nn.SiLU(),
                                         nn.Conv2d(base, 1, 3, padding=1), nn.Sigmoid())
        # Zero-initialised last layers: an untrained net predicts eps = 0 and W1 = 1/2, so the
        # sampler starts from the pseudo-inverse estimates A†y and their average instead of noise.
        for head in (self.noise_head[-1], self.weight_head[-2]):
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Predict epsilon and the fusion weight W1 for state ``x`` at integer timesteps ``t``."""
        temb = self.time_embed(timestep_embedding(t.expand(x.shape[0]), self.base))
        h = self.inc(x)
        skips = []
        for blocks, down in zip(self.enc, self.downs):
            for block in blocks:
                h = block(h, temb)
            h = down(h)
            skips.append(h)  # after the downsample, as in the public code: H/2, H/4, H/8, H/8
        for block in self.mid:
            h = block(h, temb)
        skips = skips[::-1]
        eps = self.noise_head(self.noise_dec(h, skips, temb))
        w1 = self.weight_head(self.fusion_dec(h, skips, temb))
        return eps, w1


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
