"""Reading the store: which runs and items make a suite's board, its plan, and the long frames
(one row per item and metric, per item, per detection row) every table is computed from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, Connection, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from benchbed.errors import BenchbedError
from benchbed.plan import Plan
from benchbed.store.models import Detection, Item, Run, RunItem, Score

KEYS = ["dataset", "degradation", "severity", "method"]


COND = ["suite", "dataset", "degradation", "severity"]
"""A condition: one suite, dataset, degradation and severity; methods are ranked within it."""


GROUP = [*COND, "method", "metric"]
"""The statistics group: one value per pair in it."""


CLEAN = "clean"
"""Name of the degradation plugin that leaves the sources untouched (robustness reference)."""


def plan_versions(sessions: sessionmaker[Session], suite: str) -> list[tuple[int, str]]:
    """(run id, plan hash) of every run of ``suite`` that covered items, newest first: the one
    query behind boards, plan selection and the runner's "another plan" note."""
    with sessions() as s:
        return [(int(r.id), str(r.plan_hash)) for r in s.execute(
            select(Run.id, Run.plan_hash).join(RunItem, RunItem.run_id == Run.id)
            .where(Run.suite == suite).distinct().order_by(Run.id.desc())).all()]


@dataclass(frozen=True)
class Board:
    """What a leaderboard shows: every item stored under one plan of a suite.

    A suite's board is the union of the items covered by every run of its selected plan (by
    default the plan of its newest run), so a later ``--limit`` run adds to it and never shrinks
    it. A different plan stored under the same name is another version of the board, selected
    with ``plan`` (a hash prefix) or pinned to exactly one run's items with ``run``.
    """

    suite: str
    run_id: int
    """The newest run of the selection: its plan and provenance head the board."""
    run_ids: tuple[int, ...]
    plan_hash: str
    other_plans: tuple[str, ...] = ()
    """Plan hashes of the other versions stored under this suite name, newest first."""

    def item_ids(self):  # type: ignore[no-untyped-def]
        """A subquery of the ids of the board's items (each once)."""
        return select(RunItem.item_id).where(RunItem.run_id.in_(self.run_ids)).distinct()

    def warning(self) -> str | None:
        """One line when other plan versions exist under this name (None otherwise)."""
        if not self.other_plans:
            return None
        others = ", ".join(h[:12] for h in self.other_plans)
        return (f"note: suite {self.suite!r} has {len(self.other_plans) + 1} plan versions in this "
                f"store; showing plan {self.plan_hash[:12]} (select another with --plan HASH: "
                f"{others})")


def select_board(sessions: sessionmaker[Session], suite: str, *, plan: str | None = None,
                 run: int | None = None) -> Board:
    """The board of ``suite``: its newest plan's items, a plan by hash prefix, or one run's."""
    runs = plan_versions(sessions, suite)
    if not runs:
        with sessions() as s:
            known = sorted(s.execute(select(Run.suite).distinct()).scalars())
        raise BenchbedError(f"no results for suite {suite!r} in this store",
                            fix=f"run `benchbed run suites/{suite}.yaml` first"
                            + (f" (suites in the store: {', '.join(known)})" if known else ""))
    plans = list(dict.fromkeys(h for _, h in runs))  # newest first
    if run is not None:
        match = [h for r, h in runs if r == run]
        if not match:
            raise BenchbedError(f"suite {suite!r} has no run {run} with stored items",
                                fix="runs of this suite: " + ", ".join(str(r) for r, _ in runs[:20]))
        chosen = match[0]
        return Board(suite, run, (run,), chosen, tuple(h for h in plans if h != chosen))
    if plan is not None:
        hits = [h for h in plans if h.startswith(plan)]
        if len(hits) != 1:
            what = "matches no" if not hits else "is ambiguous among the"
            raise BenchbedError(f"--plan {plan!r} {what} plan versions of suite {suite!r}",
                                fix="use one of " + ", ".join(h[:12] for h in plans))
        chosen = hits[0]
    else:
        chosen = plans[0]
    ids = tuple(r for r, h in runs if h == chosen)
    return Board(suite, ids[0], ids, chosen, tuple(h for h in plans if h != chosen))


