"""A `{fused: DIR}` method: fused images made elsewhere are scored, stored and ranked like any
other method, with clear errors for missing pairs, wrong sizes and impossible colour."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from benchbed.cli import main
from benchbed.errors import SuiteError
from benchbed.imaging import read_image, write_image
from benchbed.registry import Registry
from benchbed.suites import load_plan

FIRST = """\
name: pre
seed: 3
datasets: [{name: demo, split: test, limit: 3}]
degradations: [{name: clean, severities: ["0"]}]
methods: [average]
metrics: [QABF, MI, EN]
"""
WITH_FOLDER = FIRST.replace("methods: [average]",
                            "methods: [average, {fused: made-elsewhere/avg, label: avg-folder}]")


def _run(args: list[str]) -> tuple[int, str]:
    res = CliRunner().invoke(main, args, catch_exceptions=False)
    return res.exit_code, res.output


def _scores(db: Path, method: str) -> dict[tuple[str, str], float]:
    with sqlite3.connect(db) as con:
        return {(p, m): v for p, m, v in con.execute(
            "SELECT i.pair_id, s.metric, s.value FROM items i JOIN scores s ON s.item_id = i.id "
            "WHERE i.method = ? AND i.status = 'done'", (method,))}


@pytest.fixture()
def folder_suite(workdir: Path) -> Path:
    """The `average` fuser's own outputs, copied out of the cache as a results folder."""
    (workdir / "first.yaml").write_text(FIRST)
    code, out = _run(["run", str(workdir / "first.yaml"), "--no-progress", "--no-show"])
    assert code == 0, out
    target = workdir / "made-elsewhere" / "avg"
    target.mkdir(parents=True)
    with sqlite3.connect(workdir / "store.db") as con:
        rows = con.execute("SELECT pair_id, json_extract(artifacts, '$.fused') FROM items").fetchall()
    for pair_id, key in rows:
        shutil.copyfile(workdir / "cache" / "fused" / key[:2] / f"{key}.png", target / f"{pair_id}.png")
    (workdir / "pre.yaml").write_text(WITH_FOLDER)
    return workdir / "pre.yaml"


def test_folder_method_scores_equal_the_method_that_made_the_images(folder_suite: Path) -> None:
    code, out = _run(["run", str(folder_suite), "--no-progress", "--no-show"])
    assert code == 0, out
    assert "3 read from fused folders" in out
    db = folder_suite.parent / "store.db"
    made, read = _scores(db, "average"), _scores(db, "avg-folder")
    assert len(read) == 9 and read == made  # same images, same numbers (QABF, MI, EN)
    code, board = _run(["leaderboard", "show", "--suite", "pre"])
    assert code == 0 and "avg-folder" in board


def test_folder_identity_is_its_images(folder_suite: Path) -> None:
    reg = Registry()
    before = load_plan(folder_suite, reg)
    img = next((folder_suite.parent / "made-elsewhere" / "avg").glob("*.png"))
    arr = read_image(img)
    write_image(img, np.clip(arr + 0.1, 0, 1))
    after = load_plan(folder_suite, reg)
    assert before.hash != after.hash  # changed images are a new plan, never stale scores
    method = after.methods[1]
    assert method.kind == "precomputed" and method.folder and method.digest


def test_missing_pair_is_one_clear_error(folder_suite: Path) -> None:
    next((folder_suite.parent / "made-elsewhere" / "avg").glob("demo-01.png")).unlink()
    res = CliRunner().invoke(main, ["run", str(folder_suite), "--no-progress", "--no-show"])
    assert res.exit_code == 2  # bad input: one error before any item runs, nothing stored
    assert "1 of 3 pairs" in res.output and "demo-01" in res.output and "fix:" in res.output


def test_wrong_size_and_colour_fail_their_items_with_the_cause(folder_suite: Path) -> None:
    folder = folder_suite.parent / "made-elsewhere" / "avg"
    write_image(folder / "demo-01.png", np.zeros((64, 64), np.float32))
    # demo-00's sources are both gray (demo-01's visible source is colour)
    red = np.zeros((128, 128, 3), np.float32) + np.array([1.0, 0, 0], np.float32)
    write_image(folder / "demo-00.png", red)
    res = CliRunner().invoke(main, ["run", str(folder_suite), "--no-progress", "--no-show"])
    assert res.exit_code == 1
    assert "is 64x64 but pair 'demo-01' is 128x96" in res.output
    assert "demo-00.png is colour but both sources" in res.output


@pytest.mark.parametrize("change, message", [
    ("degradations: [{name: gaussian_noise, severities: [1]}]", "synthetic degradation"),
    ('degradations: [{name: clean, severities: ["0"]}, {name: clean, label: c2, severities: ["0"]}]',
     "would run under 2"),
])
def test_folder_method_refuses_conditions_it_cannot_belong_to(folder_suite: Path, change: str,
                                                              message: str) -> None:
    folder_suite.write_text(WITH_FOLDER.replace('degradations: [{name: clean, severities: ["0"]}]',
                                                change))
    with pytest.raises(SuiteError, match=message):
        load_plan(folder_suite, Registry())
