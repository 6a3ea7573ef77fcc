"""Torch twins of the core's linear operators (benchbed.operators), batched over N x C x H x W.

The sampler needs A and A† on the GPU and inside autograd, so each core operator is translated
into a torch operator that reproduces it numerically (tests/test_drfusion.py checks this):
Identity; GaussianBlur (reflect = half-sample symmetric padding, Wiener pseudo-inverse on a
symmetric-padded copy, exactly as the core computes it); AvgPoolDown (block means with partial
edge blocks, pixel replication); Compose (A = A_k...A_1, A† = A_1†...A_k†). Any other core
operator falls back to calling its numpy A / A_pinv (correct, but no gradient and CPU-bound).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as nnf

from benchbed.operators import AvgPoolDown, Compose, GaussianBlur, Identity, LinearOperator


def _spatial(shape: tuple[int, ...]) -> tuple[int, int]:
    return int(shape[0]), int(shape[1])


@lru_cache(maxsize=256)
def _sym_index(n: int, before: int, after: int, device: str) -> torch.Tensor:
    """Indices of numpy's 'symmetric' (= scipy's 'reflect') padding, for any pad width (cached per
    device so a GPU sampler does not copy them host-to-device at every step)."""
    idx = np.arange(-before, n + after) % (2 * n)
    return torch.as_tensor(np.where(idx >= n, 2 * n - 1 - idx, idx), device=device)


def sym_pad(x: torch.Tensor, top: int, bottom: int, left: int, right: int) -> torch.Tensor:
    """Half-sample symmetric padding of the last two axes (works for pads larger than the image)."""
    h, w = x.shape[-2:]
    dev = str(x.device)
    rows, cols = _sym_index(h, top, bottom, dev), _sym_index(w, left, right, dev)
    return x.index_select(-2, rows).index_select(-1, cols)


@lru_cache(maxsize=64)
def _wiener_filter(k: tuple[float, ...], gamma: float, h: int, w: int, device: str,
                   double: bool) -> torch.Tensor:
    """conj(H)/(|H|^2 + gamma) for the PSF k x k centred at the origin (as benchbed.operators)."""
    taps = np.asarray(k)
    r = (taps.size - 1) // 2
    otf = []
    for n in (h, w):
        row = np.zeros(n)
        row[: r + 1] = taps[r:]
        row[n - r :] = taps[:r]
        otf.append(np.fft.fft(row))
    hh = np.outer(otf[0], otf[1])
    filt = np.conj(hh) / (np.abs(hh) ** 2 + gamma)
    return torch.as_tensor(filt, dtype=torch.complex128 if double else torch.complex64, device=device)


class TorchOperator:
    """A linear operator on N x C x H x W tensors: ``A`` (clean grid -> observation grid), ``A_pinv``."""

    in_hw: tuple[int, int]
    out_hw: tuple[int, int]

    def A(self, x: torch.Tensor) -> torch.Tensor:  # noqa: N802 - the literature's name
        """Forward model."""
        raise NotImplementedError

    def A_pinv(self, y: torch.Tensor) -> torch.Tensor:  # noqa: N802 - the literature's name
        """Pseudo-inverse."""
        raise NotImplementedError


class TIdentity(TorchOperator):
    """A = A† = I."""

    def __init__(self, hw: tuple[int, int]) -> None:
        self.in_hw = self.out_hw = hw

    def A(self, x: torch.Tensor) -> torch.Tensor:  # noqa: N802
        """Identity."""
        return x

    def A_pinv(self, y: torch.Tensor) -> torch.Tensor:  # noqa: N802
        """Identity."""
        return y


class TGaussianBlur(TorchOperator):
    """Separable Gaussian correlation with symmetric padding; Wiener pseudo-inverse."""

    def __init__(self, hw: tuple[int, int], kernel1d: np.ndarray, gamma: float) -> None:
        self.in_hw = self.out_hw = hw
        self.k = np.asarray(kernel1d, np.float64)
        self.r = (self.k.size - 1) // 2
        self.gamma = float(gamma)

    def _kernel(self, like: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(self.k, dtype=like.dtype, device=like.device)

    def A(self, x: torch.Tensor) -> torch.Tensor:  # noqa: N802
        """Blur; correlation = convolution for a symmetric kernel."""
        n, c, h, w = x.shape
        k = self._kernel(x)
        xp = sym_pad(x, self.r, self.r, self.r, self.r).reshape(n * c, 1, h + 2 * self.r, w + 2 * self.r)
        out = nnf.conv2d(xp, k.view(1, 1, -1, 1))
        out = nnf.conv2d(out, k.view(1, 1, 1, -1))
        return out.reshape(n, c, h, w)

    def A_pinv(self, y: torch.Tensor) -> torch.Tensor:  # noqa: N802
        """Wiener deconvolution conj(H)/(|H|^2 + gamma) on a symmetric-padded copy (no ringing)."""
        pad = 4 * (self.k.size // 2 + 1)
        dtype = y.dtype
        # float64 FFTs where the device offers them cheaply keep the match with the core at 1e-6;
        # on CUDA complex64 is plenty (the filter is bounded by 1/(2 sqrt(gamma))).
        work = torch.float64 if y.device.type == "cpu" else torch.float32
        yp = sym_pad(y.to(work), pad, pad, pad, pad)
        filt = _wiener_filter(tuple(self.k.tolist()), self.gamma, yp.shape[-2], yp.shape[-1],
                              str(y.device), work == torch.float64)
        xp = torch.fft.ifft2(torch.fft.fft2(yp) * filt).real
        return xp[..., pad:-pad, pad:-pad].to(dtype)


class TAvgPoolDown(TorchOperator):
    """Block means over s x s (partial edge blocks average what they hold); A† replicates."""

    def __init__(self, hw: tuple[int, int], factor: int) -> None:
        self.in_hw = hw
        self.s = int(factor)
        self.out_hw = (math.ceil(hw[0] / self.s), math.ceil(hw[1] / self.s))

    def A(self, x: torch.Tensor) -> torch.Tensor:  # noqa: N802
        """Sum over zero-padded blocks divided by each block's true pixel count."""
        h, w = x.shape[-2:]
        s = self.s
        ho, wo = self.out_hw
        xp = nnf.pad(x, (0, wo * s - w, 0, ho * s - h))
        sums = xp.reshape(*x.shape[:-2], ho, s, wo, s).sum(dim=(-3, -1))
        rh = torch.clamp(h - torch.arange(ho, device=x.device) * s, max=s)
        rw = torch.clamp(w - torch.arange(wo, device=x.device) * s, max=s)
        counts = (rh[:, None] * rw[None, :]).to(x.dtype)
        return sums / counts

    def A_pinv(self, y: torch.Tensor) -> torch.Tensor:  # noqa: N802
        """PatchUpsample: each pixel copied into its s x s block, cropped to the clean grid."""
        up = y.repeat_interleave(self.s, dim=-2).repeat_interleave(self.s, dim=-1)
        return up[..., : self.in_hw[0], : self.in_hw[1]]


