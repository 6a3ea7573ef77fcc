"""Torch twins of the core's linear operators (benchbed.operators), batched over N x C x H x W.

The sampler needs A and A† on the GPU and inside autograd, so each core operator is translated
into a torch operator that reproduces it numerically (tests/test_drfusion.py checks this):
Identity; GaussianBlur (reflect = half-sample symmetric padding, DC-normalised Wiener
pseudo-inverse on a symmetric-padded copy, exactly as the core computes it); AvgPoolDown (block
means with partial edge blocks, pixel replication); Compose (A = A_k...A_1; A† factor by factor
when the grid is kept, else the core's regularised least squares by conjugate gradients, with a
custom backward so training does not store the CG iterations). Every twin has the exact adjoint
``AT``. Any other core operator falls back to calling its numpy A / A_pinv (correct, but no
gradient and CPU-bound).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as nnf

from benchbed.operators import (
    CG_ITERATIONS,
    AvgPoolDown,
    Compose,
    GaussianBlur,
    Identity,
    LinearOperator,
    wiener_filter,
)


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
    """(1 + gamma) conj(H)/(|H|^2 + gamma) for the PSF k x k centred at the origin (as
    benchbed.operators.wiener_filter)."""
    taps = np.asarray(k)
    r = (taps.size - 1) // 2
    otf = []
    for n in (h, w):
        row = np.zeros(n)
        row[: r + 1] = taps[r:]
        row[n - r :] = taps[:r]
        otf.append(np.fft.fft(row))
    hh = np.outer(otf[0], otf[1])
    filt = wiener_filter(hh, gamma)
    return torch.as_tensor(filt, dtype=torch.complex128 if double else torch.complex64, device=device)


def _separable_valid(xp: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """'Valid' correlation of the last two axes with k x k (separable), as sums of shifted slices:
    ~2x faster than conv2d for one channel on the CPU, and autograd-friendly."""
    taps = k.numel()
    h, w = xp.shape[-2] - taps + 1, xp.shape[-1] - taps + 1
    rows = sum(k[i] * xp[..., i : i + h, :] for i in range(taps))
    return sum(k[i] * rows[..., :, i : i + w] for i in range(taps))  # type: ignore[return-value]


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

    def AT(self, y: torch.Tensor) -> torch.Tensor:  # noqa: N802 - the literature's name
        """Exact adjoint of ``A``."""
        raise NotImplementedError

    regulariser = 0.0  # Tikhonov gamma of this factor (Wiener gamma for blur)
    dc_gain = 1.0  # eigenvalue of A A^T on a constant image


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

    def AT(self, y: torch.Tensor) -> torch.Tensor:  # noqa: N802
        """Identity."""
        return y


class TGaussianBlur(TorchOperator):
    """Separable Gaussian correlation with symmetric padding; Wiener pseudo-inverse."""

    def __init__(self, hw: tuple[int, int], kernel1d: np.ndarray, gamma: float) -> None:
        self.in_hw = self.out_hw = hw
        self.k = np.asarray(kernel1d, np.float64)
        self.r = (self.k.size - 1) // 2
        self.gamma = float(gamma)
        self.regulariser = self.gamma

    def _kernel(self, like: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(self.k, dtype=like.dtype, device=like.device)

    def A(self, x: torch.Tensor) -> torch.Tensor:  # noqa: N802
        """Blur; correlation = convolution for a symmetric kernel."""
        r = self.r
        return _separable_valid(sym_pad(x, r, r, r, r), self._kernel(x))

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

    def AT(self, y: torch.Tensor) -> torch.Tensor:  # noqa: N802
        """Full convolution with the (symmetric) kernel, then the padding folded back."""
        n, c, h, w = y.shape
        r = self.r
        z = _separable_valid(nnf.pad(y, (2 * r, 2 * r, 2 * r, 2 * r)), self._kernel(y))
        dev = str(y.device)
        out = torch.zeros(n, c, h, w + 2 * r, dtype=z.dtype, device=y.device)
        out.index_add_(2, _sym_index(h, r, r, dev), z)
        res = torch.zeros(n, c, h, w, dtype=z.dtype, device=y.device)
        res.index_add_(3, _sym_index(w, r, r, dev), out)
        return res


class TAvgPoolDown(TorchOperator):
    """Block means over s x s (partial edge blocks average what they hold); A† replicates."""

    def __init__(self, hw: tuple[int, int], factor: int) -> None:
        self.in_hw = hw
        self.s = int(factor)
        self.out_hw = (math.ceil(hw[0] / self.s), math.ceil(hw[1] / self.s))
        self.dc_gain = 1.0 / self.s**2

    def A(self, x: torch.Tensor) -> torch.Tensor:  # noqa: N802
        """Sum over zero-padded blocks divided by each block's true pixel count."""
        h, w = x.shape[-2:]
        s = self.s
        ho, wo = self.out_hw
        xp = nnf.pad(x, (0, wo * s - w, 0, ho * s - h))
        sums = xp.reshape(*x.shape[:-2], ho, s, wo, s).sum(dim=(-3, -1))
        return sums / self._counts(h, w, x)

    def _counts(self, h: int, w: int, like: torch.Tensor) -> torch.Tensor:
        """Pixels in each block of an h x w grid (edge blocks may be partial), as ``like``."""
        ho, wo = self.out_hw
        rh = torch.clamp(h - torch.arange(ho, device=like.device) * self.s, max=self.s)
        rw = torch.clamp(w - torch.arange(wo, device=like.device) * self.s, max=self.s)
        return (rh[:, None] * rw[None, :]).to(like.dtype)

    def A_pinv(self, y: torch.Tensor) -> torch.Tensor:  # noqa: N802
        """PatchUpsample: each pixel copied into its s x s block, cropped to the clean grid."""
        up = y.repeat_interleave(self.s, dim=-2).repeat_interleave(self.s, dim=-1)
        return up[..., : self.in_hw[0], : self.in_hw[1]]

    def AT(self, y: torch.Tensor) -> torch.Tensor:  # noqa: N802
        """Each mean divided by its block's pixel count, replicated."""
        return self.A_pinv(y / self._counts(*self.in_hw, y))


