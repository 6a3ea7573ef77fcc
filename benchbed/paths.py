"""Where data, weights, cache and the default store live (environment overrides)."""

from __future__ import annotations

import os
from pathlib import Path

from benchbed.errors import DataError


def data_root(required: bool = True) -> Path | None:
    """BENCHBED_DATA as a Path; a clear error when it is required but unset or missing."""
    value = os.environ.get("BENCHBED_DATA")
    if not value:
        if required:
            raise DataError(
                "BENCHBED_DATA is not set, so folder datasets cannot be found",
                fix="export BENCHBED_DATA=/path/to/datasets (e.g. ../shared/datasets) "
                "or use the built-in `demo` dataset",
            )
        return None
    root = Path(value).expanduser()
    if not root.is_dir():
        if required:
            raise DataError(
                f"BENCHBED_DATA points to {root}, which is not a folder",
                fix="set BENCHBED_DATA to the datasets folder",
            )
        return None
    return root


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
