"""Hostile and mistaken input, one table (issue 15): each case is a command a user can type, the
exit code and the one line it must print, and the guarantee that the store's existing results
are unchanged. Add a row when a new way to get it wrong turns up.

Every case runs against a store that already holds a finished run (the ``baseline`` suite); the
check after each case compares that run's items and scores with what they were before.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from benchbed.cli import main

BASELINE = """\
name: baseline
seed: 1
datasets: [{name: demo, split: test, limit: 2}]
degradations: [{name: gaussian_noise, severities: [2]}]
methods: [average]
metrics: [EN, QABF]
"""

SMALL = """\
name: small
seed: 1
datasets: [{name: demo, split: test, limit: 1}]
degradations: [clean]
methods: [METHODS]
metrics: [EN]
"""

BAD_FUSERS = """\
import time
import numpy as np
from benchbed import FuserSpec, hookimpl

class Scaled:
    def __init__(self, mode):
        self.mode = mode
    def fuse(self, inputs):
        a = np.asarray(inputs.images[0], np.float32)
        return {"u8": a * 255.0, "x3": a * 3.0, "neg": a - 0.5,
                "tiny": np.minimum(a * 1.5, 1.01)}[self.mode]

class Sleepy:
    def fuse(self, inputs):
        time.sleep(600)

class Weighted:
    def fuse(self, inputs):
        return np.asarray(inputs.images[0], np.float32)

@hookimpl
def benchbed_register_fusers():
    from benchbed import WeightsRef
    return [FuserSpec(name=m, version="1", summary=m, factory=Scaled, params={"mode": m})
            for m in ("u8", "x3", "neg", "tiny")] + [
        FuserSpec(name="sleepy", version="1", summary="never returns", factory=Sleepy),
        FuserSpec(name="weighted", version="1", summary="needs a weights file", factory=Weighted,
                  weights=(WeightsRef("weighted/model.bin", "0" * 64),))]
"""


def _png(path: Path, h: int, w: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.arange(h * w).reshape(h, w) % 256).astype(np.uint8)).save(path)


def _suite(tmp: Path, methods: str, name: str = "small.yaml") -> None:
    (tmp / name).write_text(SMALL.replace("METHODS", methods))


def _setup_bad_fusers(tmp: Path) -> None:
    (tmp / "badfusers.py").write_text(BAD_FUSERS)


def _setup_weighted(tmp: Path, content: bytes | None = None) -> None:
    _setup_bad_fusers(tmp)
    _suite(tmp, "weighted")
    if content is not None:
        (tmp / "weights" / "weighted").mkdir(parents=True)
        (tmp / "weights" / "weighted" / "model.bin").write_bytes(content)


def _cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


def _setup_broken_module(tmp: Path) -> None:
    (tmp / "brokenmod.py").write_text("raise RuntimeError('boom at import')\n")


def _setup_raising_hook(tmp: Path) -> None:
    (tmp / "raisinghook.py").write_text(
        "from benchbed import hookimpl\n\n@hookimpl\ndef benchbed_register_fusers():\n"
        "    raise ValueError('hook exploded')\n")


def _setup_tiny_images(tmp: Path) -> None:
    for name in ("a", "b", "f"):
        _png(tmp / f"{name}.png", 1, 1)


def _setup_disjoint_folder(tmp: Path) -> None:
    _png(tmp / "pairs" / "ir" / "one.png", 32, 32)
    _png(tmp / "pairs" / "vi" / "two.png", 32, 32)
    (tmp / "folder.yaml").write_text(
        f"name: folder\ndatasets: [{{name: folder, split: null, params: {{path: {tmp / 'pairs'}}}}}]\n"
        "degradations: [clean]\nmethods: [average]\nmetrics: [EN]\n")


def _setup_big_folder(tmp: Path) -> None:
    _png(tmp / "big" / "ir" / "p.png", 64, 64)
    _png(tmp / "big" / "vi" / "p.png", 64, 64)
    (tmp / "big.yaml").write_text(
        f"name: big\ndatasets: [{{name: folder, split: null, params: {{path: {tmp / 'big'}}}}}]\n"
        "degradations: [clean]\nmethods: [average]\nmetrics: [EN]\n")


def _setup_alias_bomb(tmp: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    (tmp / "bomb.yaml").write_text("\n".join(lines) + "\nname: bomb\n")


def _setup_user_site(tmp: Path) -> None:
    (tmp / "site").mkdir()
    (tmp / "site" / "index.html").write_text("<html>my own page</html>")


def _setup_file(tmp: Path) -> None:
    (tmp / "afile").write_text("not a folder")


def _setup_corrupt_db(tmp: Path) -> None:
    (tmp / "corrupt.db").write_text("this is not sqlite")


def _setup_unwritable_cache(tmp: Path) -> None:
    (tmp / "cachefile").write_text("a file where the cache folder should be")
    _suite(tmp, "average")


@dataclass(frozen=True)
class Case:
    """A command line, what it must exit with and print, and its preparation."""

    id: str
    args: list[str]
    code: int
    needle: str
    setup: Callable[[Path], None] | None = None
    env: dict[str, str] = field(default_factory=dict)
    one_line: bool = True
    """The output is one line (an error) rather than a run's report."""


