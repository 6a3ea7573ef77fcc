"""Publishing: the context a publisher plugin gets (statistics computed once) and the guarded
write of a suite's folder (only files benchbed wrote are ever replaced)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from benchbed.errors import BenchbedError
from benchbed.leaderboard.query import (
    Board,
    detections_frame,
    items_frame,
    plan_of,
    provenance,
    resolve_board,
    scores_frame,
)
from benchbed.leaderboard.stats import (
    Axis,
    CriticalDifference,
    critical_difference,
    mark_tied_best,
    mean_rank_frame,
    overall_rank_frame,
    rank_frame,
    robustness_frame,
    summary_frame,
    sweep_auc_frame,
)
from benchbed.leaderboard.views import (
    clean_labels,
    detection_table,
    filter_frame,
    headline_metrics,
    higher_is_better_map,
    ordered_metrics,
    reference_free_map,
    severity_axes,
    severity_order,
)
from benchbed.paths import slug
from benchbed.plan import Plan


@dataclass
class PublishContext:
    """What a publisher gets besides the per-item frame: the suite, provenance and settings.

    Statistics are computed once, on first use, and shared by every publisher of one call.
    """

    suite: str
    frame: pd.DataFrame
    higher_is_better: Mapping[str, bool]
    provenance: Mapping[str, Any]
    plan: Plan | None = None
    """The board's plan (None: a frame published without one)."""
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
        order = [m.name for m in self.plan.metrics] if self.plan else []
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
        if self.detections is None or self.detections.empty:
            return pd.DataFrame()
        cfg = self.plan.detection if self.plan else None
        return detection_table(self.detections, config=cfg.key if cfg else None)

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
    board = resolve_board(sessions, suite, board)
    frame = filter_frame(scores_frame(sessions, suite, board), filters)
    if frame.empty:
        raise BenchbedError(f"suite {suite!r} has no successful scored items"
                            + (" matching the filters" if filters else ""),
                            fix="check the failures the run printed")
    plan = plan_of(sessions, suite, board)
    detections = None
    if plan.detection:
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
