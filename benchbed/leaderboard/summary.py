"""Stored board summaries: what the ranked view needs (a mean per group and metric, the pairs
per group), written by a run when it ends so that ``leaderboard show`` of a million-score board
reads a few thousand numbers instead of every score.

A summary is used only while the board's fingerprint (:func:`board_token`: count, largest id
and sum of the board's scores; count, largest id and done ids of its items; the board's runs)
still equals the one taken when it was written, so any later write to the board (a new or
recomputed item, a failure, an item added by another run) sends ``show`` back to the scores.
The means are those :meth:`BoardScores.group_means` computed, stored as shortest round-trip
decimal text, so a shown board is bit for bit the one the scores give.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, sessionmaker

from benchbed.leaderboard.query import KEYS, Board, BoardScores, board_scores, select_board
from benchbed.store.models import BoardSummary as SummaryRow
from benchbed.store.models import Item, Score

log = logging.getLogger("benchbed")

SUMMARY_FORMAT = 1
"""Version of the payload and of the token; a summary of another format is never used."""

_GROUP_FILTERS = {"suite", *KEYS}
"""Filters a summary can apply: those that keep or drop whole groups (metric: see ``where``)."""


@dataclass(frozen=True)
class BoardSummary:
    """A board's group means, as :meth:`BoardScores.group_means` gives them, plus per group and
    metric the pairs that have that metric (to recount pairs under a metric filter)."""

    suite: str
    means: pd.DataFrame
    """Columns suite, dataset, degradation, severity, method, metric, mean, n_metric."""
    counts: pd.Series
    """Pairs per (dataset, degradation, severity, method), named ``n``."""
    present: tuple[str, ...]
    """The board's metrics in the order of their first score (``present_metrics``)."""

    def __len__(self) -> int:
        return len(self.means)

    def present_metrics(self) -> list[str]:
        """The metrics that have scores, in the order of their first score."""
        return list(self.present)

    @classmethod
    def of(cls, scores: BoardScores) -> BoardSummary:
        """The summary of ``scores`` (one board, unfiltered)."""
        means, counts = scores.group_means()
        # pairs per (group, metric), keyed as group_means keys its means (ascending key)
        groups = scores.items.groupby(KEYS, sort=False).ngroup().to_numpy().astype(np.int64)
        pairs = pd.factorize(scores.items["pair_id"])[0].astype(np.int64)
        n_metrics = max(len(scores.metrics), 1)
        key = groups[scores.row_item] * n_metrics + scores.code
        uniq = np.unique(key * (int(pairs.max()) + 1) + pairs[scores.row_item])
        keys, n_metric = np.unique(uniq // (int(pairs.max()) + 1), return_counts=True)
        if len(keys) != len(means):  # not expected: group_means keys the same rows
            raise RuntimeError("board summary: pair counts do not line up with the means")
        return cls(scores.suite, means.assign(n_metric=n_metric), counts,
                   tuple(scores.present_metrics()))

    def where(self, filters: dict[str, list[str]]) -> BoardSummary | None:
        """The summary of the rows that match ``filters`` (as :meth:`BoardScores.where`), or None
        when the summary cannot say (a filter on pairs, profiles or other columns; a filter on
        several metrics that some pairs of a group have only in part)."""
        if not set(filters) <= _GROUP_FILTERS | {"metric"}:
            return None
        means, counts = self.means, self.counts
        for col, values in filters.items():
            if col == "suite":
                keep = np.full(len(means), self.suite in values)
            else:
                keep = means[col].astype(str).isin(values).to_numpy()
            means = means[keep]
        if "metric" in filters:
            recount = means.groupby(KEYS, sort=False)["n_metric"].agg(["min", "max", "size"])
            full = counts.reindex(recount.index)
            whole = (recount["min"] == full) & (recount["max"] == full)
            if not (whole | (recount["size"] == 1)).all():
                return None
            counts = recount["max"].rename("n")
        counts = counts[counts.index.isin(pd.MultiIndex.from_frame(means[KEYS]))]
        return BoardSummary(self.suite, means, counts, self.present)

    def group_means(self) -> tuple[pd.DataFrame, pd.Series]:
        """Means and pair counts, as :meth:`BoardScores.group_means`."""
        return self.means.drop(columns="n_metric").reset_index(drop=True), self.counts

    def payload(self) -> str:
        """The summary as JSON text (floats in shortest round-trip form: exact)."""
        m = self.means
        return json.dumps({
            "format": SUMMARY_FORMAT, "present": list(self.present),
            "means": {c: m[c].tolist() for c in m.columns if c != "suite"},
            "counts": {"keys": [list(k) for k in self.counts.index], "n": self.counts.tolist()},
        }, allow_nan=True)

    @classmethod
    def from_payload(cls, suite: str, text: str) -> BoardSummary | None:
        """The summary stored as ``text``; None when it is of another format."""
        data = json.loads(text)
        if data.get("format") != SUMMARY_FORMAT:
            return None
        means = pd.DataFrame(data["means"])
        means.insert(0, "suite", suite)
        keys = pd.MultiIndex.from_frame(pd.DataFrame(data["counts"]["keys"], columns=KEYS))
        counts = pd.Series(data["counts"]["n"], index=keys, name="n", dtype=np.int64)
        return cls(suite, means, counts, tuple(data["present"]))


def board_token(sessions: sessionmaker[Session], board: Board) -> str:
    """The board's fingerprint: changes with any write to its items, their scores or its runs."""
    ids = board.item_ids()
    with sessions() as s:
        scores = s.execute(select(func.count(Score.id), func.max(Score.id), func.sum(Score.value))
                           .where(Score.item_id.in_(ids))).one()
        items = s.execute(select(func.count(Item.id), func.max(Item.id),
                                 func.sum(case((Item.status == "done", Item.id), else_=0)))
                          .where(Item.id.in_(ids))).one()
    return json.dumps([SUMMARY_FORMAT, board.plan_hash, list(board.run_ids),
                       [None if v is None else float(v) for v in scores],
                       [None if v is None else int(v) for v in items]])


def stored_summary(sessions: sessionmaker[Session], board: Board) -> BoardSummary | None:
    """The board's stored summary if it is still valid (its token matches the store), else None."""
    with sessions() as s:
        row = s.get(SummaryRow, (board.suite, board.plan_hash))
        if row is None:
            return None
        run_ids, token, text = row.run_ids, row.token, row.payload
    if json.loads(run_ids) != list(board.run_ids) or token != board_token(sessions, board):
        return None
    return BoardSummary.from_payload(board.suite, text)


def store_summary(sessions: sessionmaker[Session], suite: str) -> bool:
    """Write the summary of ``suite``'s default board; False (nothing written) when the board is
    empty or changed while it was being read (a concurrent writer: its own run end writes it)."""
    board = select_board(sessions, suite)
    before = board_token(sessions, board)
    scores = board_scores(sessions, suite, board)
    if not len(scores):
        return False
    text = BoardSummary.of(scores).payload()
    if board_token(sessions, board) != before:
        return False
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with sessions.begin() as s:
        s.merge(SummaryRow(suite=suite, plan_hash=board.plan_hash,
                           run_ids=json.dumps(list(board.run_ids)), token=before,
                           created_at=now, payload=text))
    return True


def refresh_summary(sessions: sessionmaker[Session], suite: str) -> None:
    """:func:`store_summary`, for the end of a run: a failure only costs ``show`` its shortcut."""
    try:
        store_summary(sessions, suite)
    except Exception as exc:  # the run's results are stored; the summary is an optimisation
        log.warning("board summary of %s not stored (%s: %s); `leaderboard show` reads the "
                    "scores instead", suite, type(exc).__name__, exc)


def summary_source(sessions: sessionmaker[Session], board: Board,
                   filters: dict[str, list[str]]) -> Any:
    """A valid stored summary that can apply ``filters``, else None."""
    summary = stored_summary(sessions, board)
    if summary is None or summary.where(filters) is None:
        return None
    return summary
