"""Shared fixtures: an isolated store/cache per test, the shared data root when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def shared_data() -> Path | None:
    """BENCHBED_DATA, or ../shared/datasets next to the checkout, when it exists."""
    env = os.environ.get("BENCHBED_DATA")
    for cand in (env, str(REPO.parent / "shared" / "datasets")):
        if cand and Path(cand).is_dir():
            return Path(cand)
    return None


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory with its own store and cache."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCHBED_DB", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("BENCHBED_CACHE", str(tmp_path / "cache"))
    return tmp_path
