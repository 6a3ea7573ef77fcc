"""docs/plugins.md documents every hook with a working example; every hook is tested; every CLI
command has help text and appears in README.md.

Modelled on datasette's ``test_plugin_hooks_are_documented`` and sqlite-utils' CLI-docs test.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
import typing
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from benchbed import hookspecs
from benchbed.cli import main
from benchbed.detection import Detections
from benchbed.errors import BenchbedError
from benchbed.fusion import fuse_with_policy
from benchbed.imaging import check_image, to_gray_255
from benchbed.leaderboard import PublishContext, publish
from benchbed.operators import AvgPoolDown, Identity
from benchbed.paths import slug
from benchbed.registry import Registry
from benchbed.types import (
    KINDS,
    Dataset,
    Degradation,
    Detector,
    Fuser,
    FusionInputs,
    Metric,
    Observation,
    Pair,
    PluginSpec,
    Publisher,
    Restorer,
)

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "plugins.md"
README = REPO / "README.md"
HOOKS: dict[str, Callable[..., object]] = {
    name: fn for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
    if name.startswith("benchbed_register_")
}
KIND_OF = {hook: kind for kind, hook in hookspecs.HOOK_FOR_KIND.items()}
COMMON_SECTION = "Fields every spec has"


# --- reading the document -------------------------------------------------------------------


def _sections(text: str) -> dict[str, str]:
    """``## heading`` -> its text up to the next ``## `` heading (headings in code fences skipped)."""
    out: dict[str, str] = {}
    current: str | None = None
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            current = line[3:].strip()
            assert current not in out, f"docs/plugins.md has two sections called {current!r}"
            out[current] = ""
        elif current is not None:
            out[current] += line + "\n"
    return out


