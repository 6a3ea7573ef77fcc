"""CLI conventions: --db and --plugin before or after the command name (after wins / adds up),
-v/-q set the level of the ``benchbed`` logger, exit codes (0 ok, 1 a run with failed items,
2 usage errors and one-line errors), progress as log lines off a terminal."""

from __future__ import annotations

import logging
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from benchbed.cli import main
from benchbed.imaging import write_image

SUITE = """\
name: conv
seed: 1
datasets: [{name: demo, split: test, limit: 1}]
degradations:
  - {name: clean, severities: ["0"]}
methods: [average]
metrics: [EN]
"""

NAN_PLUGIN = """
import numpy as np
from benchbed import FuserSpec, hookimpl

class NaNFuser:
    def fuse(self, inputs):
        out = np.array(inputs.images[0], copy=True)
        out[0, 0] = np.nan
        return out

@hookimpl
def benchbed_register_fusers():
    return [FuserSpec(name="conv_nan_fuser", version="1", summary="returns NaN", factory=NaNFuser)]
"""

CHATTY_PLUGIN = """
import logging
import numpy as np
from benchbed import FuserSpec, hookimpl

log = logging.getLogger("benchbed.conv_chatty")

class Chatty:
    def fuse(self, inputs):
        for level in ("debug", "info", "warning", "error"):
            getattr(log, level)("chatty-%s", level)
        a, b = (np.asarray(x, np.float32) for x in inputs.images)
        return (0.5 * a + 0.5 * b).astype(np.float32)

@hookimpl
def benchbed_register_fusers():
    return [FuserSpec(name="conv_chatty", version="1", summary="logs at every level",
                      factory=Chatty, colour="gray")]
"""


def _cli(args: list[str], code: int = 0) -> Result:
    res = CliRunner().invoke(main, args, catch_exceptions=False)
    assert res.exit_code == code, res.output
    return res


@pytest.fixture()
def plugin_file(workdir: Path) -> Iterator[Callable[[str, str], str]]:
    """Write a plugin module into the workdir; forget it (sys.modules) afterwards."""
    names = []

    def write(name: str, code: str) -> str:
        (workdir / f"{name}.py").write_text(code)
        names.append(f"benchbed_local_{name}")
        return str(workdir / f"{name}.py")

    yield write
    for n in names:
        sys.modules.pop(n, None)


def _runs(db: Path) -> int:
    with sqlite3.connect(db) as con:
        return int(con.execute("select count(*) from runs").fetchone()[0])


def test_db_after_the_command_name(workdir: Path) -> None:
    (workdir / "conv.yaml").write_text(SUITE)
    other = workdir / "other.db"
    url = f"sqlite:///{other}"
    _cli(["run", "conv.yaml", "--no-progress", "--no-show", "--db", url])
    assert _runs(other) == 1
    assert not (workdir / "store.db").exists()
    # the default store (BENCHBED_DB) has nothing; --db after the subcommand finds the run
    assert "store.db does not exist" in _cli(["leaderboard", "show", "--suite", "conv"],
                                              code=2).output
    shown = _cli(["leaderboard", "show", "--suite", "conv", "--db", url]).output
    assert "average" in shown
    # given in both places, the one after the command name wins
    _cli(["--db", f"sqlite:///{workdir / 'store.db'}", "leaderboard", "show", "--suite", "conv",
          "--db", url])
    _cli(["--db", url, "leaderboard", "show", "--suite", "conv", "--db",
          f"sqlite:///{workdir / 'store.db'}"], code=2)
    assert url in _cli(["db", "upgrade", "--db", url]).output
    assert "conv" in _cli(["export", "--suite", "conv", "--db", url]).stdout


