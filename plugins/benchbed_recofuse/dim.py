"""DiM: one time-conditional NAFNet that predicts the IR-SDE noise of one modality's latent.

Input concat(x - mu, mu) (2 x 8 channels), zero-padded to a multiple of 2^levels; output eps
(or the clean-latent residual). With ``coupling = "condition"`` TIM's fused latent enters as
z_f - mu through its own zero-initialised conv, added to the intro features.
"""

from __future__ import annotations

import torch
from torch import nn

from benchbed_recofuse.configs import DiMConfig
from benchbed_recofuse.layers import ChannelLayerNorm, SimpleGate, as_time, pad_to, time_mlp


class NAFBlock(nn.Module):
    """NAFNet block whose two LayerNorms are modulated by (scale, shift) from the time embedding."""

    def __init__(self, c: int, time_dim: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(SimpleGate(), nn.Linear(time_dim // 2, c * 4))
        self.norm1, self.norm2 = ChannelLayerNorm(c), ChannelLayerNorm(c)
        self.conv1 = nn.Conv2d(c, 2 * c, 1)
        self.conv2 = nn.Conv2d(2 * c, 2 * c, 3, padding=1, groups=2 * c)
        self.sca = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, c, 1))
        self.conv3 = nn.Conv2d(c, c, 1)
        self.conv4 = nn.Conv2d(c, 2 * c, 1)
        self.conv5 = nn.Conv2d(c, c, 1)
        self.gate = SimpleGate()
        # Residual scales start at 0 so an untrained block is the identity (NAFNet's choice).
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        """One block at time embedding ``temb`` (B, time_dim)."""
        shift_a, scale_a, shift_f, scale_f = self.mlp(temb)[..., None, None].chunk(4, dim=1)
        h = self.norm1(x) * (scale_a + 1) + shift_a
        h = self.gate(self.conv2(self.conv1(h)))
        h = self.conv3(h * self.sca(h))
        y = x + h * self.beta
        h = self.norm2(y) * (scale_f + 1) + shift_f
        h = self.conv5(self.gate(self.conv4(h)))
        return y + h * self.gamma


class Stage(nn.ModuleList):
    """A sequence of NAFBlocks sharing one time embedding."""

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """Run the blocks in order."""
        for block in self:
            x = block(x, temb)
        return x


class ConditionalNAFNet(nn.Module):
    """U-shaped NAFNet: intro conv, encoder stages with stride-2 downs, middle, PixelShuffle ups."""

    def __init__(self, cfg: DiMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w, time_dim = cfg.width, cfg.width * 4
        self.time_mlp = time_mlp(w, time_dim)
        self.intro = nn.Conv2d(cfg.latent_ch * 2, w, 3, padding=1)
        self.ending = nn.Conv2d(w, cfg.latent_ch, 3, padding=1)
        self.couple: nn.Conv2d | None = None
        if cfg.coupling == "condition":
            self.couple = nn.Conv2d(cfg.latent_ch, w, 3, padding=1)
            # zero: with or without z_f the net starts as the branch trained alone
            nn.init.zeros_(self.couple.weight)
            nn.init.zeros_(self.couple.bias)
        self.encoders, self.downs = nn.ModuleList(), nn.ModuleList()
        self.decoders, self.ups = nn.ModuleList(), nn.ModuleList()
        c = w
        for n in cfg.enc_blocks:
            self.encoders.append(Stage(NAFBlock(c, time_dim) for _ in range(n)))
            self.downs.append(nn.Conv2d(c, 2 * c, 2, 2))
            c *= 2
        self.middle = Stage(NAFBlock(c, time_dim) for _ in range(cfg.middle_blocks))
        for n in cfg.dec_blocks:
            self.ups.append(nn.Sequential(nn.Conv2d(c, 2 * c, 1, bias=False), nn.PixelShuffle(2)))
            c //= 2
            self.decoders.append(Stage(NAFBlock(c, time_dim) for _ in range(n)))
        self.multiple = 2 ** len(cfg.enc_blocks)

    def forward(self, x: torch.Tensor, mu: torch.Tensor, t: int | float | torch.Tensor,
                z_f: torch.Tensor | None = None) -> torch.Tensor:
        """Prediction for state ``x`` with mean ``mu`` at time ``t``, given TIM's ``z_f`` if any."""
        h, w = x.shape[-2:]
        temb = self.time_mlp(as_time(t, x.shape[0], x.device))
        feat = self.intro(pad_to(torch.cat([x - mu, mu], dim=1), self.multiple, "constant"))
        if z_f is not None:
            if self.couple is None:
                raise ValueError("this branch takes no z_f (coupling 'state': pass z_f as x)")
            feat = feat + self.couple(pad_to(z_f - mu, self.multiple, "constant"))
        skips = [feat]
        for enc, down in zip(self.encoders, self.downs):
            feat = enc(feat, temb)
            skips.append(feat)
            feat = down(feat)
        feat = self.middle(feat, temb)
        for dec, up in zip(self.decoders, self.ups):
            feat = dec(up(feat) + skips.pop(), temb)
        return self.ending(feat + skips.pop())[..., :h, :w]
