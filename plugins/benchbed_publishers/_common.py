"""Helpers shared by the publishers: safe folder names, number formatting, condition labels."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchbed.paths import slug

__all__ = ["slug"]

def suite_dir(out_dir: Path, suite: str) -> Path:
    """``out_dir/<slug(suite)>``, created."""
    folder = Path(out_dir) / slug(suite)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def ci_text(low: Any, high: Any, n: Any, digits: int = 4) -> str:
    """A confidence interval as shown to people: "[low, high]", or "[n < 5]" when too few pairs."""
    from benchbed.leaderboard import MIN_CI_N

    try:
        small = int(n) < MIN_CI_N
    except (TypeError, ValueError):
        small = False
    if small:
        return f"[n < {MIN_CI_N}]"
    return f"[{fmt(low, digits)}, {fmt(high, digits)}]"


def fmt(value: Any, digits: int = 4) -> str:
    """A number as shown to people: fixed ``digits`` decimals, an em dash for missing values."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v):
        return "—"
    return f"{v:.{digits}f}"


def exact(value: Any) -> str:
    """A number as stored: the shortest text that reads back to the same float ('nan' if missing)."""
    v = float(value)
    return "nan" if math.isnan(v) else repr(v)


def rows_by(frame: Any, keys: Sequence[str]) -> dict[tuple, dict[str, Any]]:
    """The first row of each combination of ``keys`` as a dict: a table cell's lookup in O(1)
    (filtering the frame once per cell made boards of many methods take minutes)."""
    out: dict[tuple, dict[str, Any]] = {}
    for row in frame.to_dict("records"):
        out.setdefault(tuple(row[k] for k in keys), row)
    return out


def arrow(higher_is_better: bool) -> str:
    return "↑" if higher_is_better else "↓"


def condition_label(dataset: str, degradation: str, severity: str) -> str:
    return f"{dataset} · {degradation} · severity {severity}"
