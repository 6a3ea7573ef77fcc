"""`benchbed plugin new`: every template registers, passes its kind's conformance check, and its
generated test passes when run as the plugin author would (python -m pytest)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchbed.cli import main
from benchbed.registry import Registry
from benchbed.scaffold import SCAFFOLD_KINDS
from benchbed.testing import check_plugin

REPO = Path(__file__).resolve().parent.parent


def _new(tmp_path: Path, name: str, kind: str, code: int = 0) -> str:
    res = CliRunner().invoke(main, ["plugin", "new", name, "--kind", kind, "--out", str(tmp_path)],
                             catch_exceptions=False)
    assert res.exit_code == code, res.output
    return res.output


@pytest.fixture()
def forget_local_modules() -> Iterator[None]:
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("benchbed_local_"):
            del sys.modules[name]


@pytest.mark.parametrize("kind", SCAFFOLD_KINDS)
def test_template_registers_and_passes_conformance(tmp_path: Path, kind: str,
                                                   forget_local_modules: None) -> None:
    name = f"scaffolded_{kind}"
    out = _new(tmp_path, name, kind)
    root = tmp_path / f"benchbed-scaffolded-{kind}"
    module = root / f"benchbed_scaffolded_{kind}.py"
    test_file = root / "tests" / f"test_{name}.py"
    for path in (root / "pyproject.toml", root / "README.md", module, test_file):
        assert path.is_file(), path
        assert f"wrote {path}" in out
    project = (root / "pyproject.toml").read_text()
    assert f'[project.entry-points."benchbed"]\n{name} = "{module.stem}"\n' in project
    assert f'name = "{root.name}"' in project
    assert "benchbed.testing" in test_file.read_text() and "Registry" in test_file.read_text()
    spec = Registry([str(module)]).get(kind, name)  # type: ignore[arg-type]
    assert spec.provider == str(module)
    check_plugin(spec)


@pytest.mark.parametrize("kind", SCAFFOLD_KINDS)
def test_generated_test_passes_under_pytest(tmp_path: Path, kind: str) -> None:
    name = f"gen_{kind}"
    _new(tmp_path, name, kind)
    root = tmp_path / f"benchbed-gen-{kind}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(REPO)])}
    env.pop("BENCHBED_PLUGINS", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout


def test_refusals(tmp_path: Path) -> None:
    _new(tmp_path, "twice", "fuser")
    assert "already exists and is not empty" in _new(tmp_path, "twice", "fuser", code=2)
    assert "fuser called 'average' is already registered" in _new(tmp_path, "average", "fuser",
                                                                  code=2)
    # a module that is already importable would be shadowed (benchbed_fusers is a built-in)
    assert "already importable" in _new(tmp_path, "fusers", "metric", code=2)
    assert "not a usable plugin name" in _new(tmp_path, "9lives", "fuser", code=2)
    assert "Usage" in _new(tmp_path, "x", "detector", code=2)
