"""Matplotlib figures for the site: metric bars, severity curves, rank heatmap (Agg, no pyplot)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from benchbed.leaderboard import LEVEL_AXIS

BEST = "#2e7d32"
OTHER = "#7a8ca3"


def _text(s: object) -> str:
    """Plain text for matplotlib: no mathtext (a ``$`` in a name stays a dollar sign)."""
    return str(s).replace("$", r"\$")


def _save(fig: Figure, path: Path, dpi: int) -> Path:
    """PNG or SVG by suffix; SVG keeps text as text (small, selectable) and no timestamp."""
    import matplotlib

    path.parent.mkdir(parents=True, exist_ok=True)
    svg = path.suffix == ".svg"
    meta = {"Date": None, "Creator": None} if svg else {"Software": None}
    with warnings.catch_warnings(), matplotlib.rc_context({"svg.fonttype": "none",
                                                          "svg.hashsalt": "benchbed"}):
        warnings.filterwarnings("ignore", message="constrained_layout not applied")
        fig.savefig(path, dpi=dpi, metadata=meta)
    return path


def metric_dots(summary: pd.DataFrame, metrics: Sequence[str], methods: Sequence[str],
                hib: Mapping[str, bool], title: str, path: Path, dpi: int = 90) -> Path:
    """One panel per metric: a dot (mean over pairs) and whisker (its CI) per method; tied
    winners in green. Dots need no zero baseline, so the axis spans the data honestly."""
    n = len(metrics)
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    height = max(1.9, 0.32 * len(methods) + 1.1)
    fig = Figure(figsize=(3.6 * cols + 1.2, height * rows), layout="constrained")
    y = np.arange(len(methods))
    for i, metric in enumerate(metrics):
        ax = fig.add_subplot(rows, cols, i + 1)
        sel = summary[summary.metric == metric].set_index("method")
        means = np.array([sel["mean"].get(m, np.nan) for m in methods], dtype=float)
        lo = np.array([sel["ci_low"].get(m, np.nan) for m in methods], dtype=float)
        hi = np.array([sel["ci_high"].get(m, np.nan) for m in methods], dtype=float)
        tied = sel["tied_best"] if "tied_best" in sel else sel["rank"] == 1
        colours = [BEST if bool(tied.get(m, False)) else OTHER for m in methods]
        ok = np.isfinite(lo) & np.isfinite(hi)
        if ok.any():  # one collection for all whiskers: a line artist each is slow at scale
            ax.hlines(y[ok], lo[ok], hi[ok], colors=[c for c, k in zip(colours, ok) if k], lw=1.6)
        ax.scatter(means, y, color=colours, s=22, zorder=3)
        ax.set_yticks(y, [_text(m) for m in methods] if i % cols == 0 else [""] * len(methods),
                      fontsize=10)
        ax.set_ylim(len(methods) - 0.5, -0.5)
        ax.set_title(f"{_text(metric)} {'↑' if hib.get(metric, True) else '↓'}", fontsize=11)
        ax.tick_params(axis="x", labelsize=10)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(_text(title) + " (mean and 95% CI; green: tied winners)", fontsize=11)
    return _save(fig, path, dpi)


def severity_curves(summary: pd.DataFrame, metrics: Sequence[str], methods: Sequence[str],
                    xs: Mapping[str, float], clean: pd.DataFrame | None, hib: Mapping[str, bool],
                    title: str, path: Path, dpi: int = 90, xlabel: str = LEVEL_AXIS,
                    x_clean: float = 0.0) -> Path:
    """One panel per metric: mean score vs severity per method with its CI band.

    ``summary`` holds one degradation's rows for one dataset at x = ``xs[severity]`` (the
    degradation's physical parameter, titled ``xlabel``); ``clean`` (optional) holds the clean
    condition's rows, drawn at ``x_clean``.
    """
    n = len(metrics)
    cols = min(n, 5)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(3.4 * cols, 2.7 * rows + 0.6), layout="constrained")
    cmap = _colours(len(methods))
    labels = sorted(xs, key=lambda s: xs[s])
    with_clean = clean is not None and not clean.empty and xs[labels[0]] > x_clean
    for i, metric in enumerate(metrics):
        ax = fig.add_subplot(rows, cols, i + 1)
        for j, method in enumerate(methods):
            pts = []
            if with_clean:
                c = clean[(clean.metric == metric) & (clean.method == method)]
                if not c.empty:
                    pts.append((x_clean, *c[["mean", "ci_low", "ci_high"]].iloc[0].tolist()))
            sel = summary[(summary.metric == metric) & (summary.method == method)]
            for r in sel.itertuples(index=False):
                pts.append((xs[str(r.severity)], r.mean, r.ci_low, r.ci_high))
            if not pts:
                continue
            pts.sort()
            x, m, lo, hi = (np.array(v, dtype=float) for v in zip(*pts))
            ax.plot(x, m, marker="o", ms=3, lw=1.4, color=cmap[j], label=_text(method))
            ax.fill_between(x, lo, hi, color=cmap[j], alpha=0.15, lw=0)
        ticks = ([x_clean] if with_clean else []) + [xs[s] for s in labels]
        physical = xlabel != LEVEL_AXIS
        names = (["clean"] if with_clean else []) + [f"{xs[s]:g}" if physical else s
                                                     for s in labels]
        ax.set_xticks(ticks, [_text(t) for t in names], fontsize=10)
        ax.set_title(f"{_text(metric)} {'↑' if hib.get(metric, True) else '↓'}", fontsize=11)
        ax.set_xlabel(_text(xlabel), fontsize=10)
        ax.tick_params(axis="y", labelsize=10)
        ax.grid(alpha=0.3)
    handles, names = fig.axes[0].get_legend_handles_labels() if fig.axes else ([], [])
    if handles:
        fig.legend(handles, names, loc="outside lower center", ncols=min(len(names), 5), fontsize=10)
    fig.suptitle(_text(title), fontsize=10)
    return _save(fig, path, dpi)


def rank_heatmap(mean_ranks: pd.DataFrame, methods: Sequence[str],
                 conditions: Sequence[tuple[str, str, str]], title: str, path: Path,
                 dpi: int = 90) -> Path:
    """Methods x conditions, colour = mean rank across metrics (darker = better), annotated."""
    grid = np.full((len(methods), len(conditions)), np.nan)
    idx = {m: i for i, m in enumerate(methods)}
    cidx = {c: j for j, c in enumerate(conditions)}
    for r in mean_ranks.itertuples(index=False):
        key = (str(r.dataset), str(r.degradation), str(r.severity))
        if r.method in idx and key in cidx:
            grid[idx[r.method], cidx[key]] = r.mean_rank
    fig = Figure(figsize=(max(4.0, 0.75 * len(conditions) + 2.8),
                          max(2.0, 0.36 * len(methods) + 1.6)), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(np.ma.masked_invalid(grid), cmap="viridis", aspect="auto")
    ax.set_yticks(range(len(methods)), [_text(m) for m in methods], fontsize=10)
    multi_ds = len({c[0] for c in conditions}) > 1
    ax.set_xticks(range(len(conditions)),
                  [_text(f"{d}\n{g}@{s}" if multi_ds else f"{g}@{s}") for d, g, s in conditions],
                  fontsize=10, rotation=45, ha="right")
    finite = grid[np.isfinite(grid)]
    mid = (finite.min() + finite.max()) / 2 if finite.size else 0
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            if np.isfinite(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.1f}", ha="center", va="center", fontsize=10,
                        color="white" if grid[i, j] < mid else "black")
    fig.colorbar(im, ax=ax, label="mean rank (1 = best)", shrink=0.8)
    ax.set_title(_text(title), fontsize=10)
    return _save(fig, path, dpi)


def cd_diagram(cd: object, title: str, path: Path, dpi: int = 90) -> Path:
    """Critical-difference diagram (Demšar 2006): methods on their average-rank axis, a bar of
    length CD, and thick lines joining groups that do not differ significantly (Nemenyi)."""
    ranks = cd.average_ranks  # type: ignore[attr-defined]
    order = sorted(ranks, key=ranks.__getitem__)
    k = len(order)
    fig = Figure(figsize=(7.5, 1.4 + 0.22 * k), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    ax.set_xlim(0.5, k + 0.5)
    ax.set_ylim(-(k // 2 + 2.5), 2.0)
    ax.axhline(0, color="black", lw=1)
    for r in range(1, k + 1):
        ax.plot([r, r], [0, 0.15], color="black", lw=1)
        ax.text(r, 0.3, str(r), ha="center", va="bottom", fontsize=10)
    half = (k + 1) // 2
    for i, m in enumerate(order):
        x = ranks[m]
        left = i < half
        y = -(i if left else k - 1 - i) * 0.55 - 0.8
        tx = 0.6 if left else k + 0.4
        ax.plot([x, x, tx], [0, y, y], color="0.3", lw=0.8)
        ax.text(tx, y, f"{_text(m)} ({x:.2f})", ha="left" if left else "right", va="center",
                fontsize=10, bbox={"fc": "white", "ec": "none", "pad": 0.5})
    for j, clique in enumerate(cd.cliques()):  # type: ignore[attr-defined]
        lo, hi = ranks[clique[0]], ranks[clique[-1]]
        y = -0.25 - 0.12 * j
        ax.plot([lo - 0.03, hi + 0.03], [y, y], color="tab:red", lw=2.5, solid_capstyle="round")
    width = cd.cd  # type: ignore[attr-defined]
    ax.plot([1, 1 + width], [1.3, 1.3], color="black", lw=1.5)
    ax.text(1 + width / 2, 1.45, f"CD = {width:.2f}", ha="center", va="bottom", fontsize=10)
    ax.axis("off")
    ax.set_title(_text(title), fontsize=10)
    return _save(fig, path, dpi)


DETECTION_PANELS = (("mAP50", "mAP@0.5"), ("P", "precision"), ("R", "recall"))


def detection_curves(table: pd.DataFrame, conditions: Sequence[tuple[str, str, str]],
                     methods: Sequence[str], dashed: Sequence[str], title: str, path: Path,
                     dpi: int = 90) -> Path:
    """mAP@0.5, precision and recall vs degradation: one row of panels per dataset, one line per
    method; ``dashed`` methods (single-modality rows) are drawn dashed so fusion stands out."""
    datasets = list(dict.fromkeys(c[0] for c in conditions))
    cols = len(DETECTION_PANELS)
    fig = Figure(figsize=(3.9 * cols, 2.9 * len(datasets) + 0.9), layout="constrained")
    cmap = _colours(len(methods))
    for r, dataset in enumerate(datasets):
        conds = [c for c in conditions if c[0] == dataset]
        x = {c: i for i, c in enumerate(conds)}
        sub = table[table.dataset == dataset]
        for k, (column, name) in enumerate(DETECTION_PANELS):
            ax = fig.add_subplot(len(datasets), cols, r * cols + k + 1)
            for j, method in enumerate(methods):
                rows = sub[sub.method == method]
                pts = sorted((x[key], float(getattr(row, column)))
                             for row in rows.itertuples(index=False)
                             if (key := (str(row.dataset), str(row.degradation),
                                         str(row.severity))) in x)
                if not pts:
                    continue
                xs, ys = zip(*pts)
                ax.plot(xs, ys, marker="o", ms=3, lw=1.3, color=cmap[j], label=_text(method),
                        ls="--" if method in dashed else "-")
            ax.set_xticks(range(len(conds)), [_text(f"{g}@{s}") for _, g, s in conds],
                          fontsize=10, rotation=30, ha="right")
            ax.set_ylim(0, 1)
            ax.grid(alpha=0.3)
            ax.tick_params(axis="y", labelsize=10)
            ax.set_title(_text(f"{dataset}: {name}"), fontsize=10)
    handles, names = fig.axes[0].get_legend_handles_labels() if fig.axes else ([], [])
    if handles:
        fig.legend(handles, names, loc="outside lower center", ncols=min(len(names), 5), fontsize=10)
    fig.suptitle(_text(title), fontsize=10)
    return _save(fig, path, dpi)


def _colours(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]