def resolve_board(sessions: sessionmaker[Session], suite: str, board: Board | None) -> Board:
    """``board``, or the suite's default board (its newest plan) when None."""
    return board if board is not None else select_board(sessions, suite)


def stored_suites(sessions: sessionmaker[Session]) -> list[str]:
    """Names of the suites that have at least one run covering items, sorted."""
    with sessions() as s:
        rows = s.execute(
            select(Run.suite).join(RunItem, RunItem.run_id == Run.id).distinct()
        ).scalars()
        return sorted(rows)


def plan_of(sessions: sessionmaker[Session], suite: str, board: Board | None = None) -> Plan:
    """The normalised plan of the suite's board (by default its newest plan)."""
    board = resolve_board(sessions, suite, board)
    with sessions() as s:
        return Plan.from_dict(s.get(Run, board.run_id).plan or {"name": suite})


def scores_frame(sessions: sessionmaker[Session], suite: str, board: Board | None = None
                 ) -> pd.DataFrame:
    """One row per (item, metric) of the suite's board (see :class:`Board`), done items only,
    ordered by item id, then score id.

    Columns: suite, dataset, pair_id, degradation, severity, method, metric, profile, value,
    seconds. A metric scored under several convention profiles in one suite is named
    ``metric[profile]`` so that profiles never mix.
    """
    return board_scores(sessions, suite, board).frame()


SCORE_COLUMNS = ["dataset", "pair_id", "degradation", "severity", "method", "metric", "profile",
                 "value", "seconds"]
"""The columns of :func:`scores_frame` after ``suite``."""


@dataclass(frozen=True)
class BoardScores:
    """A board's scores before the long frame is built: the items once, each score row as
    numbers (its item's row, its metric's index, its value).

    A million-row board is summarised from these arrays without building a million-row frame of
    text columns (``leaderboard show``); :meth:`frame` builds that frame, row for row the same.
    """

    suite: str
    items: pd.DataFrame
    """One row per done item, by id: ``id`` and the text columns of :data:`SCORE_COLUMNS`, and
    ``seconds``."""
    row_item: np.ndarray
    """Per score row (item id, then score id order): its item's position in ``items``."""
    code: np.ndarray
    """Per score row: its metric's position in ``metrics``."""
    value: np.ndarray
    metrics: tuple[str, ...]
    """Shown metric names (``metric[profile]`` where one suite scores several profiles)."""
    profiles: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.value)

    def present_metrics(self) -> list[str]:
        """The metrics that have rows, in the order of their first row (as ``frame().metric.unique()``)."""
        codes, first = np.unique(self.code, return_index=True)
        return [self.metrics[i] for i in codes[np.argsort(first)]]

    def frame(self) -> pd.DataFrame:
        """The long frame of :func:`scores_frame`."""
        if not len(self):
            frame = pd.DataFrame([], columns=SCORE_COLUMNS)
            frame.insert(0, "suite", self.suite)
            frame["value"] = frame["value"].astype(float)
            return frame
        data: dict[str, Any] = {c: self.items[c].array.take(self.row_item)
                                for c in ("dataset", "pair_id", "degradation", "severity",
                                          "method")}
        data["metric"] = _text(list(self.metrics)).take(self.code)
        data["profile"] = _text(list(self.profiles)).take(self.code)
        data["value"] = self.value
        data["seconds"] = self.items["seconds"].to_numpy(dtype=float)[self.row_item]
        frame = pd.DataFrame({c: data[c] for c in SCORE_COLUMNS})
        frame.insert(0, "suite", self.suite)
        return frame

    def where(self, filters: dict[str, list[str]]) -> BoardScores:
        """The rows whose item columns (or ``metric``) equal one of the given texts."""
        keep_items = np.ones(len(self.items), dtype=bool)
        keep_metrics = np.ones(len(self.metrics), dtype=bool)
        for col, values in filters.items():
            if col in ("metric", "profile"):
                names = self.metrics if col == "metric" else self.profiles
                keep_metrics &= np.isin(np.asarray(names, dtype=object), values)
            elif col == "suite":
                keep_items &= self.suite in values
            elif col in ("value", "seconds") or col not in self.items.columns:
                raise BenchbedError(f"cannot filter scores on {col!r} before summarising",
                                    fix="filter on an item column, metric or profile")
            else:
                keep_items &= self.items[col].astype(str).isin(values).to_numpy()
        rows = keep_items[self.row_item] & keep_metrics[self.code]
        return BoardScores(self.suite, self.items, self.row_item[rows], self.code[rows],
                           self.value[rows], self.metrics, self.profiles)

    def group_means(self) -> tuple[pd.DataFrame, pd.Series]:
        """Mean value per (condition, method, metric) and the pairs per (dataset, degradation,
        severity, method): what ``frame().groupby(...)`` gives, from integer keys.

        The rows of each group are averaged in the same order by the same pandas reduction as
        on the frame, so the means are bit for bit those of the frame.
        """
        groups = self.items.groupby(KEYS, sort=False).ngroup().to_numpy()
        n_metrics = max(len(self.metrics), 1)
        key = groups[self.row_item].astype(np.int64) * n_metrics + self.code
        means = pd.Series(self.value).groupby(key).mean()
        group, metric = np.divmod(means.index.to_numpy(), n_metrics)
        first = pd.Series(np.arange(len(self.items))).groupby(groups).first()
        heads = self.items.iloc[first.loc[group].to_numpy()][KEYS].reset_index(drop=True)
        out = heads.assign(metric=np.asarray(self.metrics, dtype=object)[metric],
                           mean=means.to_numpy())
        out.insert(0, "suite", self.suite)
        used = self.items.iloc[np.unique(self.row_item)]
        counts = used.groupby(KEYS)["pair_id"].nunique().rename("n")
        return out, counts


