"""`benchbed plugin new`: write a plugin package that works and passes benchbed's conformance kit.

The package is a single module (the plugin's ``@hookimpl`` function and the class its spec
builds), a ``pyproject.toml`` whose ``benchbed`` entry point makes an installed copy visible to
every benchbed command, a README, and ``tests/test_<name>.py`` that finds the plugin through
``benchbed.registry.Registry`` and runs ``benchbed.testing.check_plugin`` on it.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from benchbed.errors import BenchbedError

SCAFFOLD_KINDS = ("fuser", "restorer", "metric", "degradation")
"""The plugin kinds ``benchbed plugin new --kind`` has a template for."""

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")


@dataclass(frozen=True)
class Scaffold:
    """What :func:`new_plugin` wrote: the package folder, its module and every file."""

    root: Path
    name: str
    kind: str
    module: str
    files: tuple[Path, ...]


def names_for(name: str) -> tuple[str, str, str]:
    """(plugin name, module name, distribution name) for NAME (``-`` becomes ``_``)."""
    if not _NAME.match(name):
        raise BenchbedError(f"{name!r} is not a usable plugin name",
                            fix="start with a letter; use letters, digits, '_' and '-' only "
                                "(e.g. my_fuser)")
    plugin = name.replace("-", "_")
    low = plugin.lower()
    module = low if low.startswith("benchbed_") else f"benchbed_{low}"
    return plugin, module, module.replace("_", "-")


def new_plugin(name: str, kind: str = "fuser", out: str | Path = ".",
               taken: set[str] | frozenset[str] = frozenset()) -> Scaffold:
    """Write the package of a new ``kind`` plugin called ``name`` into ``out/<distribution>``.

    ``taken``: names already registered for ``kind`` (a clash would make the registry refuse
    both plugins). Refuses a module name that is already importable and a non-empty folder.
    """
    if kind not in SCAFFOLD_KINDS:
        raise BenchbedError(f"there is no template for plugins of kind {kind!r}",
                            fix=f"use one of {', '.join(SCAFFOLD_KINDS)}")
    plugin, module, dist = names_for(name)
    if plugin in taken:
        raise BenchbedError(f"a {kind} called {plugin!r} is already registered",
                            fix=f"choose another NAME (`benchbed list {kind}` shows the names "
                                "in use)")
    try:
        importable = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        importable = False
    if importable:
        raise BenchbedError(f"a module called {module!r} is already importable here",
                            fix="choose another NAME so that the plugin's module does not shadow "
                                "it")
    root = Path(out) / dist
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise BenchbedError(f"{root} already exists and is not empty",
                            fix="choose another --out folder or NAME, or remove it")
    from benchbed import __version__

    words = {
        "name": plugin, "kind": kind, "module": module, "dist": dist,
        "cls": "".join(p[:1].upper() + p[1:] for p in plugin.split("_") if p) or "Plugin",
        "hook": _HOOKS[kind], "spec": _SPEC_CLASS[kind], "summary": _SUMMARY[kind],
        "deps": ", ".join(f'"{d}"' for d in
                          (f"benchbed>={'.'.join(__version__.split('.')[:2])}", *_DEPS[kind])),
    }
    files = {
        "pyproject.toml": _PYPROJECT,
        "README.md": _README,
        f"{module}.py": _MODULES[kind],
        f"tests/test_{plugin.lower()}.py": _TEST,
    }
    written = []
    for rel, template in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(template).substitute(words), encoding="utf-8")
        written.append(path)
    return Scaffold(root, plugin, kind, module, tuple(written))


_HOOKS = {"fuser": "benchbed_register_fusers", "restorer": "benchbed_register_restorers",
          "metric": "benchbed_register_metrics",
          "degradation": "benchbed_register_degradations"}
_SPEC_CLASS = {"fuser": "FuserSpec", "restorer": "RestorerSpec", "metric": "MetricSpec",
               "degradation": "DegradationSpec"}
_SUMMARY = {
    "fuser": "Weighted average of the two sources (template: replace with your method)",
    "restorer": "Operator pseudo-inverse, then noise-adaptive Gaussian smoothing (template)",
    "metric": "Mean correlation coefficient of the fused image with each source (template)",
    "degradation": "Gaussian blur followed by additive Gaussian noise (template)",
}
_DEPS = {"fuser": ("numpy",), "restorer": ("numpy", "scipy"), "metric": ("numpy",),
         "degradation": ("numpy",)}

_PYPROJECT = '''\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "A benchbed $kind plugin: $name"
readme = "README.md"
requires-python = ">=3.10"
dependencies = [$deps]

[project.optional-dependencies]
test = ["pytest>=7.4"]

# This table is what makes benchbed find the plugin once the package is installed:
# group "benchbed", any key, value = the module holding the @hookimpl functions.
[project.entry-points."benchbed"]
$name = "$module"

[tool.setuptools]
py-modules = ["$module"]

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["."]
'''

_README = '''\
# $dist

A benchbed $kind plugin, `$name`: $summary.
Written by `benchbed plugin new $name --kind $kind`; the code is in `$module.py`.

```bash
pip install -e .             # benchbed finds it through the `benchbed` entry point
benchbed list $kind          # shows $name
benchbed info $name
python -m pytest             # benchbed's conformance checks (benchbed.testing)
```

Without installing: `benchbed --plugin ./$module.py list $kind` (or
`BENCHBED_PLUGINS=./$module.py`). Use it in a suite by its name, `$name`.

Bump `version` in the spec whenever the plugin's outputs change: it enters every cache key,
so stored results of the old version are recomputed instead of reused. Heavy imports (torch,
a model) belong inside the factory, or behind `benchbed.lazy("package.module:Class")`, so
that `benchbed list` stays fast. The hook, spec fields and conventions of each plugin kind:
benchbed's `docs/plugins.md`.
'''

_TEST = '''\
"""$name passes benchbed's conformance kit, found through benchbed's own registry.

