"""The plugin manager: entry points and local modules load the same way; typed lookup by name."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import replace
from importlib.metadata import entry_points
from typing import Literal, overload

import pluggy

from benchbed import hookspecs
from benchbed.errors import BenchbedError, DuplicatePluginError, UnknownPluginError, did_you_mean
from benchbed.types import (
    KINDS,
    SPEC_CLASSES,
    DatasetSpec,
    DegradationSpec,
    DetectorSpec,
    FuserSpec,
    Kind,
    MetricSpec,
    PluginSpec,
    PublisherSpec,
    RestorerSpec,
)

ENTRY_POINT_GROUP = "benchbed"


class Registry:
    """All specs of all plugin kinds, keyed by (kind, name), built once from the plugin manager."""

    def __init__(self, extra_modules: Iterable[str] = ()) -> None:
        self.pm = pluggy.PluginManager("benchbed")
        self.pm.add_hookspecs(hookspecs)
        self._providers: dict[object, str] = {}
        self.broken: dict[str, str] = {}
        """Installed plugins that failed to import: provider -> error (they are skipped)."""
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                module = ep.load()
            except Exception as exc:  # one broken plugin must not take every other one down
                provider = f"{ep.name} ({ep.value})"
                self.broken[provider] = f"{type(exc).__name__}: {exc}"
                print(f"warning: plugin {provider} failed to import and is skipped: {exc} "
                      f"(fix: fix or uninstall the package providing {ep.value})", file=sys.stderr)
                continue
            self._register(module, f"{ep.name} ({ep.value})")
        env = os.environ.get("BENCHBED_PLUGINS", "")
        for name in dict.fromkeys([*filter(None, (m.strip() for m in env.split(","))),
                                   *extra_modules]):  # named in both: loaded once
            self._register(load_local_module(name), name)
        self._specs: dict[Kind, dict[str, PluginSpec]] = {k: {} for k in KINDS}
        for kind in KINDS:
            self._collect(kind)

    def _register(self, module: object, provider: str) -> None:
        if self.pm.is_registered(module):
            return
        self.pm.register(module, name=provider)
        self._providers[module] = provider

    def _collect(self, kind: Kind) -> None:
        hook = getattr(self.pm.hook, hookspecs.HOOK_FOR_KIND[kind])
        table = self._specs[kind]
        for impl in hook.get_hookimpls():
            provider = self._providers.get(impl.plugin, impl.plugin_name)
            try:
                returned = list(impl.function() or [])
            except Exception as exc:  # one broken hook must not take every other plugin down
                self.broken[provider] = (f"{hookspecs.HOOK_FOR_KIND[kind]}() raised "
                                         f"{type(exc).__name__}: {exc}")
                print(f"warning: plugin {provider}: {self.broken[provider]}; its {kind}s are "
                      f"skipped (fix: fix the plugin's hook, or uninstall it)", file=sys.stderr)
                continue
            for spec in returned:
                check_spec(spec, kind, provider)
                spec = replace(spec, provider=provider)
                if spec.name in table:
                    raise DuplicatePluginError(
                        f"two plugins register the {kind} {spec.name!r}: "
                        f"{table[spec.name].provider} and {provider}",
                        fix="uninstall one of them or rename one plugin",
                    )
                table[spec.name] = spec

    def names(self, kind: Kind) -> list[str]:
        """Sorted names registered for ``kind``."""
        return sorted(self._specs[kind])

    @overload
    def specs(self, kind: Literal["degradation"]) -> list[DegradationSpec]: ...
    @overload
    def specs(self, kind: Literal["restorer"]) -> list[RestorerSpec]: ...
    @overload
    def specs(self, kind: Literal["fuser"]) -> list[FuserSpec]: ...
    @overload
    def specs(self, kind: Literal["metric"]) -> list[MetricSpec]: ...
    @overload
    def specs(self, kind: Literal["dataset"]) -> list[DatasetSpec]: ...
    @overload
    def specs(self, kind: Literal["detector"]) -> list[DetectorSpec]: ...
    @overload
    def specs(self, kind: Literal["publisher"]) -> list[PublisherSpec]: ...
    @overload
    def specs(self, kind: Kind) -> list[PluginSpec]: ...

    def specs(self, kind: Kind) -> Sequence[PluginSpec]:  # a list; Sequence: covariant for the overloads
        """All specs of ``kind``, sorted by name (typed by kind: ``specs("metric")`` is
        ``list[MetricSpec]``; collection checked each is an instance of ``SPEC_CLASSES[kind]``)."""
        return [self._specs[kind][n] for n in self.names(kind)]

    @overload
    def get(self, kind: Literal["degradation"], name: str) -> DegradationSpec: ...
    @overload
    def get(self, kind: Literal["restorer"], name: str) -> RestorerSpec: ...
    @overload
    def get(self, kind: Literal["fuser"], name: str) -> FuserSpec: ...
    @overload
    def get(self, kind: Literal["metric"], name: str) -> MetricSpec: ...
    @overload
    def get(self, kind: Literal["dataset"], name: str) -> DatasetSpec: ...
    @overload
    def get(self, kind: Literal["detector"], name: str) -> DetectorSpec: ...
    @overload
    def get(self, kind: Literal["publisher"], name: str) -> PublisherSpec: ...
    @overload
    def get(self, kind: Kind, name: str) -> PluginSpec: ...

    def get(self, kind: Kind, name: str) -> PluginSpec:
        """The spec of ``kind`` called ``name``, typed by kind (``get("fuser", n)`` is a
        FuserSpec); unknown names suggest close matches."""
        if kind not in self._specs:
            raise BenchbedError(f"unknown plugin kind {kind!r}", fix=f"use one of {list(KINDS)}")
        table = self._specs[kind]
        if name in table:
            return table[name]
        fix = suggestion(name, list(table), kind)
        if self.broken:
            fix += "; broken plugins that may provide it: " + "; ".join(
                f"{p} ({e})" for p, e in self.broken.items())
        raise UnknownPluginError(f"no {kind} called {name!r}", fix=fix)

    def find(self, name: str) -> list[PluginSpec]:
        """Specs of any kind called ``name``."""
        return [t[name] for t in self._specs.values() if name in t]

    def all_names(self) -> list[str]:
        """Every registered name of every kind."""
        return sorted({n for t in self._specs.values() for n in t})


def load_local_module(name: str) -> object:
    """Import a ``--plugin`` / BENCHBED_PLUGINS module by name, or a ``.py`` file by path."""
    import importlib.util
    from pathlib import Path

    path = Path(name)
    if name.endswith(".py") or os.sep in name:
        if not path.is_file():
            raise BenchbedError(f"plugin file {name} does not exist",
                                fix="pass an existing .py file, or a module name on PYTHONPATH")
        mod_name = f"benchbed_local_{path.stem}"
        spec = importlib.util.spec_from_file_location(mod_name, path)
        if spec is None or spec.loader is None:
            raise BenchbedError(f"cannot load plugin file {name}", fix="pass a .py file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module  # pickled specs of pool workers find it by this name
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(mod_name, None)
            raise BenchbedError(f"plugin file {name} failed to import: {type(exc).__name__}: {exc}",
                                fix=f"fix {name} (run `python {name}` to see the traceback)"
                                ) from exc
        return module
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name.split(".")[0] and exc.name != name:
            raise BenchbedError(f"plugin module {name!r} failed to import: {exc}",
                                fix=f"install the module {exc.name!r} it needs") from exc
        raise BenchbedError(
            f"cannot import plugin module {name!r}: {exc}",
            fix="check --plugin / BENCHBED_PLUGINS and that the module is on PYTHONPATH "
                "(or pass a path to a .py file)",
        ) from exc
    except Exception as exc:
        raise BenchbedError(f"plugin module {name!r} failed to import: {type(exc).__name__}: {exc}",
                            fix=f"fix the module (python -c 'import {name}' shows the traceback)"
                            ) from exc


def check_spec(spec: object, kind: Kind, provider: str) -> None:
    """BenchbedError unless ``spec``, returned by ``kind``'s hook, is an instance of the kind's
    spec class (``SPEC_CLASSES``) with that kind: a plain PluginSpec is not a FuserSpec."""
    hook = hookspecs.HOOK_FOR_KIND[kind]
    cls = SPEC_CLASSES[kind]
    if isinstance(spec, cls) and spec.kind == kind:
        return
    name = getattr(spec, "name", None)
    what = f"{type(spec).__name__} {name!r}" if name is not None else repr(spec)[:80]
    if isinstance(spec, PluginSpec) and spec.kind != kind:
        what += f" of kind {spec.kind!r}"
    raise BenchbedError(
        f"plugin {provider} returned {what} from {hook}(), which must return {cls.__name__} "
        "instances",
        fix=f"build it as benchbed.{cls.__name__}(name=..., ...) in {provider}'s {hook}()"
            + (f", or return it from {hookspecs.HOOK_FOR_KIND[spec.kind]}()"
               if isinstance(spec, PluginSpec) and spec.kind in hookspecs.HOOK_FOR_KIND
               and spec.kind != kind else ""),
    )


def suggestion(name: str, known: list[str], kind: str) -> str:
    """'did you mean ...' text for an unknown name (``did_you_mean``), else where to look."""
    return did_you_mean(name, known) or f"run `benchbed list {kind}` to see what is installed"


_DEFAULT: Registry | None = None
_DEFAULT_KEY: tuple[str, ...] | None = None


def get_registry(extra_modules: Iterable[str] = ()) -> Registry:
    """The process-wide registry (rebuilt when BENCHBED_PLUGINS or the extra modules change)."""
    global _DEFAULT, _DEFAULT_KEY
    key = (os.environ.get("BENCHBED_PLUGINS", ""), *extra_modules)
    if _DEFAULT is None or key != _DEFAULT_KEY:
        _DEFAULT = Registry(extra_modules)
        _DEFAULT_KEY = key
    return _DEFAULT