CASES = [
    Case("run-without-BENCHBED_WEIGHTS", ["--plugin", "./badfusers.py", "run", "small.yaml"], 2,
         "need BENCHBED_WEIGHTS, which is not set", _setup_weighted, env={"BENCHBED_WEIGHTS": ""}),
    Case("validate-without-BENCHBED_WEIGHTS", ["--plugin", "./badfusers.py", "validate",
                                               "small.yaml"], 2,
         "need BENCHBED_WEIGHTS, which is not set", _setup_weighted, env={"BENCHBED_WEIGHTS": ""}),
    Case("weights-wrong-sha256", ["--plugin", "./badfusers.py", "run", "small.yaml"], 2,
         "checksum mismatch for", lambda t: _setup_weighted(t, b"not the published weights"),
         env={"BENCHBED_WEIGHTS": "{tmp}/weights"}),
    Case("weights-file-missing", ["--plugin", "./badfusers.py", "validate", "small.yaml"], 2,
         "weights file not found", _setup_weighted, env={"BENCHBED_WEIGHTS": "{tmp}"}),
    *([] if _cuda_available() else [
        Case("device-cuda-without-gpu", ["run", "small.yaml", "--device", "cuda"], 2,
             "--device cuda but no CUDA device is available here",
             lambda t: _suite(t, "average"))]),
    Case("plugin-module-raises-at-import", ["--plugin", "brokenmod", "list"], 2,
         "plugin module 'brokenmod' failed to import: RuntimeError: boom at import",
         _setup_broken_module),
    Case("plugin-module-missing", ["--plugin", "nosuchmodule", "list"], 2,
         "cannot import plugin module 'nosuchmodule'"),
    Case("hook-raises-list-still-works", ["--plugin", "raisinghook", "list", "fuser"], 0,
         "broken plugin raisinghook: benchbed_register_fusers() raised ValueError: hook exploded",
         _setup_raising_hook, one_line=False),
    Case("plugin-as-file-path", ["--plugin", "./badfusers.py", "list", "fuser"], 0, "sleepy",
         _setup_bad_fusers, one_line=False),
    Case("plugin-file-missing", ["--plugin", "./nofile.py", "list"], 2,
         "plugin file ./nofile.py does not exist"),
    Case("db-unknown-scheme", ["--db", "foo://x", "leaderboard", "show", "--suite", "baseline"], 2,
         "no database driver for the scheme 'foo'"),
    Case("db-corrupt-file", ["--db", "sqlite:///{tmp}/corrupt.db", "leaderboard", "show",
                             "--suite", "baseline"], 2, "file is not a database",
         _setup_corrupt_db),
    Case("db-folder-missing", ["--db", "sqlite:///{tmp}/no/such/dir/s.db", "leaderboard", "show",
                               "--suite", "baseline"], 2, "does not exist"),
    Case("score-1x1-images", ["score", "a.png", "b.png", "f.png"], 2,
         "is 1x1; fusion metrics and restorers need at least 8 pixels a side",
         _setup_tiny_images),
    Case("score-unknown-profile", ["score", "a.png", "b.png", "f.png", "--profile", "LIU2099"], 2,
         "LIU2099", lambda t: [_png(t / f"{n}.png", 48, 48) for n in "abf"]),
    Case("folder-without-common-names", ["validate", "folder.yaml"], 2,
         "dataset 'folder' (all pairs) has no pairs", _setup_disjoint_folder),
    Case("yaml-alias-bomb", ["validate", "bomb.yaml"], 2, "alias", _setup_alias_bomb),
    Case("image-above-max-pixels", ["validate", "big.yaml", "--max-pixels", "1000"], 2,
         "is 64x64 (4,096 pixels), above the limit of 1,000", _setup_big_folder),
    Case("run-image-above-max-pixels", ["run", "big.yaml", "--max-pixels", "1000"], 2,
         "above the limit of 1,000", _setup_big_folder),
    Case("limit-negative", ["run", "small.yaml", "--limit", "-1"], 2, "x>=1",
         lambda t: _suite(t, "average"), one_line=False),  # click's usage error: 3 lines
    Case("limit-zero", ["run", "small.yaml", "--limit", "0"], 2, "x>=1",
         lambda t: _suite(t, "average"), one_line=False),
    Case("workers-zero", ["run", "small.yaml", "--workers", "0"], 2, "x>=1",
         lambda t: _suite(t, "average"), one_line=False),
    Case("cache-not-writable", ["run", "small.yaml", "--cache", "{tmp}/cachefile/sub"], 2,
         "is not writable", _setup_unwritable_cache),
    Case("validate-cache-not-writable", ["validate", "small.yaml"], 2, "is not writable",
         _setup_unwritable_cache, env={"BENCHBED_CACHE": "{tmp}/cachefile/sub"}),
    Case("unknown-method", ["run", "small.yaml"], 2, "no fuser called 'averag'",
         lambda t: _suite(t, "averag")),
    Case("duplicate-method-by-label", ["run", "small.yaml"], 2, "compute the same thing",
         lambda t: _suite(t, "average, {fuse: average, label: again}")),
    Case("fuser-returns-0-255", ["--plugin", "./badfusers.py", "run", "small.yaml", "--no-show"],
         1, "fuser 'u8' returned values in [", lambda t: (_setup_bad_fusers(t), _suite(t, "u8")),
         one_line=False),
    Case("fuser-returns-x3", ["--plugin", "./badfusers.py", "run", "small.yaml", "--no-show"], 1,
         "outside [0, 1] by more than 0.02", lambda t: (_setup_bad_fusers(t), _suite(t, "x3")),
         one_line=False),
    Case("fuser-returns-negative", ["--plugin", "./badfusers.py", "run", "small.yaml",
                                    "--no-show"], 1, "fuser 'neg' returned values in [-",
         lambda t: (_setup_bad_fusers(t), _suite(t, "neg")), one_line=False),
    Case("fuser-overshoot-within-tolerance-is-reported",
         ["--plugin", "./badfusers.py", "run", "small.yaml", "--no-show"], 0,
         "clipped: fuser 'tiny' (1 outputs) left [0, 1] by at most 0.02",
         lambda t: (_setup_bad_fusers(t), _suite(t, "tiny")), one_line=False),
    Case("fuser-sleeps-forever-timeout", ["--plugin", "./badfusers.py", "run", "small.yaml",
                                          "--no-show", "--timeout", "2"], 1,
         "[transient] item demo/demo-00 clean@0 sleepy ran past --timeout 2 s",
         lambda t: (_setup_bad_fusers(t), _suite(t, "sleepy, average")), one_line=False),
    Case("publish-out-is-a-file", ["leaderboard", "publish", "--suite", "baseline", "--out",
                                   "afile"], 2, "--out afile is a file", _setup_file),
    Case("publish-keeps-a-users-page", ["leaderboard", "publish", "--suite", "baseline", "--out",
                                        "site"], 2,
         "publish would overwrite site/index.html, which benchbed did not write",
         _setup_user_site),
    Case("compare-unknown-method", ["leaderboard", "compare", "average", "nosuch", "--suite",
                                    "baseline"], 2, "the methods scored here are average"),
    Case("show-unknown-suite", ["leaderboard", "show", "--suite", "nosuch"], 2,
         "no results for suite 'nosuch'"),
    Case("show-unknown-plan", ["leaderboard", "show", "--suite", "baseline", "--plan", "ffff"], 2,
         "--plan 'ffff' matches no plan versions"),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding one finished run of the baseline suite."""
    root = tmp_path_factory.mktemp("hostile-store")
    (root / "baseline.yaml").write_text(BASELINE)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCHBED_DB", f"sqlite:///{root / 'store.db'}")
        mp.setenv("BENCHBED_CACHE", str(root / "cache"))
        res = CliRunner().invoke(main, ["run", str(root / "baseline.yaml"), "--no-progress",
                                        "--no-show"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return root


def _baseline(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(
            "select i.item_key, i.status, s.metric, s.value from items i join scores s "
            "on s.item_id = i.id where i.suite = 'baseline' order by 1, 3").fetchall()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(case: Case, store: Path, tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    before = _baseline(store / "store.db")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("BENCHBED_DB", f"sqlite:///{store / 'store.db'}")
    monkeypatch.setenv("BENCHBED_CACHE", str(tmp_path / "cache"))
    for k, v in case.env.items():
        if v:
            monkeypatch.setenv(k, v.replace("{tmp}", str(tmp_path)))
        else:
            monkeypatch.delenv(k, raising=False)
    if case.setup:
        case.setup(tmp_path)
    args = [a.replace("{tmp}", str(tmp_path)) for a in case.args]
    res = CliRunner().invoke(main, args)
    out = res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), out
    assert "Traceback" not in out
    assert res.exit_code == case.code, out
    assert case.needle in out, out
    if case.one_line:
        assert len([ln for ln in out.splitlines() if ln.strip()]) == 1, out
    assert _baseline(store / "store.db") == before


def test_a_users_page_survives_publish(store: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Publish replaces only what it wrote before: a user's file inside a published suite folder
    survives a republish, and the suite's stale files are removed."""
    monkeypatch.setenv("BENCHBED_DB", f"sqlite:///{store / 'store.db'}")
    monkeypatch.setenv("BENCHBED_CACHE", str(store / "cache"))
    site = tmp_path / "site"
    args = ["leaderboard", "publish", "--suite", "baseline", "--out", str(site)]
    assert CliRunner().invoke(main, args).exit_code == 0
    (site / "baseline" / "my-notes.txt").write_text("mine")
    stale = site / "baseline" / "plots" / "stale.png"
    manifest = site / "baseline" / ".benchbed-files.json"
    manifest.write_text(manifest.read_text().replace("[", '["plots/stale.png",', 1))
    stale.write_bytes(b"old")
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert (site / "baseline" / "my-notes.txt").read_text() == "mine"
    assert not stale.exists()
    assert (site / "baseline" / "index.html").is_file() and (site / "index.html").is_file()


def test_limit_run_never_shrinks_the_board_and_a_new_plan_is_a_new_version(
        workdir: Path) -> None:
    """Board semantics: all stored items of the plan, whatever the latest run covered; another
    plan under the same name is a new version, selectable with --plan."""
    suite = workdir / "b.yaml"
    suite.write_text(BASELINE)

    def cli(*args: str) -> str:
        res = CliRunner().invoke(main, list(args))
        assert res.exit_code == 0, res.output
        return res.output

    cli("run", str(suite), "--no-progress", "--no-show")
    full = cli("leaderboard", "show", "--suite", "baseline", "--format", "csv")
    again = cli("run", str(suite), "--no-progress", "--no-show", "--limit", "1")
    assert "1 planned, 0 computed, 1 skipped" in again
    assert cli("leaderboard", "show", "--suite", "baseline", "--format", "csv") == full
    assert ",2\n" in full  # n = 2 pairs
    suite.write_text(BASELINE.replace("metrics: [EN, QABF]", "metrics: [EN]"))
    changed = cli("run", str(suite), "--no-progress", "--no-show")
    assert "has results under another plan" in changed
    new = CliRunner().invoke(main, ["leaderboard", "show", "--suite", "baseline"])
    assert "2 plan versions" in new.output and "QABF" not in new.output
    old_hash = new.output.split("--plan HASH: ")[1].split(")")[0]
    old = cli("leaderboard", "show", "--suite", "baseline", "--plan", old_hash, "--format", "csv")
    assert old.endswith(full.split("\n", 0)[0]) or full.strip() in old


def test_code_change_without_version_bump_is_recomputed(workdir: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache key holds the plugin's code hash: edited code recomputes, even in a new store."""
    import benchbed.code_hash as code_hash

    plugin = workdir / "myfuser_pkg.py"
    body = ("import numpy as np\nfrom benchbed import FuserSpec, hookimpl\n\n"
            "class F:\n    def fuse(self, inputs):\n"
            "        return np.asarray(inputs.images[0], np.float32) * SCALE\n\n"
            "@hookimpl\ndef benchbed_register_fusers():\n"
            "    return [FuserSpec(name='myfuser', version='1', summary='x', factory=F)]\n")
    plugin.write_text("SCALE = 1.0\n" + body)
    monkeypatch.syspath_prepend(str(workdir))
    _suite(workdir, "myfuser")
    args = ["--plugin", str(plugin), "run", str(workdir / "small.yaml"), "--no-progress",
            "--no-show"]
    first = CliRunner().invoke(main, args)
    assert "fusions: 1 computed, 0 reused" in first.output, first.output
    plugin.write_text("SCALE = 0.5\n" + body)  # same name and version, other numbers
    code_hash.module_code_hash.cache_clear()
    monkeypatch.setenv("BENCHBED_DB", f"sqlite:///{workdir / 'fresh.db'}")
    second = CliRunner().invoke(main, args)
    assert "fusions: 1 computed, 0 reused" in second.output, second.output


def test_a_swapped_cache_image_is_detected_and_recomputed(workdir: Path) -> None:
    """A cached PNG that decodes but holds another image is not scored: its pixel digest does not
    match, so it is recomputed (with a warning) and the numbers equal the first run's."""
    _suite(workdir, "average")
    args = ["run", str(workdir / "small.yaml"), "--no-progress", "--no-show"]
    assert CliRunner().invoke(main, args).exit_code == 0
    fused = list((workdir / "cache" / "fused").rglob("*.png"))
    assert len(fused) == 1
    shape = np.asarray(Image.open(fused[0])).shape
    Image.fromarray(np.zeros(shape, np.uint8)).save(fused[0])  # a valid PNG, wrong pixels
    os.environ["BENCHBED_DB"] = f"sqlite:///{workdir / 'fresh.db'}"
    res = CliRunner().invoke(main, args)
    assert "does not hold the image it was stored with" in res.output
    assert "fusions: 1 computed, 0 reused" in res.output
    with sqlite3.connect(workdir / "store.db") as a, sqlite3.connect(workdir / "fresh.db") as b:
        q = "select metric, value from scores order by 1"
        assert a.execute(q).fetchall() == b.execute(q).fetchall()


def test_a_killed_runs_row_is_marked_interrupted(workdir: Path) -> None:
    """kill -9 leaves a `running` row; the next run on this host marks it interrupted."""
    import socket

    _suite(workdir, "average")
    args = ["run", str(workdir / "small.yaml"), "--no-progress", "--no-show"]
    assert CliRunner().invoke(main, args).exit_code == 0
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with sqlite3.connect(workdir / "store.db") as con:
        con.execute("update runs set status = 'running', pid = ?, host = ?",
                    (dead.pid, socket.gethostname()))
    res = CliRunner().invoke(main, args)
    assert "marked run(s) 1 interrupted" in res.output, res.output
    with sqlite3.connect(workdir / "store.db") as con:
        assert con.execute("select status from runs order by id").fetchall() == [
            ("interrupted",), ("finished",)]


def test_progress_without_a_terminal_logs_lines(workdir: Path) -> None:
    """Not a terminal (a log file, CI): progress lines, no carriage-return bar."""
    _suite(workdir, "average, laplacian")
    res = CliRunner().invoke(main, ["run", str(workdir / "small.yaml"), "--no-show"])
    assert "progress: 2/2 items (100%), 0 failed" in res.output, res.output
    assert "\r" not in res.output