def board_scores(sessions: sessionmaker[Session], suite: str, board: Board | None = None
                 ) -> BoardScores:
    """The board's done scores as :class:`BoardScores`.

    Read as plain DBAPI tuples, without SQLAlchemy rows: the items once (their text columns),
    the scores as numbers only (item id, the (metric, profile) pair's index, value), joined
    with numpy.
    """
    board = resolve_board(sessions, suite, board)
    wanted = {(m.name, m.profile) for m in plan_of(sessions, suite, board).metrics}
    done = and_(Item.id.in_(board.item_ids()), Item.status == "done")
    with sessions() as s:
        conn = s.connection()
        if wanted:  # an item shared with another plan version may carry metrics this one does not list
            pairs = sorted(wanted)
        else:
            pairs = sorted((str(m), str(p)) for m, p in _fetch(conn, (
                select(Score.metric, Score.profile).join(Item, Score.item_id == Item.id)
                .where(done).distinct())))
        # numbers only, in the order of the rows (item id, then score id), two per row: the
        # item id and the metric's index packed in one integer, and the value (the cursor's
        # per-row cost is most of the read); metrics the plan does not list get the index
        # len(pairs) and are dropped here, cheaper than a second test of every row in SQL
        width = len(pairs) + 1
        scores = None
        if pairs:
            packed, value = _fetch_numbers(conn, (
                select(cast(Score.item_id, BigInteger) * width + _pair_index(pairs), Score.value)
                .where(Score.item_id.in_(select(Item.id).where(done)))
                .order_by(Score.item_id, Score.id)), [np.int64, np.float64])
            item_id, code = np.divmod(packed, width)
            listed = code < len(pairs)
            scores = [item_id[listed], code[listed].astype(np.intp), value[listed]]
        items = _fetch(conn, select(*_ITEM_COLUMNS).where(done).order_by(Item.id)) \
            if scores is not None and len(scores[0]) else []
    item_frame = pd.DataFrame(items, columns=[str(c.key) for c in _ITEM_COLUMNS])
    if not items:
        empty = np.zeros(0, dtype=np.intp)
        return BoardScores(suite, item_frame, empty, empty, np.zeros(0), (), ())
    item_id, code, value = scores
    ids = item_frame["id"].to_numpy(dtype=np.int64)
    at = np.minimum(np.searchsorted(ids, item_id), len(ids) - 1)  # the join: each row's item
    if not np.array_equal(ids[at], item_id):  # not expected (same WHERE, same transaction)
        keep = ids[at] == item_id
        code, value, at = code[keep], value[keep], at[keep]
    present = {pairs[i] for i in np.unique(code)}
    profiles = {m: len({p for n, p in present if n == m}) for m, _ in present}
    shown = tuple(f"{m}[{p}]" if profiles.get(m, 0) > 1 else m for m, p in pairs)
    return BoardScores(suite, item_frame, at, code, value, shown, tuple(p for _, p in pairs))


