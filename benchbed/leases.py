"""Item leases: concurrent runs of one suite on one store split the work instead of repeating it.

A run claims a group's items right before it hands the group to a worker (one row per item in
``leases``, owner = the run, with an expiry it keeps renewing) and deletes each lease in the
transaction that stores the item. Another run skips items leased by a live owner and, once its
own work is done, waits for them: it links what the owner stored, and takes over the leases of an
owner that died (its lease expired, or its run row is no longer ``running``: a killed run on
this host is marked interrupted by ``mark_stale_runs``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from benchbed.store.models import Item, Lease, Run

LEASE_SECONDS = 300.0
"""How long a claim lasts without renewal (``BENCHBED_LEASE_SECONDS``); the owner renews it
every quarter of that, so only a run that died (or hangs) loses its items to another run."""

_CHUNK = 500  # keys per IN (...) clause: SQLite's variable limit is far above, PostgreSQL has none


def utc_now() -> datetime:
    """Naive UTC now, the store's convention for timestamps."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def lease_seconds() -> float:
    """The lease duration: ``BENCHBED_LEASE_SECONDS`` or the default."""
    return float(os.environ.get("BENCHBED_LEASE_SECONDS", LEASE_SECONDS))


def chunks(keys: Sequence[str]) -> Iterator[list[str]]:
    """``keys`` in lists short enough for one ``IN (...)`` on every backend."""
    for start in range(0, len(keys), _CHUNK):
        yield list(keys[start:start + _CHUNK])


class Leases:
    """The leases one run holds on one suite's items."""

    def __init__(self, sessions: sessionmaker[Session], suite: str, run_id: int,
                 ttl: float | None = None) -> None:
        self.sessions, self.suite, self.run_id = sessions, suite, run_id
        self.ttl = lease_seconds() if ttl is None else float(ttl)

    def _insert_free(self, s: Session, keys: list[str], expires: datetime) -> None:
        rows = [{"suite": self.suite, "item_key": k, "run_id": self.run_id, "expires_at": expires}
                for k in keys]
        dialect = s.get_bind().dialect.name
        if dialect in ("sqlite", "postgresql"):
            if dialect == "sqlite":
                from sqlalchemy.dialects.sqlite import insert as dialect_insert
            else:
                from sqlalchemy.dialects.postgresql import insert as dialect_insert
            s.execute(dialect_insert(Lease).on_conflict_do_nothing(), rows)
            return
        for row in rows:  # other backends: one savepoint per key
            try:
                with s.begin_nested():
                    s.execute(insert(Lease), [row])
            except IntegrityError:
                pass

    def claim(self, keys: Sequence[str]) -> set[str]:
        """Claim every key that is free, expired or held by a run no longer running; the keys held."""
        held: set[str] = set()
        if not keys:
            return held
        now = utc_now()
        expires = now + timedelta(seconds=self.ttl)
        live_runs = select(Run.id).where(Run.status == "running")
        with self.sessions.begin() as s:
            for chunk in chunks(keys):
                self._insert_free(s, chunk, expires)
                # take over dead owners' claims; a concurrent taker re-checks this WHERE after our
                # commit (PostgreSQL) or waits for the write lock (SQLite), so one of them wins
                s.execute(update(Lease).where(
                    Lease.suite == self.suite, Lease.item_key.in_(chunk),
                    Lease.run_id != self.run_id,
                    or_(Lease.expires_at < now, Lease.run_id.not_in(live_runs)),
                ).values(run_id=self.run_id, expires_at=expires))
                held.update(s.scalars(select(Lease.item_key).where(
                    Lease.suite == self.suite, Lease.item_key.in_(chunk),
                    Lease.run_id == self.run_id)))
        return held

    def busy(self, keys: Sequence[str]) -> set[str]:
        """The keys another live run holds a lease on."""
        now = utc_now()
        live_runs = select(Run.id).where(Run.status == "running")
        out: set[str] = set()
        with self.sessions() as s:
            for chunk in chunks(keys):
                out.update(s.scalars(select(Lease.item_key).where(
                    Lease.suite == self.suite, Lease.item_key.in_(chunk),
                    Lease.run_id != self.run_id, Lease.expires_at >= now,
                    Lease.run_id.in_(live_runs))))
        return out

    def release_in(self, s: Session, keys: Iterable[str]) -> None:
        """Drop this run's leases on ``keys`` inside the caller's transaction."""
        keys = list(keys)
        for chunk in chunks(keys):
            s.execute(delete(Lease).where(Lease.suite == self.suite, Lease.item_key.in_(chunk),
                                          Lease.run_id == self.run_id))

    def release(self, keys: Iterable[str]) -> None:
        """Drop this run's leases on ``keys``."""
        with self.sessions.begin() as s:
            self.release_in(s, keys)

    def release_all(self) -> None:
        """Drop every lease this run still holds (the run is over)."""
        with self.sessions.begin() as s:
            s.execute(delete(Lease).where(Lease.run_id == self.run_id))

    def renew(self) -> None:
        """Push back the expiry of every lease this run holds."""
        with self.sessions.begin() as s:
            s.execute(update(Lease).where(Lease.run_id == self.run_id)
                      .values(expires_at=utc_now() + timedelta(seconds=self.ttl)))

    @contextmanager
    def kept(self) -> Iterator[Leases]:
        """Renew the leases in a background thread while the block runs; release them all after."""
        stop = threading.Event()

        def heartbeat() -> None:
            while not stop.wait(self.ttl / 4):
                try:
                    self.renew()
                except Exception:  # a busy store misses one beat; the next one renews
                    continue

        thread = threading.Thread(target=heartbeat, name="benchbed-lease-heartbeat", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()
            self.release_all()


def stored_since(session: Session, suite: str, keys: Sequence[str], since: datetime
                 ) -> dict[str, tuple[int, str]]:
    """item_key -> (item id, status) of the ``keys`` stored (by any run) at or after ``since``."""
    out: dict[str, tuple[int, str]] = {}
    for chunk in chunks(keys):
        for r in session.execute(select(Item.id, Item.item_key, Item.status).where(
                Item.suite == suite, Item.item_key.in_(chunk), Item.created_at >= since)):
            out[r.item_key] = (r.id, r.status)
    return out