def _python_blocks(section: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", section, flags=re.M | re.S)


def _table_fields(section: str) -> list[str]:
    """The field names in the first column of a section's markdown tables."""
    return re.findall(r"^\| `(\w+)` \|", section, flags=re.M)


def _signature(fn: Callable[..., object]) -> str:
    """The ``def ...(...) -> ...:`` line of a hook spec, exactly as written in hookspecs.py."""
    found = re.search(r"^def \w+\(.*?\)\s*->\s*[^:]+:", inspect.getsource(fn), flags=re.M | re.S)
    assert found, fn.__name__
    return found.group(0)


def _spec_class(hook: str) -> type[PluginSpec]:
    """The spec class a hook returns, from its ``-> list[XSpec]`` annotation."""
    ret = typing.get_type_hints(HOOKS[hook])["return"]
    (cls,) = typing.get_args(ret)
    assert issubclass(cls, PluginSpec), (hook, cls)
    return cls


def _own_fields(cls: type[PluginSpec]) -> set[str]:
    base = {f.name for f in dataclasses.fields(PluginSpec)}
    return {f.name for f in dataclasses.fields(cls)} - base


SECTIONS = _sections(DOC.read_text(encoding="utf-8"))


def _section(hook: str) -> str:
    assert hook in SECTIONS, f"docs/plugins.md needs a `## {hook}` section"
    return SECTIONS[hook]


# --- every hook documented, nothing else ------------------------------------------------------


def test_the_hooks_are_the_kinds() -> None:
    assert len(HOOKS) == len(KINDS) == 7
    assert set(HOOKS) == set(KIND_OF)


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_hook_has_a_section_with_its_signature(hook: str) -> None:
    section = _section(hook)
    signature = _signature(HOOKS[hook])
    assert signature in section, f"the {hook} section must quote `{signature}`"
    assert _spec_class(hook).__name__ in section


def test_no_section_or_mention_names_a_missing_hook() -> None:
    text = DOC.read_text(encoding="utf-8")
    headed = [h for h in SECTIONS if h.startswith("benchbed_register_")]
    assert sorted(headed) == sorted(HOOKS)
    mentioned = set(re.findall(r"benchbed_register_\w+", text))
    assert mentioned <= set(HOOKS), f"docs/plugins.md names hooks that do not exist: " \
                                    f"{sorted(mentioned - set(HOOKS))}"


def test_common_fields_match_plugin_spec() -> None:
    assert COMMON_SECTION in SECTIONS
    documented = _table_fields(SECTIONS[COMMON_SECTION])
    assert sorted(documented) == sorted(f.name for f in dataclasses.fields(PluginSpec))


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_section_documents_exactly_its_spec_fields(hook: str) -> None:
    section = _section(hook)
    own = _own_fields(_spec_class(hook))
    documented = set(_table_fields(section))
    assert documented == own, (f"{hook}: fields documented {sorted(documented)}, "
                               f"{_spec_class(hook).__name__} has {sorted(own)}")


PROTOCOLS: dict[str, type] = {
    "degradation": Degradation, "restorer": Restorer, "fuser": Fuser, "metric": Metric,
    "dataset": Dataset, "detector": Detector, "publisher": Publisher,
}
PROTOCOL_METHODS = {
    "degradation": ["apply"], "restorer": ["restore"], "fuser": ["fuse"], "metric": ["compute"],
    "dataset": ["pair_ids", "load"], "detector": ["detect"], "publisher": ["publish"],
}


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_section_gives_the_protocol_method(hook: str) -> None:
    section = _section(hook)
    for method in PROTOCOL_METHODS[KIND_OF[hook]]:
        assert re.search(rf"^def {method}\(self, ", section, flags=re.M), (hook, method)
    # the documented parameters are the Protocol's own
    proto = PROTOCOLS[KIND_OF[hook]]
    assert f"`benchbed.{proto.__name__}`" in section
    for method in PROTOCOL_METHODS[KIND_OF[hook]]:
        params = list(inspect.signature(getattr(proto, method)).parameters)
        line = re.search(rf"^def {method}\((.*?)\)", section, flags=re.M | re.S).group(1)
        while "[" in line:  # drop subscripts (their commas are not parameter separators)
            line = re.sub(r"\[[^\[\]]*\]", "", line)
        named = [p.split(":")[0].strip() for p in line.split(",")]
        assert named == params, (hook, method, named, params)


# --- every example works ----------------------------------------------------------------------


@pytest.fixture
def example_registry(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple]:
    """A registry holding the built-ins and the ``python`` blocks of one hook's section."""
    hook = request.param
    blocks = _python_blocks(_section(hook))
    assert blocks, f"the {hook} section needs a ```python example"
    paths = []
    for i, code in enumerate(blocks):
        path = tmp_path / f"docs_example_{KIND_OF[hook]}_{i}.py"
        path.write_text(code, encoding="utf-8")
        paths.append(str(path))
    try:
        yield hook, Registry(paths), paths
    finally:
        for p in paths:
            sys.modules.pop(f"benchbed_local_{Path(p).stem}", None)


def _images() -> tuple[np.ndarray, np.ndarray]:
    """A 16x16 gray IR-like source with a bright square and an RGB visible one, float32 [0, 1]."""
    rng = np.random.default_rng(0)
    ir = (0.2 + 0.1 * rng.random((16, 16))).astype(np.float32)
    ir[4:10, 4:10] = 0.9
    vi = rng.random((16, 16, 3)).astype(np.float32)
    return ir, vi


def _check_degradation(spec, obj) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(obj, Degradation)
    assert spec.severities, "a degradation declares its severity levels"
    for image in _images():
        for level, params in spec.severities.items():
            obs = [obj.apply(image, "vi", dict(params), np.random.default_rng(7)) for _ in "ab"]
            assert isinstance(obs[0], Observation), level
            check_image(obs[0].y, f"{spec.name} level {level}")
            assert tuple(obs[0].clean_shape) == image.shape
            assert np.array_equal(obs[0].y, obs[1].y), "all randomness comes from rng"
            if spec.linear:
                assert obs[0].operator is not None, "a linear degradation attaches its operator"


def _check_restorer(spec, obj) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(obj, Restorer)
    ir, vi = _images()
    for clean in (ir, vi):
        noisy = Observation(y=clean, operator=Identity(clean.shape), clean_shape=clean.shape,
                            noise_sigma=0.05, degradation="gaussian_noise")
        check_image(obj.restore(noisy, "ir"), spec.name, clean.shape)
        op = AvgPoolDown(clean.shape, 2)
        small = Observation(y=op.A(clean), operator=op, clean_shape=clean.shape,
                            degradation="lowres")
        check_image(obj.restore(small, "ir"), spec.name, clean.shape)  # back on the clean grid


def _check_fuser(spec, obj) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(obj, Fuser)
    ir, vi = _images()
    obs = tuple(Observation(y=im, operator=Identity(im.shape), clean_shape=im.shape)
                for im in (ir, vi)) if spec.degradation_aware else None
    fused = fuse_with_policy(spec, obj, (ir, vi), ("ir", "vi"), (16, 16), obs)  # type: ignore[arg-type]
    check_image(fused, spec.name, (16, 16))
    # and called directly, as the core does under the y-cbcr / gray policies
    if spec.colour != "rgb":
        direct = obj.fuse(FusionInputs(images=(ir, vi.mean(axis=2)), modalities=("ir", "vi"),
                                       observations=obs))
        check_image(direct, spec.name, (16, 16))


def _check_metric(spec, obj) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(obj, Metric)
    ir, vi = _images()
    a, b, f = (to_gray_255(x) for x in (ir, vi, (ir + vi.mean(axis=2)) / 2))
    assert a.dtype == np.float64 and a.max() <= 255
    assert np.isfinite(float(obj.compute(a, b, f)))
    for profile in spec.profiles:  # every profile's parameters are accepted by the factory
        value = spec.build(**spec.profile_params(profile)).compute(a, b, f)
        assert np.isfinite(float(value)), profile


def _check_dataset(spec, obj) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(obj, Dataset)
    ids = obj.pair_ids(None)
    assert ids and ids == obj.pair_ids(None), "pair ids come in a stable order"
    for split in spec.splits:
        assert set(obj.pair_ids(split)) <= set(ids)
    pair = obj.load(ids[0])
    assert isinstance(pair, Pair) and pair.id == ids[0]
    if spec.modalities:
        assert tuple(pair.modalities) == tuple(spec.modalities)
    if spec.has_clean:
        a, b = pair.sources
        check_image(a, spec.name)
        check_image(b, spec.name, a.shape)
    with pytest.raises(BenchbedError):
        obj.load("no-such-pair-id")


def _check_detector(spec, obj) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(obj, Detector)
    for image in _images():
        dets = obj.detect(image)
        assert isinstance(dets, Detections)
        if spec.classes:
            assert tuple(dets.names) == tuple(spec.classes)
        h, w = image.shape[:2]
        assert np.all(dets.boxes[:, [0, 2]] <= w) and np.all(dets.boxes[:, [1, 3]] <= h)
        assert np.all(dets.boxes >= 0)


def _check_publisher(spec, obj, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(obj, Publisher)
    suite = "docs example"
    rows = [{"suite": suite, "dataset": "demo", "pair_id": f"p{i}", "degradation": "clean",
             "severity": "0", "method": m, "metric": "EN", "profile": "evaluator",
             "value": float(i + len(m)), "seconds": 0.1} for m in ("avg", "max") for i in range(3)]
    context = PublishContext(suite=suite, frame=pd.DataFrame(rows), higher_is_better={"EN": True},
                             provenance={})
    out = tmp_path / "site"
    written = publish(context, out, [spec])
    assert written and all(p.is_file() for p in written)
    assert all(p.resolve().is_relative_to((out / slug(suite)).resolve()) for p in written)


@pytest.mark.parametrize("example_registry", sorted(HOOKS), indirect=True)
def test_section_example_registers_and_works(example_registry: tuple, tmp_path: Path) -> None:
    hook, reg, paths = example_registry
    kind = KIND_OF[hook]
    specs = [s for s in reg.specs(kind) if s.provider in paths]  # type: ignore[arg-type]
    assert specs, f"the {hook} example registers no {kind}"
    for spec in specs:
        assert isinstance(spec, _spec_class(hook))
        assert spec.version and spec.summary
        obj = spec.build()
        if kind == "publisher":
            _check_publisher(spec, obj, tmp_path)
        else:
            {"degradation": _check_degradation, "restorer": _check_restorer,
             "fuser": _check_fuser, "metric": _check_metric, "dataset": _check_dataset,
             "detector": _check_detector}[kind](spec, obj)


# --- every hook has a test ------------------------------------------------------------------


def test_every_hook_is_exercised_by_a_test() -> None:
    """Some test module other than this one names each hook (and so registers or calls it)."""
    others = [p for p in sorted((REPO / "tests").glob("*.py")) if p.name != Path(__file__).name]
    assert len(others) > 5
    texts = {p.name: p.read_text(encoding="utf-8") for p in others}
    untested = [h for h in sorted(HOOKS) if not any(h in t for t in texts.values())]
    assert not untested, f"no test outside {Path(__file__).name} exercises {untested}"


# --- the CLI: help text and README ------------------------------------------------------------


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...],
                                                                                 click.Command]]:
    for name, cmd in sorted(group.commands.items()):
        yield (*prefix, name), cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*prefix, name))


