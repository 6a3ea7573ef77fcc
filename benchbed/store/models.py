"""SQLAlchemy 2 models: runs, plugins, items, run_items, scores, detections, leases, board summaries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of the benchbed store."""


class Run(Base):
    """One invocation of `benchbed run`, with its provenance."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    suite: Mapped[str] = mapped_column(String(200), index=True)
    plan_hash: Mapped[str] = mapped_column(String(64))
    plan: Mapped[dict] = mapped_column(JSON)
    benchbed_version: Mapped[str] = mapped_column(String(50))
    git_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    packages: Mapped[dict] = mapped_column(JSON)
    device: Mapped[str] = mapped_column(String(100))
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """The run's process id on ``host`` (a dead one's `running` row is marked interrupted)."""
    workers: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="running")
    n_computed: Mapped[int] = mapped_column(Integer, default=0)
    n_skipped: Mapped[int] = mapped_column(Integer, default=0)
    n_failed: Mapped[int] = mapped_column(Integer, default=0)


class PluginRecord(Base):
    """A plugin a run used: version, params and weights hash."""

    __tablename__ = "plugins"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(50))
    provider: Mapped[str] = mapped_column(String(300))
    params: Mapped[dict] = mapped_column(JSON)
    params_hash: Mapped[str] = mapped_column(String(64))
    weights_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)


class Item(Base):
    """One (dataset, pair, degradation, severity, method) result, written in one transaction."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("suite", "item_key", name="uq_items_suite_key"),
        Index("ix_items_suite_status", "suite", "status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    suite: Mapped[str] = mapped_column(String(200))
    item_key: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    dataset: Mapped[str] = mapped_column(String(200))
    pair_id: Mapped[str] = mapped_column(String(200))
    pair_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    degradation: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(300))
    seed: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    artifacts: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class RunItem(Base):
    """Which items a run covered (computed or found done): the leaderboard's view of a plan."""

    __tablename__ = "run_items"
    run_id: Mapped[int] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Score(Base):
    """A metric value of an item under a convention profile."""

    __tablename__ = "scores"
    __table_args__ = (UniqueConstraint("item_id", "metric", "profile", name="uq_scores_item_metric"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    metric: Mapped[str] = mapped_column(String(100))
    profile: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(50))
    value: Mapped[float] = mapped_column(Float)


class Detection(Base):
    """Detection scores of an item (per class and overall) under a declared protocol."""

    __tablename__ = "detections"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    detector: Mapped[str] = mapped_column(String(200))
    protocol: Mapped[str] = mapped_column(String(100))
    class_name: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict] = mapped_column(JSON)


class Lease(Base):
    """A run's claim on an item it is computing, so a concurrent run of the suite leaves it alone.

    The owner renews ``expires_at`` while it works and deletes the row once the item is stored;
    a lease past ``expires_at``, or of a run no longer ``running``, may be taken over.
    """

    __tablename__ = "leases"
    suite: Mapped[str] = mapped_column(String(200), primary_key=True)
    item_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[int] = mapped_column(Integer, index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class BoardSummary(Base):
    """A board's per-group means and pair counts, written by the run that last touched the suite
    so that ``leaderboard show`` need not read every score; valid only while ``token`` (a
    fingerprint of the board's items and scores) still matches the store."""

    __tablename__ = "board_summaries"
    suite: Mapped[str] = mapped_column(String(200), primary_key=True)
    plan_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_ids: Mapped[str] = mapped_column(Text)
    token: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    payload: Mapped[str] = mapped_column(Text)
