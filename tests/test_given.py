"""Real degraded images: the `given` degradation, seed-pair datasets and degraded-only pairs."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import shared_data
from helpers import textured

from benchbed.cli import main
from benchbed.errors import BenchbedError, DataError, SuiteError
from benchbed.imaging import quantise, read_image, resize, to_gray, to_gray_255, write_image
from benchbed.registry import Registry, get_registry
from benchbed.suites import load_plan

H, W = 48, 64


def _seed_root(root: Path) -> Path:
    """A miniature seed_pairs tree: DRFusion M3FD (degraded only) and ReCoFuse MFNet (LQ/HQ)."""
    base = root / "seed_pairs"
    ir, vi = textured(H, W, seed=1), textured(H, W, rgb=True, seed=2)
    rng = np.random.default_rng(0)
    m3fd = base / "DRFusion" / "M3FD"
    write_image(m3fd / "noise/ir/p1.png", quantise(np.clip(ir + 0.05 * rng.standard_normal(ir.shape), 0, 1)))
    write_image(m3fd / "noise/vi/p1.png", quantise(np.clip(vi + 0.05 * rng.standard_normal(vi.shape), 0, 1)))
    write_image(m3fd / "blur/ir/p1.png", quantise(ir))
    write_image(m3fd / "blur/vi/p1.png", quantise(vi))
    # composite IR at /4, stored RGB with slightly different channels (as in the real M3FD files)
    small = ir.reshape(H // 4, 4, W // 4, 4).mean(axis=(1, 3))
    rgb = np.stack([small, small + 0.01, small - 0.01], axis=-1).clip(0, 1)
    write_image(m3fd / "composite/ir/p1.png", quantise(rgb))
    write_image(m3fd / "composite/vi/p1.png", quantise(vi))
    mfnet = base / "ReCoFuse" / "MFNet"
    write_image(mfnet / "HQ/ir/MFNet_1.png", quantise(ir))
    write_image(mfnet / "HQ/vi/MFNet_1.png", quantise(vi))
    write_image(mfnet / "LQ/ir/MFNet_1.png", quantise(0.6 * ir + 0.3))
    write_image(mfnet / "LQ/vi/MFNet_1.png", quantise(0.5 * vi ** 1.5))
    return root


def _dataset(name: str, root: Path):  # type: ignore[no-untyped-def]
    return get_registry().get("dataset", name).build(root=str(root))


def test_degraded_only_pairs_carry_the_estimated_models(tmp_path: Path) -> None:
    root = _seed_root(tmp_path)
    ds = _dataset("drfusion_m3fd", root)
    assert ds.pair_ids("test") == ["p1"]
    assert ds.load("p1").sources is None
    ir, vi = ds.observe("p1", "composite")
    # the file as read, IR collapsed to one channel with the core's BT.601 luma
    expected = to_gray(read_image(root / "seed_pairs/DRFusion/M3FD/composite/ir/p1.png"))
    np.testing.assert_array_equal(ir.y, expected)
    assert ir.y.shape == (H // 4, W // 4) and ir.clean_shape == (H, W)
    assert ir.operator.A(np.zeros((H, W), np.float32)).shape == ir.y.shape
    # seed_pairs/README.md: sigma ~8/255 before x4 pooling leaves ~2/255; VI 8.07/255, blur 2 px
    assert ir.noise_sigma == pytest.approx(2 / 255) and vi.noise_sigma == pytest.approx(8.07 / 255)
    assert vi.operator.describe()["sigma"] == 2.0 and vi.clean_shape == (H, W, 3)
    assert ir.degradation == vi.degradation == "composite"
    noise_ir, _ = ds.observe("p1", "noise")
    assert noise_ir.operator.describe()["kind"] == "identity"
    with pytest.raises(DataError, match="no such condition"):
        ds.observe("p1", "haze")


def test_lq_hq_pairs_use_hq_as_clean_reference(tmp_path: Path) -> None:
    ds = _dataset("recofuse_mfnet", _seed_root(tmp_path))
    pair = ds.load("MFNet_1")
    assert pair.sources is not None and pair.sources[1].shape == (H, W, 3)
    ir, vi = ds.observe("MFNet_1", "real")
    # seed_pairs/README.md, MFNet_1: IR low contrast (a=.61, b=81), VI low light (g~1.23)
    assert (ir.degradation, vi.degradation) == ("low_contrast", "low_light")
    assert ir.operator is None and ir.clean_shape == (H, W)


def test_missing_seed_folder_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="seed_pairs"):
        _dataset("drfusion_pet_mri", tmp_path).pair_ids("test")


def test_given_cannot_degrade_an_image() -> None:
    with pytest.raises(BenchbedError, match="dataset's own degraded images"):
        get_registry().get("degradation", "given").build().apply(
            textured(), "ir", {}, np.random.default_rng(0))


SUITE = """\
name: seed-mini
seed: 1
references: degraded
datasets: [{{name: drfusion_m3fd, params: {{root: {root}}}}}]
degradations:
  - {{name: given, label: noise, severities: [noise]}}
  - {{name: given, label: composite, severities: [composite]}}
