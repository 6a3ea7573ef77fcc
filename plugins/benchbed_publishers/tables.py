"""CSV publisher: every leaderboard table at full precision, plus provenance.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from ._common import suite_dir

FILES = {
    "scores.csv": "one row per (item, metric): the raw stored values",
    "summary.csv": "mean, std, n, bootstrap CI and rank per (condition, method, metric)",
    "mean_ranks.csv": "mean rank across metrics and place per (condition, method)",
    "overall.csv": "mean rank over every condition and metric, per method",
    "robustness.csv": "score under degradation / score on clean, per (condition, method, metric)",
    "sweep_auc.csv": "normalised area under the severity curve per (dataset, degradation, method, "
                     "metric)",
    "detection.csv": "P, R, mAP@0.5, mAP@0.5:0.95 per (condition, method) over the pairs (suites "
                     "with detection only)",
}


class CsvPublisher:
    """Writes ``<out>/<suite>/*.csv`` and ``provenance.json``."""

    def publish(self, frame: pd.DataFrame, out_dir: Path, context: Any) -> list[Path]:
        folder = suite_dir(out_dir, context.suite)
        tables = {
            "scores.csv": frame.sort_values(["dataset", "degradation", "severity", "method",
                                             "pair_id", "metric"]),
            "summary.csv": context.summary,
            "mean_ranks.csv": context.mean_ranks,
            "overall.csv": context.overall,
            "robustness.csv": context.robustness,
            "sweep_auc.csv": context.sweep_auc,
        }
        if not context.detection.empty:
            tables["detection.csv"] = context.detection
        written = []
        for name, table in tables.items():
            path = folder / name
            table.to_csv(path, index=False)
            written.append(path)
        prov = folder / "provenance.json"
        prov.write_text(json.dumps({
            "suite": context.suite, "provenance": dict(context.provenance),
            "statistics": {"bootstrap_resamples": context.n_boot, "seed": context.seed,
                           "level": context.level, "ci": "BCa bootstrap of the mean (none below 5 pairs)"},
            "higher_is_better": dict(context.higher_is_better), "note": context.note,
            "files": FILES,
        }, indent=2, default=str) + "\n")
        return [*written, prov]
