"""Store -> pandas: per-item scores, statistics, ranks, robustness, paired tests, publishing.

Everything here works on the *long* per-item frame of :func:`scores_frame` (one row per item and
metric) so that any table can be recomputed from the raw scores:

- :func:`summary_frame`: mean, std, n and a seeded percentile-bootstrap 95% CI of the mean per
  (suite, dataset, degradation, severity, method, metric);
- :func:`rank_frame` / :func:`mean_rank_frame` / :func:`ranked_table`: ranks per metric within a
  condition (1 = best; ties share the best rank) and the mean rank across metrics;
- :func:`robustness_frame`: score under degradation / score on the clean input (same pairs,
  same method), and :func:`sweep_auc_frame`: the normalised area under the severity curve;
- :func:`paired_compare`: method A vs B on the same items (mean difference, bootstrap CI,
  Wilcoxon signed-rank with Holm correction across metrics);
- :func:`publish`: hands a suite's frame and a :class:`PublishContext` to publisher plugins.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from benchbed.errors import BenchbedError
from benchbed.paths import slug
from benchbed.store.models import Item, Run, RunItem, Score

KEYS = ["dataset", "degradation", "severity", "method"]
COND = ["suite", "dataset", "degradation", "severity"]
"""A condition: one suite, dataset, degradation and severity; methods are ranked within it."""
GROUP = [*COND, "method", "metric"]
"""The statistics group: one value per pair in it."""
FORMATS = ("table", "csv", "json", "markdown")
CLEAN = "clean"
"""Name of the degradation plugin that leaves the sources untouched (robustness reference)."""


# --- reading the store ----------------------------------------------------------------------


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
    latest_run_id(sessions, suite)  # a clear error when the suite has no results at all
    with sessions() as s:
        runs = s.execute(
            select(Run.id, Run.plan_hash).join(RunItem, RunItem.run_id == Run.id)
            .where(Run.suite == suite).distinct().order_by(Run.id.desc())
        ).all()
    plans = list(dict.fromkeys(r.plan_hash for r in runs))  # newest first
    if run is not None:
        match = [r for r in runs if r.id == run]
        if not match:
            raise BenchbedError(f"suite {suite!r} has no run {run} with stored items",
                                fix="runs of this suite: " + ", ".join(str(r.id) for r in runs[:20]))
        chosen = match[0].plan_hash
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
    ids = tuple(r.id for r in runs if r.plan_hash == chosen)
    return Board(suite, ids[0], ids, chosen, tuple(h for h in plans if h != chosen))


def _board(sessions: sessionmaker[Session], suite: str, board: Board | None) -> Board:
    return board if board is not None else select_board(sessions, suite)


def stored_suites(sessions: sessionmaker[Session]) -> list[str]:
    """Names of the suites that have at least one run covering items, sorted."""
    with sessions() as s:
        rows = s.execute(
            select(Run.suite).join(RunItem, RunItem.run_id == Run.id).distinct()
        ).scalars()
        return sorted(rows)


def plan_of(sessions: sessionmaker[Session], suite: str, board: Board | None = None) -> dict:
    """The normalised plan of the suite's board (by default its newest plan)."""
    board = _board(sessions, suite, board)
    with sessions() as s:
        return dict(s.get(Run, board.run_id).plan)


def scores_frame(sessions: sessionmaker[Session], suite: str, board: Board | None = None
                 ) -> pd.DataFrame:
    """One row per (item, metric) of the suite's board (see :class:`Board`), done items only.

    Columns: suite, dataset, pair_id, degradation, severity, method, metric, profile, value,
    seconds. A metric scored under several convention profiles in one suite is named
    ``metric[profile]`` so that profiles never mix.
    """
    board = _board(sessions, suite, board)
    with sessions() as s:
        plan = s.get(Run, board.run_id).plan or {}
    wanted = {(m["name"], m["profile"]) for m in plan.get("metrics", [])}
    stmt = (
        select(Item.dataset, Item.pair_id, Item.degradation, Item.severity, Item.method,
               Score.metric, Score.profile, Score.value, Item.seconds)
        .join(Score, Score.item_id == Item.id)
        .where(Item.id.in_(board.item_ids()), Item.status == "done")
    )
    if wanted:  # an item shared with another plan version may carry metrics this one does not list
        stmt = stmt.where(or_(*(and_(Score.metric == m, Score.profile == p) for m, p in wanted)))
    with sessions() as s:
        rows = s.execute(stmt).all()
    frame = pd.DataFrame(rows, columns=["dataset", "pair_id", "degradation", "severity", "method",
                                        "metric", "profile", "value", "seconds"])
    frame.insert(0, "suite", suite)
    if not frame.empty:
        profiles = frame.groupby("metric")["profile"].nunique()
        multi = set(profiles[profiles > 1].index)
        if multi:
            frame["metric"] = [f"{m}[{p}]" if m in multi else m
                               for m, p in zip(frame.metric, frame.profile)]
    frame["value"] = frame["value"].astype(float)
    return frame


def items_frame(sessions: sessionmaker[Session], suite: str, board: Board | None = None
                ) -> pd.DataFrame:
    """One row per item of the board: identity, status, computing run and artifact keys."""
    board = _board(sessions, suite, board)
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
    board = _board(sessions, suite, board)
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


def higher_is_better_map(registry: Any, metrics: Iterable[str]) -> dict[str, bool]:
    """``metric -> higher_is_better`` from the registry (unknown metrics count as higher-better).

    ``metric[profile]`` names look up their base metric.
    """
    return _metric_attribute(registry, metrics, lambda spec: spec.higher_is_better, True)


