"""Registry: hooks documented, entry points, local modules, unknown and duplicate names."""

from __future__ import annotations

import inspect
import sys
import textwrap
from pathlib import Path

import pytest

from benchbed import hookspecs
from benchbed.errors import DuplicatePluginError, UnknownPluginError
from benchbed.registry import Registry
from benchbed.types import KINDS


def test_every_hook_is_documented() -> None:
    hooks = [f for n, f in inspect.getmembers(hookspecs, inspect.isfunction)
             if n.startswith("benchbed_register_")]
    assert len(hooks) == len(KINDS) == 7
    for fn in hooks:
        doc = inspect.getdoc(fn) or ""
        assert len(doc) > 40, f"{fn.__name__} needs a docstring"
    assert set(hookspecs.HOOK_FOR_KIND) == set(KINDS)


def test_builtins_load_through_entry_points() -> None:
    reg = Registry()
    providers = {s.provider for k in KINDS for s in reg.specs(k)}
    # every built-in arrives through the "benchbed" entry-point group, like a third-party plugin
    assert all("(benchbed_" in p for p in providers), providers
    for kind in ("degradation", "restorer", "fuser", "metric", "dataset"):
        assert reg.names(kind), kind


def test_unknown_name_suggests() -> None:
    reg = Registry()
    with pytest.raises(UnknownPluginError) as err:
        reg.get("fuser", "laplacain")
    assert "laplacian" in str(err.value) and "did you mean" in str(err.value)


def _write_module(tmp_path: Path, name: str, fuser_name: str) -> None:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(f"""
        from benchbed import FuserSpec, hookimpl

        class F:
            def fuse(self, inputs):
                return inputs.images[0]

        @hookimpl
        def benchbed_register_fusers():
            return [FuserSpec(name="{fuser_name}", version="1", summary="test", factory=F)]
    """))


def test_local_module_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_module(tmp_path, "my_local_plugin", "first_source")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry(["my_local_plugin"])
    assert reg.get("fuser", "first_source").provider == "my_local_plugin"
    monkeypatch.setenv("BENCHBED_PLUGINS", "my_local_plugin")
    assert "first_source" in Registry().names("fuser")
    sys.modules.pop("my_local_plugin", None)


def test_duplicate_names_name_both_providers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    _write_module(tmp_path, "dup_plugin_a", "average")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(DuplicatePluginError) as err:
        Registry(["dup_plugin_a"])
    msg = str(err.value)
    assert "dup_plugin_a" in msg and "benchbed_fusers" in msg


def test_spec_rejects_unknown_params() -> None:
    spec = Registry().get("fuser", "laplacian")
    with pytest.raises(Exception, match="no parameter"):
        spec.build(nonsense=1)


def test_broken_plugin_is_skipped_with_a_warning(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture) -> None:
    import benchbed.registry as registry_mod

    class BrokenEP:
        name, value = "broken", "not_a_real_module_xyz"

        def load(self):
            raise ImportError("No module named 'not_a_real_module_xyz'")

    real = registry_mod.entry_points
    monkeypatch.setattr(registry_mod, "entry_points",
                        lambda group: [*real(group=group), BrokenEP()])
    reg = Registry()
    assert "laplacian" in reg.names("fuser")  # every other plugin still loads
    assert "broken (not_a_real_module_xyz)" in reg.broken
    assert "not_a_real_module_xyz" in capsys.readouterr().err
