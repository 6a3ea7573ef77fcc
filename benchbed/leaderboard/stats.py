"""Statistics on the long per-item frame: bootstrap CIs, ranks, tied winners, critical
differences, robustness ratios, sweep areas and paired tests (pure functions of frames)."""

from __future__ import annotations

import hashlib
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from benchbed.errors import BenchbedError, did_you_mean
from benchbed.leaderboard.query import CLEAN, COND, GROUP


def require_rows(df: pd.DataFrame, what: str = "scores") -> None:
    if df.empty:
        raise BenchbedError(f"no {what} match the filters",
                            fix="check the filter values against `benchbed leaderboard show`")


def _group_seed(seed: int, key: Sequence[Any]) -> int:
    """A seed per group from the base seed and the group's identity, independent of order."""
    text = "\x1f".join(map(str, (seed, *key)))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


MIN_CI_N = 5  # below this many pairs no interval is reported: a bootstrap of 2-4 values is not one


@lru_cache(maxsize=64)
def _jackknife_index(n: int) -> np.ndarray:
    """Row i: the indices 0..n-1 without i (the leave-one-out resamples, in scipy's order)."""
    keep = ~np.eye(n, dtype=bool)
    return np.broadcast_to(np.arange(n), (n, n))[keep].reshape(n, n - 1)