def _pair_index(pairs: list[tuple[str, str]]) -> Any:
    """SQL for the index of a score's (metric, profile) in ``pairs`` (``len(pairs)`` if absent):
    a CASE on the metric, then on the profile, so that each row is compared once per metric."""
    profiles: dict[str, list[tuple[str, int]]] = {}
    for i, (m, p) in enumerate(pairs):
        profiles.setdefault(m, []).append((p, i))
    return case({m: case({p: i for p, i in ps}, value=Score.profile, else_=len(pairs))
                 for m, ps in profiles.items()}, value=Score.metric, else_=len(pairs))


def _text(values: list[Any]) -> Any:
    """``values`` as the array pandas infers for a column of them (its string dtype)."""
    return pd.Series(values).array


_ITEM_COLUMNS = (Item.id, Item.dataset, Item.pair_id, Item.degradation, Item.severity,
                 Item.method, Item.seconds)


def _execute(conn: Connection, stmt: Any) -> Any:
    """A raw DBAPI cursor that ran ``stmt``, compiled for the connection's dialect: its rows are
    the driver's plain tuples, with no SQLAlchemy row objects in between."""
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    args: Any = ([params[k] for k in compiled.positiontup] if compiled.positiontup is not None
                 else params)
    cursor = conn.connection.cursor()
    cursor.execute(compiled.string, args)
    return cursor


def _fetch(conn: Connection, stmt: Any) -> list[tuple[Any, ...]]:
    """All rows of ``stmt`` as plain tuples."""
    cursor = _execute(conn, stmt)
    try:
        return cursor.fetchall()
    finally:
        cursor.close()


def _fetch_numbers(conn: Connection, stmt: Any, dtypes: list[type]) -> list[np.ndarray]:
    """The columns of ``stmt`` (numbers, never NULL) as arrays of ``dtypes``, read straight from
    the cursor into one structured array."""
    fields = np.dtype([(f"c{i}", t) for i, t in enumerate(dtypes)])
    cursor = _execute(conn, stmt)
    try:
        arr = np.fromiter(cursor, dtype=fields)
    finally:
        cursor.close()
    return [arr[name] for name in fields.names]


EXPORT_COLUMNS = ["suite", "plan_hash", "run_id", "dataset", "pair_id", "pair_hash", "degradation",
                  "severity", "method", "seed", "metric", "profile", "metric_version", "value",
                  "seconds", "status", "benchbed_version", "git_commit"]
"""The columns of :func:`export_frame`, in order."""


