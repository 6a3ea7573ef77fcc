"""Storing finished items: batched transactions, one row set per item, leases dropped with it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from benchbed.leases import Leases, chunks
from benchbed.store.models import Detection, Item, RunItem, Score
from benchbed.work import ItemResult, WorkItem, item_label

if TYPE_CHECKING:
    from benchbed.runner import RunSummary

Overwrite = Literal["never", "failed", "always"]

FLUSH_SECONDS = 0.5
"""A batch is written at most this long after its first result arrived: a kill -9 loses at most
that much finished work (it is recomputed on resume), never a stored result."""

FLUSH_ITEMS = 256


class ResultWriter:
    """Stores a run's finished items in batches: one transaction per batch instead of per item.

    Items new to the store (the common case) go in with bulk inserts; an item already stored
    (``--overwrite``, a retried failure) goes through :func:`store_one`. A batch that collides
    with another run's write (it took over a lease it believed dead) is rolled back and written
    one item at a time, keeping the other run's rows.
    """

    def __init__(self, sessions: sessionmaker[Session], suite: str, run_id: int,
                 overwrite: Overwrite, summary: RunSummary, leases: Leases | None = None) -> None:
        self.sessions, self.suite, self.run_id = sessions, suite, run_id
        self.overwrite, self.summary, self.leases = overwrite, summary, leases
        self.pending: list[tuple[WorkItem, ItemResult]] = []
        self.since = 0.0

    def add(self, item: WorkItem, result: ItemResult) -> None:
        """Queue one finished item; write the batch when it is old or large enough."""
        if not self.pending:
            self.since = time.monotonic()
        self.pending.append((item, result))
        if len(self.pending) >= FLUSH_ITEMS or time.monotonic() - self.since >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write every queued item now."""
        batch, self.pending = self.pending, []
        if not batch:
            return
        try:
            with self.sessions.begin() as s:
                self._store_batch(s, batch)
        except IntegrityError:
            for item, result in batch:
                self._store_alone(item, result)
            return
        for item, result in batch:
            self._count(item, result)

    def _store_batch(self, s: Session, batch: Sequence[tuple[WorkItem, ItemResult]]) -> None:
        keys = [item.key for item, _ in batch]
        stored: set[str] = set()
        for chunk in chunks(keys):
            stored.update(s.scalars(select(Item.item_key).where(
                Item.suite == self.suite, Item.item_key.in_(chunk))))
        fresh = [(i, r) for i, r in batch if i.key not in stored]
        if fresh:
            now = _now()
            s.execute(insert(Item), [{"suite": self.suite, "item_key": i.key,
                                      **_fields(self.run_id, i, r, now)} for i, r in fresh])
            ids: dict[str, int] = {}
            for chunk in chunks([i.key for i, _ in fresh]):
                ids.update((k, n) for n, k in s.execute(select(Item.id, Item.item_key).where(
                    Item.suite == self.suite, Item.item_key.in_(chunk))))
            scores = [{"item_id": ids[i.key], **sc} for i, r in fresh for sc in r.scores]
            dets = [{"item_id": ids[i.key], **d} for i, r in fresh for d in r.detections]
            if scores:
                s.execute(insert(Score), scores)
            if dets:
                s.execute(insert(Detection), dets)
            s.execute(insert(RunItem), [{"run_id": self.run_id, "item_id": ids[i.key]}
                                        for i, _ in fresh])
        for item, result in batch:
            if item.key in stored:
                store_one(s, self.suite, self.run_id, item, result, self.overwrite)
        if self.leases is not None:
            self.leases.release_in(s, keys)

    def _store_alone(self, item: WorkItem, result: ItemResult) -> None:
        try:
            with self.sessions.begin() as s:
                store_one(s, self.suite, self.run_id, item, result, self.overwrite)
                if self.leases is not None:
                    self.leases.release_in(s, [item.key])
        except IntegrityError:
            # another run stored this item between our check and our write: keep theirs
            self.summary.by_others += 1
            with self.sessions.begin() as s:
                row = s.execute(select(Item).where(Item.suite == self.suite,
                                                   Item.item_key == item.key)).scalar_one()
                if s.get(RunItem, (self.run_id, row.id)) is None:
                    s.add(RunItem(run_id=self.run_id, item_id=row.id))
                if self.leases is not None:
                    self.leases.release_in(s, [item.key])
            return
        self._count(item, result)

    def _count(self, item: WorkItem, result: ItemResult) -> None:
        if result.status == "done":
            self.summary.computed += 1
        else:
            self.summary.failed += 1
            self.summary.failures.append((item_label(item), result.error or "unknown error"))


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _fields(run_id: int, item: WorkItem, result: ItemResult, now: datetime) -> dict[str, Any]:
    return dict(
        run_id=run_id, dataset=item.dataset.name, pair_id=item.pair_id,
        pair_hash=result.pair_hash, degradation=item.degradation.label,
        severity=item.severity.label, method=item.method.label, seed=item.seed,
        status=result.status, error=result.error, seconds=result.seconds,
        artifacts=result.artifacts, created_at=now,
    )


def store_one(s: Session, suite: str, run_id: int, item: WorkItem, result: ItemResult,
              overwrite: Overwrite) -> None:
    """Store one finished item (row, scores, detections, run link) in the caller's transaction,
    over a row already stored for its key if there is one."""
    fields = _fields(run_id, item, result, _now())
    row = s.execute(select(Item).where(Item.suite == suite, Item.item_key == item.key)
                    ).scalar_one_or_none()
    if row is None:
        row = Item(suite=suite, item_key=item.key, **fields)
        s.add(row)
        s.flush()
    else:
        partial = row.status == "done" and result.status == "done" and overwrite != "always"
        if result.status == "failed" and row.status == "done":
            # a failure never replaces a stored result (nor its scores and detections)
            fields = {"run_id": row.run_id}
            partial = True
        for k, v in fields.items():
            setattr(row, k, v)
        if not partial:
            for sc in s.execute(select(Score).where(Score.item_id == row.id)).scalars():
                s.delete(sc)
            for d in s.execute(select(Detection).where(Detection.item_id == row.id)).scalars():
                s.delete(d)
            s.flush()
        else:
            # recomputed scores and detections replace their own old rows: one score per
            # (item, metric, profile) whatever its version, one detection set per config
            for sc in result.scores:
                for old in s.execute(select(Score).where(
                        Score.item_id == row.id, Score.metric == sc["metric"],
                        Score.profile == sc["profile"])).scalars():
                    s.delete(old)
            for key in {(d["detector"], d["protocol"]) for d in result.detections}:
                for d in s.execute(select(Detection).where(
                        Detection.item_id == row.id, Detection.detector == key[0],
                        Detection.protocol == key[1])).scalars():
                    s.delete(d)
            s.flush()
    for sc in result.scores:
        s.add(Score(item_id=row.id, **sc))
    for d in result.detections:
        s.add(Detection(item_id=row.id, **d))
    if s.get(RunItem, (run_id, row.id)) is None:
        s.add(RunItem(run_id=run_id, item_id=row.id))
