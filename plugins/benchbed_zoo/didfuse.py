"""DIDFuse (Zhao et al., IJCAI 2020): deep image decomposition into base and detail features.

Encoder (gray [0, 1]): cov1 (reflect pad, conv 1->64, BN, PReLU) -> cov2 (conv, BN, PReLU);
two heads on cov2's output, cov3 = base and cov4 = detail (conv, BN, tanh). Decoder: cov5 on
cat[base, detail], cov6 on cat[cov5, cov2 feature], cov7 (reflect pad, conv 128->1, BN, sigmoid)
on cat[cov6, cov1 feature]. Fusion combines all four encoder outputs of the two sources.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from benchbed import BenchbedError, FusionInputs, Image

from ._fuse import finish, grow, source_pair
from ._refs import DIDFUSE_DECODER, DIDFUSE_ENCODER
from ._torch import cached_model, load_checkpoint, load_strict, torch_device
from .densefuse import l1_weights

MODES = ("sum", "average", "l1_norm")


def _block(cin: int, cout: int, act: nn.Module, reflect: bool = False) -> nn.Sequential:
    # A reflection-padded block keeps the pad as layer 0, so its conv is layer 1 (as in the keys).
    conv = nn.Conv2d(cin, cout, 3, padding=0 if reflect else 1)
    layers = [nn.ReflectionPad2d(1)] if reflect else []
    return nn.Sequential(*layers, conv, nn.BatchNorm2d(cout), act)


class _Named(nn.Module):
    """Holds one block under its own name: the released keys read ``cov1.cov1.1.weight``."""

    def __init__(self, name: str, block: nn.Module) -> None:
        super().__init__()
        self.name = name
        self.add_module(name, block)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self, self.name)(x)


class DIDFuseEncoder(nn.Module):
    """Returns (cov1 feature, cov2 feature, base, detail)."""

    def __init__(self) -> None:
        super().__init__()
        self.cov1 = _Named("cov1", _block(1, 64, nn.PReLU(), reflect=True))
        self.cov2 = _Named("cov2", _block(64, 64, nn.PReLU()))
        self.cov3 = _Named("cov3", _block(64, 64, nn.Tanh()))
        self.cov4 = _Named("cov4", _block(64, 64, nn.Tanh()))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        f1 = self.cov1(x)
        f2 = self.cov2(f1)
        return f1, f2, self.cov3(f2), self.cov4(f2)


class DIDFuseDecoder(nn.Module):
    """Reconstruct from (cov1 feature, cov2 feature, base, detail)."""

    def __init__(self) -> None:
        super().__init__()
        self.cov5 = _Named("cov5", _block(128, 64, nn.PReLU()))
        self.cov6 = _Named("cov6", _block(128, 64, nn.PReLU()))
        self.cov7 = _Named("cov7", _block(128, 1, nn.Sigmoid(), reflect=True))

    def forward(self, f1: torch.Tensor, f2: torch.Tensor, base: torch.Tensor,
                detail: torch.Tensor) -> torch.Tensor:
        x = self.cov5(torch.cat([base, detail], dim=1))
        x = self.cov6(torch.cat([x, f2], dim=1))
        return self.cov7(torch.cat([x, f1], dim=1))


class DIDFuseNet(nn.Module):
    """Encoder + decoder pair."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = DIDFuseEncoder()
        self.decoder = DIDFuseDecoder()


def load_didfuse(device: str = "cpu") -> nn.Module:
    """The verified, cached DIDFuse encoder/decoder (files hold {'weight': state dict, 'epoch'})."""

    def build(paths: tuple[Path, ...]) -> nn.Module:
        net = DIDFuseNet()
        load_strict(net.encoder, load_checkpoint(paths[0])["weight"])
        load_strict(net.decoder, load_checkpoint(paths[1])["weight"])
        return net

    return cached_model((DIDFUSE_ENCODER, DIDFUSE_DECODER), device, build, "didfuse")


def combine(fa: torch.Tensor, fb: torch.Tensor, mode: str) -> torch.Tensor:
    """The released test code's rules: ``sum`` (its default), ``average``, ``l1_norm``."""
    if mode == "sum":
        return fa + fb
    if mode == "average":
        return 0.5 * (fa + fb)
    wa, wb = l1_weights(fa, fb)
    return wa * fa + wb * fb


class DIDFuseFuser:
    """Encode both sources, combine every feature pair by ``mode``, decode."""

    def __init__(self, mode: str = "sum", device: str = "cpu") -> None:
        if mode not in MODES:
            raise BenchbedError(f"didfuse: unknown mode {mode!r}", fix=f"use one of {list(MODES)}")
        self.mode = mode
        self.device = device
        self.model = load_didfuse(device)

    def fuse(self, inputs: FusionInputs) -> Image:
        """Fused luma in [0, 1]."""
        a, b = source_pair(inputs, "didfuse")
        dev = torch_device(self.device)
        with torch.inference_mode():
            ta, tb = (torch.from_numpy(grow(x)).to(dev)[None, None] for x in (a, b))
            feats = zip(self.model.encoder(ta), self.model.encoder(tb))
            fused = [combine(fa, fb, self.mode) for fa, fb in feats]
            out = self.model.decoder(*fused)[0, 0].cpu().numpy()
        return finish(out, a.shape)
