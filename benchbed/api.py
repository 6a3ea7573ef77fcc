"""The Python API: run a suite, read its results and boards, score images and folders.

    import benchbed
    summary = benchbed.run("quickstart", db="sqlite:///bench.db")
    scores = benchbed.results("quickstart", db="sqlite:///bench.db")   # one row per pair x metric
    board = benchbed.leaderboard("quickstart", view="stats", db="sqlite:///bench.db")
    benchbed.export("quickstart", format="csv", out="scores.csv", db="sqlite:///bench.db")
    benchbed.score("ir.png", "vi.png", "fused.png", metrics=["QABF", "MI"])

The CLI is a thin layer over these functions; they raise ``BenchbedError`` (with ``.fix``) on
bad input and log progress to ``logging.getLogger("benchbed")``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from benchbed.errors import BenchbedError, DataError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from benchbed.leaderboard import Board
    from benchbed.registry import Registry
    from benchbed.runner import RunSummary

log = logging.getLogger("benchbed")
View = Literal["ranked", "stats", "robustness", "auc", "detection"]


def _registry(plugins: Sequence[str] = ()) -> Registry:
    from benchbed.registry import get_registry

    return get_registry(tuple(plugins))


def open_db(db: str | None = None, readonly: bool = False) -> sessionmaker[Session]:
    """The store at SQLAlchemy URL ``db`` (default BENCHBED_DB or sqlite:///benchbed.db);
    ``readonly`` opens a SQLite file without writing anything to it."""
    from benchbed.paths import default_db_url
    from benchbed.store import open_store

    return open_store(db or default_db_url(), readonly=readonly)


def run(suite: str | os.PathLike[str], *, db: str | None = None, cache: str | None = None,
        workers: int = 1, limit: int | None = None,
        overwrite: Literal["never", "failed", "always"] = "never", device: str = "cpu",
        executor: Literal["local", "dask"] = "local", scheduler: str | None = None,
        timeout: float | None = None, plugins: Sequence[str] = (),
        progress: bool = False) -> RunSummary:
    """Run a suite (a file, or a shipped suite by name), computing what the store lacks."""
    from benchbed.paths import cache_root
    from benchbed.runner import make_executor, run_plan
    from benchbed.suites import load_plan

    reg = _registry(plugins)
    plan = load_plan(suite, reg)
    return run_plan(plan, reg, open_db(db), cache_dir=cache or cache_root(), limit=limit,
                    workers=workers, overwrite=overwrite, device=device,
                    plugin_modules=tuple(plugins), progress=progress, echo=log.info,
                    executor=make_executor(workers, executor, scheduler), timeout=timeout)


def _board(sessions: sessionmaker[Session], suite: str, plan: str | None, run_id: int | None
           ) -> Board:
    from benchbed.leaderboard import select_board

    return select_board(sessions, suite, plan=plan, run=run_id)


def results(suite: str, *, db: str | None = None, plan: str | None = None,
            run: int | None = None) -> pd.DataFrame:
    """Every stored score of the suite's board: one row per pair x metric, with the suite,
    dataset, pair_id, degradation, severity, method, metric, profile, value and seconds."""
    from benchbed.leaderboard import scores_frame

    sessions = open_db(db, readonly=True)
    return scores_frame(sessions, suite, _board(sessions, suite, plan, run))


ExportFormat = Literal["csv", "jsonl", "parquet"]
EXPORT_FORMATS: tuple[str, ...] = ("csv", "jsonl", "parquet")


def export(suite: str, format: ExportFormat = "csv", out: Any = None, *, db: str | None = None,
           plan: str | None = None, run: int | None = None) -> pd.DataFrame:
    """Write every stored score of the suite's board with its provenance (one row per item,
    metric and profile; the columns of ``benchbed.leaderboard.EXPORT_COLUMNS``) as csv, jsonl
    or parquet, and return the frame.

    ``out`` is a file path or an open file (text for csv/jsonl, binary for parquet); None
    writes csv/jsonl to stdout. parquet needs pyarrow (``pip install 'benchbed[parquet]'``).
    """
    import importlib.util
    import sys

    from benchbed.leaderboard import export_frame

    if format not in EXPORT_FORMATS:
        raise BenchbedError(f"unknown export format {format!r}",
                            fix=f"use one of {', '.join(EXPORT_FORMATS)}")
    if format == "parquet":
        if importlib.util.find_spec("pyarrow") is None:
            raise BenchbedError("writing parquet needs pyarrow, which is not installed",
                                fix="pip install 'benchbed[parquet]' (or choose csv or jsonl)")
        if out is None:
            raise BenchbedError("parquet is binary and is not written to stdout",
                                fix="give a file to write it to (--out FILE.parquet)")
    if out is not None and not hasattr(out, "write") and not Path(out).parent.is_dir():
        raise BenchbedError(f"cannot write {out}: the folder {Path(out).parent} does not exist",
                            fix="create the folder first, or choose another --out")
    sessions = open_db(db, readonly=True)
    board = _board(sessions, suite, plan, run)
    if board.warning():
        log.warning(board.warning())
    frame = export_frame(sessions, suite, board)
    log.debug("export of suite %r: plan %s, board runs %s, %d scores", suite, board.plan_hash,
              list(board.run_ids), len(frame))
    target = sys.stdout if out is None else out
    if format == "parquet":
        frame.to_parquet(target if hasattr(target, "write") else Path(target), engine="pyarrow",
                         index=False)
    else:
        text = frame.to_csv(index=False) if format == "csv" else _jsonl(frame)
        if hasattr(target, "write"):
            target.write(text)
        else:
            Path(target).write_text(text, encoding="utf-8", newline="")
    where = "stdout" if out is None else getattr(out, "name", None) or str(out)
    log.info("exported %d scores of suite %r (plan %s) as %s to %s", len(frame), suite,
             board.plan_hash[:12], format, where)
    return frame


def _jsonl(frame: pd.DataFrame) -> str:
    """One JSON object per row; floats written exactly (repr), NaN as null."""
    import json
    import math

    lines = []
    for rec in frame.to_dict(orient="records"):
        clean = {k: (None if isinstance(v, float) and math.isnan(v) else
                     v.item() if hasattr(v, "item") else v) for k, v in rec.items()}
        lines.append(json.dumps(clean, ensure_ascii=False) + "\n")
    return "".join(lines)


def leaderboard(suite: str, view: View = "ranked", *, db: str | None = None,
                metric: str | None = None, degradation: str | None = None,
                filters: Mapping[str, Any] | None = None, n_boot: int = 2000, seed: int = 0,
                plan: str | None = None, run: int | None = None,
                plugins: Sequence[str] = ()) -> pd.DataFrame:
    """A board view as a DataFrame: ranked, stats, robustness, auc or detection (the tables of
    ``benchbed leaderboard show``)."""
    from benchbed.leaderboard import detection_view, score_view

    sessions = open_db(db, readonly=True)
    board = _board(sessions, suite, plan, run)
    if view == "detection":
        shown = detection_view(sessions, suite, board=board, degradation=degradation,
                               filters=filters)
        assert shown is not None  # required=True raises instead
    else:
        shown = score_view(sessions, _registry(plugins), suite, board=board, view=view,
                           metric=metric, degradation=degradation, filters=filters,
                           n_boot=n_boot, seed=seed)
    return shown.table


def score(a: Any, b: Any, f: Any, metrics: Iterable[str] | None = None,
          profile: str | None = None, plugins: Sequence[str] = ()) -> dict[str, float]:
    """Metric -> value for fused image ``f`` against sources ``a`` and ``b`` (paths or arrays);
    every registered metric unless ``metrics`` names some."""
    from benchbed.metrics import compute_many

    return compute_many(metrics, a, b, f, profile=profile, registry=_registry(plugins))


def matched_names(a_dir: Path, b_dir: Path, f_dir: Path) -> list[tuple[str, Path, Path, Path]]:
    """(stem, a, b, f) for every fused image whose two sources exist (by file stem)."""
    from benchbed.imaging import image_files

    def images(folder: Path) -> dict[str, Path]:
        if not folder.is_dir():
            raise DataError(f"folder {folder} does not exist", fix="check the path")
        return {p.stem: p for p in image_files(folder)}

    fa, fb, ff = images(Path(a_dir)), images(Path(b_dir)), images(Path(f_dir))
    if not ff:
        raise DataError(f"no images in {f_dir}", fix="give the folder of one method's fused images")
    lacking = sorted(n for n in ff if n not in fa or n not in fb)
    if lacking:
        raise DataError(f"{len(lacking)} fused image(s) in {f_dir} have no source of the same name "
                        f"in {a_dir} and {b_dir} (e.g. {', '.join(lacking[:3])})",
                        fix="name each fused image like its sources (VIFB layout), or remove it")
    return [(n, fa[n], fb[n], ff[n]) for n in sorted(ff)]


def score_folders(a_dir: str | os.PathLike[str], b_dir: str | os.PathLike[str],
                  f_dir: str | os.PathLike[str], metrics: Iterable[str] | None = None,
                  profile: str | None = None, plugins: Sequence[str] = ()) -> pd.DataFrame:
    """Per-image scores of a folder of fused images (matched to the sources by file name): one
    row per image x metric (name, metric, value); each the same number as ``score`` gives."""
    from benchbed.metrics import compute_many

    reg = _registry(plugins)
    names = list(metrics) if metrics is not None else None
    rows = []
    for stem, a, b, f in matched_names(Path(a_dir), Path(b_dir), Path(f_dir)):
        try:
            values = compute_many(names, a, b, f, profile=profile, registry=reg)
        except BenchbedError as exc:
            raise type(exc)(f"{f.name}: {exc.message}", fix=exc.fix) from exc
        rows += [{"name": stem, "metric": m, "value": v} for m, v in values.items()]
    return pd.DataFrame(rows, columns=["name", "metric", "value"])
