"""The examples/ fuser plugin, installed like any third-party package, is found and ranks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_example_plugin_installs_lists_and_ranks(tmp_path: Path) -> None:
    target = tmp_path / "site"
    # --target keeps the test's venv untouched; the dist-info's entry point is what makes the
    # plugin visible, exactly as after a plain `pip install`.
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(REPO / "examples" / "benchbed-example-fuser")],
        check=True, capture_output=True, text=True,
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")]),
           "BENCHBED_DB": f"sqlite:///{tmp_path / 'store.db'}",
           "BENCHBED_CACHE": str(tmp_path / "cache")}
    listed = subprocess.run([sys.executable, "-m", "benchbed.cli", "list", "fuser"], env=env,
                            capture_output=True, text=True, check=True).stdout
    assert "local_energy" in listed
    run = subprocess.run(
        [sys.executable, "-m", "benchbed.cli", "run", str(REPO / "examples" / "example-suite.yaml"),
         "--no-progress"], env=env, capture_output=True, text=True, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    table = run.stdout[run.stdout.index("leaderboard:"):]
    assert "auto>local_energy" in table and " local_energy " in table
    assert "0 failed" in run.stdout
