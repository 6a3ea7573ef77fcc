"""Shared fixtures: an isolated store/cache per test, the shared data root when present."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
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


# --- a throwaway PostgreSQL cluster for the store tests ------------------------------------------


def _bin(name: str) -> str | None:
    return shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))),
                                      None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    """A throwaway PostgreSQL cluster: superuser over its socket, passwords over TCP."""

    def __init__(self, root: Path) -> None:
        self.root, self.data, self.sock = root, root / "data", root / "sock"
        self.port = free_port()
        self.prefix = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []

    def _run(self, *cmd: str) -> None:
        out = subprocess.run([*self.prefix, *cmd], capture_output=True, text=True, timeout=120,
                             cwd=self.root)  # the checkout may be unreadable to that user
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {out.stderr.strip()[-300:]}")

    def start(self) -> None:
        self.sock.mkdir(parents=True)
        if self.prefix:
            shutil.chown(self.root, "nobody")
            shutil.chown(self.sock, "nobody")
        initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
        if not initdb or not pg_ctl:
            raise RuntimeError("initdb/pg_ctl not found (apt-get install postgresql)")
        self._run(initdb, "-D", str(self.data), "-U", "bench", "--auth-local=trust",
                  "--auth-host=scram-sha-256", "-E", "UTF8", "--no-instructions")
        self._run(pg_ctl, "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-o",
                  f"-p {self.port} -k {self.sock} -h 127.0.0.1 -F", "start")

    def stop(self) -> None:
        pg_ctl = _bin("pg_ctl")
        if pg_ctl and self.data.exists():
            subprocess.run([*self.prefix, pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"],
                           capture_output=True, timeout=60, cwd=self.root)

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(host=str(self.sock), port=self.port, user="bench", dbname="postgres",
                             autocommit=True) as con:
            con.execute(sql)

    def new_database(self) -> str:
        name = f"b{uuid.uuid4().hex[:10]}"
        self.admin(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://bench@/{name}?host={self.sock}&port={self.port}"


@pytest.fixture(scope="session")
def cluster() -> Iterator[PgCluster]:
    pytest.importorskip("psycopg", reason="psycopg not installed (pip install 'benchbed[postgres]')")
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="benchbed-pg-"))  # not under pytest's 0700 tmp root:
    root.chmod(0o755)                                     # the server runs as another user
    c = PgCluster(root)
    try:
        c.start()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        c.stop()
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"PostgreSQL could not start here: {exc}")
    yield c
    c.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new empty store: a SQLite file, then a database on the throwaway PostgreSQL cluster."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("cluster").new_database()
