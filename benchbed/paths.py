"""Where data, weights, cache and the default store live (environment overrides)."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from benchbed.errors import DataRootError


def data_root(required: bool = True) -> Path | None:
    """BENCHBED_DATA as a Path; a clear error when it is required but unset or missing."""
    value = os.environ.get("BENCHBED_DATA")
    if not value:
        if required:
            raise DataRootError(
                "BENCHBED_DATA is not set, so folder datasets cannot be found",
                fix="export BENCHBED_DATA=/path/to/datasets (e.g. ../shared/datasets) "
                "or use the built-in `demo` dataset",
            )
        return None
    root = Path(value).expanduser()
    if not root.is_dir():
        if required:
            raise DataRootError(
                f"BENCHBED_DATA points to {root}, which is not a folder",
                fix="set BENCHBED_DATA to the datasets folder",
            )
        return None
    return root


@contextmanager
def temporary_env(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the block; each is restored (or removed) afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def working_dir() -> Path:
    """The directory relative paths are read from: BENCHBED_WORKDIR (set for Dask tasks to the
    client's working directory, so a worker elsewhere reads the same relative paths), else the
    CWD."""
    value = os.environ.get("BENCHBED_WORKDIR")
    return Path(value) if value else Path.cwd()


def weights_root() -> Path | None:
    """BENCHBED_WEIGHTS as a Path, or None when unset."""
    value = os.environ.get("BENCHBED_WEIGHTS")
    return Path(value).expanduser() if value else None


def cache_root() -> Path:
    """BENCHBED_CACHE, default ./.benchbed/cache (content-addressed artifacts)."""
    return Path(os.environ.get("BENCHBED_CACHE", ".benchbed/cache")).expanduser()


def default_db_url() -> str:
    """BENCHBED_DB, default a SQLite file benchbed.db in the working directory."""
    return os.environ.get("BENCHBED_DB", "sqlite:///benchbed.db")


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def slug(name: str) -> str:
    """A file-name-safe form of ``name``; names that had to change get a short hash appended."""
    s = _SAFE.sub("-", str(name)).strip(".-") or "x"
    if s != name:
        s = f"{s}-{hashlib.sha256(str(name).encode()).hexdigest()[:8]}"
    return s
