"""Weights lookup under BENCHBED_WEIGHTS (or an explicit path), verified by sha256."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from benchbed.errors import WeightsError
from benchbed.paths import weights_root
from benchbed.types import WeightsRef


@lru_cache(maxsize=64)
def _sha256(path: str, mtime_ns: int, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of a file (memoised per path, mtime and size)."""
    st = path.stat()
    return _sha256(str(path), st.st_mtime_ns, st.st_size)


WEIGHT_SUFFIXES = (".pt", ".pth", ".ckpt", ".safetensors", ".onnx", ".h5", ".mat", ".npz", ".bin")
"""File endings of weights a plugin parameter may name (e.g. ReCoFuse's ``checkpoint``)."""


def weights_param_path(value: str) -> Path:
    """The file a plugin parameter names: ``~`` expanded, a relative path under BENCHBED_WEIGHTS."""
    p = Path(value).expanduser()
    root = weights_root()
    return root / p if not p.is_absolute() and root is not None else p


def param_weight_files(params: Mapping[str, Any]) -> list[str]:
    """``name=sha256`` of every weights file a parameter names (absolute, or under BENCHBED_WEIGHTS).

    Part of an item's and an artifact's identity: a checkpoint retrained in place under the same
    path must recompute, not reuse the old model's images and scores. Parameters naming no
    existing weights file add nothing, so the identities of every other run stay as they were.
    """
    out = []
    for name in sorted(params):
        value = params[name]
        if not isinstance(value, str) or not value.lower().endswith(WEIGHT_SUFFIXES):
            continue
        p = weights_param_path(value)
        if p.is_file():
            out.append(f"{name}={file_sha256(p)}")
    return out


def resolve_weights(ref: WeightsRef, base: Path | None = None) -> Path:
    """The verified local path of ``ref``: absolute, relative to ``base``, or to BENCHBED_WEIGHTS.

    Missing files and checksum mismatches raise WeightsError naming the file and the expected
    sha256; nothing is ever downloaded.
    """
    p = Path(ref.path).expanduser()
    if not p.is_absolute():
        root = base if base is not None else weights_root()
        if root is None:
            raise WeightsError(
                f"weights {ref.path} (sha256 {ref.sha256}) need BENCHBED_WEIGHTS, which is not set",
                fix="export BENCHBED_WEIGHTS=/path/to/weights (e.g. ../shared/weights)",
            )
        p = root / p
    if not p.is_file():
        raise WeightsError(
            f"weights file not found: {p} (expected sha256 {ref.sha256})",
            fix="place the file there or point BENCHBED_WEIGHTS at the folder holding it",
        )
    actual = file_sha256(p)
    if actual != ref.sha256:
        raise WeightsError(
            f"checksum mismatch for {p}: expected sha256 {ref.sha256}, got {actual}",
            fix="replace the file with the published one (see the weights MANIFEST)",
        )
    return p
