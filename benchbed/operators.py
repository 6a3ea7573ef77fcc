"""Linear observation models shared by degradations, restorers and degradation-aware fusers.

An operator is bound to the clean image shape it acts on. ``A`` maps a clean image to the
noise-free observation; ``A_pinv`` maps an observation back to the clean grid. Operators act on
the two spatial axes of HxW or HxWxC float arrays. ``parts`` lists the factors in the order
they are applied, so a restorer can treat them one by one (DRFusion: A = A_k...A_1, A† = A_1†...A_k†).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def _spatial(shape: tuple[int, ...]) -> tuple[int, int]:
    return int(shape[0]), int(shape[1])


def _like(out: np.ndarray, x: np.ndarray) -> np.ndarray:
    """float64 in, float64 out (the least-squares solver needs it); float32 for everything else."""
    return out if np.asarray(x).dtype == np.float64 else out.astype(np.float32)


class LinearOperator:
    """Base class: subclasses set ``kind`` and implement ``A``, ``A_pinv`` and ``describe``."""

    kind = "linear"

    def __init__(self, in_shape: tuple[int, ...]) -> None:
        self.in_shape = tuple(int(s) for s in in_shape)

    @property
    def out_shape(self) -> tuple[int, ...]:
        """Shape of ``A(x)`` for an input of ``in_shape``."""
        return self.in_shape

    @property
    def parts(self) -> tuple[LinearOperator, ...]:
        """Factors in application order (a single operator is its own only part)."""
        return (self,)

    def A(self, x: np.ndarray) -> np.ndarray:  # noqa: N802 - the literature's name
        """Forward model."""
        raise NotImplementedError

    def A_pinv(self, y: np.ndarray) -> np.ndarray:  # noqa: N802 - the literature's name
        """Pseudo-inverse (or regularised inverse) of the forward model."""
        raise NotImplementedError

    def AT(self, y: np.ndarray) -> np.ndarray:  # noqa: N802 - the literature's name
        """Exact adjoint (transpose) of ``A``; needed by the least-squares pseudo-inverse."""
        raise NotImplementedError(f"{type(self).__name__} has no adjoint")

    @property
    def regulariser(self) -> float:
        """Tikhonov regulariser gamma this factor brings to a least-squares pseudo-inverse."""
        return 0.0

    @property
    def dc_gain(self) -> float:
        """Eigenvalue of A A^T on a constant image (1/s^2 for s x s pooling, 1 otherwise)."""
        return 1.0

    def describe(self) -> dict[str, Any]:
        """JSON-able description; enters cache keys."""
        return {"kind": self.kind, "in_shape": list(self.in_shape)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()})"


class Identity(LinearOperator):
    """A = I (pure additive noise)."""

    kind = "identity"

    def A(self, x: np.ndarray) -> np.ndarray:  # noqa: N802
        """Return ``x`` unchanged."""
        return x

    def A_pinv(self, y: np.ndarray) -> np.ndarray:  # noqa: N802
        """Return ``y`` unchanged."""
        return y

    def AT(self, y: np.ndarray) -> np.ndarray:  # noqa: N802
        """Return ``y`` unchanged."""
        return y


def gaussian_kernel1d(sigma: float, radius: int | None = None) -> np.ndarray:
    """Normalised 1-D Gaussian taps; radius defaults to ceil(3 sigma) (size >= 4 sigma + 1)."""
    radius = math.ceil(3.0 * sigma) if radius is None else int(radius)
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


def _psf_otf(k1d: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Optical transfer function of the separable PSF k1d x k1d, centred at the origin."""
    r = (k1d.size - 1) // 2
    otf = []
    for n in shape:
        row = np.zeros(n)
        row[: r + 1] = k1d[r:]
        row[n - r :] = k1d[:r]
        otf.append(np.fft.fft(row))
    return np.outer(otf[0], otf[1])