def _metric_attribute(registry: Any, metrics: Iterable[str], read: Any, unknown: Any
                      ) -> dict[str, Any]:
    """``metric -> read(spec)`` for each metric (``metric[profile]`` looks up its base metric),
    ``unknown`` for names the registry does not hold."""
    known = set(registry.names("metric"))
    out = {}
    for m in metrics:
        base = m.split("[", 1)[0]
        out[m] = read(registry.get("metric", base)) if base in known else unknown
    return out


# --- filters ------------------------------------------------------------------------------


def parse_filters(items: Iterable[str]) -> dict[str, list[str]]:
    """``["method=gff,average", "severity=2"]`` -> ``{"method": ["gff", "average"], ...}``."""
    out: dict[str, list[str]] = {}
    for item in items:
        if "=" not in item:
            raise BenchbedError(f"filter {item!r} is not COLUMN=VALUE[,VALUE]",
                                fix="write e.g. --where method=gff,average")
        key, value = item.split("=", 1)
        out.setdefault(key.strip(), []).extend(v.strip() for v in value.split(","))
    return out


def filter_frame(frame: pd.DataFrame, filters: Mapping[str, Any] | None) -> pd.DataFrame:
    """Keep rows whose columns equal one of the given values (compared as text); None is no filter."""
    df = frame
    for col, want in (filters or {}).items():
        if want is None:
            continue
        if col not in df.columns:
            raise BenchbedError(f"cannot filter on {col!r}: no such column",
                                fix=f"use one of {', '.join(map(str, df.columns))}")
        values = [want] if isinstance(want, str) or not isinstance(want, Sequence) else want
        df = df[df[col].astype(str).isin([str(v) for v in values])]
    return df


def _require_rows(df: pd.DataFrame, what: str = "scores") -> None:
    if df.empty:
        raise BenchbedError(f"no {what} match the filters",
                            fix="check the filter values against `benchbed leaderboard show`")


# --- statistics -----------------------------------------------------------------------------


def _group_seed(seed: int, key: Sequence[Any]) -> int:
    """A seed per group from the base seed and the group's identity, independent of order."""
    text = "\x1f".join(map(str, (seed, *key)))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


MIN_CI_N = 5  # below this many pairs no interval is reported: a bootstrap of 2-4 values is not one


def bootstrap_ci(values: Sequence[float] | np.ndarray, *, seed: int = 0, n_boot: int = 2000,
                 level: float = 0.95, stat: str = "mean") -> tuple[float, float]:
    """BCa bootstrap CI of the mean (or median) of ``values`` (scipy.stats.bootstrap, seeded).

    Fewer than ``MIN_CI_N`` values give (nan, nan): publishers print "n < 5" instead of an
    interval that would only restate the values. Identical values give (value, value).
    """
    from scipy.stats import bootstrap

    x = np.asarray(values, dtype=float)
    if x.size < MIN_CI_N:
        return (math.nan, math.nan)
    if float(np.ptp(x)) == 0.0:
        return (float(x[0]), float(x[0]))
    fn = np.median if stat == "median" else np.mean
    lo = hi = math.nan
    for method in ("BCa", "percentile"):  # percentile only where BCa is undefined (one outlier)
        with warnings.catch_warnings():  # a degenerate BCa is handled here, not printed per group
            warnings.simplefilter("ignore")
            ci = bootstrap((x,), fn, n_resamples=n_boot, confidence_level=level, method=method,
                           random_state=np.random.default_rng(seed), vectorized=True,
                           axis=-1).confidence_interval
        lo, hi = float(ci.low), float(ci.high)
        if math.isfinite(lo) and math.isfinite(hi):
            break
    return (lo, hi)


def summary_frame(frame: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0,
                  level: float = 0.95) -> pd.DataFrame:
    """Mean, std (ddof=1), n (pairs) and bootstrap CI per (suite, dataset, degradation, severity,
    method, metric).

    The bootstrap of each group is seeded from ``seed`` and the group's identity, so a number
    never depends on which other groups are in the frame or on their order.
    """
    _require_rows(frame)
    rows = []
    for key, grp in frame.groupby(GROUP, sort=True):
        vals = np.sort(grp["value"].to_numpy(dtype=float))  # row order must not matter
        lo, hi = bootstrap_ci(vals, seed=_group_seed(seed, key), n_boot=n_boot, level=level)
        rows.append((*key, float(vals.mean()), float(vals.std(ddof=1)) if vals.size > 1 else math.nan,
                     int(vals.size), lo, hi))
    return pd.DataFrame(rows, columns=[*GROUP, "mean", "std", "n", "ci_low", "ci_high"])


def rank_frame(summary: pd.DataFrame, higher_is_better: Mapping[str, bool]) -> pd.DataFrame:
    """``summary`` plus ``rank``: the method's rank for that metric within its condition."""
    out = summary.copy()
    ranks = pd.Series(index=out.index, dtype=float)
    for metric, idx in out.groupby("metric").groups.items():
        sub = out.loc[idx]
        ascending = not higher_is_better.get(str(metric), True)
        ranks.loc[idx] = sub.groupby(COND)["mean"].rank(ascending=ascending, method="min")
    out["rank"] = ranks.astype(int)
    return out


