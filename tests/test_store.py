"""The store on SQLite and on a real PostgreSQL: migrations from empty, 64-bit seeds, three
concurrent first uses, percent-encoded passwords, identical numbers; read-only SQLite stores.

The PostgreSQL cluster is a throwaway one started once per test session (conftest: initdb + pg_ctl on
127.0.0.1, run as an unprivileged user when the tests run as root); where it cannot start the
PostgreSQL cases skip with the reason.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest
from conftest import PgCluster, free_port
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


@pytest.fixture
def url(store_url: str) -> str:
    return store_url


def _alembic_revision(url: str) -> str:
    from benchbed.store.engine import current_revision, make_engine

    return str(current_revision(make_engine(url)))


def test_migrations_from_empty_and_64_bit_seeds(url: str) -> None:
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


def test_a_percent_encoded_password_works(cluster: PgCluster) -> None:
    db = cluster.new_database().split("@/", 1)[1].split("?")[0]
    cluster.admin("CREATE ROLE pct LOGIN SUPERUSER PASSWORD 'p@ss%w'")
    url = f"postgresql+psycopg://pct:p%40ss%25w@127.0.0.1:{cluster.port}/{db}"
    open_store(url)
    assert _alembic_revision(url) == head_revision()


def test_unreachable_server_and_missing_driver_are_one_line(tmp_path: Path) -> None:
    from benchbed.errors import BenchbedError

    with pytest.raises(BenchbedError) as err:
        open_store(f"postgresql+psycopg://u:secret@127.0.0.1:{free_port()}/x")
    assert "secret" not in str(err.value) and "fix:" in str(err.value)
    with pytest.raises(BenchbedError, match=r"driver"):
        open_store("postgresql+nosuchdriver://u@127.0.0.1/x")


def test_a_missing_psycopg_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from benchbed.errors import BenchbedError

    monkeypatch.setitem(sys.modules, "psycopg", None)  # `import psycopg` raises ImportError
    with pytest.raises(BenchbedError) as err:
        open_store("postgresql+psycopg://u:secret@127.0.0.1/x")
    text = str(err.value)
    assert "driver is not installed" in text and "benchbed[postgres]" in text
    assert "secret" not in text and "u:***@127.0.0.1/x" in text


def test_db_upgrade_brings_a_store_to_head_and_masks_the_password(url: str) -> None:
    from click.testing import CliRunner

    from benchbed.cli import main

    res = CliRunner().invoke(main, ["--db", url, "db", "upgrade"])
    assert res.exit_code == 0 and res.output.strip().endswith(f"at revision {head_revision()}")
    assert _alembic_revision(url) == head_revision()
    bad = CliRunner().invoke(main, ["--db", f"postgresql+psycopg://u:secret@127.0.0.1:{free_port()}"
                                           "/x", "db", "upgrade"])
    assert bad.exit_code == 2 and len(bad.output.strip().splitlines()) == 1, bad.output
    assert "secret" not in bad.output and "start the server" in bad.output


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BENCHBED_CACHE": str(cwd / "cache")}
    return subprocess.run([sys.executable, "-m", "benchbed.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_same_numbers_and_csv_on_sqlite_and_postgresql(cluster: PgCluster, tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SUITE)
    outputs, scores = [], []
    for url in (f"sqlite:///{tmp_path / 'a.db'}", cluster.new_database()):
        res = _run(["--db", url, "run", "s.yaml", "--no-progress", "--no-show"], tmp_path)
        assert res.returncode == 0, res.stderr
        show = _run(["--db", url, "leaderboard", "show", "--suite", "storetest", "--view",
                     "stats", "--format", "csv", "--n-boot", "200"], tmp_path)
        assert show.returncode == 0, show.stderr
        # the ranked view reads the scores as packed numbers (one SQL CASE per backend)
        ranked = _run(["--db", url, "leaderboard", "show", "--suite", "storetest", "--format",
                       "csv"], tmp_path)
        assert ranked.returncode == 0, ranked.stderr
        outputs.append(show.stdout + ranked.stdout)
        scores.append(_stored_scores(url))
        # the run stored its board summary on both backends, and the ranked view read it
        from benchbed.leaderboard import select_board
        from benchbed.leaderboard.summary import stored_summary

        sessions = open_store(url)
        assert stored_summary(sessions, select_board(sessions, "storetest")) is not None
    assert outputs[0] == outputs[1] and outputs[0].count("\n") >= 5  # 2 methods x 2 metrics
    assert scores[0] == scores[1] and len(scores[0]) == 2 * 2 * 2  # pairs x methods x metrics


def _stored_scores(url: str) -> list[tuple]:
    from benchbed.store.models import Score

    with open_store(url)() as s:
        return sorted(s.execute(select(Item.item_key, Item.seed, Score.metric, Score.profile,
                                       Score.value).join(Score, Score.item_id == Item.id)).all())


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


def _files(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def _old_store(folder: Path) -> str:
    """A SQLite store at the first schema revision (as an older benchbed left it), checkpointed."""
    from alembic import command
    from alembic.config import Config

    from benchbed.store.engine import MIGRATIONS, make_engine

    url = f"sqlite:///{folder / 'store.db'}"
    open_store(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    engine.dispose()
    assert _alembic_revision(url) == "0001"
    return url


def test_a_read_only_store_that_needs_a_migration_says_so(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from benchbed.errors import BenchbedError
    from benchbed.store import engine

    folder = tmp_path / "old"
    folder.mkdir()
    url = _old_store(folder)
    before = _files(folder)
    # as root chmod is not enforced: also answer "not writable" as it would for anyone else
    monkeypatch.setattr(engine, "_writable", lambda _path: False)
    (folder / "store.db").chmod(0o444)
    folder.chmod(0o555)
    try:
        with pytest.raises(BenchbedError) as err:
            open_store(url, readonly=True)
    finally:
        folder.chmod(0o755)
        (folder / "store.db").chmod(0o644)
    assert "revision 0001" in str(err.value) and "benchbed db upgrade" in str(err.value)
    assert _files(folder) == before
    monkeypatch.undo()  # writable: a reader upgrades the store once, then reads it
    open_store(url, readonly=True)
    assert _alembic_revision(url) == head_revision()


def test_a_reader_sees_what_a_live_writer_committed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    writer = open_store(url)
    with writer.begin() as s:
        s.add(Run(suite="live", plan_hash="h", plan={}, benchbed_version="0", packages={},
                  device="cpu", host="h", started_at=datetime(2026, 1, 1)))
    assert (tmp_path / "store.db-wal").stat().st_size > 0  # the row is in the WAL only
    with open_store(url, readonly=True)() as s:
        assert s.execute(select(Run.suite)).scalars().all() == ["live"]


def test_a_wal_a_read_only_folder_cannot_read_is_an_error_not_stale_data(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """mode=ro needs a -shm file a read-only folder cannot give it (as root it always can, so
    that failure is simulated): with a non-empty -wal the reader stops with a fix instead of
    reading the main file alone and missing committed rows; an empty -wal is read past."""
    import sqlite3 as sqlite

    from benchbed.errors import BenchbedError
    from benchbed.store import engine

    url = f"sqlite:///{tmp_path / 'store.db'}"
    writer = open_store(url)
    with writer.begin() as s:
        s.add(Run(suite="in-wal", plan_hash="h", plan={}, benchbed_version="0", packages={},
                  device="cpu", host="h", started_at=datetime(2026, 1, 1)))
    real = sqlite.connect

    def no_shm(target, *args, **kwargs):  # type: ignore[no-untyped-def]
        if "mode=ro" in str(target) and "immutable=1" not in str(target):
            raise sqlite.OperationalError("unable to open database file")
        return real(target, *args, **kwargs)

    monkeypatch.setattr(engine.sqlite3, "connect", no_shm)
    with pytest.raises(BenchbedError) as err:
        open_store(url, readonly=True)
    assert "-wal" in str(err.value) and "benchbed db upgrade" in str(err.value)
    writer.kw["bind"].dispose()  # the writer ends: its WAL is folded in and removed
    (tmp_path / "store.db-wal").write_bytes(b"")  # an empty one left behind
    with open_store(url, readonly=True)() as s:
        assert s.execute(select(Run.suite)).scalars().all() == ["in-wal"]


def test_the_head_revision_constant_is_the_newest_migration() -> None:
    """Reads compare the store with HEAD_REVISION (no alembic import); it must be the scripts' head."""
    from alembic.script import ScriptDirectory

    from benchbed.store.engine import HEAD_REVISION, MIGRATIONS

    assert ScriptDirectory(str(MIGRATIONS)).get_current_head() == HEAD_REVISION
