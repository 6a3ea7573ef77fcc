"""VDSR (Kim, Lee, Lee, CVPR 2016), PyTorch re-training by twtygqyy (one model for x2/x3/x4).

Input: the luma bicubic-upsampled to the target size; 20 3x3 convs (no bias) with ReLU learn the
missing detail, added back to the input (global residual).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from benchbed import Image, Observation
from benchbed.imaging import rgb_to_ycbcr, ycbcr_to_rgb

from ._legacy import load_legacy, module_state_dict
from ._refs import VDSR
from ._restore import finish, upsample
from ._torch import cached_model, from_batch, load_strict, to_batch, torch_device


class _ConvReLU(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(width, width, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu_(self.conv(x))  # in place on the conv's output


class VDSRNet(nn.Module):
    """input conv 1->64 + ReLU, 18 x (conv 64->64 + ReLU), output conv 64->1; + input."""

    def __init__(self, width: int = 64, blocks: int = 18) -> None:
        super().__init__()
        self.input = nn.Conv2d(1, width, 3, padding=1, bias=False)
        self.residual_layer = nn.Sequential(*(_ConvReLU(width) for _ in range(blocks)))
        self.output = nn.Conv2d(width, 1, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Super-resolved luma = interpolated luma + predicted residual."""
        return x + self.output(self.residual_layer(torch.relu_(self.input(x))))


def _build(paths: tuple[Path, ...]) -> nn.Module:
    checkpoint = load_legacy(paths[0], module_classes=("vdsr.Net", "vdsr.Conv_ReLU_Block"))
    return load_strict(VDSRNet(), module_state_dict(checkpoint["model"]))


def load_vdsr(device: str = "cpu") -> nn.Module:
    """The verified, cached VDSR model on ``device``."""
    return cached_model((VDSR,), device, _build, "vdsr")


def refine(model: nn.Module, planes: list[np.ndarray], device: str = "cpu") -> list[np.ndarray]:
    """Run VDSR on already-interpolated HxW luma planes in [0, 1]."""
    with torch.inference_mode():
        return from_batch(model(to_batch(planes, torch_device(device))))


def super_resolve(model: nn.Module, image: Image, factor: int, clean_shape: tuple[int, ...],
                  device: str = "cpu") -> Image:
    """Bicubic x``factor`` to the clean grid, then VDSR on the luma; CbCr stay bicubic.

    VDSR was trained on BT.601 Y only (the usual SR protocol), so colour images are refined in
    YCbCr and converted back.
    """
    up = upsample(np.asarray(image, np.float32), factor, clean_shape)
    if up.ndim == 2:
        return finish(refine(model, [up], device)[0])
    ycc = rgb_to_ycbcr(up)
    ycc[..., 0] = refine(model, [ycc[..., 0]], device)[0]
    return ycbcr_to_rgb(ycc)


class VDSRRestorer:
    """Super-resolve a low-resolution y by the observation's pooling factor (identity at x1)."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self.model = load_vdsr(device)

    def restore(self, observation: Observation, modality: str) -> Image:
        """The super-resolved source on the clean grid."""
        y = np.asarray(observation.y, np.float32)
        factor = observation.down_factor
        if factor == 1:
            return finish(upsample(y, 1, observation.clean_shape))
        return finish(super_resolve(self.model, y, factor, observation.clean_shape, self.device))