def mark_tied_best(ranked: pd.DataFrame, frame: pd.DataFrame, higher_is_better: Mapping[str, bool],
                   alpha: float = 0.05) -> pd.DataFrame:
    """``ranked`` plus ``tied_best``: the best method of each (condition, metric) and every method
    not significantly worse than it (paired two-sided Wilcoxon signed-rank test over the pairs
    both scored, Holm-corrected across the methods of the condition; p_holm >= ``alpha``).

    With few pairs nothing is significant (n <= 5 cannot reach p < 0.05), so every method is
    tied: the honest reading of a small test set.
    """
    from scipy.stats import wilcoxon

    out = ranked.copy()
    out["tied_best"] = False
    tables = {key: grp.pivot_table(index="pair_id", columns="method", values="value", aggfunc="mean")
              for key, grp in frame.groupby([*COND, "metric"], sort=False)}
    for key, grp in out.groupby([*COND, "metric"], sort=False):
        best_idx = grp.index[grp["rank"] == 1]
        out.loc[best_idx, "tied_best"] = True
        table = tables.get(key)
        best = str(grp.loc[best_idx[0], "method"])
        if table is None or best not in table:
            continue
        others, pvals = [], []
        for idx, method in grp.loc[grp["rank"] != 1, "method"].items():
            if method not in table:
                continue
            pair = table[[best, method]].dropna().to_numpy(dtype=float)
            d = pair[:, 0] - pair[:, 1]
            p = 1.0 if not np.any(d != 0) else float(wilcoxon(d, zero_method="wilcox").pvalue)
            others.append(idx)
            pvals.append(p)
        for idx, p in zip(others, holm(pvals)):
            out.loc[idx, "tied_best"] = bool(p >= alpha)
    return out


def reference_free_map(registry: Any, metrics: Iterable[str]) -> dict[str, bool]:
    """``metric -> True`` for metrics of the fused image alone (EN, SD, SF, AG: the spec's
    ``needs_sources=False``). They can rise with noise, so they never decide a headline rank
    unless a suite declares them ``primary``."""
    return _metric_attribute(registry, metrics, lambda spec: not spec.needs_sources, False)


def headline_metrics(plan: Mapping[str, Any] | None, metrics: Iterable[str],
                     reference_free: Mapping[str, bool]) -> list[str]:
    """The metrics the headline ranks use: the suite's ``primary:`` list (the paper's table),
    else its reference-based metrics, else (a suite of reference-free metrics only) all."""
    present = list(dict.fromkeys(metrics))
    declared = list((plan or {}).get("primary") or [])
    if declared:
        return [m for m in present if m in declared or m.split("[", 1)[0] in declared]
    based = [m for m in present if not reference_free.get(m, False)]
    return based or present


def _only(ranked: pd.DataFrame, metrics: Sequence[str] | None) -> pd.DataFrame:
    return ranked if metrics is None else ranked[ranked["metric"].isin(list(metrics))]


