"""U2Fusion (Xu et al., IEEE TPAMI 44(1), 2022), read from the authors' TensorFlow 1 checkpoint.

Input: the two gray sources stacked as 2 channels (visible/functional first, as the released
test script feeds them). Encoder: conv1_1 (2 -> 44) then five dense layers, each adding 44
channels concatenated as [new, previous] (44 -> 264); decoder: 264 -> 128 -> 64 -> 32 -> 1.
Every conv is 3x3 with reflection padding and leaky ReLU (slope 0.2) except the last, whose
output goes through tanh / 2 + 0.5.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as nnf
from torch import nn

from benchbed import FusionInputs, Image

from ._fuse import finish, grow, source_pair, visible_first
from ._refs import U2FUSION_DATA, U2FUSION_INDEX
from ._tfbundle import read_bundle
from ._torch import cached_model, load_strict, torch_device

_WIDTH = 44
_DENSE = 5
_DECODER = (_WIDTH * (_DENSE + 1), 128, 64, 32, 1)


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, padding_mode="reflect")


class U2FusionNet(nn.Module):
    """The U2Fusion generator (DenseNet encoder + plain decoder)."""

    def __init__(self) -> None:
        super().__init__()
        enc = {"conv1_1": _conv(2, _WIDTH)}
        for i in range(1, _DENSE + 1):
            enc[f"dense_block_conv{i}"] = _conv(_WIDTH * i, _WIDTH)
        self.encoder = nn.ModuleDict(enc)
        self.decoder = nn.ModuleDict({f"conv2_{i + 1}": _conv(cin, cout) for i, (cin, cout)
                                      in enumerate(itertools.pairwise(_DECODER))})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Nx2xHxW sources in [0, 1] -> Nx1xHxW fused image in [0, 1] (activations in place on
        each conv's fresh output)."""
        x = nnf.leaky_relu(self.encoder["conv1_1"](x), 0.2, inplace=True)
        for i in range(1, _DENSE + 1):
            x = torch.cat([nnf.leaky_relu(self.encoder[f"dense_block_conv{i}"](x), 0.2, inplace=True), x],
                          dim=1)
        convs = list(self.decoder.values())
        for conv in convs[:-1]:
            x = nnf.leaky_relu(conv(x), 0.2, inplace=True)
        return torch.tanh(convs[-1](x)) / 2 + 0.5


def state_from_bundle(tensors: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Map TF names/layouts to the module: kernel [kH, kW, Cin, Cout] -> [Cout, Cin, kH, kW]."""
    state: dict[str, torch.Tensor] = {}
    for name, value in tensors.items():
        scope, part, layer, kind = name.split("/")  # e.g. Generator/encoder/conv1_1/kernel
        del scope  # "Generator" or "Generator_1": TF's name for the second use of the scope
        t = torch.from_numpy(np.ascontiguousarray(value))
        if kind == "kernel":
            state[f"{part}.{layer}.weight"] = t.permute(3, 2, 0, 1).contiguous()
        else:
            state[f"{part}.{layer}.bias"] = t
    return state


def load_u2fusion(device: str = "cpu") -> nn.Module:
    """The verified, cached U2Fusion generator."""

    def build(paths: tuple[Path, ...]) -> nn.Module:
        return load_strict(U2FusionNet(), state_from_bundle(read_bundle(paths[0], paths[1])))

    return cached_model((U2FUSION_INDEX, U2FUSION_DATA), device, build, "u2fusion")


class U2FusionFuser:
    """Fuse two gray sources with the U2Fusion generator."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self.model = load_u2fusion(device)

    def fuse(self, inputs: FusionInputs) -> Image:
        """Fused luma in [0, 1]."""
        a, b = source_pair(inputs, "u2fusion")
        first, second = visible_first(inputs, a, b)
        x = np.stack([grow(first), grow(second)])[None]
        with torch.inference_mode():
            out = self.model(torch.from_numpy(x).to(torch_device(self.device)))
        return finish(out[0, 0].cpu().numpy(), a.shape)
