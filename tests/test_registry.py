"""Registry: hooks documented, entry points, local modules, unknown and duplicate names."""

from __future__ import annotations

import inspect
import sys
import textwrap
from pathlib import Path

import pytest

from benchbed import hookspecs
from benchbed.errors import BenchbedError, DuplicatePluginError, UnknownPluginError
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


def test_get_and_specs_return_the_kinds_spec_class() -> None:
    from benchbed.types import SPEC_CLASSES, PluginSpec

    reg = Registry()
    for kind in KINDS:
        assert all(type(s) is not PluginSpec and isinstance(s, SPEC_CLASSES[kind])
                   for s in reg.specs(kind)), kind
        for name in reg.names(kind):
            assert isinstance(reg.get(kind, name), SPEC_CLASSES[kind])
    assert reg.get("metric", "QABF").higher_is_better  # typed: MetricSpec attributes, no cast


def _plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, body: str) -> str:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name


def test_plain_plugin_spec_from_a_kind_hook_is_an_error(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    mod = _plugin(tmp_path, monkeypatch, "plain_spec_plugin", """
        from benchbed import PluginSpec, hookimpl

        @hookimpl
        def benchbed_register_fusers():
            return [PluginSpec(kind="fuser", name="plain", version="1", summary="x",
                               factory=object)]
    """)
    with pytest.raises(BenchbedError) as err:
        Registry([mod])
    msg = str(err.value)
    assert "plain_spec_plugin" in msg and "'plain'" in msg and "PluginSpec" in msg
    assert err.value.fix and "benchbed.FuserSpec(" in err.value.fix


def test_spec_of_another_kind_names_the_right_hook(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    mod = _plugin(tmp_path, monkeypatch, "wrong_kind_plugin", """
        from benchbed import MetricSpec, hookimpl

        @hookimpl
        def benchbed_register_fusers():
            return [MetricSpec(name="m", version="1", summary="x", factory=object)]
    """)
    with pytest.raises(BenchbedError) as err:
        Registry([mod])
    assert "MetricSpec 'm'" in str(err.value) and "benchbed_register_metrics" in err.value.fix


BUILT = """
    from benchbed import DatasetSpec, FuserSpec, hookimpl

    CALLS = []

    class NoFuse:
        def fuze(self, inputs):
            return inputs.images[0]

    class Fuses:
        def fuse(self, inputs):
            return inputs.images[0]

    def once_good(**params):
        CALLS.append(1)
        return Fuses() if len(CALLS) == 1 else NoFuse()

    class Pairs:
        def pair_ids(self, split=None):
            return []

        def load(self, pair_id):
            raise KeyError(pair_id)

    @hookimpl
    def benchbed_register_fusers():
        return [FuserSpec(name="nofuse", version="1", summary="x", factory=NoFuse),
                FuserSpec(name="once_good", version="1", summary="x", factory=once_good)]

    @hookimpl
    def benchbed_register_datasets():
        return [DatasetSpec(name="plain_pairs", version="1", summary="x", factory=Pairs),
                DatasetSpec(name="claims_conditions", version="1", summary="x", factory=Pairs,
                            conditions=("fog",))]
"""


def test_built_object_is_checked_against_its_protocol(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from benchbed.errors import PluginOutputError

    reg = Registry([_plugin(tmp_path, monkeypatch, "built_plugin", BUILT)])
    with pytest.raises(PluginOutputError) as err:
        reg.get("fuser", "nofuse").build()
    msg = str(err.value)
    assert "'nofuse'" in msg and "built_plugin" in msg and "fuse()" in msg and "NoFuse" in msg
    assert "def fuse(self, inputs: FusionInputs) -> Image" in err.value.fix
    # Checked once per spec, when it first builds: later builds are not checked again.
    spec = reg.get("fuser", "once_good")
    assert type(spec.build()).__name__ == "Fuses"
    assert type(spec.build()).__name__ == "NoFuse"
    # A dataset that lists conditions must observe() them; one that lists none need not.
    reg.get("dataset", "plain_pairs").build()
    with pytest.raises(PluginOutputError, match=r"observe\(\).*ObservedDataset"):
        reg.get("dataset", "claims_conditions").build()


def test_every_kind_has_an_exported_protocol() -> None:
    import benchbed
    from benchbed.types import PROTOCOLS, ObservedDataset, protocol_methods

    assert set(PROTOCOLS) == set(KINDS)
    for proto in (*PROTOCOLS.values(), ObservedDataset):
        assert getattr(benchbed, proto.__name__) is proto and proto.__name__ in benchbed.__all__
        assert protocol_methods(proto), proto
    assert protocol_methods(ObservedDataset) == ("pair_ids", "load", "observe")


def test_spec_has_no_declared_device() -> None:
    from benchbed.types import PluginSpec

    assert "device" not in PluginSpec.__dataclass_fields__
    assert all("device" not in s.describe() for k in KINDS for s in Registry().specs(k))


def test_did_you_mean() -> None:
    from benchbed.errors import did_you_mean
    from benchbed.registry import suggestion

    known = ["laplacian", "average", "QABF"]
    assert did_you_mean("laplacain", known) == "did you mean 'laplacian'?"
    assert did_you_mean("qabf", known) == "did you mean 'QABF'?"  # case-insensitive
    assert did_you_mean("zzz", known) == ""
    assert suggestion("zzz", known, "fuser") == "run `benchbed list fuser` to see what is installed"
    assert suggestion("Average", known, "fuser") == "did you mean 'average'?"