def mean_rank_frame(ranked: pd.DataFrame, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean rank across ``metrics`` (default all) per (condition, method), with the place within
    the condition."""
    ranked = _only(ranked, metrics)
    mr = (ranked.groupby([*COND, "method"])["rank"].mean().rename("mean_rank").reset_index())
    mr["place"] = mr.groupby(COND)["mean_rank"].rank(method="min").astype(int)
    return mr.sort_values([*COND, "place", "method"]).reset_index(drop=True)


def overall_rank_frame(ranked: pd.DataFrame, metrics: Sequence[str] | None = None
                       ) -> pd.DataFrame:
    """Per method: mean rank over every condition and ``metrics`` (default all) of the suite,
    and the place by it.

    Only methods scored in every condition of the suite get a place (``place`` is NaN for the
    others): a method run in 2 of 6 conditions would otherwise be ranked on the easy ones.
    ``coverage`` says how many of the suite's conditions each method was scored in.
    """
    ranked = _only(ranked, metrics)
    cond = ranked["dataset"].astype(str) + "\x1f" + ranked["degradation"].astype(str) + "\x1f" \
        + ranked["severity"].astype(str)
    ranked = ranked.assign(_cond=cond)
    total = ranked.groupby("suite")["_cond"].nunique()
    mr = (ranked.groupby(["suite", "method"])
          .agg(mean_rank=("rank", "mean"), conditions=("_cond", "nunique")).reset_index())
    full = mr["conditions"] == mr["suite"].map(total)
    mr["coverage"] = [f"{c}/{total[s]}" for s, c in zip(mr.suite, mr.conditions)]
    mr["place"] = np.nan
    mr.loc[full, "place"] = mr[full].groupby("suite")["mean_rank"].rank(method="min")
    mr["_partial"] = ~full
    mr = mr.sort_values(["suite", "_partial", "place", "mean_rank", "method"]).drop(columns="_partial")
    return mr[["suite", "place", "method", "mean_rank", "conditions", "coverage"]].reset_index(drop=True)


def nemenyi_q(k: int, alpha: float = 0.05) -> float:
    """Critical value q_alpha of the Nemenyi test for k methods: the studentized range quantile
    over sqrt(2) (Demšar, JMLR 7:1-30, 2006, Table 5a: k = 4 -> 2.569, k = 10 -> 3.164)."""
    from scipy.stats import studentized_range

    return float(studentized_range.ppf(1.0 - alpha, k, np.inf) / math.sqrt(2.0))


@dataclass(frozen=True)
class CriticalDifference:
    """Friedman test + Nemenyi post-hoc over the blocks (condition x metric) of a suite."""

    average_ranks: dict[str, float]  # method -> average rank over blocks (1 = best)
    blocks: int
    friedman_statistic: float
    friedman_p: float
    cd: float  # two methods differ significantly when their average ranks differ by more
    alpha: float

    def cliques(self) -> list[list[str]]:
        """Maximal runs of methods (in rank order) whose ranks lie within ``cd`` of each other."""
        order = sorted(self.average_ranks, key=self.average_ranks.__getitem__)
        runs: list[list[str]] = []
        for i, first in enumerate(order):
            run = [m for m in order[i:] if self.average_ranks[m] - self.average_ranks[first] <= self.cd]
            if len(run) > 1 and not any(set(run) <= set(r) for r in runs):
                runs.append(run)
        return runs


def critical_difference(summary: pd.DataFrame, higher_is_better: Mapping[str, bool],
                        alpha: float = 0.05, metrics: Sequence[str] | None = None
                        ) -> CriticalDifference | None:
    """Friedman + Nemenyi on the methods scored in every (condition, metric) block of ``metrics``
    (default all): each block ranks the methods by their mean over pairs. None with fewer than 2
    methods or blocks."""
    from scipy.stats import friedmanchisquare

    summary = _only(summary, metrics)
    wide = summary.pivot_table(index=[*COND, "metric"], columns="method", values="mean")
    wide = wide.dropna(axis=1)  # full coverage only
    if wide.shape[1] < 2 or wide.shape[0] < 2:
        return None
    signs = np.array([1.0 if higher_is_better.get(str(m), True) else -1.0
                      for m in wide.index.get_level_values("metric")])
    ranks = (wide.mul(-signs, axis=0)).rank(axis=1, method="average")
    k, n = wide.shape[1], wide.shape[0]
    if k >= 3:
        stat, p = friedmanchisquare(*[wide[c].to_numpy() * signs for c in wide.columns])
    else:
        stat, p = math.nan, math.nan
    cd = nemenyi_q(k, alpha) * math.sqrt(k * (k + 1) / (6.0 * n))
    return CriticalDifference({str(m): float(v) for m, v in ranks.mean().items()}, n,
                              float(stat), float(p), float(cd), alpha)


def ranked_table(frame: pd.DataFrame, higher_is_better: Mapping[str, bool],
                 metric: str | None = None, degradation: str | None = None,
                 metric_order: list[str] | None = None,
                 filters: Mapping[str, Any] | None = None,
                 primary: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean per (dataset, degradation, severity, method) and metric, ranked within each condition.

    Ranks are per metric (1 = best, ties share the best rank) and averaged into ``mean_rank``
    over the ``primary`` metrics (default all shown); ``rank`` is the place by mean rank. ``n``
    is the number of pairs.
    """
    df = filter_frame(frame, {"metric": metric, "degradation": degradation, **(filters or {})})
    _require_rows(df)
    table = df.pivot_table(index=KEYS, columns="metric", values="value", aggfunc="mean")
    counts = df.groupby(KEYS)["pair_id"].nunique().rename("n")
    metrics = ordered_metrics(table.columns, metric_order)
    table = table[metrics]
    ranks = pd.DataFrame(index=table.index)
    cond = ["dataset", "degradation", "severity"]
    for m in metrics:
        ascending = not higher_is_better.get(m, True)
        ranks[m] = table[m].groupby(level=cond).rank(ascending=ascending, method="min")
    decide = [m for m in metrics if primary is None or m in primary] or metrics
    table["mean_rank"] = ranks[decide].mean(axis=1)
    table = table.join(counts)
    table = table.reset_index().sort_values([*cond, "mean_rank", "method"])
    table.insert(3, "rank", table.groupby(cond)["mean_rank"].rank(method="min").astype(int))
    table.columns.name = None
    return table.reset_index(drop=True)


def ordered_metrics(metrics: Iterable[str], order: Sequence[str] | None) -> list[str]:
    """Metrics in plan order first (a ``metric[profile]`` follows its base), then the rest sorted."""
    present = list(dict.fromkeys(metrics))
    out = []
    for name in order or []:
        out += [m for m in present if (m == name or m.startswith(name + "[")) and m not in out]
    return out + sorted(m for m in present if m not in out)


def stats_table(frame: pd.DataFrame, higher_is_better: Mapping[str, bool], *, n_boot: int = 2000,
                seed: int = 0, filters: Mapping[str, Any] | None = None,
                metric_order: Sequence[str] | None = None,
                primary: Sequence[str] | None = None) -> pd.DataFrame:
    """Long table: per (condition, method, metric) mean, std, n, CI, rank; plus the mean rank
    over the ``primary`` metrics (default all)."""
    df = filter_frame(frame, filters)
    ranked = rank_frame(summary_frame(df, n_boot=n_boot, seed=seed), higher_is_better)
    mr = mean_rank_frame(ranked, primary)
    out = ranked.merge(mr, on=[*COND, "method"])
    pos = {m: i for i, m in enumerate(ordered_metrics(out.metric.unique(), metric_order))}
    out = out.assign(_m=out.metric.map(pos))
    return (out.sort_values([*COND, "_m", "rank", "method"]).drop(columns="_m")
            .reset_index(drop=True))


# --- robustness -------------------------------------------------------------------------------


def severity_positions(labels: Sequence[str], order: Sequence[str] | None = None) -> dict[str, float]:
    """x position per severity label: its number when every label is numeric, else 1..k in order."""
    labels = list(dict.fromkeys(order or [])) + sorted(set(labels) - set(order or []))
    try:
        return {lab: float(lab) for lab in labels}
    except ValueError:
        return {lab: float(i + 1) for i, lab in enumerate(labels)}


def clean_labels(plan: Mapping[str, Any] | None) -> list[str]:
    """Degradation labels of the plan that use the ``clean`` plugin (default: ``["clean"]``)."""
    if not plan:
        return [CLEAN]
    labels = [d.get("label", d["name"]) for d in plan.get("degradations", []) if d["name"] == CLEAN]
    return labels or [CLEAN]


def severity_order(plan: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """``degradation label -> severity labels`` in the plan's order."""
    out: dict[str, list[str]] = {}
    for d in (plan or {}).get("degradations", []):
        out[d.get("label", d["name"])] = [str(s["label"]) for s in d.get("severities", [])]
    return out


@dataclass(frozen=True)
class Axis:
    """Where a degradation's severities sit on its plot and sweep area."""

    label: str
    """Axis title with the unit, e.g. ``noise σ (/255)``."""
    positions: Mapping[str, float]
    clean: float = 0.0
    """x of the clean condition."""


def severity_axes(plan: Mapping[str, Any] | None, registry: Any = None) -> dict[str, Axis]:
    """``degradation label -> Axis`` for the degradations whose plugin declares a physical
    parameter (``DegradationSpec.axis``) that every severity of the plan has, with distinct
    values; the others are left to :func:`sweep_x`'s level positions."""
    out: dict[str, Axis] = {}
    for d in (plan or {}).get("degradations", []):
        label = d.get("label", d["name"])
        sevs = d.get("severities", [])
        spec_axis = None
        if registry is not None and d["name"] in registry.names("degradation"):
            spec_axis = getattr(registry.get("degradation", d["name"]), "axis", None)
        values = [spec_axis.value({**d.get("params", {}), **s.get("params", {})})
                  for s in sevs] if spec_axis else []
        if spec_axis and values and all(v is not None for v in values) \
                and len(set(values)) == len(values):
            out[label] = Axis(spec_axis.label, {str(s["label"]): float(v)
                                                for s, v in zip(sevs, values)},
                              float(spec_axis.clean))
    return out


LEVEL_AXIS = "severity level"
"""Axis title of a degradation without a physical parameter (x = level positions)."""


def sweep_x(axes: Mapping[str, Axis] | None, degradation: str, labels: Sequence[str],
            order: Sequence[str] | None = None) -> tuple[dict[str, float], float, str]:
    """(x per severity label, x of the clean condition, axis title) for one degradation: its
    physical axis when it covers every label, else the level positions."""
    axis = (axes or {}).get(degradation)
    if axis is not None and all(lab in axis.positions for lab in labels):
        return dict(axis.positions), axis.clean, axis.label
    return severity_positions(labels, order), 0.0, LEVEL_AXIS


def robustness_frame(frame: pd.DataFrame, *, clean: Sequence[str] = (CLEAN,), n_boot: int = 2000,
                     seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Score under degradation divided by the score on the clean input, per method and metric.

    For each (suite, dataset, degradation, severity, method, metric) the ratio is
    ``mean(degraded scores) / mean(clean scores)`` over the pairs scored in both conditions by
    the same method, with a paired bootstrap CI (pairs resampled jointly). For a
    higher-is-better metric a ratio below 1 is a loss; for a lower-is-better one, above 1.
    Empty when the suite has no clean condition.
    """
    ref = frame[frame.degradation.isin(list(clean))]
    deg = frame[~frame.degradation.isin(list(clean))]
    cols = [*GROUP, "clean", "mean_clean", "mean", "ratio", "ci_low", "ci_high", "n"]
    if ref.empty or deg.empty:
        return pd.DataFrame(columns=cols)
    ref = (ref.groupby(["suite", "dataset", "pair_id", "method", "metric"])
           .agg(clean_value=("value", "mean"), clean=("degradation", "first")).reset_index())
    merged = deg.merge(ref, on=["suite", "dataset", "pair_id", "method", "metric"])
    merged = merged.sort_values([*GROUP, "pair_id"], kind="stable")  # row order must not matter
    rows = []
    for key, grp in merged.groupby(GROUP, sort=True):
        d = grp["value"].to_numpy(dtype=float)
        c = grp["clean_value"].to_numpy(dtype=float)
        ratio = d.mean() / c.mean() if c.mean() != 0 else math.nan
        lo, hi = _ratio_ci(d, c, _group_seed(seed, ("robustness", *key)), n_boot, level)
        rows.append((*key, grp["clean"].iloc[0], float(c.mean()), float(d.mean()), float(ratio),
                     lo, hi, int(d.size)))
    return pd.DataFrame(rows, columns=cols)


def _ratio_ci(d: np.ndarray, c: np.ndarray, seed: int, n_boot: int, level: float
              ) -> tuple[float, float]:
    if d.size < 2:
        r = d.mean() / c.mean() if c.size and c.mean() != 0 else math.nan
        return (float(r), float(r))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, d.size, size=(n_boot, d.size))
    with np.errstate(divide="ignore", invalid="ignore"):
        boots = d[idx].mean(axis=1) / c[idx].mean(axis=1)
    boots = boots[np.isfinite(boots)]
    if boots.size == 0:
        return (math.nan, math.nan)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(boots, [alpha, 1.0 - alpha])
    return (float(lo), float(hi))


def _auc(x: np.ndarray, y: np.ndarray) -> float:
    """Trapezoidal area under y(x) divided by the x range: the curve's average height."""
    if x.size < 2 or x[-1] == x[0]:
        return float(y.mean()) if y.size else math.nan
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0) / (x[-1] - x[0]))


def sweep_auc_frame(summary: pd.DataFrame, *, clean: Sequence[str] = (CLEAN,),
                    order: Mapping[str, Sequence[str]] | None = None,
                    axes: Mapping[str, Axis] | None = None) -> pd.DataFrame:
    """Normalised area under the severity curve per (suite, dataset, degradation, method, metric).

    The curve is the mean score against severity: x is the degradation's physical parameter
    when ``axes`` gives it (noise σ/255, blur σ px, pooling factor), else the severity label when
    all labels are numeric, else 1..k in plan order. When the suite has a clean condition its
    score is the point x = clean (0, or 1 for a pooling factor) and ``auc_ratio`` is the same area
    divided by the clean score (1.0 = no loss anywhere on the sweep). Areas are divided by the x
    range, so ``auc`` is in the metric's units. Only degradations with at least two severities
    are swept; ``axis`` names the x quantity.
    """
    cols = ["suite", "dataset", "degradation", "method", "metric", "severities", "axis", "x_from",
            "x_to", "auc", "auc_ratio"]
    ref = summary[summary.degradation.isin(list(clean))]
    ref = ref.groupby(["suite", "dataset", "method", "metric"])["mean"].mean()
    rows = []
    deg = summary[~summary.degradation.isin(list(clean))]
    for key, grp in deg.groupby(["suite", "dataset", "degradation", "method", "metric"], sort=True):
        labels = grp["severity"].astype(str).tolist()
        if len(set(labels)) < 2:
            continue
        xs, x_clean, axis_label = sweep_x(axes, str(key[2]), labels, (order or {}).get(str(key[2])))
        pts = sorted((xs[s], m) for s, m in zip(labels, grp["mean"]))
        clean_mean = ref.get((key[0], key[1], key[3], key[4]), math.nan)
        if not math.isnan(clean_mean) and pts[0][0] > x_clean:
            pts = [(float(x_clean), float(clean_mean)), *pts]
        x = np.array([p[0] for p in pts])
        y = np.array([p[1] for p in pts])
        auc = _auc(x, y)
        auc_ratio = auc / clean_mean if not math.isnan(clean_mean) and clean_mean != 0 else math.nan
        rows.append((*key, ",".join(labels), axis_label, float(x[0]), float(x[-1]), auc,
                     auc_ratio))
    return pd.DataFrame(rows, columns=cols)


# --- paired comparison ------------------------------------------------------------------------


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1); NaNs pass through."""
    p = np.asarray(pvalues, dtype=float)
    valid = np.flatnonzero(~np.isnan(p))
    out = p.copy()
    m = valid.size
    order = valid[np.argsort(p[valid], kind="stable")]
    running = 0.0
    for i, idx in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[idx]))
        out[idx] = running
    return out.tolist()


def paired_compare(frame: pd.DataFrame, a: str, b: str, higher_is_better: Mapping[str, bool], *,
                   by: Sequence[str] = (), n_boot: int = 2000, seed: int = 0, level: float = 0.95,
                   alpha: float = 0.05) -> pd.DataFrame:
    """Method ``a`` vs ``b`` on the items both scored: per metric (and per ``by`` group).

    The paired difference is ``a - b`` per (dataset, pair, degradation, severity). Reported:
    n, the means, the mean difference with a paired bootstrap CI, the Wilcoxon signed-rank test
    (two-sided; zero differences dropped, p = 1 when all are zero) and its p-value Holm-corrected
    across the metrics of the group. ``better`` names the better method when the corrected
    p-value is below ``alpha``, else ``-``.
    """
    from scipy.stats import wilcoxon

    methods = set(frame.method.unique())
    for name in (a, b):
        if name not in methods:
            from benchbed.registry import suggestion

            close = suggestion(name, sorted(methods), "method")
            raise BenchbedError(f"method {name!r} has no scores in this selection",
                                fix=(close if close.startswith("did you mean") else
                                     "the methods scored here are " + ", ".join(sorted(methods)))
                                if methods else "run the suite first")
    if a == b:
        raise BenchbedError("compare needs two different methods", fix="name two methods")
    item = ["suite", "dataset", "pair_id", "degradation", "severity", "metric"]
    va = frame[frame.method == a].groupby(item)["value"].mean().rename("a")
    vb = frame[frame.method == b].groupby(item)["value"].mean().rename("b")
    paired = pd.concat([va, vb], axis=1, join="inner").reset_index()
    if paired.empty:
        raise BenchbedError(f"{a!r} and {b!r} share no scored items",
                            fix="compare methods of one suite run on the same conditions")
    group_cols = [*by, "metric"]
    rows = []
    for key, grp in paired.groupby(group_cols, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        d = (grp["a"] - grp["b"]).to_numpy(dtype=float)
        lo, hi = bootstrap_ci(d, seed=_group_seed(seed, ("paired", a, b, *key)), n_boot=n_boot,
                              level=level)
        nz = d[d != 0]
        if nz.size == 0:
            stat, p = 0.0, 1.0
        else:
            res = wilcoxon(d, zero_method="wilcox", alternative="two-sided")
            stat, p = float(res.statistic), float(res.pvalue)
        rows.append((*key, int(d.size), float(grp["a"].mean()), float(grp["b"].mean()),
                     float(d.mean()), lo, hi, stat, p))
    out = pd.DataFrame(rows, columns=[*group_cols, "n", "mean_a", "mean_b", "diff", "ci_low",
                                      "ci_high", "wilcoxon_w", "p"])
    if by:
        out["p_holm"] = out.groupby(list(by))["p"].transform(lambda s: holm(s.tolist()))
    else:
        out["p_holm"] = holm(out["p"].tolist())
    hib = out["metric"].map(lambda m: higher_is_better.get(str(m), True))
    a_better = np.where(hib, out["diff"] > 0, out["diff"] < 0)
    out["better"] = np.where(out["p_holm"] < alpha, np.where(a_better, a, b), "-")
    out.insert(0, "a", a)
    out.insert(1, "b", b)
    return out


# --- formatting ---------------------------------------------------------------------------------


def format_table(table: pd.DataFrame, fmt: str = "table", digits: int = 4) -> str:
    """Render as an aligned text table, CSV, JSON or markdown."""
    if fmt == "csv":
        return table.to_csv(index=False)
    if fmt == "json":
        return table.to_json(orient="records", indent=2, double_precision=15)
    shown = table.copy()
    for col in shown.columns:
        if pd.api.types.is_float_dtype(shown[col]):
            if col in ("p", "p_holm"):
                shown[col] = shown[col].map(lambda v: f"{v:.3g}")
            else:
                shown[col] = shown[col].map(lambda v: f"{v:.{digits}f}")
    if fmt == "markdown":
        return markdown_table(shown)
    return shown.to_string(index=False)


def markdown_table(table: pd.DataFrame) -> str:
    """A GitHub markdown table; ``|``, backslashes, ``<``, ``&`` and newlines in cells are escaped."""
    def cell(v: Any) -> str:
        s = str(v).replace("&", "&amp;").replace("<", "&lt;")  # no tags; `>` alone is inert
        return s.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    header = "| " + " | ".join(cell(c) for c in table.columns) + " |"
    sep = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in r) + " |" for r in table.itertuples(index=False)]
    return "\n".join([header, sep, *body])


# --- publishing -------------------------------------------------------------------------------


@dataclass
class PublishContext:
    """What a publisher gets besides the per-item frame: the suite, provenance and settings.

    Statistics are computed once, on first use, and shared by every publisher of one call.
    """

    suite: str
    frame: pd.DataFrame
    higher_is_better: Mapping[str, bool]
    provenance: Mapping[str, Any]
    plan: Mapping[str, Any] = field(default_factory=dict)
    items: pd.DataFrame | None = None
    cache_dir: Path | None = None
    n_boot: int = 2000
    seed: int = 0
    level: float = 0.95
    examples: bool = True
    note: str = ""
    """Free text shown on the pages (e.g. the --limit the results were produced with)."""
    detections: pd.DataFrame | None = None
    """Stored detection rows of the run (``detections_frame``) when the suite scores detection."""
    reference_free: Mapping[str, bool] = field(default_factory=dict)
    """``metric -> True`` for metrics of the fused image alone (``reference_free_map``)."""
    axes: Mapping[str, Axis] = field(default_factory=dict)
    """``degradation label -> Axis`` (``severity_axes``): physical x of severity plots."""

    @property
    def primary(self) -> list[str]:
        """The metrics the headline ranks use (``headline_metrics``)."""
        return headline_metrics(self.plan, self.metrics, self.reference_free)

    @property
    def reference_based(self) -> list[str]:
        """The suite's metrics that compare the fused image with the sources."""
        return [m for m in self.metrics if not self.reference_free.get(m, False)]

    @property
    def metrics(self) -> list[str]:
        order = [m["name"] for m in self.plan.get("metrics", [])]
        return ordered_metrics(self.frame.metric.unique(), order)

    @property
    def clean(self) -> list[str]:
        return clean_labels(self.plan)

    @cached_property
    def summary(self) -> pd.DataFrame:
        ranked = rank_frame(summary_frame(self.frame, n_boot=self.n_boot, seed=self.seed,
                                          level=self.level), self.higher_is_better)
        return mark_tied_best(ranked, self.frame, self.higher_is_better)

    @cached_property
    def critical_difference(self) -> CriticalDifference | None:
        return critical_difference(self.summary, self.higher_is_better, metrics=self.primary)

    @cached_property
    def mean_ranks(self) -> pd.DataFrame:
        return mean_rank_frame(self.summary, self.primary)

    @cached_property
    def overall(self) -> pd.DataFrame:
        out = overall_rank_frame(self.summary, self.primary)
        free = [m for m in self.metrics if self.reference_free.get(m, False)]
        for col, subset in (("rank_ref", self.reference_based), ("rank_free", free)):
            if subset and set(subset) != set(self.primary):
                part = overall_rank_frame(self.summary, subset)[["method", "mean_rank"]]
                out = out.merge(part.rename(columns={"mean_rank": col}), on="method", how="left")
        # seconds per item (the item's own compute time, cached reuse included) per method
        per_item = self.frame.drop_duplicates(["dataset", "pair_id", "degradation", "severity",
                                               "method"])[["method", "seconds"]]
        out["s_per_item"] = out["method"].map(per_item.groupby("method")["seconds"].mean())
        return out

    @cached_property
    def robustness(self) -> pd.DataFrame:
        return robustness_frame(self.frame, clean=self.clean, n_boot=self.n_boot, seed=self.seed,
                                level=self.level)

    @cached_property
    def sweep_auc(self) -> pd.DataFrame:
        return sweep_auc_frame(self.summary, clean=self.clean, order=severity_order(self.plan),
                               axes=self.axes)

    @cached_property
    def detection(self) -> pd.DataFrame:
        """Dataset-level P/R/mAP per condition and method (``detection_table``); empty if none."""
        from benchbed.detection import detection_table

        if self.detections is None or self.detections.empty:
            return pd.DataFrame()
        return detection_table(self.detections, config=(self.plan.get("detection") or {}).get("key"))

    def detection_conditions(self) -> list[tuple[str, str, str]]:
        """The detection table's (dataset, degradation, severity) in plan order (clean first)."""
        known = self.conditions()
        present = {(str(r.dataset), str(r.degradation), str(r.severity))
                   for r in self.detection.itertuples(index=False)}
        return [c for c in known if c in present] + sorted(present - set(known))

    def conditions(self) -> list[tuple[str, str, str]]:
        """(dataset, degradation, severity) in plan order (clean first)."""
        order = severity_order(self.plan)
        deg_pos = {d: i for i, d in enumerate(order)}
        conds = self.summary[["dataset", "degradation", "severity"]].drop_duplicates()

        def key(row: tuple[str, str, str]) -> tuple:
            d, g, s = row
            sev = order.get(g, [])
            return (d, g not in self.clean, deg_pos.get(g, len(deg_pos)), g,
                    sev.index(s) if s in sev else len(sev), s)

        return sorted((tuple(map(str, r)) for r in conds.itertuples(index=False)), key=key)


