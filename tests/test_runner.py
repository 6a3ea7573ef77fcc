"""End-to-end runs: resume, sharing restorations, failures, kill -9, concurrency, workers."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchbed.cli import main

SUITE = """\
name: mini
seed: 3
datasets: [{name: demo, split: test, limit: 2}]
degradations:
  - {name: gaussian_noise, severities: [2]}
  - {name: composite, severities: [1]}
methods:
  - average
  - {restore: auto, fuse: average}
  - {restore: auto, fuse: laplacian}
metrics: [EN, SD, QABF]
"""

BAD_PLUGIN = """
import numpy as np
from benchbed import FuserSpec, hookimpl

class NaNFuser:
    def fuse(self, inputs):
        out = np.array(inputs.images[0], copy=True)
        out[0, 0] = np.nan
        return out

class SmallFuser:
    def fuse(self, inputs):
        return inputs.images[0][::2, ::2]

@hookimpl
def benchbed_register_fusers():
    return [FuserSpec(name="nan_fuser", version="1", summary="returns NaN", factory=NaNFuser),
            FuserSpec(name="small_fuser", version="1", summary="wrong shape", factory=SmallFuser)]
"""


def _run(args: list[str], ok: bool = True, code: int = 0) -> str:
    res = CliRunner().invoke(main, args, catch_exceptions=False)
    if ok:
        assert res.exit_code == code, res.output
    return res.output


def _table(output: str) -> str:
    return output[output.index("leaderboard:"):]


def _db_rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(sql).fetchall()


def test_resume_and_shared_restorations(workdir: Path) -> None:
    suite = workdir / "mini.yaml"
    suite.write_text(SUITE)
    first = _run(["run", str(suite), "--no-progress"])
    assert "12 planned, 12 computed, 0 skipped" in first
    # 2 pairs x 2 conditions x 2 sources restored once each, shared by the two cascades
    assert "restorations: 8 computed, 8 reused" in first
    again = _run(["run", str(suite), "--no-progress"])
    assert "12 planned, 0 computed, 12 skipped" in again
    assert _table(first) == _table(again)
    suite.write_text(SUITE.replace("metrics:", "  - {restore: auto, fuse: gff}\nmetrics:"))
    added = _run(["run", str(suite), "--no-progress"])
    assert "16 planned, 4 computed, 12 skipped" in added
    assert "restorations: 0 computed, 8 reused" in added
    assert "auto>gff" in added
    rows = _db_rows(workdir / "store.db", "select count(*), count(distinct item_key) from items")
    assert rows[0][0] == rows[0][1] == 16


def test_failing_plugins_mark_items_and_run_continues(workdir: Path) -> None:
    (workdir / "bad_fusers.py").write_text(BAD_PLUGIN)
    sys.path.insert(0, str(workdir))
    try:
        suite = workdir / "bad.yaml"
        suite.write_text(SUITE.replace("  - average\n", "  - average\n  - nan_fuser\n"
                                                        "  - small_fuser\n"))
        # the run goes on past the failed items, then exits 1 (something failed)
        out = _run(["--plugin", "bad_fusers", "run", str(suite), "--no-progress"], code=1)
    finally:
        sys.path.remove(str(workdir))
        sys.modules.pop("bad_fusers", None)
    assert "8 failed" in out
    assert "NaN" in out and "shape" in out
    failed = _db_rows(workdir / "store.db", "select method, error from items where status='failed'")
    assert {m for m, _ in failed} == {"nan_fuser", "small_fuser"}
    assert "average" in _table(out)


VERSIONED_METRIC = """
import os
from benchbed import MetricSpec, hookimpl

class Versioned:
    def compute(self, a, b, f):
        return float(os.environ["BUMPY_VERSION"])

@hookimpl
def benchbed_register_metrics():
    return [MetricSpec(name="bumpy", version=os.environ["BUMPY_VERSION"], summary="its version",
                       factory=Versioned)]
