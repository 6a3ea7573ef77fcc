"""Small building blocks shared by the autoencoder, the restoration nets and TIM."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as nnf
from torch import nn


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel axis of NCHW tensors, scale only (no bias)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.g = nn.Parameter(torch.ones(1, dim, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise each pixel's channel vector."""
        var = torch.var(x, dim=1, unbiased=False, keepdim=True)
        mean = torch.mean(x, dim=1, keepdim=True)
        return (x - mean) * torch.rsqrt(var + 1e-5) * self.g


class SimpleGate(nn.Module):
    """NAFNet's gate: split the channels in two halves and multiply them."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x[:, :C/2] * x[:, C/2:] (channel axis 1)."""
        a, b = x.chunk(2, dim=1)
        return a * b


class SinusoidalEmbedding(nn.Module):
    """Sinusoidal embedding of a scalar time: sin then cos, frequencies exp(-ln(1e4) k / (d/2 - 1))."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """(B,) times -> (B, dim)."""
        half = self.dim // 2
        freq = torch.exp(torch.arange(half, device=t.device, dtype=torch.float32)
                         * (-math.log(10000.0) / (half - 1)))
        arg = t.float().reshape(-1, 1) * freq[None, :]
        return torch.cat([arg.sin(), arg.cos()], dim=-1)


def time_mlp(fourier_dim: int, time_dim: int) -> nn.Sequential:
    """Sinusoidal(fourier_dim) -> Linear(2 time_dim) -> SimpleGate -> Linear(time_dim)."""
    return nn.Sequential(SinusoidalEmbedding(fourier_dim), nn.Linear(fourier_dim, time_dim * 2),
                         SimpleGate(), nn.Linear(time_dim, time_dim))


def as_time(t: int | float | torch.Tensor, batch: int, device: torch.device) -> torch.Tensor:
    """A scalar or (B,) time as a float (B,) tensor on ``device``."""
    if not isinstance(t, torch.Tensor):
        t = torch.tensor([float(t)], device=device)
    t = t.to(device).float().reshape(-1)
    if t.numel() == 1 and batch > 1:
        t = t.expand(batch)
    return t


def pad_to(x: torch.Tensor, multiple: int, mode: str) -> torch.Tensor:
    """Pad bottom/right so H and W are multiples of ``multiple`` (``mode`` as F.pad)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x
    if mode == "constant":
        return nnf.pad(x, (0, pw, 0, ph))
    return nnf.pad(x, (0, pw, 0, ph), mode=mode)