def build_context(sessions: sessionmaker[Session], suite: str, registry: Any, *,
                  cache_dir: Path | None = None, n_boot: int = 2000, seed: int = 0,
                  examples: bool = True, note: str = "",
                  filters: Mapping[str, Any] | None = None, board: Board | None = None
                  ) -> PublishContext:
    """Read a suite's board (default: its newest plan) from the store into a PublishContext."""
    board = _board(sessions, suite, board)
    frame = filter_frame(scores_frame(sessions, suite, board), filters)
    if frame.empty:
        raise BenchbedError(f"suite {suite!r} has no successful scored items"
                            + (" matching the filters" if filters else ""),
                            fix="check the failures the run printed")
    with sessions() as s:
        plan = dict(s.get(Run, board.run_id).plan)
    detections = None
    if plan.get("detection"):
        from benchbed.detection import detections_frame

        detections = detections_frame(sessions, suite, board)
        detections = filter_frame(detections, {k: v for k, v in (filters or {}).items()
                                               if k in detections.columns})
    return PublishContext(
        suite=suite, frame=frame,
        higher_is_better=higher_is_better_map(registry, frame.metric.unique()),
        reference_free=reference_free_map(registry, frame.metric.unique()),
        axes=severity_axes(plan, registry),
        provenance=provenance(sessions, suite, board), plan=plan,
        items=items_frame(sessions, suite, board), cache_dir=cache_dir, n_boot=n_boot,
        seed=seed, examples=examples, note=note, detections=detections,
    )


