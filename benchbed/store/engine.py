"""Engine set-up (SQLite: WAL, busy timeout, BEGIN IMMEDIATE) and automatic Alembic upgrades."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from benchbed.errors import BenchbedError

MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 60_000


def _sqlite_setup(engine: Engine) -> None:
    # pysqlite opens transactions lazily and upgrades read locks to write locks, which in WAL
    # mode fails at once with "database is locked" (the busy handler cannot retry a stale
    # snapshot). Taking the write lock up front with BEGIN IMMEDIATE lets two writers queue.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL, a busy timeout and immediate write locks."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            parent = Path(path).expanduser().parent
            if not parent.exists():
                raise BenchbedError(
                    f"the folder of the store {path} does not exist",
                    fix=f"create {parent} or pass another --db",
                )
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        _sqlite_setup(engine)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _alembic_config(engine: Engine):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def head_revision() -> str:
    """The newest migration revision shipped with this version."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head() or ""


def current_revision(engine: Engine) -> str | None:
    """The revision the store is at (None for an empty store)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> str:
    """Apply pending migrations; safe when two processes start on a new store at once."""
    from alembic import command
    from alembic.script import ScriptDirectory

    head = head_revision()
    known = {r.revision for r in ScriptDirectory(str(MIGRATIONS)).walk_revisions()}
    for attempt in range(20):
        try:
            current = current_revision(engine)
            if current == head:
                return head
            if current is not None and current not in known:
                raise BenchbedError(
                    f"the store {engine.url.render_as_string(hide_password=True)} is at schema "
                    f"revision {current}, newer than this benchbed knows (up to {head})",
                    fix="upgrade benchbed, or use another --db")
            with engine.begin() as conn:
                cfg = _alembic_config(engine)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
            return head
        except OperationalError as exc:
            # Another process created the tables between our check and our upgrade.
            if "already exists" not in str(exc) and "locked" not in str(exc):
                raise
            time.sleep(0.1 * (attempt + 1))
    raise BenchbedError(
        "could not bring the store schema up to date", fix="run `benchbed db upgrade`"
    )


def open_store(url: str) -> sessionmaker[Session]:
    """Engine + migrations + session factory for ``url``; every failure is one BenchbedError."""
    shown = _safe_url(url)
    try:
        engine = make_engine(url)
        upgrade(engine)
        inspect(engine).get_table_names()
    except NoSuchModuleError as exc:
        scheme = url.split(":", 1)[0]
        raise BenchbedError(f"--db {shown}: no database driver for the scheme {scheme!r}",
                            fix="use sqlite:///path/to/store.db or postgresql+psycopg://... "
                                "(with its driver installed)") from exc
    except ArgumentError as exc:
        raise BenchbedError(f"--db {shown} is not a database URL ({exc})",
                            fix="use sqlite:///path/to/store.db") from exc
    except DBAPIError as exc:
        text = str(exc.orig)
        if "not a database" in text or "malformed" in text:
            fix = "the file is not a benchbed store (or is corrupt): pass another --db, or " \
                  "restore the file from a backup"
        elif "readonly" in text or "read-only" in text:
            fix = "make the file and its folder writable, or copy the store somewhere writable"
        else:
            fix = "check --db / BENCHBED_DB"
        raise BenchbedError(f"cannot open the store {shown}: {text}", fix=fix) from exc
    return sessionmaker(engine, expire_on_commit=False)


def _safe_url(url: str) -> str:
    """``url`` with any password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url