"""


def test_metric_version_bump_is_recomputed_and_stored(workdir: Path, monkeypatch) -> None:
    """A metric's new version replaces the stored value (the store keeps one score per item,
    metric and profile); a third run then has nothing left to compute."""
    (workdir / "versioned_metric.py").write_text(VERSIONED_METRIC)
    suite = workdir / "bump.yaml"
    suite.write_text(SUITE.replace("metrics: [EN, SD, QABF]", "metrics: [EN, bumpy]")
                     .replace("limit: 2", "limit: 1"))
    import benchbed.registry as registry_module

    monkeypatch.syspath_prepend(str(workdir))
    args = ["--plugin", "versioned_metric", "run", str(suite), "--no-progress", "--no-show"]

    def run(version: str) -> str:
        monkeypatch.setenv("BUMPY_VERSION", version)
        sys.modules.pop("versioned_metric", None)
        registry_module._DEFAULT = None  # a new process would build a new registry
        return _run(args)

    try:
        run("1")
        second, third = run("2"), run("2")
    finally:
        sys.modules.pop("versioned_metric", None)
        registry_module._DEFAULT = None
    assert "6 to compute" in second and "6 computed" in second
    assert "0 to compute" in third
    rows = _db_rows(workdir / "store.db", "select version, value from scores where metric='bumpy'")
    assert rows and set(rows) == {("2", 2.0)}


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("name: x\ndatasets: [demo\n", "invalid YAML"),
        (SUITE.replace("  - average\n", "  - avrage\n"), "did you mean 'average'"),
        (SUITE.replace("seed: 3", "seed: -3"), "seed"),
    ],
)
def test_bad_suites_one_line_error(workdir: Path, text: str, needle: str) -> None:
    suite = workdir / "s.yaml"
    suite.write_text(text)
    res = CliRunner().invoke(main, ["run", str(suite)])
    assert res.exit_code == 2
    assert needle in res.output and "fix:" in res.output
    assert "Traceback" not in res.output and res.output.count("\n") == 1


def test_missing_data_root_is_one_line(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCHBED_DATA", raising=False)
    suite = workdir / "s.yaml"
    suite.write_text(SUITE.replace("{name: demo, split: test, limit: 2}", "{name: tno}"))
    res = CliRunner().invoke(main, ["run", str(suite)])
    assert res.exit_code == 2 and "BENCHBED_DATA" in res.output and "fix:" in res.output


def _folder_suite(workdir: Path) -> Path:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for mod in ("ir", "vi"):
        (workdir / "data" / mod).mkdir(parents=True)
    for name, size in (("good", (40, 48)), ("mism", (40, 48))):
        Image.fromarray(rng.integers(0, 255, size, dtype=np.uint8)).save(
            workdir / "data" / "ir" / f"{name}.png")
    Image.fromarray(rng.integers(0, 255, (40, 48), dtype=np.uint8)).save(
        workdir / "data" / "vi" / "good.png")
    Image.fromarray(rng.integers(0, 255, (30, 48), dtype=np.uint8)).save(
        workdir / "data" / "vi" / "mism.png")
    (workdir / "data" / "ir" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (workdir / "data" / "vi" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    suite = workdir / "folder.yaml"
    suite.write_text(SUITE.replace(
        "{name: demo, split: test, limit: 2}",
        f"{{name: folder, split: null, params: {{path: {workdir / 'data'}}}}}"))
    return suite


def test_corrupt_and_mismatched_pairs_fail_their_items(workdir: Path) -> None:
    out = _run(["run", str(_folder_suite(workdir)), "--no-progress"], code=1)  # items failed
    errors = dict(_db_rows(workdir / "store.db",
                           "select distinct pair_id, error from items where status='failed'"))
    assert set(errors) == {"corrupt", "mism"}
    assert "cannot decode" in errors["corrupt"] and "fix:" in errors["corrupt"]
    assert "48x40" in errors["mism"] and "48x30" in errors["mism"]
    assert "12 failed" in out


SLOW_PLUGIN = """
import time
from benchbed import FuserSpec, hookimpl

