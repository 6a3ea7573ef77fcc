"""Hashes of the code that computes an artifact: a plugin's package and the core's compute path.

A plugin's version enters every cache key, but a code change without a version bump would
otherwise reuse stale images. The hash covers every ``.py`` file of the top-level package (or
the single module) that provides the plugin's factory, plus the core modules every fusion and
restoration goes through.
"""

from __future__ import annotations

import hashlib
import importlib.util
from functools import cache, partial
from pathlib import Path
from typing import Any

CORE_MODULES = ("benchbed.fusion", "benchbed.imaging", "benchbed.operators", "benchbed.types",
                "benchbed.work")
"""Core modules whose code shapes every artifact (colour policy, I/O, operators, keys)."""


def _files_of(top: str) -> list[Path]:
    try:
        found = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return []
    if found is None:
        return []
    if found.submodule_search_locations:
        files: list[Path] = []
        for loc in found.submodule_search_locations:
            files += sorted(Path(loc).rglob("*.py"))
        return files
    return [Path(found.origin)] if found.origin and found.origin.endswith(".py") else []


@cache
def module_code_hash(module: str) -> str:
    """sha256 over the sources of ``module``'s top-level package (relative names + bytes)."""
    top = module.split(".")[0]
    h = hashlib.sha256()
    for path in _files_of(top):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@cache
def core_code_hash() -> str:
    """sha256 over the core modules of :data:`CORE_MODULES`."""
    h = hashlib.sha256()
    for name in CORE_MODULES:
        found = importlib.util.find_spec(name)
        if found is not None and found.origin:
            h.update(Path(found.origin).read_bytes())
    return h.hexdigest()


def factory_module(factory: Any) -> str:
    """The module a spec's factory builds from (a ``lazy("pkg.mod:Name")`` target included)."""
    if isinstance(factory, partial) and factory.args and isinstance(factory.args[0], str) \
            and ":" in factory.args[0]:
        return factory.args[0].partition(":")[0]
    return getattr(factory, "__module__", "") or ""


def plugin_code_hash(spec: Any) -> str:
    """The code identity of a plugin spec: its package's sources and the core's (16 hex)."""
    module = factory_module(spec.factory)
    body = module_code_hash(module) if module and module != "__main__" else ""
    return hashlib.sha256((body + core_code_hash()).encode()).hexdigest()[:16]