def _quantile_linear(sorted_b: np.ndarray, p: np.ndarray) -> np.ndarray:
    """scipy.stats.quantile(method='linear') of sorted 1-d data at probabilities ``p``, same ops."""
    n = sorted_b.shape[-1]
    jg = p * n + (1 - p)
    j = jg // 1 - 1
    g = np.where(j < 0, 0.0, jg % 1)
    j, jp1 = np.clip(j, 0.0, n - 1), np.clip(jg // 1, 0.0, n - 1)
    return (1 - g) * sorted_b[j.astype(np.int64)] + g * sorted_b[jp1.astype(np.int64)]


def _bca_mean_ci(x: np.ndarray, seed: int, n_boot: int, level: float) -> tuple[float, float]:
    """scipy.stats.bootstrap(method='BCa', then 'percentile' where BCa is undefined) of the mean.

    The same draws and the same floating-point operations as scipy 1.17's implementation, so the
    interval is bit for bit scipy's (tests/test_leaderboard.py checks it against scipy on
    120 samples), at a third of the time: scipy's per-call overhead dominated the
    stats view on large stores (4,000 groups).
    """
    from scipy.special import ndtr, ndtri

    rng = np.random.default_rng(seed)
    theta_b = np.mean(x[rng.integers(0, x.size, (n_boot, x.size), dtype="int64")], axis=-1)
    sorted_b = np.sort(theta_b)
    alpha = (1 - level) / 2
    theta = np.mean(x, axis=-1)
    pct = (np.count_nonzero(theta_b < theta) + np.count_nonzero(theta_b <= theta)) / (2 * n_boot)
    with np.errstate(all="ignore"):  # degenerate BCa: nan here, the percentile interval below
        z0 = ndtri(np.float64(pct))
        theta_i = np.mean(x[_jackknife_index(x.size)], axis=-1)
        n = float(x.size)
        u = (n - 1) * (np.mean(theta_i, axis=-1, keepdims=True) - theta_i)
        num, den = 0 + np.sum(u ** 3, axis=-1) / n ** 3, 0 + np.sum(u ** 2, axis=-1) / n ** 2
        a_hat = 1 / 6 * num / den ** (3 / 2)
        z_alpha = float(ndtri(alpha))
        num1, num2 = z0 + z_alpha, z0 - z_alpha
        probs = np.array([ndtr(z0 + num1 / (1 - a_hat * num1)), ndtr(z0 + num2 / (1 - a_hat * num2))])
    if np.all(np.isfinite(probs)):
        lo, hi = _quantile_linear(sorted_b, probs)
        if math.isfinite(lo) and math.isfinite(hi):
            return (float(lo), float(hi))
    lo, hi = _quantile_linear(sorted_b, np.array([alpha, 1 - alpha]))
    return (float(lo), float(hi))


def bootstrap_ci(values: Sequence[float] | np.ndarray, *, seed: int = 0, n_boot: int = 2000,
                 level: float = 0.95, stat: str = "mean",
                 denominator: Sequence[float] | np.ndarray | None = None) -> tuple[float, float]:
    """BCa bootstrap CI of the mean (or median) of ``values`` (scipy.stats.bootstrap, seeded); with
    ``denominator``, of the ratio mean(values) / mean(denominator), pairs resampled jointly.

    The one bootstrap of the package (summaries, robustness ratios, paired differences).
    Fewer than ``MIN_CI_N`` values give (nan, nan): publishers print "n < 5" instead of an
    interval that would only restate the values. A constant statistic gives (value, value).
    """
    from scipy.stats import bootstrap

    x = np.asarray(values, dtype=float)
    if x.size < MIN_CI_N:
        return (math.nan, math.nan)
    fn = np.median if stat == "median" else np.mean
    samples: tuple[np.ndarray, ...] = (x,)
    statistic: Any = fn
    if denominator is not None:
        c = np.asarray(denominator, dtype=float)
        samples = (x, c)

        def statistic(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
            with np.errstate(divide="ignore", invalid="ignore"):
                return fn(a, axis=axis) / fn(b, axis=axis)

        if float(np.ptp(c)) == 0.0 and float(np.ptp(x)) == 0.0:
            r = float(statistic(x, c))
            return (r, r) if math.isfinite(r) else (math.nan, math.nan)
    elif float(np.ptp(x)) == 0.0:
        return (float(x[0]), float(x[0]))
    elif stat == "mean":
        return _bca_mean_ci(x, seed, n_boot, level)
    lo = hi = math.nan
    for method in ("BCa", "percentile"):  # percentile only where BCa is undefined (one outlier)
        with warnings.catch_warnings():  # a degenerate BCa is handled here, not printed per group
            warnings.simplefilter("ignore")
            ci = bootstrap(samples, statistic, n_resamples=n_boot, confidence_level=level,
                           method=method, random_state=np.random.default_rng(seed),
                           vectorized=True, paired=len(samples) > 1, axis=-1).confidence_interval
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
    require_rows(frame)
    groups = [(key, np.sort(grp["value"].to_numpy(dtype=float)))  # row order must not matter
              for key, grp in frame.groupby(GROUP, sort=True)]

    def ci(group: tuple[Any, np.ndarray]) -> tuple[float, float]:
        return bootstrap_ci(group[1], seed=_group_seed(seed, group[0]), n_boot=n_boot, level=level)

    # The draws and the arithmetic release the GIL, and each group has its own seeded generator:
    # threads give the same numbers as one loop (tests/test_leaderboard.py) in less wall time.
    threads = min(8, os.cpu_count() or 1) if len(groups) >= 64 else 1
    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            cis = list(pool.map(ci, groups))
    else:
        cis = [ci(g) for g in groups]
    rows = [(*key, float(vals.mean()), float(vals.std(ddof=1)) if vals.size > 1 else math.nan,
             int(vals.size), lo, hi) for (key, vals), (lo, hi) in zip(groups, cis)]
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


def severity_positions(labels: Sequence[str], order: Sequence[str] | None = None) -> dict[str, float]:
    """x position per severity label: its number when every label is numeric, else 1..k in order."""
    labels = list(dict.fromkeys(order or [])) + sorted(set(labels) - set(order or []))
    try:
        return {lab: float(lab) for lab in labels}
    except ValueError:
        return {lab: float(i + 1) for i, lab in enumerate(labels)}


@dataclass(frozen=True)
class Axis:
    """Where a degradation's severities sit on its plot and sweep area."""

    label: str
    """Axis title with the unit, e.g. ``noise σ (/255)``."""
    positions: Mapping[str, float]
    clean: float = 0.0
    """x of the clean condition."""


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
        lo, hi = bootstrap_ci(d, denominator=c, seed=_group_seed(seed, ("robustness", *key)),
                              n_boot=n_boot, level=level)
        rows.append((*key, grp["clean"].iloc[0], float(c.mean()), float(d.mean()), float(ratio),
                     lo, hi, int(d.size)))
    return pd.DataFrame(rows, columns=cols)


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
            raise BenchbedError(f"method {name!r} has no scores in this selection",
                                fix=(did_you_mean(name, sorted(methods))
                                     or "the methods scored here are " + ", ".join(sorted(methods)))
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