COMMANDS = list(_commands(main))


def test_cli_has_commands() -> None:
    assert isinstance(main, click.Group)
    names = {" ".join(p) for p, _ in COMMANDS}
    assert {"run", "list", "leaderboard", "leaderboard show", "db upgrade"} <= names


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_command_has_help(path: tuple[str, ...], cmd: click.Command) -> None:
    assert (cmd.help or "").strip(), f"`benchbed {' '.join(path)}` has no help text"
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert cmd.help.strip().split()[0] in result.output


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=[" ".join(p) for p, _ in COMMANDS])
def test_command_is_in_readme(path: tuple[str, ...]) -> None:
    readme = README.read_text(encoding="utf-8")
    words = "benchbed " + " ".join(path)
    assert re.search(rf"(?<![\w-]){re.escape(words)}(?![\w-])", readme), \
        f"README.md does not mention `{words}` (add it to its Command reference)"


def test_readme_starts_with_its_two_setup_commands() -> None:
    readme = README.read_text(encoding="utf-8")
    first = re.search(r"^```bash\n(.*?)^```", readme, flags=re.M | re.S)
    assert first and readme.index("```bash") < readme.index("\n## ")
    lines = first.group(1).strip().splitlines()
    assert len(lines) == 2 and all(ln.startswith("python3 -m venv .venv && ") for ln in lines)


def test_every_command_in_the_readme_reference_exists() -> None:
    """The other direction: a command the Command reference lists is a real command (a removed or
    renamed command must leave the README too)."""
    readme = README.read_text(encoding="utf-8")
    table = readme[readme.index("## Command reference"):]
    listed = re.findall(r"^\| `benchbed ([a-z][\w -]*?)(?: [A-Z\[].*?)?` \|", table, flags=re.M)
    names = {" ".join(p) for p, _ in COMMANDS}
    assert listed, "no commands parsed from the Command reference"
    missing = [c for c in listed if c.strip() not in names]
    assert not missing, f"README lists commands that do not exist: {missing}"
