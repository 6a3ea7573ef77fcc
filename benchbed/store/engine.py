"""Engine set-up and automatic Alembic upgrades.

SQLite: WAL, a busy timeout and BEGIN IMMEDIATE for writers; read-only opens (``mode=ro``,
``immutable=1`` on media nobody can write) that write nothing, not even the WAL switch.
PostgreSQL: the first migration runs under a transaction-level advisory lock, so concurrent
first uses of a new database all succeed.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event, inspect, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.orm import Session, sessionmaker

from benchbed.errors import BenchbedError

MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 60_000
ADVISORY_LOCK = 0x62656E6368  # "bench": one key for every benchbed schema upgrade on a server


def _sqlite_setup(engine: Engine, readonly: bool = False) -> None:
    """Per-connection pragmas and how transactions begin, for a writer or a reader."""
    # pysqlite opens transactions lazily and upgrades read locks to write locks, which in WAL
    # mode fails at once with "database is locked" (the busy handler cannot retry a stale
    # snapshot). Taking the write lock up front with BEGIN IMMEDIATE lets two writers queue; a
    # reader begins deferred, takes no write lock and writes nothing (not even the WAL switch).
    pragmas = [f"busy_timeout = {BUSY_TIMEOUT_MS}"] + (
        ["query_only = ON"] if readonly
        else ["journal_mode = WAL", "foreign_keys = ON", "synchronous = NORMAL"])
    begin = "BEGIN" if readonly else "BEGIN IMMEDIATE"

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        for pragma in pragmas:
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        conn.exec_driver_sql(begin)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for another backend or an in-memory store)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1].split("?", 1)[0]
    return Path(path).expanduser() if path and path != ":memory:" else None


def make_readonly_engine(path: Path, immutable: bool = False) -> Engine:
    """A SQLite engine that only reads ``path`` (``immutable``: nothing can change it, so take
    no locks and need no -shm file: a store on read-only media)."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro" + ("&immutable=1" if immutable else "")
    engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(
        uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False))
    _sqlite_setup(engine, readonly=True)
    return engine


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
    # ConfigParser interpolates '%': a percent-encoded password (p%40ss) must be escaped
    cfg.set_main_option("sqlalchemy.url",
                        engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


HEAD_REVISION = "0004"
"""The newest migration shipped (a test checks it against the migration scripts): reading a
store needs no alembic import, only this and the store's ``alembic_version`` row."""


def head_revision() -> str:
    """The newest migration revision shipped with this version."""
    return HEAD_REVISION


def current_revision(engine: Engine) -> str | None:
    """The revision the store is at (None for an empty store)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    return str(rows[0][0]) if rows else None


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
                if engine.dialect.name == "postgresql":
                    # one upgrader at a time on the server; the others wait, then find head
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK})")
                cfg = _alembic_config(engine)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
            return head
        except (OperationalError, ProgrammingError, IntegrityError) as exc:
            # Another process created the tables between our check and our upgrade.
            text = str(exc)
            if not any(s in text for s in ("already exists", "locked", "UniqueViolation",
                                           "duplicate key")):
                raise
            time.sleep(0.1 * (attempt + 1))
    raise BenchbedError(
        "could not bring the store schema up to date", fix="run `benchbed db upgrade`"
    )


def _writable(path: Path) -> bool:
    """Whether this process may write the store file ``path`` and its folder."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _open_readonly(url: str, path: Path) -> Engine:
    """A reading engine for the SQLite store at ``path``, at the current schema revision."""
    shown = safe_url(url)
    if not path.is_file():
        raise BenchbedError(f"the store {shown} does not exist", fix="check --db / BENCHBED_DB, "
                            "or run a suite first")
    writable = _writable(path)
    # A store with no -wal file is fully checkpointed (no writer is running): read it as
    # immutable, which creates nothing (mode=ro would create -wal/-shm files next to it). With a
    # -wal file a writer may be live: mode=ro reads its committed frames through the -shm.
    wal = Path(f"{path}-wal")
    engine = make_readonly_engine(path, immutable=not wal.exists())
    try:
        current = current_revision(engine)
    except OperationalError:
        engine.dispose()
        # mode=ro needs the -shm file, which a read-only folder cannot get. An empty -wal holds
        # nothing: read the main file alone. A non-empty one may hold committed transactions
        # that immutable reads would silently miss: say so instead.
        if not wal.exists() or wal.stat().st_size > 0:
            raise
        engine = make_readonly_engine(path, immutable=True)
        current = current_revision(engine)
    if current != head_revision():
        engine.dispose()
        if writable:  # an older store that can be upgraded: do so once, then read it read-only
            upgrade_store(url)
            return _open_readonly(url, path)
        raise BenchbedError(f"the read-only store {shown} is at schema revision {current}, this "
                            f"benchbed reads {head_revision()}",
                            fix="run `benchbed db upgrade` once with write access, or copy the "
                                "store somewhere writable")
    return engine


def open_store(url: str, readonly: bool = False) -> sessionmaker[Session]:
    """Engine + migrations + session factory for ``url``; every failure is one BenchbedError.

    ``readonly``: open a SQLite file for reading only (``mode=ro``; nothing is written, so a
    store on a read-only medium serves boards); other backends open as usual.
    """
    with _store_errors(url):
        path = sqlite_path(url) if readonly else None
        if path is not None:
            engine = _open_readonly(url, path)
        else:
            engine = make_engine(url)
            upgrade(engine)
        inspect(engine).get_table_names()
    return sessionmaker(engine, expire_on_commit=False)


def upgrade_store(url: str) -> str:
    """`benchbed db upgrade`: bring the store at ``url`` to the newest schema revision (under
    the same lock and with the same one-line errors as a first use) and return that revision."""
    with _store_errors(url):
        engine = make_engine(url)
        try:
            return upgrade(engine)
        finally:
            engine.dispose()  # SQLite: the last connection closing checkpoints the WAL


@contextmanager
def _store_errors(url: str) -> Iterator[None]:
    """Turn a failure to reach or read the store at ``url`` into one BenchbedError that names
    the URL (password masked), the cause and the fix."""
    shown = safe_url(url)
    try:
        yield
    except ImportError as exc:  # the URL names a driver that is not installed
        extra = "postgres" if url.startswith("postgres") else None
        raise BenchbedError(f"--db {shown}: the database driver is not installed ({exc})",
                            fix=f"pip install 'benchbed[{extra}]'" if extra
                            else "install the driver the URL names") from exc
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
        if "connection" in text.lower() and ("refused" in text or "could not" in text or
                                             "failed" in text):
            reason = text.strip().splitlines()[0]
            fix = ("create the database, or fix its name in --db / BENCHBED_DB"
                   if "does not exist" in reason else
                   "check the user and password in --db / BENCHBED_DB (percent-encode '@', ':', "
                   "'/' and '%' in them)" if "password" in reason or "authentication" in reason
                   else "start the server, or check host and port in --db / BENCHBED_DB")
            raise BenchbedError(f"cannot open the store {shown}: {reason}", fix=fix) from exc
        if "not a database" in text or "malformed" in text:
            fix = "the file is not a benchbed store (or is corrupt): pass another --db, or " \
                  "restore the file from a backup"
        elif "unable to open" in text and (path := sqlite_path(url)) is not None \
                and Path(f"{path}-wal").is_file():
            text = (f"{text} (its -wal file holds changes that a read-only folder cannot "
                    "give SQLite the -shm file to read)")
            fix = "run `benchbed db upgrade` once with write access (it folds the -wal file " \
                  "into the store), or copy the store and its -wal file somewhere writable"
        elif "readonly" in text or "read-only" in text:
            fix = "make the file and its folder writable, or copy the store somewhere writable"
        else:
            fix = "check --db / BENCHBED_DB"
        raise BenchbedError(f"cannot open the store {shown}: {text}", fix=fix) from exc


def safe_url(url: str) -> str:
    """``url`` with any password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url