def test_plugin_after_the_command_name_and_a_failed_item_exits_1(workdir: Path,
                                                                 plugin_file) -> None:
    nan = plugin_file("conv_nan", NAN_PLUGIN)
    chatty = plugin_file("conv_chatty", CHATTY_PLUGIN)
    listed = _cli(["list", "fuser", "--plugin", nan]).output
    assert "conv_nan_fuser" in listed
    both = _cli(["--plugin", chatty, "list", "fuser", "--plugin", nan]).output
    assert "conv_nan_fuser" in both and "conv_chatty" in both  # the two places add up
    (workdir / "conv.yaml").write_text(SUITE.replace("[average]", "[average, conv_nan_fuser]"))
    out = _cli(["run", "conv.yaml", "--no-progress", "--plugin", nan], code=1).output
    assert "2 planned, 1 computed" in out and "1 failed" in out and "NaN" in out


def test_usage_errors_exit_2(workdir: Path) -> None:
    for args in (["run"],  # missing SUITE
                 ["run", "conv.yaml", "--no-such-option"],
                 ["no-such-command"],
                 ["export", "--suite", "conv", "--format", "xml"],
                 ["list", "not-a-kind"],
                 ["-v", "-q", "list"],
                 ["plugin", "new", "x", "--kind", "dataset"]):
        res = _cli(args, code=2)
        assert "Traceback" not in res.output, args
    # benchbed's own errors: one line, exit 2
    res = _cli(["info", "no_such_plugin_at_all"], code=2)
    assert res.output.startswith("error: no plugin called") and len(res.output.splitlines()) == 1
    res = _cli(["run", "missing.yaml"], code=2)
    assert res.output.startswith("error:")


@pytest.mark.parametrize("flags,shown", [
    ([], {"warning", "error"}),
    (["-q"], {"error"}),
    (["-v"], {"info", "warning", "error"}),
    (["-vv"], {"debug", "info", "warning", "error"}),
    (["--verbose", "--verbose"], {"debug", "info", "warning", "error"}),
])
def test_verbosity_sets_the_benchbed_logger_level(workdir: Path, plugin_file, flags: list[str],
                                                  shown: set[str]) -> None:
    chatty = plugin_file("conv_chatty", CHATTY_PLUGIN)
    paths = []
    for name in ("a", "b"):
        paths.append(str(workdir / f"{name}.png"))
        write_image(paths[-1], np.random.default_rng(len(paths)).random((16, 16)).astype(np.float32))
    logger = logging.getLogger("benchbed")
    level, handlers = logger.level, list(logger.handlers)
    res = _cli([*flags, "fuse", *paths, "-f", "conv_chatty", "-o", str(workdir / "f.png"),
                "--plugin", chatty])
    assert "wrote" in res.stdout and "chatty-" not in res.stdout  # logs go to stderr
    logged = {line.rsplit("chatty-", 1)[1] for line in res.stderr.splitlines() if "chatty-" in line}
    assert logged == shown
    # the level and the handler are the command's only
    assert logger.level == level and logger.handlers == handlers


def test_progress_is_log_lines_off_a_terminal(workdir: Path) -> None:
    (workdir / "conv.yaml").write_text(SUITE)
    res = _cli(["run", "conv.yaml", "--no-show"])  # CliRunner's streams are not terminals
    assert "progress: 1/1 items (100%), 0 failed" in res.output
    assert "\r" not in res.output


def test_cache_before_or_after_the_command_name(workdir: Path) -> None:
    """`benchbed --cache DIR run S` and `benchbed run S --cache DIR` put the artifacts in DIR;
    `cache info --cache DIR` reads it."""
    (workdir / "conv.yaml").write_text(SUITE)
    before, after = workdir / "c-before", workdir / "c-after"
    _cli(["--cache", str(before), "run", "conv.yaml", "--no-progress", "--no-show"])
    assert list(before.rglob("*.png")) and not (workdir / "cache").exists()
    _cli(["run", "conv.yaml", "--no-progress", "--no-show", "--overwrite", "always",
          "--cache", str(after)])
    assert list(after.rglob("*.png"))
    info = _cli(["cache", "info", "--cache", str(before)]).output
    assert str(before) in info