def export_frame(sessions: sessionmaker[Session], suite: str, board: Board | None = None
                 ) -> pd.DataFrame:
    """Every stored score of the suite's board with its provenance: one row per (item, metric,
    profile), columns :data:`EXPORT_COLUMNS`.

    The scores are those :func:`scores_frame` reads (the metrics of the board's plan), except
    that ``metric`` is the plain name (the profile has its own column) and items of every status
    are included. ``plan_hash`` is the board's plan; ``run_id``, ``benchbed_version`` and
    ``git_commit`` are those of the run that computed (last wrote) the item.
    """
    board = resolve_board(sessions, suite, board)
    wanted = {(m.name, m.profile) for m in plan_of(sessions, suite, board).metrics}
    stmt = (
        select(Item.run_id, Item.dataset, Item.pair_id, Item.pair_hash, Item.degradation,
               Item.severity, Item.method, Item.seed, Score.metric, Score.profile, Score.version,
               Score.value, Item.seconds, Item.status, Run.benchbed_version, Run.git_commit)
        .join(Score, Score.item_id == Item.id)
        .join(Run, Run.id == Item.run_id)
        .where(Item.id.in_(board.item_ids()))
        .order_by(Item.dataset, Item.pair_id, Item.degradation, Item.severity, Item.method,
                  Score.metric, Score.profile)
    )
    if wanted:  # as in scores_frame: a shared item may carry metrics this plan does not list
        stmt = stmt.where(or_(*(and_(Score.metric == m, Score.profile == p) for m, p in wanted)))
    with sessions() as s:
        rows = s.execute(stmt).all()
    frame = pd.DataFrame(rows, columns=[c for c in EXPORT_COLUMNS if c not in ("suite",
                                                                                "plan_hash")])
    frame.insert(0, "plan_hash", board.plan_hash)
    frame.insert(0, "suite", suite)
    frame["value"] = frame["value"].astype(float)
    frame["git_commit"] = frame["git_commit"].fillna("unknown")
    return frame[EXPORT_COLUMNS]


def items_frame(sessions: sessionmaker[Session], suite: str, board: Board | None = None
                ) -> pd.DataFrame:
    """One row per item of the board: identity, status, computing run and artifact keys."""
    board = resolve_board(sessions, suite, board)
    stmt = (
        select(Item.dataset, Item.pair_id, Item.degradation, Item.severity, Item.method,
               Item.status, Item.run_id, Item.artifacts)
        .where(Item.id.in_(board.item_ids()))
    )
    with sessions() as s:
        rows = s.execute(stmt).all()
    return pd.DataFrame(rows, columns=["dataset", "pair_id", "degradation", "severity", "method",
                                       "status", "run_id", "artifacts"])


def provenance(sessions: sessionmaker[Session], suite: str, board: Board | None = None
               ) -> dict[str, Any]:
    """Provenance of the board's newest run and of every run that computed one of its items."""
    board = resolve_board(sessions, suite, board)
    with sessions() as s:
        run = s.get(Run, board.run_id)
        computing = sorted(set(s.execute(
            select(Item.run_id).where(Item.id.in_(board.item_ids())).distinct()
        ).scalars()) | set(board.run_ids))
        statuses = dict(s.execute(
            select(Item.status, func.count()).where(Item.id.in_(board.item_ids()))
            .group_by(Item.status)
        ).all())
        runs = [_run_dict(s.get(Run, r)) for r in computing]
    return {**_run_dict(run), "items": {k: int(v) for k, v in statuses.items()},
            "board_runs": list(board.run_ids), "computed_by": runs}


def _run_dict(run: Run) -> dict[str, Any]:
    return {
        "run_id": run.id, "suite": run.suite, "plan_hash": run.plan_hash,
        "benchbed_version": run.benchbed_version, "git_commit": run.git_commit or "unknown",
        "packages": dict(run.packages or {}), "device": run.device, "host": run.host,
        "workers": run.workers, "status": run.status,
        # the store keeps naive UTC: say so
        "started_at": run.started_at.isoformat(timespec="seconds") + "Z" if run.started_at else "",
        "finished_at": run.finished_at.isoformat(timespec="seconds") + "Z" if run.finished_at
        else "",
    }


def detections_frame(sessions: Any, suite: str, board: Any = None) -> Any:
    """One row per stored detection row (item x class, plus each item's ``*`` summary row) of the
    suite's board (``benchbed.leaderboard.Board``; default its newest plan), done items only."""
    board = board if board is not None else select_board(sessions, suite)
    with sessions() as s:
        rows = s.execute(
            select(Item.dataset, Item.pair_id, Item.degradation, Item.severity, Item.method,
                   Detection.detector, Detection.protocol, Detection.class_name, Detection.payload)
            .join(Detection, Detection.item_id == Item.id)
            .where(Item.id.in_(board.item_ids()), Item.status == "done")
        ).all()
    return pd.DataFrame(rows, columns=["dataset", "pair_id", "degradation", "severity", "method",
                                       "detector", "protocol", "class_name", "payload"])
