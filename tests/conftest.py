"""Shared fixtures: an isolated store/cache per test, the shared data root when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _shared(env_var: str, folder: str, marker: str) -> Path | None:
    """$env_var, else ../shared/<folder> next to the checkout: the first that holds ``marker``."""
    for cand in (os.environ.get(env_var), str(REPO.parent / "shared" / folder)):
        if cand and (Path(cand) / marker).exists():
            return Path(cand)
    return None


def shared_data(marker: str = ".") -> Path | None:
    """The shared datasets root (BENCHBED_DATA or ../shared/datasets) holding ``marker``."""
    return _shared("BENCHBED_DATA", "datasets", marker)


def shared_weights(marker: str = ".") -> Path | None:
    """The shared weights root (BENCHBED_WEIGHTS or ../shared/weights) holding ``marker``."""
    return _shared("BENCHBED_WEIGHTS", "weights", marker)


def use_shared_weights(marker: str):  # type: ignore[no-untyped-def]
    """A module-wide autouse fixture: BENCHBED_WEIGHTS set to the shared root, else skip."""

    @pytest.fixture(scope="module", autouse=True)
    def weights_env():  # type: ignore[no-untyped-def]
        root = shared_weights(marker)
        if root is None:
            pytest.skip("shared weights not available (set BENCHBED_WEIGHTS)")
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("BENCHBED_WEIGHTS", str(root))
            yield

    return weights_env


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory with its own store and cache."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCHBED_DB", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("BENCHBED_CACHE", str(tmp_path / "cache"))
    return tmp_path
