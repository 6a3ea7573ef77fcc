"""Store -> boards: which items make a suite's board, statistics, the views users read, publishing.

Everything works on the *long* per-item frame of :func:`scores_frame` (one row per item and
metric) so that any table can be recomputed from the raw scores. Modules by job:

- ``query``: the store's runs, boards (:func:`select_board`), plans and frames;
- ``stats``: bootstrap CIs, ranks (:func:`rank_frame`), tied winners, critical differences,
  robustness ratios, sweep areas, paired tests (pure functions of frames);
- ``views``: the ranked / stats / robustness / auc / detection tables and their formatting;
- ``publish``: the :class:`PublishContext` publisher plugins get, and the guarded folder write.

The names below are the public API of the package (``benchbed.leaderboard.X``). The package
is also callable: ``benchbed.leaderboard(suite, view=..., db=...)`` is ``benchbed.api.leaderboard``
(one name for the board, whether read as a module or called as the API function).
"""

from __future__ import annotations

import sys
import types
from typing import Any

from benchbed.leaderboard.publish import (
    GENERATOR_MARK,
    MANIFEST,
    PublishContext,
    build_context,
    check_out_dir,
    publish,
)
from benchbed.leaderboard.query import (
    CLEAN,
    COND,
    EXPORT_COLUMNS,
    GROUP,
    KEYS,
    SCORE_COLUMNS,
    Board,
    BoardScores,
    board_scores,
    detections_frame,
    export_frame,
    items_frame,
    plan_of,
    plan_versions,
    provenance,
    resolve_board,
    scores_frame,
    select_board,
    stored_suites,
)
from benchbed.leaderboard.stats import (
    LEVEL_AXIS,
    MIN_CI_N,
    Axis,
    CriticalDifference,
    bootstrap_ci,
    critical_difference,
    holm,
    mark_tied_best,
    mean_rank_frame,
    nemenyi_q,
    overall_rank_frame,
    paired_compare,
    rank_frame,
    robustness_frame,
    severity_positions,
    summary_frame,
    sweep_auc_frame,
    sweep_x,
)
from benchbed.leaderboard.views import (
    View,
    clean_labels,
    compare_view,
    detection_table,
    detection_view,
    filter_frame,
    format_table,
    headline_metrics,
    higher_is_better_map,
    markdown_table,
    ordered_metrics,
    parse_filters,
    ranked_table,
    reference_free_map,
    score_view,
    severity_axes,
    severity_order,
    stats_table,
)

__all__ = [
    "CLEAN",
    "COND",
    "EXPORT_COLUMNS",
    "GENERATOR_MARK",
    "GROUP",
    "KEYS",
    "LEVEL_AXIS",
    "MANIFEST",
    "MIN_CI_N",
    "SCORE_COLUMNS",
    "Axis",
    "Board",
    "BoardScores",
    "CriticalDifference",
    "PublishContext",
    "View",
    "board_scores",
    "bootstrap_ci",
    "build_context",
    "check_out_dir",
    "clean_labels",
    "compare_view",
    "critical_difference",
    "detection_table",
    "detection_view",
    "detections_frame",
    "export_frame",
    "filter_frame",
    "format_table",
    "headline_metrics",
    "higher_is_better_map",
    "holm",
    "items_frame",
    "mark_tied_best",
    "markdown_table",
    "mean_rank_frame",
    "nemenyi_q",
    "ordered_metrics",
    "overall_rank_frame",
    "paired_compare",
    "parse_filters",
    "plan_of",
    "plan_versions",
    "provenance",
    "publish",
    "rank_frame",
    "ranked_table",
    "reference_free_map",
    "resolve_board",
    "robustness_frame",
    "score_view",
    "scores_frame",
    "select_board",
    "severity_axes",
    "severity_order",
    "severity_positions",
    "stats_table",
    "stored_suites",
    "summary_frame",
    "sweep_auc_frame",
    "sweep_x",
]


class _CallableModule(types.ModuleType):
    """The package, callable as ``benchbed.api.leaderboard``."""

    def __call__(self, suite: str, *args: Any, **kwargs: Any) -> Any:
        from benchbed.api import leaderboard as board

        return board(suite, *args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
