"""The tables users read: metric directions and headline metrics, filters, the ranked, stats and
detection views, the plan's severity order and axes, and text/markdown formatting."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from benchbed.detection import ImageRecord, evaluate
from benchbed.errors import BenchbedError
from benchbed.leaderboard.query import (
    CLEAN,
    COND,
    KEYS,
    SCORE_COLUMNS,
    Board,
    BoardScores,
    board_scores,
    detections_frame,
    plan_of,
    resolve_board,
    scores_frame,
)
from benchbed.leaderboard.stats import (
    Axis,
    mean_rank_frame,
    paired_compare,
    rank_frame,
    require_rows,
    robustness_frame,
    summary_frame,
    sweep_auc_frame,
)
from benchbed.leaderboard.summary import BoardSummary, summary_source
from benchbed.plan import Plan


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
    for col, values in _text_filters(filters or {}).items():
        if col not in df.columns:
            raise BenchbedError(f"cannot filter on {col!r}: no such column",
                                fix=f"use one of {', '.join(map(str, df.columns))}")
        df = df[df[col].astype(str).isin(values)]
    return df


def reference_free_map(registry: Any, metrics: Iterable[str]) -> dict[str, bool]:
    """``metric -> True`` for metrics of the fused image alone (EN, SD, SF, AG: the spec's
    ``needs_sources=False``). They can rise with noise, so they never decide a headline rank
    unless a suite declares them ``primary``."""
    return _metric_attribute(registry, metrics, lambda spec: not spec.needs_sources, False)


def headline_metrics(plan: Plan | None, metrics: Iterable[str],
                     reference_free: Mapping[str, bool]) -> list[str]:
    """The metrics the headline ranks use: the suite's ``primary:`` list (the paper's table),
    else its reference-based metrics, else (a suite of reference-free metrics only) all."""
    present = list(dict.fromkeys(metrics))
    declared = list(plan.primary) if plan else []
    if declared:
        return [m for m in present if m in declared or m.split("[", 1)[0] in declared]
    based = [m for m in present if not reference_free.get(m, False)]
    return based or present


def ranked_table(frame: pd.DataFrame | BoardScores | BoardSummary, higher_is_better: Mapping[str, bool],
                 metric: str | None = None, degradation: str | None = None,
                 metric_order: list[str] | None = None,
                 filters: Mapping[str, Any] | None = None,
                 primary: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean per (dataset, degradation, severity, method) and metric, ranked within each condition.

    Ranks are per metric (1 = best, ties share the best rank) and averaged into ``mean_rank``
    over the ``primary`` metrics (default all shown); ``rank`` is the place by mean rank. ``n``
    is the number of pairs. ``frame`` is the long frame or, the same numbers without building
    it, the board's :class:`BoardScores` or its stored :class:`BoardSummary`.
    """
    wanted = {"metric": metric, "degradation": degradation, **(filters or {})}
    if isinstance(frame, BoardSummary):
        summary = frame.where(_text_filters(wanted))
        if summary is None:
            raise BenchbedError("the board summary cannot apply these filters",
                                fix="pass the board's scores (board_scores) instead")
        if not len(summary):
            require_rows(pd.DataFrame())
        means, counts = summary.group_means()
    elif isinstance(frame, BoardScores):
        scores = frame.where(_text_filters(wanted))
        if not len(scores):
            require_rows(pd.DataFrame())
        means, counts = scores.group_means()
    else:
        df = filter_frame(frame, wanted)
        require_rows(df)
        if "suite" not in df.columns:
            df = df.assign(suite="")
        means = df.groupby([*COND, "method", "metric"])["value"].mean().rename("mean").reset_index()
        counts = df.groupby(KEYS)["pair_id"].nunique().rename("n")
    ranked = rank_frame(means, higher_is_better)  # the one ranking rule of the package
    table = ranked.pivot_table(index=KEYS, columns="metric", values="mean", aggfunc="first")
    ranks = ranked.pivot_table(index=KEYS, columns="metric", values="rank", aggfunc="first")
    metrics = ordered_metrics(table.columns, metric_order)
    table = table[metrics]
    cond = ["dataset", "degradation", "severity"]
    decide = [m for m in metrics if primary is None or m in primary] or metrics
    table["mean_rank"] = ranks[decide].mean(axis=1)
    table = table.join(counts)
    table = table.reset_index().sort_values([*cond, "mean_rank", "method"])
    table.insert(3, "rank", table.groupby(cond)["mean_rank"].rank(method="min").astype(int))
    table.columns.name = None
    return table.reset_index(drop=True)