Run from the package folder (installed, or not: pytest puts the folder on sys.path)::

    python -m pytest
"""

from __future__ import annotations

import pytest
from benchbed.registry import Registry
from benchbed.testing import check_plugin, skip_reason

MODULE = "$module"


@pytest.fixture(scope="module")
def spec():  # type: ignore[no-untyped-def]
    """The spec as benchbed sees it (entry point when installed, else the module by name)."""
    return Registry([MODULE]).get("$kind", "$name")


def test_registered(spec) -> None:  # type: ignore[no-untyped-def]
    assert spec.kind == "$kind" and spec.name == "$name"
    assert spec.version and spec.summary
    assert spec.provider, "the registry records where the spec came from"


def test_conformance(spec) -> None:  # type: ignore[no-untyped-def]
    reason = skip_reason(spec)
    if reason:
        pytest.skip(reason)
    check_plugin(spec)
'''

_FUSER = '''\
"""$name: a benchbed fuser plugin (written by `benchbed plugin new`)."""

from __future__ import annotations

import numpy as np
from benchbed import BenchbedError, FuserSpec, FusionInputs, Image, hookimpl


class $cls:
    """Per-pixel weighted average of the two sources, w * a + (1 - w) * b.

    The core hands ``fuse`` two registered float32 HxW images in [0, 1] (the Y channel of
    colour sources under ``colour="y-cbcr"``; it puts the chroma back) and expects one float32
    HxW image in [0, 1] back. Same inputs, same output; never modify the inputs in place.
    """

    def __init__(self, weight: float = 0.5) -> None:
        if not 0.0 <= float(weight) <= 1.0:
            raise BenchbedError(f"$name: weight must be in [0, 1], got {weight}",
                                fix="set params: {weight: 0.5} in the suite")
        self.weight = float(weight)

    def fuse(self, inputs: FusionInputs) -> Image:
        a, b = (np.asarray(x, np.float64) for x in inputs.images)
        fused = self.weight * a + (1.0 - self.weight) * b
        return np.clip(fused, 0.0, 1.0).astype(np.float32)


@hookimpl
def $hook() -> list[$spec]:
    return [
        $spec(
            name="$name",
            version="1",  # bump whenever the outputs change: it enters every cache key
            summary="$summary",
            factory=$cls,  # heavy code: benchbed.lazy("package.module:Class") instead
            params={"weight": 0.5},
            colour="y-cbcr",
            citation="",
        )
    ]
'''

_RESTORER = '''\
"""$name: a benchbed restorer plugin (written by `benchbed plugin new`)."""

from __future__ import annotations

import numpy as np
from benchbed import BenchbedError, Image, Observation, RestorerSpec, hookimpl


class $cls:
    """Back-project the observation onto the clean grid with its operator's pseudo-inverse, then
    smooth with a Gaussian whose width grows with the noise level (1 px per 10/255 of noise
    sigma, times ``strength``).

    ``restore`` gets one degraded source (``observation.y``, float32, possibly smaller than the
    clean image) with its linear operator and noise level, and returns a float32 image of
    ``observation.clean_shape`` in [0, 1]. Same inputs, same output; never modify the inputs.
    """

    def __init__(self, strength: float = 1.0) -> None:
        self.strength = float(strength)

    def restore(self, observation: Observation, modality: str) -> Image:
        from scipy import ndimage  # imports the core does not need go inside the method

        y = np.asarray(observation.y, np.float64)
        op = observation.operator
        x = np.asarray(op.A_pinv(y), np.float64) if op is not None else y
        if x.shape != tuple(observation.clean_shape):
            raise BenchbedError(f"$name: a {y.shape} observation without an operator cannot "
                                f"be brought to {tuple(observation.clean_shape)}",
                                fix="use it on linear degradations")
        width = self.strength * float(observation.noise_sigma) * 255.0 / 10.0
        if width > 0:
            x = ndimage.gaussian_filter(x, (width, width, 0.0) if x.ndim == 3 else width,
                                        mode="reflect")
        return np.clip(x, 0.0, 1.0).astype(np.float32)


@hookimpl
def $hook() -> list[$spec]:
    return [
        $spec(
            name="$name",
            version="1",  # bump whenever the outputs change: it enters every cache key
            summary="$summary",
            factory=$cls,  # heavy code: benchbed.lazy("package.module:Class") instead
            params={"strength": 1.0},
            handles=("*",),  # the degradations it is meant for; "*" = any
            citation="",
        )
    ]
'''

_METRIC = '''\
"""$name: a benchbed metric plugin (written by `benchbed plugin new`)."""

from __future__ import annotations

import numpy as np
from benchbed import MetricSpec, hookimpl


class $cls:
    """Mean of the correlation coefficients corr(a, f) and corr(b, f), in [-1, 1].

    ``compute`` gets the two sources and the fused image as float64 gray arrays on 0..255 (8-bit
    values, BT.601 luma) and returns one finite Python float; same inputs, same value.
    """

    def __init__(self, eps: float = 1e-12) -> None:
        self.eps = float(eps)  # keeps a flat image (zero variance) finite: correlation 0

    def _corr(self, x: np.ndarray, y: np.ndarray) -> float:
        dx, dy = x - x.mean(), y - y.mean()
        return float(np.sum(dx * dy) / np.sqrt(np.sum(dx * dx) * np.sum(dy * dy) + self.eps))

    def compute(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        a, b, f = (np.asarray(v, np.float64) for v in (a, b, f))
        return 0.5 * (self._corr(a, f) + self._corr(b, f))


@hookimpl
def $hook() -> list[$spec]:
    return [
        $spec(
            name="$name",
            version="1",  # bump whenever the values change: it enters every cache key
            summary="$summary",
            factory=$cls,  # heavy code: benchbed.lazy("package.module:Class") instead
            params={"eps": 1e-12},
            higher_is_better=True,
            range=(-1.0, 1.0),
            citation="",
        )
    ]
'''

_DEGRADATION = '''\
"""$name: a benchbed degradation plugin (written by `benchbed plugin new`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from benchbed import BenchbedError, DegradationSpec, Image, Observation, SeverityAxis, hookimpl
from benchbed.operators import GaussianBlur


class $cls:
    """Gaussian blur of width ``blur`` px (the linear operator A), then Gaussian noise of std
    ``sigma`` on the [0, 1] scale.

    ``apply`` gets one clean float32 source in [0, 1] and the parameters of one severity level;
    all randomness comes from ``rng``. It returns an Observation with the float32 degraded image,
    its operator (restorers and degradation-aware fusers invert it) and the noise level.
    """

    def __init__(self, blur: float = 1.0, sigma: float = 5 / 255) -> None:
        self.defaults = {"blur": float(blur), "sigma": float(sigma)}

    def apply(self, image: Image, modality: str, severity: Mapping[str, Any],
              rng: np.random.Generator) -> Observation:
        unknown = set(severity) - set(self.defaults)
        if unknown:
            raise BenchbedError(f"$name has no parameter(s) {sorted(unknown)}",
                                fix="use blur and sigma")
        params = {**self.defaults, **severity}
        x = np.asarray(image, np.float32)
        op = GaussianBlur(x.shape, float(params["blur"]))
        sigma = float(params["sigma"])
        y = np.asarray(op.A(x.astype(np.float64)), np.float64)
        y = y + sigma * rng.standard_normal(x.shape)
        return Observation(y=np.clip(y, 0.0, 1.0).astype(np.float32), operator=op,
                           clean_shape=x.shape, noise_sigma=sigma, degradation="$name",
                           params=params)


@hookimpl
def $hook() -> list[$spec]:
    return [
        $spec(
            name="$name",
            version="1",  # bump whenever the outputs change: it enters every cache key
            summary="$summary",
            factory=$cls,  # heavy code: benchbed.lazy("package.module:Class") instead
            params={"blur": 1.0, "sigma": 5 / 255},
            modalities=("*",),
            # level "1" is the mildest; a suite names the levels it runs
            severities={"1": {"blur": 0.8, "sigma": 2 / 255}, "2": {"blur": 1.5, "sigma": 5 / 255},
                        "3": {"blur": 2.5, "sigma": 10 / 255}},
            linear=True,
            axis=SeverityAxis("blur", "blur sigma (px)"),
            citation="",
        )
    ]
'''

_MODULES = {"fuser": _FUSER, "restorer": _RESTORER, "metric": _METRIC,
            "degradation": _DEGRADATION}