class SlowAverage:
    def fuse(self, inputs):
        time.sleep(0.15)  # makes the run long enough to be killed half-way on any machine
        return (inputs.images[0] + inputs.images[1]) / 2

@hookimpl
def benchbed_register_fusers():
    return [FuserSpec(name="slow_average", version="1", summary="sleeps", factory=SlowAverage)]
"""
SLOW_SUITE = SUITE.replace("  - average\n", "  - average\n  - slow_average\n")


def _cli(workdir: Path, *args: str) -> subprocess.Popen:
    """`benchbed --plugin slow_plugin ARGS` in a fresh process with its own store and cache."""
    (workdir / "slow_plugin.py").write_text(SLOW_PLUGIN)
    env = {**os.environ, "BENCHBED_DB": f"sqlite:///{workdir / 'store.db'}",
           "BENCHBED_CACHE": str(workdir / "cache"),
           "PYTHONPATH": os.pathsep.join([str(workdir), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-m", "benchbed.cli", "--plugin", "slow_plugin", *args],
                            cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _scores(db: Path) -> list[tuple]:
    return _db_rows(db, "select i.item_key, s.metric, s.value from items i join scores s "
                        "on s.item_id = i.id order by 1, 2")


@pytest.mark.slow
def test_kill_minus_nine_then_resume(workdir: Path, tmp_path_factory) -> None:
    suite = workdir / "mini.yaml"
    suite.write_text(SLOW_SUITE.replace("limit: 2", "limit: 4"))
    db = workdir / "store.db"
    proc = _cli(workdir, "run", str(suite), "--no-progress")
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
        if db.exists():
            try:
                done = _db_rows(db, "select count(*) from items")[0][0]
            except sqlite3.OperationalError:
                continue
            if done >= 5:
                break
    assert proc.poll() is None, "the run finished before it could be killed; make it longer"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _db_rows(db, "select item_key, run_id, created_at from items")
    assert 5 <= len(before) < 32
    resumed = _cli(workdir, "run", str(suite), "--no-progress")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert f"{32 - len(before)} computed, {len(before)} skipped" in out
    after = {k: (r, c) for k, r, c in _db_rows(db, "select item_key, run_id, created_at from items")}
    assert len(after) == 32
    for key, run_id, created in before:  # nothing finished was recomputed
        assert after[key] == (run_id, created)
    # the final scores equal an uninterrupted run's
    clean = tmp_path_factory.mktemp("clean")
    (clean / "mini.yaml").write_text(suite.read_text())
    ref = _cli(clean, "run", str(clean / "mini.yaml"), "--no-progress")
    ref.communicate(timeout=300)
    assert _scores(db) == _scores(clean / "store.db")


@pytest.mark.slow
def test_two_runs_share_one_store(workdir: Path) -> None:
    for name in ("a", "b"):
        (workdir / f"{name}.yaml").write_text(SLOW_SUITE.replace("name: mini", f"name: {name}"))
    procs = [_cli(workdir, "run", str(workdir / f"{n}.yaml"), "--no-progress") for n in "ab"]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert "locked" not in err + out
        assert "16 computed" in out
    rows = _db_rows(workdir / "store.db", "select suite, count(*) from items group by suite")
    assert dict(rows) == {"a": 16, "b": 16}


@pytest.mark.slow
def test_two_workers_equal_one(workdir: Path, tmp_path_factory) -> None:
    suite = workdir / "mini.yaml"
    suite.write_text(SUITE)
    _run(["run", str(suite), "--no-progress", "--workers", "1"])
    other = tmp_path_factory.mktemp("w2")
    os.environ["BENCHBED_DB"] = f"sqlite:///{other / 'store.db'}"
    os.environ["BENCHBED_CACHE"] = str(other / "cache")
    _run(["run", str(suite), "--no-progress", "--workers", "2"])
    assert _scores(workdir / "store.db") == _scores(other / "store.db")


TORCH_SUITE = """\
name: torchmini
seed: 5
datasets: [{name: demo, split: test, limit: 1}]
degradations:
  - {name: gaussian_noise, severities: [2]}