GENERATOR_MARK = 'name="generator" content="benchbed leaderboard publish"'
"""What every page benchbed writes carries (so publish never overwrites a page it did not write)."""
MANIFEST = ".benchbed-files.json"
"""Per published suite folder: the files the last publish wrote (the only ones it replaces)."""
_LEGACY = ("*.csv", "*.md", "index.html", "site.json", "provenance.json", "plots/*", "images/*")


def _not_ours(path: Path, why: str) -> BenchbedError:
    return BenchbedError(f"publish would overwrite {path}, which {why}",
                         fix="publish into another --out folder, or move that file away")


def _previous_files(folder: Path) -> list[Path]:
    """Files an earlier publish wrote into ``folder`` (its manifest, or the legacy layout)."""
    manifest = folder / MANIFEST
    if manifest.is_file():
        try:
            return [folder / rel for rel in json.loads(manifest.read_text())]
        except (OSError, ValueError):
            raise BenchbedError(f"the publish manifest {manifest} is unreadable",
                                fix="delete the folder's generated files and the manifest, then "
                                    "publish again") from None
    if not folder.is_dir() or not any(folder.iterdir()):
        return []
    if not (folder / "provenance.json").is_file() or not (folder / "site.json").is_file():
        raise _not_ours(folder, "holds files that benchbed did not publish")
    return [p for pattern in _LEGACY for p in folder.glob(pattern) if p.is_file()]