methods:
  - average
  - {{restore: auto, fuse: average, degradations: [composite]}}
metrics: [EN, QABF]
"""


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ("references: degraded\n", "", "no clean sources to score against"),
        ("severities: [noise]", "severities: [haze]", "no condition 'haze'"),
        ("{name: given, label: noise, severities: [noise]}", "gaussian_noise",
         "has no clean images to apply 'gaussian_noise'"),
        ("degradations: [composite]", "degradations: [blur]", "not degradations of this suite"),
        ("{name: given, label: noise, severities: [noise]}",
         "{name: given, severities: [noise], apply_to: [ir]}", "apply_to"),
    ],
)
def test_given_suite_errors_name_the_fix(tmp_path: Path, old: str, new: str, needle: str) -> None:
    text = SUITE.format(root=tmp_path).replace(old, new)
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(SuiteError, match=needle) as err:
        load_plan(path, Registry())
    assert err.value.fix


def test_given_on_a_dataset_without_conditions(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: x\ndatasets: [demo]\ndegradations: [{name: given, severities: [noise]}]\n"
                    "methods: [average]\nmetrics: [EN]\n")
    with pytest.raises(SuiteError, match=r"dataset .demo.*ships none"):
        load_plan(path, Registry())


def test_given_suite_runs_and_scores_against_the_degraded_files(workdir: Path) -> None:
    root = _seed_root(workdir / "data")
    suite = workdir / "s.yaml"
    suite.write_text(SUITE.format(root=root))
    res = CliRunner().invoke(main, ["run", str(suite), "--no-progress"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    # 2 conditions x average + the cascade restricted to composite
    assert "3 computed" in res.output and "0 failed" in res.output, res.output
    con = sqlite3.connect(workdir / "store.db")
    rows = con.execute("select i.degradation, i.severity, i.method, s.value, i.artifacts from items i "
                       "join scores s on s.item_id = i.id where s.metric = 'QABF'").fetchall()
    assert sorted((d, s, m) for d, s, m, _, _ in rows) == [
        ("composite", "composite", "auto>average"), ("composite", "composite", "average"),
        ("noise", "noise", "average")]
    # Independent recomputation: Q_AB/F of the stored fused image against the files as shipped
    # (the x4 composite IR brought to the clean grid by the core's one resize)
    qabf = get_registry().get("metric", "QABF").build()
    files = root / "seed_pairs/DRFusion/M3FD"
    for cond in ("noise", "composite"):
        value, artifacts = next((v, json.loads(a)) for d, _, m, v, a in rows
                                if d == cond and m == "average")
        fused = read_image(workdir / "cache/fused" / artifacts["fused"][:2]
                           / f"{artifacts['fused']}.png")
        # the core stores every observation 8-bit: the luma of the RGB composite IR file too
        a, b = (quantise(to_gray(read_image(files / cond / m / "p1.png"))) for m in ("ir", "vi"))
        a = resize(a, (H, W)) if a.shape != (H, W) else a
        expected = qabf.compute(to_gray_255(a), to_gray_255(b), to_gray_255(fused))
        assert value == pytest.approx(expected, abs=1e-12)


@pytest.mark.skipif(shared_data("seed_pairs") is None, reason="needs shared/datasets/seed_pairs")
def test_shared_seed_pairs_load_and_match_the_readme_estimates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every shipped pair loads; the noise condition's HH-MAD std is near the README's ~14/255."""
    monkeypatch.setenv("BENCHBED_DATA", str(shared_data("seed_pairs")))
    reg = get_registry()
    counts = {}
    for name in ("drfusion_m3fd", "drfusion_pet_mri", "recofuse_mfnet", "recofuse_fmb",
                 "recofuse_llvip"):
        spec = reg.get("dataset", name)
        ds = spec.build()
        ids = ds.pair_ids("test")
        counts[name] = len(ids)
        for pid in ids:
            for cond in spec.conditions:
                for obs in ds.observe(pid, cond):
                    assert obs.y.shape[:2] == (obs.operator.out_shape[:2] if obs.operator
                                               else obs.clean_shape[:2])
    assert counts == {"drfusion_m3fd": 2, "drfusion_pet_mri": 2, "recofuse_mfnet": 5,
                      "recofuse_fmb": 5, "recofuse_llvip": 5}
    ir, _ = reg.get("dataset", "drfusion_m3fd").build().observe("00000", "noise")
    y = ir.y.astype(np.float64) * 255
    hh = (y[0::2, 0::2] - y[0::2, 1::2] - y[1::2, 0::2] + y[1::2, 1::2])[:383, :511] / 2
    # seed_pairs/README.md, DRFusion M3FD noise IR: HH-MAD 13.3-14.1 (on 0..255)
    assert 13.0 < np.median(np.abs(hh)) / 0.6745 < 14.5