methods:
  - drfusion
  - {fuse: {name: recofuse, params: {steps: 5}}}
metrics: [EN, SD, QABF, MI]
"""


@pytest.mark.slow
def test_two_workers_equal_one_for_torch_methods(workdir: Path, tmp_path_factory) -> None:
    """DRFusion and ReCoFuse give bit-identical scores in-process and in a 2-worker pool: torch is
    pinned to one thread wherever items run (its CPU kernels' sums depend on the thread count)."""
    import torch

    suite = workdir / "torch.yaml"
    suite.write_text(TORCH_SUITE)
    torch.set_num_threads(2)  # the caller's setting must not leak into the numbers
    try:
        _run(["run", str(suite), "--no-progress", "--workers", "1"])
        assert torch.get_num_threads() == 2  # and is restored afterwards
    finally:
        torch.set_num_threads(1)
    other = tmp_path_factory.mktemp("tw2")
    os.environ["BENCHBED_DB"] = f"sqlite:///{other / 'store.db'}"
    os.environ["BENCHBED_CACHE"] = str(other / "cache")
    _run(["run", str(suite), "--no-progress", "--workers", "2"])
    first, second = _scores(workdir / "store.db"), _scores(other / "store.db")
    assert len(first) == 2 * 4 and first == second


@pytest.mark.slow
def test_dask_executor_equals_in_process(workdir: Path, tmp_path_factory) -> None:
    pytest.importorskip("distributed")
    from benchbed.registry import Registry
    from benchbed.runner import DaskExecutor, run_plan
    from benchbed.store import open_store
    from benchbed.suites import load_plan

    suite = workdir / "mini.yaml"
    suite.write_text(SUITE)
    reg = Registry()
    plan = load_plan(suite, reg)
    run_plan(plan, reg, open_store(os.environ["BENCHBED_DB"]), cache_dir=workdir / "c1",
             progress=False, echo=lambda _: None)
    other = tmp_path_factory.mktemp("dask")
    env_before = dict(os.environ)
    summary = run_plan(plan, reg, open_store(f"sqlite:///{other / 'store.db'}"),
                       cache_dir=other / "c2", progress=False, echo=lambda _: None,
                       executor=DaskExecutor(2, processes=False))
    assert summary.computed == 12 and summary.failed == 0
    # tasks in this process's threads set the shipped settings; none outlives the run
    assert dict(os.environ) == env_before
    assert _scores(workdir / "store.db") == _scores(other / "store.db")


def test_preflight_stops_a_run_without_weights_before_any_item(workdir: Path, monkeypatch) -> None:
    """The README tour without BENCHBED_WEIGHTS: `validate` and `run` stop with one line naming the
    variable, nothing is stored, and once it is set the run computes every item (no --overwrite)."""
    from conftest import shared_weights

    weights = shared_weights("restoration")
    if weights is None:
        pytest.skip("shared weights absent")
    suite = workdir / "zoo.yaml"
    suite.write_text(SUITE.replace("  - {restore: auto, fuse: laplacian}\n",
                                   "  - {restore: zoo_auto, fuse: laplacian}\n")
                     .replace("limit: 2", "limit: 1").replace("  - {name: composite, severities: [1]}\n", ""))
    monkeypatch.delenv("BENCHBED_WEIGHTS", raising=False)
    for cmd in (["validate", str(suite)], ["run", str(suite), "--no-progress"]):
        res = CliRunner().invoke(main, cmd)
        assert res.exit_code == 2 and "BENCHBED_WEIGHTS" in res.output, res.output
        assert len(res.output.strip().splitlines()) == 1
    assert not (workdir / "store.db").exists() or not _db_rows(workdir / "store.db",
                                                               "select * from items")
    monkeypatch.setenv("BENCHBED_WEIGHTS", str(weights))
    out = _run(["run", str(suite), "--no-progress", "--no-show"])
    assert "3 to compute" in out and "0 failed" in out
