"""DenseFuse (Li & Wu, IEEE TIP 28(5), 2019), gray model from the authors' PyTorch port.

Encoder: conv1 (1 -> 16) and a 3-layer dense block (16 -> 64 channels, each layer's output
concatenated after its input); decoder: four convs 64 -> 64 -> 32 -> 16 -> 1. 3x3 convs with
reflection padding and ReLU (none after the last). The net works on [0, 255] intensities.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as nnf
from torch import nn

from benchbed import BenchbedError, FusionInputs, Image

from ._fuse import finish, grow, source_pair
from ._refs import DENSEFUSE_GRAY
from ._torch import cached_model, load_checkpoint, load_strict, torch_device

# "addition" is what the released PyTorch port (whose weights these are) computes under that name:
# the mean of the encodings. The paper's addition is the plain sum ("sum"), which saturates
# bright TNO scenes with these weights (mean 0.95 on TNO 01).
STRATEGIES = ("l1_norm", "addition", "sum")


class _ConvLayer(nn.Module):
    def __init__(self, cin: int, cout: int, last: bool = False) -> None:
        super().__init__()
        self.conv2d = nn.Conv2d(cin, cout, 3, padding=1, padding_mode="reflect")
        self.last = last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2d(x)
        return out if self.last else torch.relu_(out)  # in place on the conv's output


class _DenseConv(nn.Module):
    def __init__(self, cin: int, growth: int) -> None:
        super().__init__()
        self.dense_conv = _ConvLayer(cin, growth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.dense_conv(x)], dim=1)


class _DenseBlock(nn.Module):
    def __init__(self, cin: int, growth: int = 16, layers: int = 3) -> None:
        super().__init__()
        self.denseblock = nn.Sequential(*(_DenseConv(cin + i * growth, growth)
                                          for i in range(layers)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.denseblock(x)


class DenseFuseNet(nn.Module):
    """The DenseFuse autoencoder; fusion happens between ``encode`` and ``decode``."""

    def __init__(self, channels: int = 1) -> None:
        super().__init__()
        self.conv1 = _ConvLayer(channels, 16)
        self.DB1 = _DenseBlock(16)
        self.conv2 = _ConvLayer(64, 64)
        self.conv3 = _ConvLayer(64, 32)
        self.conv4 = _ConvLayer(32, 16)
        self.conv5 = _ConvLayer(16, channels, last=True)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """64-channel features of an image on [0, 255]."""
        return self.DB1(self.conv1(x))

    def decode(self, f: torch.Tensor) -> torch.Tensor:
        """Image on [0, 255] (unclipped) from 64-channel features."""
        return self.conv5(self.conv4(self.conv3(self.conv2(f))))


def l1_weights(fa: torch.Tensor, fb: torch.Tensor, radius: int = 1) -> tuple[torch.Tensor, ...]:
    """Paper's l1-norm rule: per-pixel l1 norm over channels, box-averaged, normalised to sum 1."""
    k = 2 * radius + 1
    acts = [nnf.avg_pool2d(f.abs().sum(dim=1, keepdim=True), k, stride=1, padding=radius,
                         count_include_pad=False) for f in (fa, fb)]
    total = acts[0] + acts[1]
    # Where neither source has any activity, split evenly instead of dividing 0 by 0.
    wa = torch.where(total > 0, acts[0] / total.clamp_min(1e-12), torch.full_like(total, 0.5))
    return wa, 1.0 - wa


def fuse_features(fa: torch.Tensor, fb: torch.Tensor, strategy: str) -> torch.Tensor:
    """Combine two encodings: ``l1_norm`` (paper), ``addition`` (port: mean), ``sum`` (paper)."""
    if strategy == "sum":
        return fa + fb
    if strategy == "addition":
        return 0.5 * (fa + fb)
    wa, wb = l1_weights(fa, fb)
    return wa * fa + wb * fb


def load_densefuse(device: str = "cpu") -> nn.Module:
    """The verified, cached gray DenseFuse autoencoder."""

    def build(paths: tuple[Path, ...]) -> nn.Module:
        return load_strict(DenseFuseNet(1), load_checkpoint(paths[0]))

    return cached_model((DENSEFUSE_GRAY,), device, build, "densefuse-gray")


class DenseFuseFuser:
    """Encode both sources, fuse the encodings by ``strategy``, decode."""

    def __init__(self, strategy: str = "l1_norm", device: str = "cpu") -> None:
        if strategy not in STRATEGIES:
            raise BenchbedError(f"densefuse: unknown strategy {strategy!r}",
                                fix=f"use one of {list(STRATEGIES)}")
        self.strategy = strategy
        self.device = device
        self.model = load_densefuse(device)

    def fuse(self, inputs: FusionInputs) -> Image:
        """Fused luma in [0, 1]."""
        a, b = source_pair(inputs, "densefuse")
        dev = torch_device(self.device)
        with torch.inference_mode():
            ta, tb = (torch.from_numpy(grow(x) * np.float32(255.0)).to(dev)[None, None]
                      for x in (a, b))
            f = fuse_features(self.model.encode(ta), self.model.encode(tb), self.strategy)
            out = self.model.decode(f)[0, 0].cpu().numpy() / 255.0
        return finish(out, a.shape)
