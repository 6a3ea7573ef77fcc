"""The store on SQLite and on a real PostgreSQL: migrations from empty, 64-bit seeds, three
concurrent first uses, percent-encoded passwords, identical numbers; read-only SQLite stores.

The PostgreSQL cluster is a throwaway one started for this module (initdb + pg_ctl on
127.0.0.1, run as an unprivileged user when the tests run as root); where it cannot start the
PostgreSQL cases skip with the reason.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from benchbed.store import open_store
from benchbed.store.engine import head_revision
from benchbed.store.models import Item, Run

SUITE = textwrap.dedent("""
    name: storetest
    seed: 9
    datasets: [{name: demo, split: test, limit: 2}]
    degradations: [{name: gaussian_noise, severities: [1]}]
    methods: [average, laplacian]
    metrics: [EN, QABF]
""")


def _bin(name: str) -> str | None:
    return shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))),
                                      None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Cluster:
    """A throwaway PostgreSQL cluster: superuser over its socket, passwords over TCP."""

    def __init__(self, root: Path) -> None:
        self.root, self.data, self.sock = root, root / "data", root / "sock"
        self.port = _free_port()
        self.prefix = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []

    def _run(self, *cmd: str) -> None:
        out = subprocess.run([*self.prefix, *cmd], capture_output=True, text=True, timeout=120)
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
                           capture_output=True, timeout=60)

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(host=str(self.sock), port=self.port, user="bench", dbname="postgres",
                             autocommit=True) as con:
            con.execute(sql)

    def new_database(self) -> str:
        name = f"b{uuid.uuid4().hex[:10]}"
        self.admin(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://bench@/{name}?host={self.sock}&port={self.port}"


@pytest.fixture(scope="module")
def cluster() -> Iterator[_Cluster]:
    pytest.importorskip("psycopg", reason="psycopg not installed (pip install 'benchbed[postgres]')")
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="benchbed-pg-"))  # not under pytest's 0700 tmp root:
    root.chmod(0o755)                                     # the server runs as another user
    c = _Cluster(root)
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
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("cluster").new_database()


def _alembic_revision(url: str) -> str:
    from benchbed.store.engine import current_revision, make_engine

    return str(current_revision(make_engine(url)))


def test_migrations_from_empty_and_64_bit_seeds(url: str) -> None:
    from datetime import datetime

    sessions = open_store(url)
    assert _alembic_revision(url) == head_revision()
    with sessions.begin() as s:
        run = Run(suite="s", plan_hash="h", plan={}, benchbed_version="0", packages={},
                  device="cpu", host="h", started_at=datetime(2026, 1, 1))
        s.add(run)
        s.flush()
        s.add(Item(suite="s", item_key="k", run_id=run.id, dataset="d", pair_id="p",
                   pair_hash="h", degradation="g", severity="1", method="m", seed=2**32 - 1,
                   status="done", artifacts={}, created_at=datetime(2026, 1, 1)))
    with sessions() as s:
        assert s.execute(select(Item.seed)).scalar_one() == 2**32 - 1
    with sessions.begin() as s:
        s.execute(update(Item).values(seed=2**63 - 1))
    with sessions() as s:
        assert s.execute(select(Item.seed)).scalar_one() == 2**63 - 1


_FIRST_USE = "import sys; from benchbed.store import open_store; open_store(sys.argv[1])"


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(3))
def test_three_concurrent_first_uses_all_succeed(url: str, trial: int) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", _FIRST_USE, url], stderr=subprocess.PIPE,
                              text=True) for _ in range(3)]
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    assert all(code == 0 for code, _ in results), results
    assert _alembic_revision(url) == head_revision()


def test_a_percent_encoded_password_works(cluster: _Cluster) -> None:
    db = cluster.new_database().split("@/", 1)[1].split("?")[0]
    cluster.admin("CREATE ROLE pct LOGIN SUPERUSER PASSWORD 'p@ss%w'")
    url = f"postgresql+psycopg://pct:p%40ss%25w@127.0.0.1:{cluster.port}/{db}"
    open_store(url)
    assert _alembic_revision(url) == head_revision()


def test_unreachable_server_and_missing_driver_are_one_line(tmp_path: Path) -> None:
    from benchbed.errors import BenchbedError

    with pytest.raises(BenchbedError) as err:
        open_store(f"postgresql+psycopg://u:secret@127.0.0.1:{_free_port()}/x")
    assert "secret" not in str(err.value) and "fix:" in str(err.value)
    with pytest.raises(BenchbedError, match=r"driver"):
        open_store("postgresql+nosuchdriver://u@127.0.0.1/x")


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BENCHBED_CACHE": str(cwd / "cache")}
    return subprocess.run([sys.executable, "-m", "benchbed.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_same_numbers_and_csv_on_sqlite_and_postgresql(cluster: _Cluster, tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SUITE)
    outputs = []
    for url in (f"sqlite:///{tmp_path / 'a.db'}", cluster.new_database()):
        res = _run(["--db", url, "run", "s.yaml", "--no-progress", "--no-show"], tmp_path)
        assert res.returncode == 0, res.stderr
        show = _run(["--db", url, "leaderboard", "show", "--suite", "storetest", "--view",
                     "stats", "--format", "csv", "--n-boot", "200"], tmp_path)
        assert show.returncode == 0, show.stderr
        outputs.append(show.stdout)
    assert outputs[0] == outputs[1] and outputs[0].count("\n") >= 5  # 2 methods x 2 metrics


def test_a_read_only_sqlite_store_serves_boards_and_is_not_written(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    (tmp_path / "s.yaml").write_text(SUITE)
    url = f"sqlite:///{folder / 'store.db'}"
    assert _run(["--db", url, "run", "s.yaml", "--no-progress", "--no-show"], tmp_path
                ).returncode == 0
    store = folder / "store.db"
    before = (store.read_bytes(), store.stat().st_mtime_ns, sorted(os.listdir(folder)))
    store.chmod(0o444)
    folder.chmod(0o555)
    try:
        show = _run(["--db", url, "leaderboard", "show", "--suite", "storetest"], tmp_path)
        assert show.returncode == 0, show.stderr
        assert "average" in show.stdout and "laplacian" in show.stdout
        after = (store.read_bytes(), store.stat().st_mtime_ns, sorted(os.listdir(folder)))
        assert after == before  # no byte, no mtime, no -wal/-shm file
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as con:
            assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        folder.chmod(0o755)
        store.chmod(0o644)
