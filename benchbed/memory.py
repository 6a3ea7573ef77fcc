"""glibc allocator settings for large, short-lived arrays (torch activations, image planes).

By default glibc serves every request above a (dynamic, at most 32 MiB) threshold with its own
``mmap`` and gives it back with ``munmap`` when freed. A network layer's activations are tens
to hundreds of MB, so each layer of each forward pass maps fresh pages that the kernel must
zero-fill on first touch: that was 41% of the CPU time of a profiled run. Serving them from the
heap instead, and keeping freed memory at its top for the next layer, removes that cost
(``python benchmarks/stages.py alloc``, one 640x480 MSRS pair, torch on one thread: a U2Fusion
fuse 7.6-8.7 CPU-s with glibc's defaults, about 3 of them system time, and 4.6-5.4 tuned; a
DnCNN restore 7.0-7.8 and 3.9-5.0; the outputs are the same bytes).

The price: freed memory stays with the process (up to :data:`TRIM_THRESHOLD` at the top of the
heap, and a freed block below a live one until that is freed too), so a worker's resident size
stays near its peak between items. ``MALLOC_TRIM_THRESHOLD_=2147483648`` at start-up keeps more
(no page faults at all for U2Fusion at 640x480), ``BENCHBED_MALLOC=default`` keeps glibc's
behaviour.

The ``MALLOC_MMAP_MAX_`` / ``MALLOC_TRIM_THRESHOLD_`` environment variables would do the same,
but glibc reads them only when a process starts, so :func:`tune_allocator` sets the values with
``mallopt`` in the running process (the CLI at start-up, pool workers in their initializer).
It does nothing off glibc (macOS, Windows, musl), when ``BENCHBED_MALLOC=default``, and leaves
alone any setting the user gave through the ``MALLOC_*_`` variables.
"""

from __future__ import annotations

import ctypes
import os
import sys

# mallopt parameter numbers (glibc malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_MMAP_MAX = -4

MMAP_THRESHOLD = 32 * 1024 * 1024
"""Bytes: the largest mmap threshold glibc accepts on 64-bit (fixing it also stops the dynamic
threshold from moving)."""

TRIM_THRESHOLD = 512 * 1024 * 1024
"""Bytes of free memory kept at the top of the heap before glibc returns it to the system:
enough for a large network's activations to be reused from one layer (and item) to the next."""

_ENV = {M_MMAP_MAX: "MALLOC_MMAP_MAX_", M_MMAP_THRESHOLD: "MALLOC_MMAP_THRESHOLD_",
        M_TRIM_THRESHOLD: "MALLOC_TRIM_THRESHOLD_"}

_applied: dict[str, int] | None = None


def _glibc() -> ctypes.CDLL | None:
    """The C library of this process when it is glibc (it has ``gnu_get_libc_version``)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return None  # musl and other C libraries
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    return libc


def tune_allocator(trim_threshold: int = TRIM_THRESHOLD) -> dict[str, int]:
    """Serve large allocations from the heap and keep up to ``trim_threshold`` bytes of freed
    memory for reuse; once per process (later calls return the first call's result).

    Returns the settings made, by their ``MALLOC_*_`` name ({} when nothing was changed: not
    glibc, ``BENCHBED_MALLOC=default``, or every value already given in the environment).
    """
    global _applied
    if _applied is not None:
        return dict(_applied)
    applied: dict[str, int] = {}
    libc = _glibc() if os.environ.get("BENCHBED_MALLOC", "").lower() != "default" else None
    if libc is not None:
        wanted = {M_MMAP_MAX: 0, M_MMAP_THRESHOLD: MMAP_THRESHOLD,
                  M_TRIM_THRESHOLD: int(trim_threshold)}
        for param, value in wanted.items():
            if _ENV[param] in os.environ:
                continue  # the user's own setting, already read by glibc at start-up
            if libc.mallopt(param, value) == 1:
                applied[_ENV[param]] = value
    _applied = applied
    return dict(applied)
