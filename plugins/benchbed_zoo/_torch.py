"""Torch helpers shared by the zoo networks: devices, image <-> tensor, padding, verified loading."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from benchbed import BenchbedError, WeightsRef
from benchbed.weights import resolve_weights

_MODELS: dict[tuple[Any, ...], nn.Module] = {}


def torch_device(name: str) -> torch.device:
    """The torch device called ``name`` ("cpu", "cuda", "cuda:1", "mps"), checked to exist."""
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError) as exc:
        raise BenchbedError(f"unknown device {name!r}", fix="use 'cpu' or 'cuda'") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise BenchbedError(f"device {name!r} requested but CUDA is not available",
                            fix="run with --device cpu")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise BenchbedError(f"device {name!r} requested but MPS is not available",
                            fix="run with --device cpu")
    return dev


def verified(*refs: WeightsRef) -> tuple[Path, ...]:
    """Resolve and sha256-check every file (WeightsError names the file and expected sha256)."""
    return tuple(resolve_weights(ref) for ref in refs)


def load_checkpoint(path: Path) -> Any:
    """``torch.load`` restricted to tensors and plain containers, onto the CPU."""
    return torch.load(path, map_location="cpu", weights_only=True)


def cached_model(refs: tuple[WeightsRef, ...], device: str,
                 build: Callable[[tuple[Path, ...]], nn.Module], tag: str = "") -> nn.Module:
    """Verify ``refs``, then build the eval-mode model once per (files, device, tag) per process.

    Verification runs on every call (it is memoised by file mtime in the core), so a file that
    changed on disk is caught even when the model is already cached.
    """
    paths = verified(*refs)
    key = (tuple((str(p), r.sha256) for p, r in zip(paths, refs)), device, tag)
    if key not in _MODELS:
        model = build(paths)
        model.eval().requires_grad_(False)
        _MODELS[key] = model.to(torch_device(device))
    return _MODELS[key]


def load_strict(model: nn.Module, state: Mapping[str, Any]) -> nn.Module:
    """Load ``state`` (torch tensors or numpy arrays) with no missing or unexpected keys."""
    tensors = {k: v if isinstance(v, torch.Tensor) else torch.from_numpy(np.asarray(v))
               for k, v in state.items()}
    model.load_state_dict(tensors, strict=True)
    return model


def to_batch(images: list[np.ndarray], device: torch.device) -> torch.Tensor:
    """Stack HxW float images as an Nx1xHxW float32 tensor on ``device``."""
    arr = np.stack([np.asarray(im, np.float32) for im in images])[:, None]
    return torch.from_numpy(np.ascontiguousarray(arr)).to(device)


def from_batch(t: torch.Tensor) -> list[np.ndarray]:
    """Nx1xHxW tensor -> list of HxW float32 arrays."""
    return list(t[:, 0].detach().to("cpu", torch.float32).numpy())


def channels(image: np.ndarray) -> list[np.ndarray]:
    """The planes of an image: [image] for HxW, three planes for HxWx3."""
    return [image] if image.ndim == 2 else [image[..., c] for c in range(image.shape[2])]


def merge(planes: list[np.ndarray], like: np.ndarray) -> np.ndarray:
    """Inverse of ``channels`` for an image shaped like ``like``."""
    return planes[0] if like.ndim == 2 else np.stack(planes, axis=-1)


def pad_to_multiple(x: torch.Tensor, multiple: int, mode: str = "replicate") -> torch.Tensor:
    """Pad the bottom/right of NCHW ``x`` so H and W are multiples of ``multiple``."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x
    return nn.functional.pad(x, (0, pw, 0, ph), mode=mode)


class ConvStack(nn.Module):
    """3x3 convs (zero padding 1, with bias) and ReLU between them: the MatConvNet nets' body."""

    def __init__(self, widths: list[int]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(cin, cout, 3, padding=1) for cin, cout in itertools.pairwise(widths)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Conv, ReLU, ..., conv (no activation after the last).

        The ReLUs work in place on each conv's fresh output: one activation-sized buffer less
        per layer (the nets only run for inference; in-place ReLU is autograd-safe anyway).
        """
        last = len(self.convs) - 1
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i < last:
                x = torch.relu_(x)
        return x
