"""`benchbed cache info` / `cache prune`: counts per kind, references from the store, orphans,
a suite's files, age, and the safety rules (done items of other suites, recent orphans)."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchbed.cache import KINDS, kind_of, scan
from benchbed.cli import main

SUITE = """\
name: {name}
seed: 3
datasets: [{{name: demo, split: test, limit: 2}}]
degradations:
  - {{name: gaussian_noise, severities: [2]}}
methods:
  - {method}
  - {{restore: auto, fuse: average}}
metrics: [EN]
"""


def _cli(args: list[str], code: int = 0) -> str:
    res = CliRunner().invoke(main, args, catch_exceptions=False)
    assert res.exit_code == code, res.output
    return res.output


def _run(workdir: Path, name: str, method: str = "average") -> None:
    suite = workdir / f"{name}.yaml"
    suite.write_text(SUITE.format(name=name, method=method))
    _cli(["run", str(suite), "--limit", "1", "--no-progress", "--no-show"])


def _named(workdir: Path, suite: str | None = None) -> set[tuple[str, str]]:
    """(kind, key) named by the stored items (of ``suite``), read with plain SQL."""
    con = sqlite3.connect(workdir / "store.db")
    sql = "select artifacts from items" + (" where suite = ?" if suite else "")
    rows = con.execute(sql, (suite,) if suite else ()).fetchall()
    con.close()
    out = set()
    for (artifacts,) in rows:
        for name, key in json.loads(artifacts).items():
            out.add((kind_of(name), key))
    return out


def _age(path: Path, days: float) -> None:
    then = time.time() - days * 86400
    os.utime(path, (then, then))


def _stray(root: Path, kind: str = "fused", key: str = "zz" + "0" * 62) -> Path:
    path = root / kind / key[:2] / f"{key}{'.json' if kind == 'detections' else '.png'}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * 1000)
    return path


def test_info_counts_kinds_and_references(workdir: Path) -> None:
    _run(workdir, "cache_a")
    root = workdir / "cache"
    files = scan(root)
    assert {f.kind for f in files} == {"degraded", "restored", "fused"}
    named = _named(workdir)
    assert {(f.kind, f.key) for f in files} == named  # every written artifact is named
    out = _cli(["cache", "info"])
    assert f"cache {root}: {len(files)} files" in out
    for kind in KINDS:
        n = sum(f.kind == kind for f in files)
        line = next(ln for ln in out.splitlines() if ln.split()[:1] == [kind])
        assert line.split()[1] == str(n) and line.split()[4] == str(n), line
    assert f"{len(files)} of {len(files)} files are named by the 2 stored items; 0 are orphans" in out
    # a stray file is counted but not referenced; temporary files of writers are not artifacts
    _stray(root)
    (root / "fused" / "zz" / "partial.123.tmp").write_bytes(b"x")
    out = _cli(["cache", "info"])
    assert f"{len(files)} of {len(files) + 1} files are named" in out and "1 are orphans" in out


def test_prune_orphans_removes_only_unreferenced_old_files(workdir: Path) -> None:
    _run(workdir, "cache_a")
    root = workdir / "cache"
    before = {(f.kind, f.key) for f in scan(root)}
    old = _stray(root, "fused")
    old_det = _stray(root, "detections", "zy" + "1" * 62)
    fresh = _stray(root, "restored", "zx" + "2" * 62)
    _age(old, 2)
    _age(old_det, 2)
    # dry run: lists, removes nothing
    out = _cli(["cache", "prune", "--orphans", "--dry-run"])
    assert f"would remove {old}" in out and f"would remove {old_det}" in out
    assert str(fresh) not in out and "kept 1 orphans written in the last hour" in out
    assert old.exists() and old_det.exists()
    out = _cli(["cache", "prune", "--orphans"])
    assert f"removed {old} (1.0 kB)" in out
    assert "removed 2 files, 2.0 kB freed" in out
    assert not old.exists() and not old_det.exists() and not old.parent.exists()
    assert fresh.exists()  # a run may be about to store the item that names it
    assert {(f.kind, f.key) for f in scan(root)} == before | {("restored", "zx" + "2" * 62)}
    # an explicit age overrides the grace period
    out = _cli(["cache", "prune", "--orphans", "--older-than", "0"])
    assert "removed 1 files" in out and not fresh.exists()
    assert {(f.kind, f.key) for f in scan(root)} == before


def test_prune_suite_keeps_files_other_suites_use(workdir: Path) -> None:
    _run(workdir, "cache_a", method="average")
    _run(workdir, "cache_b", method="laplacian")  # same degraded inputs and restorations as a's
    root = workdir / "cache"
    a, b = _named(workdir, "cache_a"), _named(workdir, "cache_b")
    shared, only_a = a & b, a - b
    assert shared and only_a  # degraded/restored shared; a's own fused image
    out = _cli(["cache", "prune", "--suite", "cache_a"])
    assert f"removed {len(only_a)} files" in out
    assert f"kept {len(shared)} named by done items of other suites" in out
    left = {(f.kind, f.key) for f in scan(root)}
    assert left == b  # b's files all kept, a's own removed
    # selecting both suites removes everything they name
    _cli(["cache", "prune", "--suite", "cache_a", "--suite", "cache_b"])
    assert scan(root) == []


def test_prune_older_than_alone_spares_done_items(workdir: Path) -> None:
    _run(workdir, "cache_a")
    root = workdir / "cache"
    files = scan(root)
    for f in files:
        _age(f.path, 10)
    stray = _stray(root)
    _age(stray, 10)
    out = _cli(["cache", "prune", "--older-than", "5"])
    assert "removed 1 files" in out and not stray.exists()
    assert f"kept {len(files)} named by done items" in out
    assert len(scan(root)) == len(files)
    out = _cli(["cache", "prune", "--orphans", "--older-than", "30"])
    assert "removed 0 files" in out


@pytest.mark.parametrize("args,message", [
    (["cache", "prune"], "needs to be told what to remove"),
    (["cache", "prune", "--suite", "nosuch"], "no stored item of suite(s) nosuch"),
])
def test_prune_refuses_without_a_selection(workdir: Path, args: list[str], message: str) -> None:
    _run(workdir, "cache_a")
    n = len(scan(workdir / "cache"))
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2 and message in res.output
    assert len(scan(workdir / "cache")) == n


def test_orphans_of_an_empty_or_missing_store_are_refused(workdir: Path) -> None:
    stray = _stray(workdir / "cache")
    _age(stray, 3)
    res = CliRunner().invoke(main, ["cache", "prune", "--orphans"])  # no store at all
    assert res.exit_code == 2 and "does not exist" in res.output
    res = CliRunner().invoke(main, ["--db", f"sqlite:///{workdir / 'empty.db'}", "db", "upgrade"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["--db", f"sqlite:///{workdir / 'empty.db'}", "cache", "prune",
                                    "--orphans"])
    assert res.exit_code == 2 and "holds no items" in res.output
    assert stray.exists()
    out = _cli(["cache", "info"])  # sizes without a store, with a note
    assert "1 files" in out and "no item references counted" in out