def _fold_symmetric(z: np.ndarray, n: int, r: int, axis: int) -> np.ndarray:
    """Adjoint of half-sample symmetric padding by ``r`` on each side of ``axis`` (length n + 2r -> n)."""
    z = np.moveaxis(z, axis, 0)
    if r <= n:
        out = z[r : r + n].copy()
        out[:r] += z[:r][::-1]
        out[n - r :] += z[r + n :][::-1]
    else:  # pads wider than the image wrap more than once: scatter by the padding's index map
        idx = np.arange(-r, n + r) % (2 * n)
        idx = np.where(idx >= n, 2 * n - 1 - idx, idx)
        out = np.zeros((n, *z.shape[1:]), z.dtype)
        np.add.at(out, idx, z)
    return np.moveaxis(out, 0, axis)


def wiener_filter(otf: np.ndarray, gamma: float, dc_normalise: bool = True) -> np.ndarray:
    """DC-normalised Wiener filter (1 + gamma) conj(H) / (|H|^2 + gamma).

    The plain conj(H)/(|H|^2 + gamma) has DC gain 1/(1 + gamma): with a noise-aware gamma of
    ~0.1 it darkens and flattens every image by ~9 %. Scaling by (1 + gamma) keeps the mean (and
    the nearly unblurred low frequencies) exact while leaving the regularisation of the high
    frequencies unchanged. ``dc_normalise=False`` gives the plain filter, the exact solution of
    the proximal step argmin ||y - Hx||^2 + gamma ||x||^2 (plug-and-play HQS needs that one).
    """
    scale = 1.0 + gamma if dc_normalise else 1.0
    return scale * np.conj(otf) / (np.abs(otf) ** 2 + gamma)


