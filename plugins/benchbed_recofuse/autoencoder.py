"""The OmniFuse fusion autoencoder: a UNet whose bottleneck is the latent z and whose skips are h.

Decoding any latent with any source's skips must reproduce the image named by the latent, so z
carries content plus degradation and the skip sets are interchangeable (feature reorganisation).
"""

from __future__ import annotations

import torch
import torch.nn.functional as nnf
from torch import nn

from benchbed_recofuse.configs import AEConfig
from benchbed_recofuse.layers import ChannelLayerNorm, pad_to


def conv(cin: int, cout: int, k: int = 3) -> nn.Conv2d:
    """Bias-free 'same' convolution (the AE's default conv)."""
    return nn.Conv2d(cin, cout, k, padding=k // 2, bias=False)


class ResBlock(nn.Module):
    """conv3x3-SiLU-conv3x3-SiLU plus a residual (1x1 conv when the width changes); no norm."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = conv(cin, cout)
        self.conv2 = conv(cout, cout)
        self.skip = conv(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One residual block."""
        h = nnf.silu(self.conv1(x))
        h = nnf.silu(self.conv2(h))
        return h + self.skip(x)


class LinearAttention(nn.Module):
    """Linear (softmax-kernel) attention with pre- and post- channel LayerNorm and a residual."""

    def __init__(self, dim: int, heads: int, dim_head: int) -> None:
        super().__init__()
        self.heads, self.scale = heads, dim_head**-0.5
        hidden = heads * dim_head
        self.norm = ChannelLayerNorm(dim)
        self.to_qkv = nn.Conv2d(dim, hidden * 3, 1, bias=False)
        self.to_out = nn.Conv2d(hidden, dim, 1)
        self.out_norm = ChannelLayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x + attn(norm(x))."""
        b, _, h, w = x.shape
        q, k, v = self.to_qkv(self.norm(x)).chunk(3, dim=1)
        q, k, v = (t.reshape(b, self.heads, -1, h * w) for t in (q, k, v))
        q = q.softmax(dim=-2) * self.scale
        k = k.softmax(dim=-1)
        v = v / (h * w)
        context = torch.einsum("bhdn,bhen->bhde", k, v)
        out = torch.einsum("bhde,bhdn->bhen", context, q).reshape(b, -1, h, w)
        return x + self.out_norm(self.to_out(out))


class Upsample(nn.Module):
    """Nearest x2 then conv3x3 (with bias)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Double the resolution."""
        return self.conv(nnf.interpolate(x, scale_factor=2.0, mode="nearest"))


class EncoderLevel(nn.Module):
    """Two ResBlocks at dim_in, attention at the deepest level, then down (or a plain conv)."""

    def __init__(self, din: int, dout: int, last: bool, cfg: AEConfig) -> None:
        super().__init__()
        self.block1, self.block2 = ResBlock(din, din), ResBlock(din, din)
        self.attn = LinearAttention(din, cfg.attn_heads, cfg.attn_dim_head) if last else nn.Identity()
        self.down = conv(din, dout) if last else nn.Conv2d(din, dout, 4, 2, 1)


class DecoderLevel(nn.Module):
    """Concat a skip, ResBlock, concat the next skip, ResBlock, attention (deepest), then up."""

    def __init__(self, din: int, dout: int, first: bool, last: bool, cfg: AEConfig) -> None:
        super().__init__()
        self.block1, self.block2 = ResBlock(dout + din, dout), ResBlock(dout + din, dout)
        self.attn = LinearAttention(dout, cfg.attn_heads, cfg.attn_dim_head) if last else nn.Identity()
        self.up = conv(dout, din) if first else Upsample(dout, din)


class FusionAutoencoder(nn.Module):
    """Encoder to (latent z at H/8, skip list h of 2*depth + 1 tensors) and decoder back."""

    def __init__(self, cfg: AEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        depth = len(cfg.ch_mult)
        dims = [cfg.ch * m for m in (1, *cfg.ch_mult)]
        self.multiple = 2**depth  # the published reflect-pad multiple (16 for 4 levels)
        self.stem = conv(cfg.in_ch, cfg.ch)
        self.encoder = nn.ModuleList(
            EncoderLevel(dims[i], dims[i + 1], i == depth - 1, cfg) for i in range(depth))
        self.decoder = nn.ModuleList(
            DecoderLevel(dims[i], dims[i + 1], i == 0, i == depth - 1, cfg)
            for i in reversed(range(depth)))
        self.to_latent = conv(dims[-1], cfg.embed_dim, 1)
        self.from_latent = conv(cfg.embed_dim, dims[-1], 1)
        self.final = nn.Conv2d(cfg.ch, cfg.in_ch, 3, padding=1)
        # Fixed after the AE stage so latents have the spread the IR-SDE's max_sigma assumes
        # (like Stable Diffusion's scale factor); encode multiplies by it, decode divides.
        self.register_buffer("latent_scale", torch.ones(()))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Image (B, in_ch, H, W) -> latent (B, 8, H'/8, W'/8) and skips; H' = H reflect-padded to 16."""
        x = self.stem(pad_to(x, self.multiple, "reflect"))
        skips = [x]
        for level in self.encoder:
            x = level.block1(x)
            skips.append(x)
            x = level.attn(level.block2(x))
            skips.append(x)
            x = level.down(x)
        return self.to_latent(x) * self.latent_scale, skips

    def decode(self, z: torch.Tensor, skips: list[torch.Tensor],
               size: tuple[int, int] | None = None) -> torch.Tensor:
        """Latent + skips -> image, cropped to ``size`` (H, W) when given."""
        x = self.from_latent(z / self.latent_scale)
        for i, level in enumerate(self.decoder):
            x = level.block1(torch.cat([x, skips[-(2 * i + 1)]], dim=1))
            x = level.block2(torch.cat([x, skips[-(2 * i + 2)]], dim=1))
            x = level.up(level.attn(x))
        out = self.final(x + skips[0])
        return out if size is None else out[..., : size[0], : size[1]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Plain reconstruction."""
        z, h = self.encode(x)
        return self.decode(z, h, tuple(x.shape[-2:]))  # type: ignore[arg-type]
