"""IFCNN (Zhang et al., Information Fusion 54:99-118, 2020): general CNN fusion, MAX/MEAN/SUM.

Each source (gray replicated to 3 channels, ImageNet-normalised) goes through a fixed 7x7
ResNet-101 stem conv and a 3x3 conv+BN+ReLU; the feature maps are fused element-wise by the
rule the weights were trained with; a 3x3 conv+BN+ReLU and a 1x1 conv reconstruct, and the
output is de-normalised. All padding is replicate padding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from benchbed import FusionInputs, Image

from ._fuse import finish, grow, source_pair
from ._refs import IFCNN
from ._torch import cached_model, load_checkpoint, load_strict, torch_device

_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)
_LUMA = (0.299, 0.587, 0.114)  # BT.601, the core's Y, to bring the 3-channel output to gray
RULES = ("max", "mean", "sum")


class _ConvBN(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(width, width, 3, padding=1, padding_mode="replicate", bias=False)
        self.bn = nn.BatchNorm2d(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu_(self.bn(self.conv(x)))  # in place on the batch norm's output


class IFCNNNet(nn.Module):
    """conv1 (7x7) -> conv2 (conv+BN+ReLU) per source; fuse; conv3 (conv+BN+ReLU) -> conv4 (1x1)."""

    def __init__(self, rule: str) -> None:
        super().__init__()
        if rule not in RULES:
            raise ValueError(f"unknown IFCNN rule {rule!r}")
        self.rule = rule
        self.conv1 = nn.Conv2d(3, 64, 7, padding=3, padding_mode="replicate", bias=False)
        self.conv2 = _ConvBN(64)
        self.conv3 = _ConvBN(64)
        self.conv4 = nn.Conv2d(64, 3, 1)
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, *sources: torch.Tensor) -> torch.Tensor:
        """Fuse Nx1xHxW gray sources in [0, 1] into an Nx3xHxW image in [0, 1] (unclipped)."""
        feats = [self.conv2(self.conv1((s.expand(-1, 3, -1, -1) - self.mean) / self.std))
                 for s in sources]
        stacked = torch.stack(feats)
        if self.rule == "max":
            fused = stacked.max(dim=0).values
        elif self.rule == "mean":
            fused = stacked.mean(dim=0)
        else:
            fused = stacked.sum(dim=0)
        return self.conv4(self.conv3(fused)) * self.std + self.mean


def load_ifcnn(rule: str, device: str = "cpu") -> nn.Module:
    """The verified, cached IFCNN model trained with fusion ``rule`` (max, mean or sum)."""

    def build(paths: tuple[Path, ...]) -> nn.Module:
        return load_strict(IFCNNNet(rule), load_checkpoint(paths[0]))

    return cached_model((IFCNN[rule],), device, build, f"ifcnn-{rule}")


class IFCNNFuser:
    """Fuse the Y channels of two sources with IFCNN-MAX, -MEAN or -SUM."""

    def __init__(self, rule: str = "max", device: str = "cpu") -> None:
        self.device = device
        self.model = load_ifcnn(rule, device)

    def fuse(self, inputs: FusionInputs) -> Image:
        """Fused luma in [0, 1]."""
        a, b = source_pair(inputs, "ifcnn")
        dev = torch_device(self.device)
        with torch.inference_mode():
            ta, tb = (torch.from_numpy(grow(x)).to(dev)[None, None] for x in (a, b))
            rgb = self.model(ta, tb)[0].cpu().numpy()
        gray = np.tensordot(np.asarray(_LUMA, np.float32), rgb, axes=1)
        return finish(gray, a.shape)