class GaussianBlur(LinearOperator):
    """A = isotropic Gaussian convolution with reflect padding; A_pinv = Wiener filter.

    Wiener: X = (1 + gamma) conj(H) Y / (|H|^2 + gamma) in the Fourier domain (DRFusion, blur
    case, DC-normalised, see ``wiener_filter``), computed on a reflect-padded copy so the image
    border does not ring.
    """

    kind = "blur"

    def __init__(self, in_shape: tuple[int, ...], sigma: float, gamma: float = 1e-3) -> None:
        super().__init__(in_shape)
        if sigma <= 0:
            raise ValueError("blur sigma must be > 0")
        self.sigma = float(sigma)
        self.gamma = float(gamma)
        self.kernel1d = gaussian_kernel1d(self.sigma)

    @property
    def psf(self) -> np.ndarray:
        """The 2-D point-spread function."""
        return np.outer(self.kernel1d, self.kernel1d)

    def A(self, x: np.ndarray) -> np.ndarray:  # noqa: N802
        """Blur with reflect boundary (scipy 'reflect' = half-sample symmetric)."""
        from scipy import ndimage  # here, not at import: the registry imports this module

        out = ndimage.correlate1d(np.asarray(x, np.float64), self.kernel1d, axis=0, mode="reflect")
        out = ndimage.correlate1d(out, self.kernel1d, axis=1, mode="reflect")
        return _like(out, x)

    def wiener(self, y: np.ndarray, gamma: float | None = None,
               dc_normalise: bool = True) -> np.ndarray:
        """Wiener deconvolution of ``y`` with this PSF and regulariser ``gamma`` (see ``wiener_filter``)."""
        gamma = self.gamma if gamma is None else float(gamma)
        y = np.asarray(y, np.float64)
        pad = 4 * (self.kernel1d.size // 2 + 1)
        widths = [(pad, pad), (pad, pad)] + [(0, 0)] * (y.ndim - 2)
        yp = np.pad(y, widths, mode="symmetric")
        filt = wiener_filter(_psf_otf(self.kernel1d, _spatial(yp.shape)), gamma, dc_normalise)
        if yp.ndim == 3:
            filt = filt[..., None]
        xp = np.real(np.fft.ifft2(np.fft.fft2(yp, axes=(0, 1)) * filt, axes=(0, 1)))
        return xp[pad:-pad, pad:-pad].astype(np.float32)

    def A_pinv(self, y: np.ndarray) -> np.ndarray:  # noqa: N802
        """Wiener pseudo-inverse with the operator's gamma."""
        return self.wiener(y)

    def AT(self, y: np.ndarray) -> np.ndarray:  # noqa: N802
        """Adjoint of the reflect-padded correlation: full convolution, then fold the padding back."""
        from scipy import ndimage

        out = np.asarray(y, np.float64)
        r = (self.kernel1d.size - 1) // 2
        for axis in (0, 1):
            n = out.shape[axis]
            widths = [(0, 0)] * out.ndim
            widths[axis] = (r, r)
            # the kernel is symmetric, so the transposed (flipped) correlation is the same one
            full = ndimage.correlate1d(np.pad(out, widths), self.kernel1d, axis=axis, mode="constant")
            out = _fold_symmetric(full, n, r, axis)
        return _like(out, y)

    @property
    def regulariser(self) -> float:
        """The Wiener gamma."""
        return self.gamma

    def describe(self) -> dict[str, Any]:
        """Kind, shape, sigma, gamma."""
        return {**super().describe(), "sigma": self.sigma, "gamma": self.gamma}


class AvgPoolDown(LinearOperator):
    """A = average over s x s blocks (partial edge blocks average what they hold);
    A_pinv = replicate each pixel into its block (PatchUpsample), so A(A_pinv(y)) = y exactly.
    Alone, replication is the exact Moore-Penrose pseudo-inverse (A A^T is diagonal); composed
    with a blur it is not, and ``Compose`` solves the least-squares problem instead."""

    kind = "downsample"

    def __init__(self, in_shape: tuple[int, ...], factor: int) -> None:
        super().__init__(in_shape)
        if int(factor) < 1:
            raise ValueError("downsampling factor must be >= 1")
        self.factor = int(factor)

    @property
    def out_shape(self) -> tuple[int, ...]:
        """ceil(H/s) x ceil(W/s) (x C)."""
        h, w = _spatial(self.in_shape)
        s = self.factor
        return (-(-h // s), -(-w // s), *self.in_shape[2:])

    def A(self, x: np.ndarray) -> np.ndarray:  # noqa: N802
        """Block means."""
        x = np.asarray(x, np.float64)
        s = self.factor
        h, w = _spatial(x.shape)
        rows = np.add.reduceat(x, np.arange(0, h, s), axis=0)
        sums = np.add.reduceat(rows, np.arange(0, w, s), axis=1)
        return _like(sums / self._counts(h, w, x.ndim), x)

    def A_pinv(self, y: np.ndarray) -> np.ndarray:  # noqa: N802
        """Replicate each pixel into an s x s block, cropped to the clean shape."""
        s = self.factor
        h, w = _spatial(self.in_shape)
        up = np.repeat(np.repeat(np.asarray(y), s, axis=0), s, axis=1)
        return _like(up[:h, :w], y)

    def _counts(self, h: int, w: int, ndim: int) -> np.ndarray:
        """Pixels in each block of an h x w grid (edge blocks may be partial), broadcastable."""
        s = self.factor
        ho, wo = -(-h // s), -(-w // s)
        rh = np.minimum(s, h - np.arange(ho) * s)
        rw = np.minimum(s, w - np.arange(wo) * s)
        return np.outer(rh, rw).reshape((ho, wo) + (1,) * (ndim - 2)).astype(np.float64)

    def AT(self, y: np.ndarray) -> np.ndarray:  # noqa: N802
        """Adjoint of the block mean: each value divided by its block's pixel count, replicated."""
        y = np.asarray(y, np.float64)
        return self.A_pinv(y / self._counts(*_spatial(self.in_shape), y.ndim))

    @property
    def dc_gain(self) -> float:
        """1/s^2: the adjoint spreads each mean over s^2 pixels."""
        return 1.0 / self.factor**2

    def describe(self) -> dict[str, Any]:
        """Kind, shape, factor."""
        return {**super().describe(), "factor": self.factor}


CG_ITERATIONS = 30  # fixed, so numpy and torch twins (and every run) take the same path


def cg_solve(apply_m, y: np.ndarray, x0: np.ndarray, iterations: int = CG_ITERATIONS) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Conjugate gradients for M z = y (M symmetric positive definite, matrix-free), a fixed
    number of iterations with one step size per channel (channels are independent systems)."""
    axes = (0, 1)
    z = np.asarray(x0, np.float64).copy()
    r = np.asarray(y, np.float64) - apply_m(z)
    p = r.copy()
    rs = np.sum(r * r, axis=axes, keepdims=True)
    floor = 1e-30 * max(float(np.sum(np.asarray(y, np.float64) ** 2)), 1e-30)
    for _ in range(iterations):
        if float(rs.max()) <= floor:
            break
        mp = apply_m(p)
        alpha = rs / np.maximum(np.sum(p * mp, axis=axes, keepdims=True), 1e-300)
        z += alpha * p
        r -= alpha * mp
        rs_new = np.sum(r * r, axis=axes, keepdims=True)
        p = r + (rs_new / np.maximum(rs, 1e-300)) * p
        rs = rs_new
    return z


class Compose(LinearOperator):
    """A = A_k ... A_1 (parts applied in order).

    Shape-preserving chains invert factor by factor (A_pinv = A_1_pinv ... A_k_pinv, the paper's
    order rule). A chain that changes the grid (blur then pooling) has no such inverse: H†D†
    (replicate, then Wiener) is not a pseudo-inverse of D·H and rings at the block edges. It uses
    the regularised least-squares pseudo-inverse instead,
        A† y = (1 + γ) A^T (A A^T + γ c I)^{-1} y,
    solved by conjugate gradients on the observation grid; γ is the sum of the factors'
    regularisers, c = the DC eigenvalue of A A^T (1/s² for s-fold pooling), so that γ means what
    it means for Wiener and the (1 + γ) keeps the mean exact (as ``wiener_filter``).
    """

    kind = "composite"

    def __init__(self, parts: list[LinearOperator] | tuple[LinearOperator, ...]) -> None:
        flat: list[LinearOperator] = []
        for p in parts:
            flat.extend(p.parts)
        if not flat:
            raise ValueError("Compose needs at least one operator")
        super().__init__(flat[0].in_shape)
        self._parts = tuple(flat)

    @property
    def parts(self) -> tuple[LinearOperator, ...]:
        """The factors in application order."""
        return self._parts

    @property
    def out_shape(self) -> tuple[int, ...]:
        """Output shape of the last factor."""
        return self._parts[-1].out_shape

    def A(self, x: np.ndarray) -> np.ndarray:  # noqa: N802
        """Apply every factor in order."""
        for p in self._parts:
            x = p.A(x)
        return x

    @property
    def changes_grid(self) -> bool:
        """True when some factor maps to another shape (then A† is the least-squares one)."""
        return any(p.out_shape[:2] != p.in_shape[:2] for p in self._parts)

    @property
    def regulariser(self) -> float:
        """Sum of the factors' regularisers."""
        return float(sum(p.regulariser for p in self._parts))

    @property
    def dc_gain(self) -> float:
        """Product of the factors' DC gains."""
        return float(np.prod([p.dc_gain for p in self._parts]))

    def AT(self, y: np.ndarray) -> np.ndarray:  # noqa: N802
        """Adjoints of the factors in reverse order."""
        for p in reversed(self._parts):
            y = p.AT(y)
        return y

    def lsq_pinv(self, y: np.ndarray, gamma: float | None = None,
                 iterations: int = CG_ITERATIONS) -> np.ndarray:
        """(1 + γ) A^T (A A^T + γ c I)^{-1} y by conjugate gradients (see the class docstring)."""
        gamma = self.regulariser if gamma is None else float(gamma)
        c = self.dc_gain
        y64 = np.asarray(y, np.float64)
        z = cg_solve(lambda v: self.A(self.AT(v)) + gamma * c * v, y64, y64 / (c * (1.0 + gamma)),
                     iterations)
        return _like((1.0 + gamma) * self.AT(z), y)

    def A_pinv(self, y: np.ndarray) -> np.ndarray:  # noqa: N802
        """Least squares when the grid changes; else the factors' pseudo-inverses in reverse order."""
        if self.changes_grid:
            return self.lsq_pinv(y)
        for p in reversed(self._parts):
            y = p.A_pinv(y)
        return y

    def describe(self) -> dict[str, Any]:
        """Kind and the factors' descriptions."""
        return {"kind": self.kind, "parts": [p.describe() for p in self._parts]}


def find_part(op: LinearOperator | None, kind: str) -> LinearOperator | None:
    """The first factor of ``op`` of the given kind, or None."""
    if op is None:
        return None
    return next((p for p in op.parts if p.kind == kind), None)