def check_out_dir(out_dir: Path, suite: str) -> list[Path]:
    """Refuse an --out that is a file or holds pages benchbed did not write; the files of the
    suite's earlier publish (to replace)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise BenchbedError(f"--out {out_dir} is a file, not a folder",
                            fix="pass a folder (it is created when missing)")
    index = out_dir / "index.html"
    if index.is_file() and GENERATOR_MARK not in index.read_text(errors="replace")[:4096]:
        raise _not_ours(index, "benchbed did not write")
    folder = out_dir / slug(suite)
    if folder.exists() and not folder.is_dir():
        raise _not_ours(folder, "is a file")
    return _previous_files(folder)


def publish(context: PublishContext, out_dir: Path, publishers: Sequence[Any]) -> list[Path]:
    """Run each publisher spec's ``publish(frame, out_dir, context)``; the paths they wrote.

    Only files benchbed wrote are replaced: the suite folder's earlier files (its manifest) are
    removed first, the new ones recorded; anything else in ``out_dir`` is left alone, and a page
    benchbed did not write is never overwritten.
    """
    out_dir = Path(out_dir)
    previous = check_out_dir(out_dir, context.suite)
    for path in previous:
        path.unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for spec in publishers:
        written += list(spec.build().publish(context.frame, out_dir, context))
    folder = (out_dir / slug(context.suite)).resolve()
    mine = sorted({str(p.resolve().relative_to(folder)) for p in written
                   if p.resolve().is_relative_to(folder)})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).write_text(json.dumps(mine, indent=1) + "\n")
    return written