def _text_filters(filters: Mapping[str, Any]) -> dict[str, list[str]]:
    """``filter_frame``'s filters as lists of texts (None dropped)."""
    out = {}
    for col, want in filters.items():
        if want is None:
            continue
        values = [want] if isinstance(want, str) or not isinstance(want, Sequence) else want
        out[col] = [str(v) for v in values]
    return out


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


def clean_labels(plan: Plan | None) -> list[str]:
    """Degradation labels of the plan that use the ``clean`` plugin (default: ``["clean"]``)."""
    if not plan:
        return [CLEAN]
    labels = [d.label for d in plan.degradations if d.name == CLEAN]
    return labels or [CLEAN]


def severity_order(plan: Plan | None) -> dict[str, list[str]]:
    """``degradation label -> severity labels`` in the plan's order."""
    out: dict[str, list[str]] = {}
    for d in plan.degradations if plan else ():
        out[d.label] = [s.label for s in d.severities]
    return out


def severity_axes(plan: Plan | None, registry: Any = None) -> dict[str, Axis]:
    """``degradation label -> Axis`` for the degradations whose plugin declares a physical
    parameter (``DegradationSpec.axis``) that every severity of the plan has, with distinct
    values; the others are left to :func:`sweep_x`'s level positions."""
    out: dict[str, Axis] = {}
    for d in plan.degradations if plan else ():
        spec_axis = None
        if registry is not None and d.name in registry.names("degradation"):
            spec_axis = getattr(registry.get("degradation", d.name), "axis", None)
        if spec_axis is None:
            continue
        values = [spec_axis.value({**d.params, **s.params}) for s in d.severities]
        if values and all(v is not None for v in values) and len(set(values)) == len(values):
            out[d.label] = Axis(spec_axis.label, {s.label: float(v)
                                                  for s, v in zip(d.severities, values)},
                                float(spec_axis.clean))
    return out


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


STORE_KEYS = ["dataset", "degradation", "severity", "method", "detector", "protocol"]


def detection_table(frame: Any, conf: float | None = None, per_class: bool = False,
                    config: str | None = None) -> Any:
    """P/R at the declared confidence, mAP50 and mAP50-95 per (dataset, degradation, severity,
    method, detector, protocol), pooled over the pairs (not averaged per image), ranked by mAP50
    within each condition.

    ``conf`` overrides the confidence the suite declared for P/R (AP always uses every stored
    box). ``config`` keeps only items whose detections were made under that config key.
    """

    if frame.empty:
        raise BenchbedError("no detections match the filters",
                            fix="run a suite with `detection:` (e.g. suites/detection-msrs.yaml)")
    out = []
    for key, g in frame.groupby(STORE_KEYS, sort=True):
        summaries = {r.pair_id: r.payload for r in g[g.class_name == "*"].itertuples()}
        if config is not None:
            summaries = {k: v for k, v in summaries.items() if v.get("config") == config}
        if not summaries:
            continue
        first = summaries[min(summaries)]
        classes = list(first["classes"])
        level = float(conf if conf is not None else first.get("conf", 0.25))
        records = []
        for pair_id, sub in sorted(g[g.class_name != "*"].groupby("pair_id")):
            if pair_id in summaries:
                records.append(ImageRecord.from_rows(
                    {r.class_name: r.payload for r in sub.itertuples()}, classes))
        res = evaluate(records, classes, conf=level)
        for r in res.rows(per_class=per_class):
            out.append({**dict(zip(STORE_KEYS, key)), "class": r["name"], "conf": level,
                        "n": r["n_images"], "n_gt": r["n_gt"], "P": r["P"], "R": r["R"],
                        "mAP50": r["mAP50"], "mAP50-95": r["mAP50_95"]})
    table = pd.DataFrame(out)
    if table.empty:
        raise BenchbedError("no detections of the suite's current detection config in the store",
                            fix="re-run the suite (missing detections are computed on resume)")
    cond = ["dataset", "degradation", "severity", "detector", "protocol", "class"]
    rank = table.groupby(cond)["mAP50"].rank(ascending=False, method="min")
    table.insert(4, "rank", rank.fillna(0).astype(int))
    table = table.sort_values(["dataset", "degradation", "severity", "class", "rank", "method"])
    table = table.reset_index(drop=True)
    return table if per_class else table.drop(columns=["class"])