def _cg(apply_m, y: torch.Tensor, x0: torch.Tensor, iterations: int) -> torch.Tensor:  # type: ignore[no-untyped-def]
    """Fixed-iteration conjugate gradients for M z = y, one step size per (sample, channel)."""
    dims = (-2, -1)
    z = x0.clone()
    r = y - apply_m(z)
    p = r.clone()
    rs = (r * r).sum(dims, keepdim=True)
    floor = 1e-30 * max(float((y * y).sum()), 1e-30)
    for _ in range(iterations):
        if float(rs.max()) <= floor:
            break
        mp = apply_m(p)
        alpha = rs / (p * mp).sum(dims, keepdim=True).clamp(min=1e-300)
        z = z + alpha * p
        r = r - alpha * mp
        rs_new = (r * r).sum(dims, keepdim=True)
        p = r + (rs_new / rs.clamp(min=1e-300)) * p
        rs = rs_new
    return z


class _LeastSquaresPinv(torch.autograd.Function):
    """y -> (1 + γ) A^T (A A^T + γc)^{-1} y; its transpose (1 + γ)(A A^T + γc)^{-1} A g is one
    more CG solve, so backward does not keep the forward's iterations."""

    @staticmethod
    def forward(ctx, y: torch.Tensor, op: TCompose) -> torch.Tensor:  # type: ignore[no-untyped-def, override]
        ctx.op = op
        return op.lsq_apply(y)

    @staticmethod
    def backward(ctx, g: torch.Tensor):  # type: ignore[no-untyped-def, override]
        op = ctx.op
        with torch.no_grad():
            return op.lsq_solve(op.A(g)) * (1.0 + op.regulariser), None


class TCompose(TorchOperator):
    """A = A_k ... A_1; A† factor by factor (A_1† ... A_k†) when every factor keeps the grid,
    else the core's regularised least squares (benchbed.operators.Compose.lsq_pinv)."""

    def __init__(self, parts: list[TorchOperator]) -> None:
        self.parts = parts
        self.in_hw = parts[0].in_hw
        self.out_hw = parts[-1].out_hw
        self.changes_grid = any(p.in_hw != p.out_hw for p in parts)
        self.regulariser = float(sum(p.regulariser for p in parts))
        self.dc_gain = float(np.prod([p.dc_gain for p in parts]))

    def A(self, x: torch.Tensor) -> torch.Tensor:  # noqa: N802
        """Apply the factors in order."""
        for p in self.parts:
            x = p.A(x)
        return x

    def AT(self, y: torch.Tensor) -> torch.Tensor:  # noqa: N802
        """Adjoints of the factors in reverse order."""
        for p in reversed(self.parts):
            y = p.AT(y)
        return y

    def lsq_solve(self, y: torch.Tensor) -> torch.Tensor:
        """(A A^T + γc)^{-1} y by conjugate gradients in y's precision (at least float32):
        float64 inputs reproduce the core to 1e-7; the sampler's float32 runs ~10x faster on
        the CPU (float64 convolutions have no fast CPU kernel) and converges to ~1e-6."""
        work = torch.float64 if y.dtype == torch.float64 else torch.float32
        gc = self.regulariser * self.dc_gain
        y64 = y.to(work)
        z = _cg(lambda v: self.A(self.AT(v)) + gc * v, y64,
                y64 / (self.dc_gain * (1.0 + self.regulariser)), CG_ITERATIONS)
        return z.to(y.dtype)

    def lsq_apply(self, y: torch.Tensor) -> torch.Tensor:
        """(1 + γ) A^T (A A^T + γc)^{-1} y without autograd."""
        with torch.no_grad():
            return (1.0 + self.regulariser) * self.AT(self.lsq_solve(y))

    def A_pinv(self, y: torch.Tensor) -> torch.Tensor:  # noqa: N802
        """Least squares when the grid changes, else the factors' pseudo-inverses in reverse order."""
        if self.changes_grid:
            return _LeastSquaresPinv.apply(y, self)
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
