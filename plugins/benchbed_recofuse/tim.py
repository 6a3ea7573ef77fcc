"""TIM: the time-aware interaction module that fuses the VIS and IR latents at every reverse step.

z_f = w_a(t) * z_ir + w_b(t) * z_vis, with per-channel, per-pixel sigmoid weights predicted from a
bidirectional cross-attention of the two latents, CBAM attention and a time modulation.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from benchbed_recofuse.configs import TIMConfig
from benchbed_recofuse.layers import as_time, time_mlp


def group_norm(c: int) -> nn.GroupNorm:
    """GroupNorm with 32 groups (fewer when the width is smaller)."""
    return nn.GroupNorm(math.gcd(32, c), c)


class ChannelAttention(nn.Module):
    """CBAM channel gate: shared bias-free MLP over avg- and max-pooled features, sigmoid."""

    def __init__(self, c: int, ratio: int) -> None:
        super().__init__()
        mid = max(1, c // ratio)
        self.mlp = nn.Sequential(nn.Conv2d(c, mid, 1, bias=False), nn.ReLU(),
                                 nn.Conv2d(mid, c, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, 1, 1) gate."""
        avg = self.mlp(x.mean(dim=(2, 3), keepdim=True))
        mx = self.mlp(x.amax(dim=(2, 3), keepdim=True))
        return torch.sigmoid(avg + mx)


class SpatialAttention(nn.Module):
    """CBAM spatial gate: 7x7 conv over the channel mean and max, sigmoid."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, 7, padding=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) gate."""
        stats = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.conv(stats))


class CBAM(nn.Module):
    """Channel then spatial attention."""

    def __init__(self, c: int, ratio: int) -> None:
        super().__init__()
        self.channel = ChannelAttention(c, ratio)
        self.spatial = SpatialAttention()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Gate ``x`` by both attentions."""
        x = self.channel(x) * x
        return self.spatial(x) * x


class CrossAttention(nn.Module):
    """Full softmax attention of the query latent over every token of the other latent, residual.

    With ``pool`` > 1 the tokens are the latent average-pooled by ``pool`` and the attended
    values are upsampled bilinearly before the residual (the 1x1 projections commute with the
    pooling, so only the token grid changes).
    """

    def __init__(self, c: int, pool: int = 1) -> None:
        super().__init__()
        if pool < 1:
            raise ValueError(f"attn_pool must be >= 1, not {pool}")
        self.q, self.k, self.v = nn.Conv2d(c, c, 1), nn.Conv2d(c, c, 1), nn.Conv2d(c, c, 1)
        self.scale = math.sqrt(c)
        self.pool = pool

    def forward(self, q_in: torch.Tensor, kv_in: torch.Tensor) -> torch.Tensor:
        """q_in + softmax(q k^T / sqrt(C)) v; memory O((HW / pool^2)^2)."""
        f = torch.nn.functional
        b, c, h, w = q_in.shape
        qs, kvs = q_in, kv_in
        if self.pool > 1:
            qs = f.avg_pool2d(q_in, self.pool, ceil_mode=True)
            kvs = f.avg_pool2d(kv_in, self.pool, ceil_mode=True)
        hs, ws = qs.shape[-2:]
        q = self.q(qs).flatten(2).transpose(1, 2)
        k = self.k(kvs).flatten(2).transpose(1, 2)
        v = self.v(kvs).flatten(2).transpose(1, 2)
        # SDPA is the same softmax attention, without materialising HWxHW on backends that fuse it.
        out = f.scaled_dot_product_attention(
            q[:, None], k[:, None], v[:, None], scale=1.0 / self.scale)[:, 0]
        out = out.transpose(1, 2).reshape(b, c, hs, ws)
        if self.pool > 1:
            out = f.interpolate(out, size=(h, w), mode="bilinear", align_corners=False)
        return out + q_in


def conv_head(c: int, cout: int) -> nn.Sequential:
    """GroupNorm, SiLU, conv3x3."""
    return nn.Sequential(group_norm(c), nn.SiLU(), nn.Conv2d(c, cout, 3, padding=1))


class TIM(nn.Module):
    """Time-aware interaction module (``network_F``)."""

    def __init__(self, cfg: TIMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c, lc = cfg.model_channels, cfg.latent_ch
        self.time_mlp = time_mlp(c, 4 * c)
        self.cross_vis = CrossAttention(lc, cfg.attn_pool)  # VIS queries IR
        self.cross_ir = CrossAttention(lc, cfg.attn_pool)  # IR queries VIS
        self.inp = nn.Conv2d(2 * lc, c, 3, padding=1)
        self.mid = conv_head(c, c)
        self.cbam = CBAM(c, cfg.cbam_ratio)
        self.head_a, self.head_b = conv_head(c, c), conv_head(c, c)
        self.cbam_a, self.cbam_b = CBAM(c, cfg.cbam_ratio), CBAM(c, cfg.cbam_ratio)
        self.out_a = nn.Sequential(conv_head(c, lc), nn.Sigmoid())
        self.out_b = nn.Sequential(conv_head(c, lc), nn.Sigmoid())

    @torch.no_grad()
    def init_equal_blend(self) -> None:
        """Zero the last conv of both weight heads: w_ir = w_vis = 1/2 everywhere, for every t."""
        for head in (self.out_a, self.out_b):
            conv = head[0][-1]
            conv.weight.zero_()
            conv.bias.zero_()

    def weights(self, z_vis: torch.Tensor, z_ir: torch.Tensor, t: int | float | torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """(w_ir, w_vis), each (B, 8, h, w) in (0, 1); summing to 1 only when ``convex``."""
        temb = self.time_mlp(as_time(t, z_vis.shape[0], z_vis.device))[..., None, None]
        shift_a, scale_a, shift_b, scale_b = temb.chunk(4, dim=1)
        h = torch.cat([self.cross_vis(z_vis, z_ir), self.cross_ir(z_ir, z_vis)], dim=1)
        h = self.cbam(self.mid(self.inp(h)))
        a = self.cbam_a(self.head_a(h) * (scale_a + 1) + shift_a)
        b = self.cbam_b(self.head_b(h) * (scale_b + 1) + shift_b)
        w_ir, w_vis = self.out_a(a), self.out_b(b)
        if self.cfg.convex:
            total = w_ir + w_vis
            return w_ir / total, w_vis / total
        return w_ir, w_vis

    def forward(self, z_vis: torch.Tensor, z_ir: torch.Tensor, t: int | float | torch.Tensor
                ) -> torch.Tensor:
        """Fused latent z_f = w_a * z_ir + w_b * z_vis."""
        w_ir, w_vis = self.weights(z_vis, z_ir, t)
        return w_ir * z_ir + w_vis * z_vis