# --- the views of `benchbed leaderboard show` --------------------------------------------------


@dataclass(frozen=True)
class View:
    """A table to show and the one-line title that says how it was computed."""

    title: str
    table: pd.DataFrame
    suite: str


def _split_filters(filters: Mapping[str, Any], frame_cols: Iterable[str],
                   out_cols: Iterable[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Filters on result columns select result rows; the rest (e.g. pair_id) select input rows."""
    frame_cols, out_cols = set(frame_cols), set(out_cols)
    pre = {k: v for k, v in filters.items() if v is not None and k not in out_cols and k in frame_cols}
    post = {k: v for k, v in filters.items() if v is not None and k not in pre}
    return pre, post


def score_view(sessions: sessionmaker[Session], registry: Any, suite: str, *,
               board: Board | None = None, view: str = "ranked", metric: str | None = None,
               degradation: str | None = None, filters: Mapping[str, Any] | None = None,
               n_boot: int = 2000, seed: int = 0) -> View:
    """One of the score views of a suite's board: ranked, stats, robustness or auc."""
    board = resolve_board(sessions, suite, board)
    wanted: dict[str, Any] = {"degradation": degradation, **(filters or {})}
    ranked_cols = ["dataset", "degradation", "severity", "method", "rank", "mean_rank", "n"]
    ranked_pre = _split_filters({**wanted, "metric": metric}, ["suite", *SCORE_COLUMNS],
                                ranked_cols)[0]
    # the ranked view of a board whose run stored its summary reads that, not every score
    scores: BoardScores | BoardSummary | None = (
        summary_source(sessions, board, _text_filters(ranked_pre)) if view == "ranked" else None)
    if scores is None:
        scores = board_scores(sessions, suite, board)
    if not len(scores):
        raise BenchbedError(f"suite {suite!r} has no successful items yet",
                            fix="check the failures the run printed")
    present = scores.present_metrics()
    hib = higher_is_better_map(registry, present)
    plan = plan_of(sessions, suite, board)
    order = [m.name for m in plan.metrics]
    primary = headline_metrics(plan, present, reference_free_map(registry, present))
    if view == "ranked":
        # from the arrays (or the stored summary): no million-row frame
        pre, post = _split_filters({**wanted, "metric": metric}, ["suite", *SCORE_COLUMNS],
                                   ranked_cols)
        table = filter_frame(ranked_table(scores, hib, metric_order=order, filters=pre,
                                          primary=None if metric else primary), post)
        title = (f"mean over pairs; rank by mean rank across {metric or ', '.join(primary)}; "
                 + ", ".join(f"{m} {'↑' if h else '↓'}" for m, h in sorted(hib.items())))
    elif view == "stats":
        wanted["metric"] = metric
        out_cols = ["suite", "dataset", "degradation", "severity", "method", "metric", "mean",
                    "std", "n", "ci_low", "ci_high", "rank", "mean_rank", "place"]
        pre, post = _split_filters(wanted, ["suite", *SCORE_COLUMNS], out_cols)
        table = filter_frame(stats_table(filter_frame(scores.frame(), pre), hib, n_boot=n_boot,
                                         seed=seed, metric_order=order, primary=primary), post)
        title = (f"mean, std, n and 95% bootstrap CI ({n_boot} resamples, seed {seed}); rank "
                 "per metric within a condition; mean_rank across metrics; place by mean_rank")
    elif view == "robustness":
        wanted["metric"] = metric
        rob_cols = ["suite", "dataset", "degradation", "severity", "method", "metric"]
        pre, post = _split_filters(wanted, ["suite", *SCORE_COLUMNS], rob_cols)
        table = filter_frame(robustness_frame(filter_frame(scores.frame(), pre),
                                              clean=clean_labels(plan),
                                              n_boot=n_boot, seed=seed), post)
        if table.empty:
            raise BenchbedError(f"suite {suite!r} has no robustness ratios to show",
                                fix="add `{name: clean, severities: [\"0\"]}` to its "
                                    "degradations and run it again")
        title = "score under degradation / score on clean input (same pairs and method), 95% CI"
    elif view == "auc":
        wanted["metric"] = metric
        pre, post = _split_filters(wanted, ["suite", *SCORE_COLUMNS],
                                   ["suite", "dataset", "degradation", "method", "metric"])
        summary = summary_frame(filter_frame(scores.frame(), pre), n_boot=n_boot, seed=seed)
        table = filter_frame(sweep_auc_frame(summary, clean=clean_labels(plan),
                                             order=severity_order(plan),
                                             axes=severity_axes(plan, registry)), post)
        if table.empty:
            raise BenchbedError(f"suite {suite!r} has no severity sweep",
                                fix="list two or more severities of a degradation in the suite")
        title = ("normalised area under the mean-score-vs-severity curve over each "
                 "degradation's physical parameter (column axis; clean at its clean value)")
    else:
        raise BenchbedError(f"unknown view {view!r}",
                            fix="use ranked, stats, robustness, auc or detection")
    if table.empty:
        raise BenchbedError("no rows match the filters",
                            fix="check the filter values against `benchbed leaderboard show`")
    return View(title, table, suite)


def detection_view(sessions: sessionmaker[Session], suite: str, *, board: Board | None = None,
                   degradation: str | None = None, filters: Mapping[str, Any] | None = None,
                   per_class: bool = False, conf: float | None = None,
                   required: bool = True) -> View | None:
    """The detection table of a suite's board (P, R at the declared conf, mAP50, mAP50-95 over
    all pairs); None when the suite has no detection (or none stored yet) and not ``required``."""
    board = resolve_board(sessions, suite, board)
    cfg = plan_of(sessions, suite, board).detection
    if cfg is None:
        if required:
            raise BenchbedError(f"suite {suite!r} has no `detection:` section",
                                fix="add one (see suites/detection-msrs.yaml) and run it again")
        return None
    frame = detections_frame(sessions, suite, board)
    wanted = {"degradation": degradation, **(filters or {})}
    pre = {k: v for k, v in wanted.items() if k in frame.columns}
    frame = filter_frame(frame, pre)
    if frame.empty:
        if required:
            raise BenchbedError(f"suite {suite!r} has no detections matching the filters",
                                fix="run the suite, or check the filter values")
        return View(f"no detections stored for {suite} yet", pd.DataFrame(), suite)
    level = conf if conf is not None else cfg.conf  # the plan's declared confidence
    table = detection_table(frame, conf=level, per_class=per_class, config=cfg.key)
    table = filter_frame(table, {k: v for k, v in wanted.items()  # e.g. class=person, rank=1
                                 if k not in pre and (required or k in table.columns)})
    note = ("; clean-reference = agreement with the detector's boxes on the clean reference: "
            "robustness, not accuracy" if cfg.protocol == "clean-reference" else "")
    protocol = table["protocol"].iloc[0] if not table.empty else cfg.protocol_label
    title = (f"{cfg.label}, protocol {protocol}; P/R at conf {level:g} and IoU 0.5; mAP50, "
             f"mAP50-95 over all pairs; rank by mAP50{note}")
    return View(title, table, suite)


def compare_view(sessions: sessionmaker[Session], registry: Any, suite: str, a: str, b: str, *,
                 board: Board | None = None, metric: str | None = None,
                 degradation: str | None = None, filters: Mapping[str, Any] | None = None,
                 by: Sequence[str] = (), n_boot: int = 2000, seed: int = 0,
                 alpha: float = 0.05) -> View:
    """Method A vs method B on the items both scored (``paired_compare``)."""
    frame = scores_frame(sessions, suite, resolve_board(sessions, suite, board))
    frame = filter_frame(frame, {"metric": metric, "degradation": degradation, **(filters or {})})
    if frame.empty:
        raise BenchbedError("no scores match the filters",
                            fix="check the filter values against `benchbed leaderboard show`")
    hib = higher_is_better_map(registry, frame.metric.unique())
    table = paired_compare(frame, a, b, hib, by=by, n_boot=n_boot, seed=seed, alpha=alpha)
    pooled = "" if by else ("; items of all conditions pooled (a pair seen in several conditions "
                            "counts once per condition)")
    title = (f"diff = {a} - {b}, 95% paired bootstrap CI, {n_boot} resamples, seed {seed}; "
             f"Wilcoxon signed-rank, Holm across metrics; better at alpha {alpha}{pooled}")
    return View(title, table, suite)
