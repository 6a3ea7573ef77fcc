"""Packaging: optional packages are extras with a one-line error naming them, before any item
runs; provenance records benchbed's own commit, never that of a repository it is installed in."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import benchbed
from benchbed.cli import main
from benchbed.errors import BenchbedError
from benchbed.registry import Registry

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parent.parent

NEEDY = textwrap.dedent("""
    from benchbed import RestorerSpec, hookimpl

    class Same:
        def restore(self, observation, modality):
            return observation.y

    @hookimpl
    def benchbed_register_restorers():
        return [RestorerSpec(name="needs_missing", version="1", summary="needs a package",
                             factory=Same, requires={"benchbed_no_such_module": "pip install x"})]
""")


def test_licence_restricted_and_heavy_packages_are_extras() -> None:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = " ".join(meta["dependencies"])
    assert "bm3d" not in deps and "h5py" not in deps and "ultralytics" not in deps
    extras = meta["optional-dependencies"]
    assert any(d.startswith("bm3d") for d in extras["bm3d"])
    assert any(d.startswith("h5py") for d in extras["zoo"])
    assert meta["license"] == "MIT" and meta["classifiers"]
    reg = Registry()
    assert "bm3d" in reg.get("restorer", "bm3d").requires
    assert "h5py" in reg.get("restorer", "zoo_auto").requires


def test_a_missing_package_is_one_error_before_any_item(workdir: Path) -> None:
    (workdir / "needy.py").write_text(NEEDY)
    reg = Registry([str(workdir / "needy.py")])
    spec = reg.get("restorer", "needs_missing")
    assert spec.missing() == {"benchbed_no_such_module": "pip install x"}
    with pytest.raises(BenchbedError, match="needs benchbed_no_such_module"):
        spec.build()
    (workdir / "s.yaml").write_text(textwrap.dedent("""
        name: needy
        datasets: [{name: demo, limit: 1}]
        degradations: [gaussian_noise]
        methods: [{restore: needs_missing, fuse: average}]
        metrics: [EN]
    """))
    res = CliRunner().invoke(main, ["--plugin", str(workdir / "needy.py"), "run",
                                    str(workdir / "s.yaml"), "--no-progress"])
    assert res.exit_code == 2 and "fix: pip install x" in res.output
    listed = CliRunner().invoke(main, ["--plugin", str(workdir / "needy.py"), "list", "restorer"])
    assert "not installed: benchbed_no_such_module" in listed.output


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"})


def test_provenance_commit_is_benchbeds_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchbed.runner import git_commit

    user_repo = tmp_path / "user-project"
    site = user_repo / ".venv" / "lib" / "site-packages"
    (site / "benchbed").mkdir(parents=True)
    (site / "benchbed" / "__init__.py").write_text("")
    (user_repo / "paper.tex").write_text("x")
    _git(user_repo, "init", "-q")
    _git(user_repo, "add", "paper.tex")
    _git(user_repo, "commit", "-q", "-m", "user work")
    monkeypatch.setattr(benchbed, "__file__", str(site / "benchbed" / "__init__.py"))
    assert git_commit() is None  # a wheel inside the user's repository: not the user's commit
    checkout = tmp_path / "benchbed-checkout"
    (checkout / "benchbed").mkdir(parents=True)
    (checkout / "benchbed" / "__init__.py").write_text("")
    _git(checkout, "init", "-q")
    _git(checkout, "add", "benchbed/__init__.py")
    _git(checkout, "commit", "-q", "-m", "benchbed")
    monkeypatch.setattr(benchbed, "__file__", str(checkout / "benchbed" / "__init__.py"))
    commit = git_commit()
    assert commit is not None and len(commit.removesuffix("-dirty")) == 40
