"""Helpers shared by the metrics: 8-bit level maps, histogram entropy, windows and local moments."""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import TypeVar

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage

T = TypeVar("T")
R = TypeVar("R")


def _default_workers() -> int:
    """BENCHBED_METRIC_THREADS, else the CPUs this process may run on.

    os.cpu_count() ignores affinity masks, and oversubscribing a 2-core allowance with 16
    threads is several times slower; a runner with one process per core should set 1.
    """
    env = os.environ.get("BENCHBED_METRIC_THREADS", "")
    if env.strip().isdigit() and int(env) > 0:
        return int(env)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


WORKERS = _default_workers()
_POOL: ThreadPoolExecutor | None = None
_LOCAL = threading.local()


def _mark_worker() -> None:
    _LOCAL.in_pool = True


def _reset_pool() -> None:
    # A forked child (process-pool runners) inherits the pool object but not its threads:
    # submitting to it would wait forever. Start afresh in the child.
    global _POOL
    _POOL = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_pool)


def in_pool() -> bool:
    """True inside a parallel_map job (nested calls then run sequentially: no pool deadlock)."""
    return getattr(_LOCAL, "in_pool", False)


def parallel_iter(fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
    """fn over items on WORKERS threads, results in order as they complete (numpy, scipy.ndimage
    and scipy.fft release the GIL); consuming them as they come keeps few alive at once."""
    global _POOL
    if WORKERS <= 1 or len(items) <= 1 or in_pool():
        return (fn(x) for x in items)
    if _POOL is None:
        _POOL = ThreadPoolExecutor(
            max_workers=WORKERS, thread_name_prefix="benchbed-metrics", initializer=_mark_worker
        )
    return _POOL.map(fn, items)


def parallel_map(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """fn over items on WORKERS threads, as a list (see parallel_iter)."""
    return list(parallel_iter(fn, items))


def _chunked(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """fn over the leading axis of a stack, split into WORKERS chunks run in parallel."""
    if x.ndim < 3 or WORKERS <= 1 or x.shape[0] < 2 or in_pool():
        return fn(x)
    bounds = np.linspace(0, x.shape[0], min(WORKERS, x.shape[0]) + 1).astype(int)
    parts = parallel_map(fn, [x[lo:hi] for lo, hi in itertools.pairwise(bounds)])
    return np.concatenate(parts)


_SCRATCH_BYTES = 64 << 20  # largest work array kept per thread and name


def scratch(name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """An uninitialised work array kept per calling thread and reused by the next call.

    For large per-call intermediates: a fresh multi-megabyte array is mapped and page-faulted
    (zero-filled by the kernel) on every call, a kept one is not. The array is overwritten by
    the next request from the same thread under ``name`` (smaller shapes are views of the kept
    buffer): it must not outlive the computation. Requests over 64 MiB get a fresh array
    that is not kept, so one large image does not pin its buffers.
    """
    size = int(np.prod(shape))
    if size * np.dtype(dtype).itemsize > _SCRATCH_BYTES:
        return np.empty(shape, dtype=dtype)
    kept = getattr(_LOCAL, "scratch", None)
    if kept is None:
        kept = _LOCAL.scratch = {}
    buf = kept.get(name)
    if buf is None or buf.dtype != np.dtype(dtype) or buf.size < size:
        kept[name] = buf = np.empty(size, dtype=dtype)
    return buf[:size].reshape(shape)


def row_chunks(rows: int, size: int) -> list[tuple[int, int]]:
    """[lo, hi) row ranges of at most ``size`` rows covering 0..rows: cache-sized work items."""
    return [(lo, min(rows, lo + size)) for lo in range(0, rows, size)]


def median(x: np.ndarray) -> np.ndarray:
    """The middle value(s) of a 1-D array: [lo, hi] for an even count, [mid] for an odd one.

    Exactly ``np.partition(x, kth)[kth]``, usually about three times faster on large arrays:
    the middle ranks are bracketed by quantiles of a strided sample, and only the values inside
    the bracket are partitioned. A bracket that misses them (or NaN) falls back to the full
    partition, so the result never depends on the sample.
    """
    n = x.size
    half = n // 2
    kth = [half - 1, half] if n % 2 == 0 else [half]
    if n < 1 << 15:
        return np.partition(x, kth)[kth]
    sample = np.sort(x[:: n // 4096])
    m = sample.size
    margin = int(2.5 * np.sqrt(m)) + 2  # 5 standard deviations of the sample median's rank
    lo, hi = sample[max(0, m // 2 - margin)], sample[min(m - 1, m // 2 + margin)]
    below = int(np.count_nonzero(x < lo))
    above = int(np.count_nonzero(x > hi))
    inside = x[(x >= lo) & (x <= hi)]
    ranks = [k - below for k in kth]
    if below + above + inside.size != n or ranks[0] < 0 or ranks[-1] >= inside.size:
        return np.partition(x, kth)[kth]
    return np.partition(inside, ranks)[ranks]


def gray_levels(x: np.ndarray) -> np.ndarray:
    """Integer grey levels 0..255 (int64) of a gray image on the 0..255 scale.

    The core passes 8-bit values as float64; rounding only absorbs float noise. VIFB bins
    with floor(x) + 1 and the CDDFuse Evaluator with round(x): identical on integer input.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"metrics take gray HxW images, got shape {x.shape}")
    return np.clip(np.rint(x), 0, 255).astype(np.int64)


def entropy(counts: np.ndarray, base: float = 2.0) -> float:
    """Shannon entropy -sum p log p of a histogram of counts, empty bins skipped (0 log 0 = 0)."""
    counts = np.asarray(counts, dtype=np.float64).ravel()
    total = counts.sum()
    if total <= 0:
        return 0.0
    p = counts[counts > 0] / total
    # "0.0 -" rather than unary minus so a one-bin histogram gives +0.0, not -0.0.
    return float(0.0 - (p * np.log(p)).sum() / np.log(base))


def check_same_shape(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> None:
    """Raise a clear error when the three images differ in size."""
    shapes = (np.shape(a), np.shape(b), np.shape(f))
    if not shapes[0] == shapes[1] == shapes[2]:
        raise ValueError(f"a, b and f must have one shape, got {shapes}")


def as_gray(*images: np.ndarray) -> list[np.ndarray]:
    """The images as float64 HxW arrays (a clear error for anything else)."""
    out = [np.asarray(x, dtype=np.float64) for x in images]
    for x in out:
        if x.ndim != 2:
            raise ValueError(f"metrics take gray HxW images, got shape {x.shape}")
    return out


def stretch_255(x: np.ndarray, dtype: type = np.int64) -> np.ndarray:
    """Liu's ``normalize1.m``: min-max stretch to 0..255, rounded half away from zero.

    Computed in exact integer arithmetic on 8-bit input (round((x - min) * 255 / (max - min)))
    so ties such as 255/2 round up as MATLAB's ``round`` does on exact halves. A constant image
    maps to zeros: the reference divides 0 by 0 there (NaN); an all-zero image is kept as is.
    The 256 possible levels go through a lookup table, returned as ``dtype``.
    """
    lv = gray_levels(x)
    lo, hi = int(lv.min()), int(lv.max())
    if hi == lo:
        return np.zeros(lv.shape, dtype=dtype)
    rng = hi - lo
    # floor((2 (x - lo) 255 + rng) / (2 rng)) == round-half-up of (x - lo) 255 / rng.
    levels = np.arange(256, dtype=np.int64)
    lut = ((2 * (levels - lo) * 255 + rng) // (2 * rng)).astype(dtype)
    return lut[lv]


@lru_cache(maxsize=16)
def gaussian_taps(size: int, sigma: float) -> np.ndarray:
    """1-D taps t with outer(t, t) == MATLAB ``fspecial('gaussian', size, sigma)``.

    fspecial normalises exp(-(x^2 + y^2) / (2 sigma^2)) to sum 1, which factorises exactly; its
    zeroing of values below eps * max never triggers for the sizes used here (asserted).
    """
    r = (size - 1) / 2.0
    x = np.arange(size, dtype=np.float64) - r
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    assert g.min() ** 2 >= np.finfo(np.float64).eps * g.max() ** 2
    out = g / g.sum()
    out.setflags(write=False)
    return out


def correlate_rows_valid(
    y: np.ndarray, taps: np.ndarray, step: int = 1, out: np.ndarray | None = None
) -> np.ndarray:
    """Correlate axis -2 with ``taps``, output where the window fits ('valid'), every ``step``-th row.

    One sum of products per output over a sliding-window view (einsum: vectorised across the
    row, no BLAS threads), a few times faster than ndimage's line-by-line pass down columns.
    Each output is a direct local sum: exact zeros stay exact, round-off stays local.
    """
    win = sliding_window_view(y, len(taps), axis=-2)
    if step > 1:
        win = win[..., ::step, :, :]
    return np.einsum("...rck,k->...rc", win, np.asarray(taps, dtype=y.dtype), out=out)


def filter_valid(x: np.ndarray, taps: np.ndarray, step: int = 1) -> np.ndarray:
    """Correlate the last two axes with outer(taps, taps), output where the window fits: ``'valid'``.

    ``step`` = 2 returns ``valid[..., ::2, ::2]`` (decimation) without computing the rest.
    """
    r = len(taps) // 2

    def run(z: np.ndarray) -> np.ndarray:
        # Down first (only the valid rows come out), then across the remaining rows.
        y = correlate_rows_valid(z, taps, step)
        return ndimage.correlate1d(y, taps, axis=-1, mode="constant")[..., r : z.shape[-1] - r : step]

    return _chunked(run, x)


def box_valid(x: np.ndarray, size: int) -> np.ndarray:
    """Mean over size x size windows of the last two axes, 'valid' (running sums across, then
    one direct sum of products down)."""
    r = size // 2
    taps = np.full(size, 1.0 / size)

    def run(z: np.ndarray) -> np.ndarray:
        y = ndimage.uniform_filter1d(z, size, axis=-1, mode="constant")[..., r : z.shape[-1] - r]
        return correlate_rows_valid(y, taps)

    return _chunked(run, x)


def block_moments(
    images: dict[str, np.ndarray],
    products: list[tuple[str, str]],
    taps: np.ndarray | int,
    fn: Callable[[dict[str, np.ndarray]], R],
    rows: int = 32,
) -> list[R]:
    """``fn`` of the windowed moments of each block of ``rows`` 'valid' output rows, in order.

    The moments are the means ``mu[k]`` of the images and the (co)variances ``s[k1+k2]`` =
    E[xy] - E[x]E[y] of the requested products, over separable windows (an int ``taps``
    means a uniform window of that size). Each block builds its products, filters them and
    hands the moments to ``fn`` while they sit in cache; the blocks run on the thread pool and
    callers reduce the per-block results in order, so the outcome does not depend on the
    threads. The variance of a flat window comes out as round-off (~1e-12 at 8-bit scale)
    rather than 0; callers that divide by variances treat those as 0 (see ``flat``).
    """
    keys = list(images)
    height, width = images[keys[0]].shape
    size = taps if isinstance(taps, int) else len(taps)

    def block(bounds: tuple[int, int]) -> R:
        lo, hi = bounds
        src = {key: images[key][lo : hi + size - 1] for key in keys}
        stack = scratch("moments", (len(keys) + len(products), hi - lo + size - 1, width), np.float64)
        for i, key in enumerate(keys):
            stack[i] = src[key]
        for j, (p, q) in enumerate(products):
            np.multiply(src[p], src[q], out=stack[len(keys) + j])
        filtered = box_valid(stack, size) if isinstance(taps, int) else filter_valid(stack, taps)
        out = {f"mu{key}": filtered[i] for i, key in enumerate(keys)}
        for j, (p, q) in enumerate(products):
            out[f"s{p}{q}"] = filtered[len(keys) + j] - out[f"mu{p}"] * out[f"mu{q}"]
        return fn(out)

    return parallel_map(block, row_chunks(height - size + 1, rows))


def flat(variance: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Windows whose variance is round-off only: <= 2e-13 (mean^2 + 1) on the 0..255 scale.

    E[x^2] - E[x]^2 of a flat window is a few ulps of mean^2 (< 2e-9 at mean 255), while any
    window holding two 8-bit levels has variance >= its smallest weight (> 1e-6 for every
    window used here): the threshold (1.3e-8 at mean 255) sits decades from both.
    """
    return variance <= 2e-13 * (mean * mean + 1.0)


def safe_corr(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of two images; 0 when either is constant (the 0/0 of the definition)."""
    xc = x - x.mean()
    yc = y - y.mean()
    den = float(np.sqrt((xc * xc).sum() * (yc * yc).sum()))
    if den == 0.0:
        return 0.0
    return float((xc * yc).sum() / den)
