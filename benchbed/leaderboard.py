"""Store -> pandas: per-item scores, ranked summary tables."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from benchbed.errors import BenchbedError
from benchbed.store.models import Item, Run, RunItem, Score

KEYS = ["dataset", "degradation", "severity", "method"]


def latest_run_id(sessions: sessionmaker[Session], suite: str) -> int:
    """The newest run of ``suite`` that covered items."""
    with sessions() as s:
        run_id = s.execute(
            select(func.max(Run.id)).join(RunItem, RunItem.run_id == Run.id).where(Run.suite == suite)
        ).scalar()
        if run_id is None:
            known = sorted(s.execute(select(Run.suite).distinct()).scalars())
            raise BenchbedError(
                f"no results for suite {suite!r} in this store",
                fix=f"run `benchbed run suites/{suite}.yaml` first"
                + (f" (suites in the store: {', '.join(known)})" if known else ""),
            )
    return int(run_id)


def plan_of(sessions: sessionmaker[Session], suite: str) -> dict:
    """The normalised plan of the suite's latest run."""
    run_id = latest_run_id(sessions, suite)
    with sessions() as s:
        return dict(s.get(Run, run_id).plan)


def scores_frame(sessions: sessionmaker[Session], suite: str, run_id: int | None = None
                 ) -> pd.DataFrame:
    """One row per (item, metric) of the suite's latest run (or ``run_id``), done items only."""
    run_id = run_id or latest_run_id(sessions, suite)
    stmt = (
        select(Item.dataset, Item.pair_id, Item.degradation, Item.severity, Item.method,
               Score.metric, Score.profile, Score.value, Item.seconds)
        .join(RunItem, RunItem.item_id == Item.id)
        .join(Score, Score.item_id == Item.id)
        .where(RunItem.run_id == run_id, Item.status == "done")
    )
    with sessions() as s:
        rows = s.execute(stmt).all()
    return pd.DataFrame(rows, columns=["dataset", "pair_id", "degradation", "severity", "method",
                                       "metric", "profile", "value", "seconds"])


def ranked_table(frame: pd.DataFrame, higher_is_better: Mapping[str, bool],
                 metric: str | None = None, degradation: str | None = None,
                 metric_order: list[str] | None = None) -> pd.DataFrame:
    """Mean per (dataset, degradation, severity, method) and metric, ranked within each condition.

    Ranks are per metric (1 = best, ties share the best rank) and averaged into ``mean_rank``.
    """
    df = frame
    if degradation:
        df = df[df.degradation == degradation]
    if metric:
        df = df[df.metric == metric]
    if df.empty:
        raise BenchbedError("no scores match the filters",
                            fix="check --metric/--degradation against `benchbed leaderboard show`")
    table = df.pivot_table(index=KEYS, columns="metric", values="value", aggfunc="mean")
    counts = df.groupby(KEYS)["pair_id"].nunique().rename("n")
    order = [m for m in (metric_order or []) if m in table.columns]
    metrics = order + sorted(c for c in table.columns if c not in order)
    table = table[metrics]
    ranks = pd.DataFrame(index=table.index)
    cond = ["dataset", "degradation", "severity"]
    for m in metrics:
        ascending = not higher_is_better.get(m, True)
        ranks[m] = table[m].groupby(level=cond).rank(ascending=ascending, method="min")
    table["mean_rank"] = ranks.mean(axis=1)
    table = table.join(counts)
    table = table.reset_index().sort_values([*cond, "mean_rank", "method"])
    table.insert(3, "rank", table.groupby(cond)["mean_rank"].rank(method="min").astype(int))
    return table.reset_index(drop=True)


def format_table(table: pd.DataFrame, fmt: str = "table", digits: int = 4) -> str:
    """Render as an aligned text table, CSV, JSON or markdown."""
    if fmt == "csv":
        return table.to_csv(index=False)
    if fmt == "json":
        return table.to_json(orient="records", indent=2)
    shown = table.copy()
    for col in shown.columns:
        if pd.api.types.is_float_dtype(shown[col]):
            shown[col] = shown[col].map(lambda v: f"{v:.{digits}f}")
    if fmt == "markdown":
        header = "| " + " | ".join(map(str, shown.columns)) + " |"
        sep = "|" + "|".join("---" for _ in shown.columns) + "|"
        body = ["| " + " | ".join(map(str, r)) + " |" for r in shown.itertuples(index=False)]
        return "\n".join([header, sep, *body])
    return shown.to_string(index=False)
