"""Suite loading: schema, includes, line numbers in errors, registry checks, stable hashes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from benchbed.errors import SuiteError
from benchbed.registry import Registry
from benchbed.suites import load_plan

REPO = Path(__file__).resolve().parent.parent
GOOD = """\
name: t
seed: 1
datasets: [demo]
degradations:
  - {name: gaussian_noise, severities: [1, 2]}
methods:
  - average
  - {restore: auto, fuse: laplacian}
metrics: [EN, QABF]
"""


def _suite(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_shipped_suites_validate() -> None:
    reg = Registry()
    for path in sorted((REPO / "suites").glob("*.yaml")):
        plan = load_plan(path, reg)
        assert plan.methods and len(plan.hash) == 64


def test_plan_hash_is_stable_and_content_sensitive(tmp_path: Path) -> None:
    reg = Registry()
    a = load_plan(_suite(tmp_path, GOOD), reg)
    b = load_plan(_suite(tmp_path, GOOD.replace("seed: 1", "seed: 1  # same"), "b.yaml"), reg)
    c = load_plan(_suite(tmp_path, GOOD.replace("seed: 1", "seed: 2"), "c.yaml"), reg)
    assert a.hash == b.hash != c.hash
    labels = [m.label for m in a.methods]
    assert labels == ["average", "auto>laplacian"]


def test_bad_yaml_reports_line(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match=r"s.yaml:\d+: invalid YAML"):
        load_plan(_suite(tmp_path, "name: x\ndatasets: [demo\nmethods: {"), Registry())


def test_schema_error_reports_line_and_hint(tmp_path: Path) -> None:
    text = GOOD.replace("metrics: [EN, QABF]", "metrics: [EN, QABF]\ncolour: pink")
    with pytest.raises(SuiteError) as err:
        load_plan(_suite(tmp_path, text), Registry())
    assert ":10:" in str(err.value) and "colour" in str(err.value)


def test_unknown_plugin_in_suite_names_line(tmp_path: Path) -> None:
    text = GOOD.replace("  - average", "  - averag")
    with pytest.raises(SuiteError) as err:
        load_plan(_suite(tmp_path, text), Registry())
    msg = str(err.value)
    assert "s.yaml:7" in msg and "did you mean 'average'" in msg


def test_unknown_severity(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="no severity '99'"):
        load_plan(_suite(tmp_path, GOOD.replace("[1, 2]", "[1, 99]")), Registry())


def test_include_merges_lists(tmp_path: Path) -> None:
    _suite(tmp_path, "degradations:\n  - {name: gaussian_blur, severities: [1]}\n", "part.yaml")
    plan = load_plan(_suite(tmp_path, "include: [part.yaml]\n" + GOOD), Registry())
    assert [d.name for d in plan.degradations] == ["gaussian_blur", "gaussian_noise"]
    with pytest.raises(SuiteError, match="not found"):
        load_plan(_suite(tmp_path, "include: [nope.yaml]\n" + GOOD, "x.yaml"), Registry())


def test_same_method_under_two_labels_is_an_error(tmp_path: Path) -> None:
    """A label does not make another computation: two entries that compute the same thing would
    share their stored items and collapse into one board row, so the suite is refused."""
    text = GOOD.replace("  - average", "  - average\n  - {fuse: average, label: mean-fusion}")
    with pytest.raises(SuiteError, match="compute the same thing") as err:
        load_plan(_suite(tmp_path, text), Registry())
    assert "'average' and 'mean-fusion'" in str(err.value)


def test_yaml_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    """A 'billion laughs' suite (9 levels of 10 aliases: 10^9 leaves) is refused with one line
    before anything expands it; ordinary aliases still work."""
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    text = "\n".join(levels) + "\n" + GOOD
    with pytest.raises(SuiteError, match="expands to more than"):
        load_plan(_suite(tmp_path, text), Registry())
    from benchbed.suites import _expanded_size

    # an ordinary alias counts what it expands to: a 2-element list, 3 nodes, twice
    assert _expanded_size("a: &m [EN, QABF]\nb: *m\n") == 1 + 2 + 3 + 3


def test_typed_plan_round_trips_and_keeps_its_hash() -> None:
    """The stored JSON form of every shipped plan parses back to an equal plan with the same
    hash (boards read stored plans through ``Plan.from_dict``), and method variants are
    explicit."""
    from benchbed.plan import AwareMethod, CascadeMethod, FuserMethod, Plan, SourceMethod

    reg = Registry()
    kinds = set()
    for path in sorted((REPO / "suites").glob("*.yaml")):
        plan = load_plan(path, reg)
        again = Plan.from_dict(plan.as_dict())
        assert again == plan and again.hash == plan.hash, path.name
        for m in plan.all_methods:
            kinds.add(type(m))
            assert isinstance(m, {"fuser": FuserMethod, "cascade": CascadeMethod,
                                  "degradation-aware": AwareMethod,
                                  "detection-source": SourceMethod}[m.kind])
            if isinstance(m, CascadeMethod):
                assert m.restore and m.fuse
            if isinstance(m, AwareMethod):
                assert reg.get("fuser", m.fuse.name).degradation_aware and not m.restore
    assert kinds == {FuserMethod, CascadeMethod, AwareMethod, SourceMethod}


def test_presentation_keys_stay_out_of_the_hash(tmp_path: Path) -> None:
    reg = Registry()
    a = load_plan(_suite(tmp_path, GOOD), reg)
    b = load_plan(_suite(tmp_path, GOOD + "description: what it is for\nprimary: [QABF]\n",
                         "b.yaml"), reg)
    assert a.hash == b.hash and b.primary == ("QABF",) and b.description
    assert "kind" not in a.identity()["methods"][0] and a.as_dict()["methods"][0]["kind"] == "fuser"


def test_a_weights_file_named_by_a_parameter_is_part_of_the_identity(tmp_path, monkeypatch):
    # A checkpoint retrained in place under the same path must not reuse the old model's stored
    # items or cached images: its sha256 enters the planned ref (item identity, plan hash) and
    # the artifact keys (benchbed.work), and parameters naming no weights file add nothing.
    from benchbed.suites import checked_ref
    from benchbed.weights import file_sha256, param_weight_files

    ckpt = tmp_path / "w" / "model.pt"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b"first weights")
    monkeypatch.setenv("BENCHBED_WEIGHTS", str(tmp_path / "w"))
    first = param_weight_files({"checkpoint": str(ckpt), "config": "gated-x0", "steps": 20})
    assert first == [f"checkpoint={file_sha256(ckpt)}"]
    assert param_weight_files({"checkpoint": "model.pt"}) == first  # under BENCHBED_WEIGHTS
    assert param_weight_files({"checkpoint": "", "note": "a.pt"}) == []  # no such file
    reg = Registry()
    ref = {"name": "recofuse", "params": {"checkpoint": str(ckpt)}}
    planned = checked_ref(reg, "fuser", ref, "methods[0]")
    assert f"checkpoint={file_sha256(ckpt)}" in planned["weights"]
    time.sleep(0.01)
    ckpt.write_bytes(b"retrained weights")
    assert param_weight_files({"checkpoint": str(ckpt)}) != first
    assert checked_ref(reg, "fuser", ref, "methods[0]")["weights"] != planned["weights"]
    plain = checked_ref(reg, "fuser", {"name": "average", "params": {}}, "methods[1]")
    assert "weights" not in plain  # every other method's identity is unchanged
