"""DnCNN (Zhang et al., IEEE TIP 2017): DnCNN-S for sigma 25 and the blind DnCNN-B, gray.

Both predict the noise and subtract it (residual learning). DnCNN-S comes as a whole pickled
PyTorch module (read with the restricted legacy reader), DnCNN-B as a MatConvNet model with its
batch norms folded into the convs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from benchbed import Image, Observation

from ._legacy import load_legacy, module_state_dict, submodule
from ._matconvnet import conv_stack_state, read_simplenn
from ._refs import DNCNN_BLIND, DNCNN_S25
from ._restore import finish, upsample
from ._torch import ConvStack, cached_model, channels, from_batch, load_strict, merge, to_batch, torch_device


class DnCNN(nn.Module):
    """DnCNN-S as published in PyTorch: conv+ReLU, 15 x (conv, BN, ReLU), conv; x - net(x)."""

    def __init__(self, depth: int = 17, width: int = 64, bn_eps: float = 1e-4) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(1, width, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1, bias=False),
                       nn.BatchNorm2d(width, eps=bn_eps), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(width, 1, 3, padding=1, bias=False))
        self.dncnn = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Clean estimate = input - predicted noise."""
        return x - self.dncnn(x)


class ResidualStack(nn.Module):
    """A MatConvNet conv/ReLU stack used as a noise predictor: x - net(x) (DnCNN-B)."""

    def __init__(self, widths: list[int]) -> None:
        super().__init__()
        self.net = ConvStack(widths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Clean estimate = input - predicted noise."""
        return x - self.net(x)


def _build_s25(paths: tuple[Path, ...]) -> nn.Module:
    root = load_legacy(paths[0], module_classes=("__main__.DnCNN",))
    # The eps is not a tensor, so it is read from the pickled BatchNorm's attributes (1e-4 here,
    # not torch's default 1e-5).
    model = DnCNN(bn_eps=float(submodule(root, "dncnn.3").state["eps"]))
    return load_strict(model, module_state_dict(root))


def _build_blind(paths: tuple[Path, ...]) -> nn.Module:
    widths, state = conv_stack_state(read_simplenn(paths[0]))
    return load_strict(ResidualStack(widths), {f"net.{k}": v for k, v in state.items()})


def load_dncnn(variant: str, device: str = "cpu") -> nn.Module:
    """The verified, cached DnCNN model: ``variant`` "s25" (sigma 25) or "blind" (DnCNN-B)."""
    if variant == "s25":
        return cached_model((DNCNN_S25,), device, _build_s25, "dncnn-s25")
    if variant == "blind":
        return cached_model((DNCNN_BLIND,), device, _build_blind, "dncnn-b")
    raise ValueError(f"unknown DnCNN variant {variant!r}")


def denoise(model: nn.Module, planes: list[np.ndarray], device: str = "cpu") -> list[np.ndarray]:
    """Run a gray denoiser on a batch of equal-size HxW planes in [0, 1]."""
    with torch.inference_mode():
        return from_batch(model(to_batch(planes, torch_device(device))))


class DnCNNRestorer:
    """Denoise with DnCNN-S (sigma 25) or DnCNN-B (blind), each RGB channel separately.

    The degradations add i.i.d. noise to every RGB channel, so per-channel denoising matches the
    gray model's assumption (on Y the noise would be weaker and CbCr would keep theirs). The net
    always runs: DnCNN-S is a fixed-level model and DnCNN-B estimates the level itself. A
    low-resolution y is denoised on its own grid, where the noise is white, then upsampled.
    """

    def __init__(self, variant: str = "s25", device: str = "cpu") -> None:
        self.device = device
        self.model = load_dncnn(variant, device)

    def restore(self, observation: Observation, modality: str) -> Image:
        """The denoised source on the clean grid."""
        y = np.asarray(observation.y, np.float32)
        out = merge(denoise(self.model, channels(y), self.device), y)
        return finish(upsample(out, observation.down_factor, observation.clean_shape))
