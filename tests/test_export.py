"""`benchbed export` / ``benchbed.export``: every stored score of a board with its provenance, as
csv, jsonl or parquet; the values are exactly those of ``benchbed.results``."""

from __future__ import annotations

import io
import json
import sqlite3
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import benchbed
from benchbed.cli import main
from benchbed.leaderboard import EXPORT_COLUMNS

SUITE = """\
name: exporttest
seed: 7
datasets: [{name: demo, split: test, limit: 2}]
degradations:
  - {name: clean, severities: ["0"]}
  - {name: gaussian_noise, severities: [2]}
methods: [average, laplacian]
metrics: [EN, SD]
"""
KEYS = ["dataset", "pair_id", "degradation", "severity", "method", "metric"]


@pytest.fixture()
def stored(workdir: Path) -> str:
    (workdir / "exporttest.yaml").write_text(SUITE)
    summary = benchbed.run(workdir / "exporttest.yaml")
    assert summary.computed == 8 and summary.failed == 0
    return "exporttest"


def _n_scores(workdir: Path) -> int:
    with sqlite3.connect(workdir / "store.db") as con:
        return int(con.execute("select count(*) from scores").fetchone()[0])


def _cli(args: list[str], code: int = 0):  # type: ignore[no-untyped-def]
    res = CliRunner().invoke(main, args, catch_exceptions=False)
    assert res.exit_code == code, res.output
    return res


def _same_values(exported: pd.DataFrame, suite: str) -> None:
    results = benchbed.results(suite)
    assert len(exported) == len(results)
    merged = exported.astype({"severity": str}).merge(
        results.astype({"severity": str}), on=KEYS, suffixes=("", "_results"), validate="1:1")
    assert len(merged) == len(results)
    assert (merged["value"] == merged["value_results"]).all()  # exact: nothing lost on the way


def test_csv_to_stdout_has_every_score_and_its_provenance(stored: str, workdir: Path) -> None:
    out = _cli(["export", "--suite", stored]).stdout
    frame = pd.read_csv(io.StringIO(out), dtype={"severity": str})
    assert list(frame.columns) == EXPORT_COLUMNS
    assert len(frame) == _n_scores(workdir) == 8 * 2
    _same_values(frame, stored)
    assert set(frame.suite) == {stored} and frame.plan_hash.nunique() == 1
    assert frame.run_id.nunique() == 1 and set(frame.status) == {"done"}
    assert frame.benchbed_version.eq(benchbed.__version__).all()
    assert frame.pair_hash.notna().all() and frame.git_commit.notna().all()
    assert set(frame.profile) and frame.metric_version.notna().all()
    # the API gives the same frame
    api = benchbed.export(stored, "csv", io.StringIO())
    assert list(api.columns) == EXPORT_COLUMNS and len(api) == len(frame)


def test_jsonl_file_and_board_selection(stored: str, workdir: Path) -> None:
    target = workdir / "scores.jsonl"
    frame = benchbed.results(stored)
    plan = benchbed.export(stored, "jsonl", io.StringIO()).plan_hash.iloc[0]
    _cli(["export", "--suite", stored, "--format", "jsonl", "--out", str(target),
          "--plan", plan[:8], "--run", "1"])
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(rows) == len(frame) == _n_scores(workdir)
    assert list(rows[0]) == EXPORT_COLUMNS
    assert {r["plan_hash"] for r in rows} == {plan} and {r["run_id"] for r in rows} == {1}
    _same_values(pd.DataFrame(rows), stored)
    # a run of this suite that does not exist is a one-line error
    res = _cli(["export", "--suite", stored, "--run", "99"], code=2)
    assert "no run 99" in res.output


def test_parquet_round_trip_or_clear_error(stored: str, workdir: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    target = workdir / "scores.parquet"
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        pyarrow_here = False
    else:
        pyarrow_here = True
    if pyarrow_here:
        _cli(["export", "--suite", stored, "--format", "parquet", "--out", str(target)])
        frame = pd.read_parquet(target)
        assert list(frame.columns) == EXPORT_COLUMNS and len(frame) == _n_scores(workdir)
        _same_values(frame, stored)
        # parquet is binary: not to stdout
        res = _cli(["export", "--suite", stored, "--format", "parquet"], code=2)
        assert "--out" in res.output
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if it were not installed
    res = _cli(["export", "--suite", stored, "--format", "parquet", "--out", str(workdir / "x.pq")],
               code=2)
    assert "pip install 'benchbed[parquet]'" in res.output
    assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output


def test_unknown_suite_and_format(stored: str) -> None:
    res = _cli(["export", "--suite", "nope"], code=2)
    assert "no results for suite 'nope'" in res.output
    res = _cli(["export", "--suite", stored, "--format", "xlsx"], code=2)
    assert "xlsx" in res.output
    res = _cli(["export", "--suite", stored, "--out", "no/such/folder/x.csv"], code=2)
    assert res.output.startswith("error: cannot write") and "does not exist" in res.output
    with pytest.raises(benchbed.BenchbedError, match="unknown export format"):
        benchbed.export(stored, "xlsx", io.StringIO())  # type: ignore[arg-type]