class TCompose(TorchOperator):
    """A = A_k ... A_1; A† = A_1† ... A_k† (the paper's order rule for composite degradations)."""

    def __init__(self, parts: list[TorchOperator]) -> None:
        self.parts = parts
        self.in_hw = parts[0].in_hw
        self.out_hw = parts[-1].out_hw

    def A(self, x: torch.Tensor) -> torch.Tensor:  # noqa: N802
        """Apply the factors in order."""
        for p in self.parts:
            x = p.A(x)
        return x

    def A_pinv(self, y: torch.Tensor) -> torch.Tensor:  # noqa: N802
        """Apply the factors' pseudo-inverses in reverse order."""
        for p in reversed(self.parts):
            y = p.A_pinv(y)
        return y


class TNumpyFallback(TorchOperator):
    """Any other core operator, applied image by image through its numpy methods (no autograd)."""

    def __init__(self, op: LinearOperator) -> None:
        self.op = op
        self.in_hw = _spatial(op.in_shape)
        self.out_hw = _spatial(op.out_shape)

    def _map(self, fn, t: torch.Tensor) -> torch.Tensor:  # type: ignore[no-untyped-def]
        arr = t.detach().cpu().double().numpy()
        out = np.stack([np.stack([np.asarray(fn(arr[n, c]), np.float64) for c in range(arr.shape[1])])
                        for n in range(arr.shape[0])])
        return torch.as_tensor(out, dtype=t.dtype, device=t.device)

    def A(self, x: torch.Tensor) -> torch.Tensor:  # noqa: N802
        """The core operator's A per 2-D image."""
        return self._map(self.op.A, x)

    def A_pinv(self, y: torch.Tensor) -> torch.Tensor:  # noqa: N802
        """The core operator's A_pinv per 2-D image."""
        return self._map(self.op.A_pinv, y)


def to_torch(op: LinearOperator | None, hw: tuple[int, int], extra_gamma: float = 0.0) -> TorchOperator:
    """The torch operator equivalent to core operator ``op`` (``None``: identity on ``hw``).

    ``extra_gamma`` is added to every Wiener regulariser (noise-aware pseudo-inverse); 0 reproduces
    the core operator exactly.
    """
    if op is None:
        return TIdentity(hw)
    # Exact types: a subclass may override A, so it goes through the generic fallback.
    kind = type(op)
    if kind is Compose:
        return TCompose([to_torch(p, _spatial(p.in_shape), extra_gamma) for p in op.parts])
    if kind is Identity:
        return TIdentity(_spatial(op.in_shape))
    if kind is GaussianBlur:
        return TGaussianBlur(_spatial(op.in_shape), op.kernel1d,  # type: ignore[attr-defined]
                             op.gamma + float(extra_gamma))  # type: ignore[attr-defined]
    if kind is AvgPoolDown:
        return TAvgPoolDown(_spatial(op.in_shape), op.factor)  # type: ignore[attr-defined]
    return TNumpyFallback(op)
