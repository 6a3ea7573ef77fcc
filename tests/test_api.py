"""The Python API (benchbed.run/results/leaderboard/score/score_folders, metrics.compute) gives
the CLI's numbers; suites run by name; folders of fused images score like per-triple calls."""

from __future__ import annotations

import json
import shutil
import sqlite3
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import benchbed
from benchbed.cli import main
from benchbed.errors import DataError, SuiteError
from benchbed.imaging import write_image

SUITE = """\
name: apitest
seed: 5
datasets: [{name: demo, split: test, limit: 3}]
degradations:
  - {name: clean, severities: ["0"]}
  - {name: gaussian_noise, severities: [2]}
methods: [average, laplacian]
metrics: [QABF, MI, EN]
"""


def _cli(args: list[str]) -> str:
    res = CliRunner().invoke(main, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


@pytest.fixture()
def stored(workdir: Path) -> str:
    (workdir / "apitest.yaml").write_text(SUITE)
    summary = benchbed.run(workdir / "apitest.yaml")
    assert summary.computed == 12 and summary.failed == 0
    return "apitest"


def test_results_means_equal_leaderboard_show(stored: str) -> None:
    frame = benchbed.results(stored)
    assert len(frame) == 12 * 3 and {"dataset", "pair_id", "degradation", "severity", "method",
                                      "metric", "value"} <= set(frame.columns)
    csv = _cli(["leaderboard", "show", "--suite", stored, "--format", "csv"])
    shown = pd.read_csv(StringIO(csv[csv.index("dataset,"):]))
    means = frame.groupby(["degradation", "method", "metric"]).value.mean()
    for row in shown.itertuples(index=False):
        for metric in ("QABF", "MI", "EN"):
            assert getattr(row, metric) == pytest.approx(
                means[(row.degradation, row.method, metric)], rel=1e-12)


def test_leaderboard_api_equals_the_cli_view(stored: str) -> None:
    stats = benchbed.leaderboard(stored, view="stats", n_boot=300)
    csv = _cli(["leaderboard", "show", "--suite", stored, "--view", "stats", "--format", "csv",
                "--n-boot", "300"])
    shown = pd.read_csv(StringIO(csv[csv.index("suite,"):]))
    assert len(stats) == len(shown)
    assert np.allclose(stats["mean"].to_numpy(), shown["mean"].to_numpy(), rtol=1e-12)
    # the package stays a package and is also the callable
    assert benchbed.leaderboard.scores_frame is not None


def test_score_equals_cli_and_metrics_compute(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    paths = []
    for name in ("a", "b", "f"):
        paths.append(tmp_path / f"{name}.png")
        write_image(paths[-1], rng.random((40, 48)).astype(np.float32))
    api = benchbed.score(*paths, metrics=["QABF", "MI", "SSIM"])
    cli = json.loads(_cli(["score", *map(str, paths), "--metrics", "QABF,MI,SSIM", "--json"]))
    assert api == cli
    assert benchbed.metrics.compute("QABF", *paths) == api["QABF"]


def test_score_folders_equals_per_triple_calls(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    dirs = {k: tmp_path / k for k in ("ir", "vi", "fused")}
    for d in dirs.values():
        d.mkdir()
    for i in range(3):
        for d in dirs.values():
            write_image(d / f"{i:02d}.png", rng.random((32, 36)).astype(np.float32))
    out = tmp_path / "scores.csv"
    text = _cli(["score", "--ir", str(dirs["ir"]), "--vi", str(dirs["vi"]), "--fused",
                 str(dirs["fused"]), "--metrics", "QABF,MI", "--out", str(out)])
    table = pd.read_csv(out, dtype={"name": str}).set_index("name")
    for i in range(3):
        n = f"{i:02d}"
        one = benchbed.score(*(dirs[k] / f"{n}.png" for k in ("ir", "vi", "fused")),
                             metrics=["QABF", "MI"])
        assert table.loc[n, "QABF"] == one["QABF"] and table.loc[n, "MI"] == one["MI"]
    assert f"mean over 3 images: QABF {table.QABF.mean():.6f}" in text
    (dirs["fused"] / "99.png").write_bytes((dirs["fused"] / "00.png").read_bytes())
    with pytest.raises(DataError, match="no source of the same name"):
        benchbed.score_folders(dirs["ir"], dirs["vi"], dirs["fused"])


def test_suites_run_by_name_and_unknown_names_suggest(workdir: Path) -> None:
    listed = _cli(["list", "suite"])
    assert "quickstart" in listed and "drfusion-ivf" in listed
    out = _cli(["validate", "quickstart"])
    assert "ok: suite quickstart" in out
    with pytest.raises(SuiteError, match="did you mean 'quickstart'"):
        benchbed.run("quickstrt")


@pytest.mark.slow
@pytest.mark.shared
def test_a_tno_results_folder_is_ranked_next_to_built_in_methods(workdir: Path,
                                                                  monkeypatch: pytest.MonkeyPatch
                                                                  ) -> None:
    """Fused images of the shared TNO test pairs made elsewhere (here: by `average`, copied out
    of the cache) are scored and ranked in a suite next to built-in fusers, with `average`'s own
    numbers."""
    from conftest import shared_data

    root = shared_data("ivf/tno")
    if root is None:
        pytest.skip("shared TNO data not available (set BENCHBED_DATA)")
    monkeypatch.setenv("BENCHBED_DATA", str(root))
    base = SUITE.replace("{name: demo, split: test, limit: 3}", "{name: tno, split: test}") \
        .replace('  - {name: gaussian_noise, severities: [2]}\n', "")
    (workdir / "make.yaml").write_text(base.replace("methods: [average, laplacian]",
                                                    "methods: [average]"))
    assert benchbed.run(workdir / "make.yaml").failed == 0
    folder = workdir / "results" / "my-method"
    folder.mkdir(parents=True)
    with sqlite3.connect(workdir / "store.db") as con:
        for pair, key in con.execute("SELECT pair_id, json_extract(artifacts, '$.fused') FROM items"):
            shutil.copyfile(workdir / "cache" / "fused" / key[:2] / f"{key}.png", folder / f"{pair}.png")
    (workdir / "apitest.yaml").write_text(base.replace(
        "methods: [average, laplacian]", "methods: [average, laplacian, {fused: results/my-method}]"))
    summary = benchbed.run(workdir / "apitest.yaml")
    assert summary.failed == 0 and summary.counters["fusions_read"] == 33
    ranked = benchbed.leaderboard("apitest")
    assert set(ranked.method) == {"average", "laplacian", "my-method"}
    mine = ranked.set_index("method").loc["my-method"]
    theirs = ranked.set_index("method").loc["average"]
    assert mine["QABF"] == theirs["QABF"] and mine["MI"] == theirs["MI"] and mine["n"] == 33
