"""Datasets plugin: the synthetic demo, folder datasets, split files, error paths, shared data."""

from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
import sys
from pathlib import Path

import benchbed_datasets
import numpy as np
import pluggy
import pytest
from benchbed_datasets import DemoDataset, FolderDataset, NamedDataset
from conftest import shared_data
from PIL import Image

from benchbed import DataError, hookspecs
from benchbed.imaging import to_uint8

# sha256 of the demo pixels (see _demo_digest); changes only with a new demo spec version.
DEMO_SHA256 = "bca47d567d025d091b0d17f214483808b8bd7a9cac9d547871dd98be788744de"


def _demo_digest() -> str:
    h = hashlib.sha256()
    ds = DemoDataset()
    for pid in ds.pair_ids("test"):
        for src in ds.load(pid).sources:
            q = to_uint8(src)
            h.update(f"{pid}{q.shape}".encode())
            h.update(q.tobytes())
    return h.hexdigest()


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _make_folder(base: Path, names=("a", "b", "c"), mods=("ir", "vi"), size=(20, 30)) -> Path:
    rng = np.random.default_rng(0)
    for n in names:
        _save(base / mods[0] / f"{n}.png", rng.integers(0, 256, size, dtype=np.uint8))
        _save(base / mods[1] / f"{n}.png", rng.integers(0, 256, (*size, 3), dtype=np.uint8))
    return base


# --- demo -----------------------------------------------------------------------------------


def test_demo_pairs_are_valid_images():
    ds = DemoDataset()
    ids = ds.pair_ids("test")
    assert ids == [f"demo-{i:02d}" for i in range(8)] == ds.pair_ids(None)
    colour = 0
    for pid in ids:
        pair = ds.load(pid)
        assert pair.id == pid and pair.modalities == ("ir", "vi")
        ir, vi = pair.sources
        assert ir.dtype == vi.dtype == np.float32
        assert ir.shape == vi.shape[:2] and ir.ndim == 2
        assert 90 <= ir.shape[0] <= 140 and 90 <= ir.shape[1] <= 140
        for img in (ir, vi):
            assert 0.0 <= img.min() and img.max() <= 1.0
        colour += vi.ndim == 3
        # Warm targets: the IR maximum stands well above its median (cool background).
        assert ir.max() - np.median(ir) > 0.4
    assert 1 <= colour < 8
    assert len({ds.load(i).sources[0].shape for i in ids}) > 1  # sizes vary


def test_demo_is_deterministic_across_processes():
    # The same digest computed in a fresh interpreter (what a worker process would see).
    code = (
        "import hashlib; from benchbed.imaging import to_uint8; "
        "from benchbed_datasets import DemoDataset\n"
        "h = hashlib.sha256(); ds = DemoDataset()\n"
        "for pid in ds.pair_ids('test'):\n"
        "    for src in ds.load(pid).sources:\n"
        "        q = to_uint8(src); h.update(f'{pid}{q.shape}'.encode()); h.update(q.tobytes())\n"
        "print(h.hexdigest())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    here = _demo_digest()
    assert out.stdout.strip() == here
    assert here == DEMO_SHA256  # same bytes on every machine


def test_demo_errors_and_pickle():
    ds = pickle.loads(pickle.dumps(DemoDataset()))
    with pytest.raises(DataError) as e:
        ds.pair_ids("train")
    assert e.value.fix
    with pytest.raises(DataError):
        ds.load("demo-99")


# --- registration ---------------------------------------------------------------------------


def test_specs_register_through_pluggy():
    pm = pluggy.PluginManager("benchbed")
    pm.add_hookspecs(hookspecs)
    pm.register(benchbed_datasets)
    specs = [s for batch in pm.hook.benchbed_register_datasets() for s in batch]
    names = [s.name for s in specs]
    assert len(names) == len(set(names))
    assert {"demo", "folder", "tno", "msrs", "pet_mri", "spect_mri_harvard"} <= set(names)
    by = {s.name: s for s in specs}
    assert by["pet_mri"].modalities == ("pet", "mri")
    assert by["tno"].modalities == ("ir", "vi")
    assert by["pet_mri_harvard"].splits == ("test", "train")
    # Cheap and picklable: building touches no data even without BENCHBED_DATA.
    for s in specs:
        obj = s.build() if s.name != "folder" else s.build(path="nowhere")
        pickle.loads(pickle.dumps(obj))


# --- folder datasets ------------------------------------------------------------------------


def test_folder_dataset_loads_pairs(tmp_path):
    base = _make_folder(tmp_path / "set")
    _save(base / "ir" / "only_ir.png", np.zeros((5, 5), np.uint8))  # incomplete pair: ignored
    ds = FolderDataset(path=str(base))
    assert ds.pair_ids(None) == ["a", "b", "c"] == ds.pair_ids("test")
    assert ds.modalities == ("ir", "vi")
    pair = pickle.loads(pickle.dumps(ds)).load("b")
    ir, vi = pair.sources
    assert ir.shape == (20, 30) and vi.shape == (20, 30, 3)
    assert ir.dtype == np.float32 and vi.dtype == np.float32
    assert pair.meta["size"] == (30, 20)
    assert pair.meta["paths"][0].endswith(os.path.join("ir", "b.png"))
    assert ds.describe_sizes("test") == (3, (30, 20), (30, 20))


def test_folder_relative_to_data_root_and_modality_detection(tmp_path, monkeypatch):
    _make_folder(tmp_path / "med" / "x", mods=("MRI", "PET"))
    monkeypatch.setenv("BENCHBED_DATA", str(tmp_path))
    ds = FolderDataset(path="med/x")
    assert ds.modalities == ("pet", "mri")
    assert ds.load("a").sources[0].ndim == 3  # PET (RGB) first
    other = _make_folder(tmp_path / "odd", mods=("left", "right"))
    assert FolderDataset(path=str(other)).modalities == ("left", "right")
    assert FolderDataset(path=str(other), modalities="right,left").modalities == ("right", "left")


def test_splits_ignore_comments_and_missing_split_lists_available(tmp_path):
    base = _make_folder(tmp_path / "set")
    (base / "splits").mkdir()
    (base / "splits" / "val.txt").write_text("# header\n\nc\na  # trailing note\n# b\n")
    ds = FolderDataset(path=str(base))
    assert ds.pair_ids("val") == ["a", "c"]
    with pytest.raises(DataError) as e:
        ds.pair_ids("test")
    assert "val" in e.value.fix


def test_missing_data_root_and_folders(tmp_path, monkeypatch):
    monkeypatch.delenv("BENCHBED_DATA", raising=False)
    ds = NamedDataset("tno")  # construction reads nothing
    with pytest.raises(DataError) as e:
        ds.pair_ids("test")
    assert "BENCHBED_DATA" in str(e.value) and e.value.fix
    monkeypatch.setenv("BENCHBED_DATA", str(tmp_path))
    with pytest.raises(DataError) as e:
        NamedDataset("tno").pair_ids("test")
    assert "ivf" in str(e.value) and e.value.fix
    with pytest.raises(DataError) as e:
        FolderDataset(path="no/such/folder").pair_ids(None)
    assert e.value.fix


def test_named_dataset_layout_splits_and_labels(tmp_path):
    _make_folder(tmp_path / "ivf" / "msrs", names=("01", "02"))
    _make_folder(tmp_path / "med" / "pet_mri", names=("7",), mods=("pet", "mri"))
    splits = tmp_path / "splits"
    splits.mkdir()
    (splits / "ivf_msrs_test.txt").write_text("# MSRS\n02\n")
    (splits / "med_pet_mri_test.txt").write_text("7\n")
    (splits / "med_pet_mri_harvard_test.txt").write_text("9\n")  # another dataset's split
    _save(tmp_path / "detection" / "msrs" / "labels" / "x.png", np.zeros((2, 2), np.uint8))
    (tmp_path / "detection" / "msrs" / "labels" / "02.txt").write_text("0 0.5 0.5 0.1 0.2\n")
    msrs = NamedDataset("msrs", root=str(tmp_path))
    assert msrs.pair_ids("test") == ["02"] and msrs.pair_ids(None) == ["01", "02"]
    assert msrs.load("02").labels.endswith("02.txt") and msrs.load("01").labels is None
    pet = NamedDataset("pet_mri", root=str(tmp_path))
    assert pet.available_splits() == ["test"]
    with pytest.raises(DataError) as e:
        pet.pair_ids("train")
    assert "['test']" in e.value.fix


def test_missing_file_corrupt_image_and_size_mismatch(tmp_path):
    base = _make_folder(tmp_path / "set", names=("ok",))
    ds = FolderDataset(path=str(base))
    with pytest.raises(DataError) as e:
        ds.load("ghost")
    assert "ghost" in str(e.value) and e.value.fix
    (base / "vi" / "ok.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    with pytest.raises(DataError) as e:
        ds.load("ok")
    assert "ok.png" in str(e.value)
    _save(base / "vi" / "ok.png", np.full((40, 60, 3), (200, 90, 30), np.uint8))
    with pytest.raises(DataError) as e:
        ds.load("ok")
    assert "30x20" in str(e.value) and "60x40" in str(e.value) and "resize" in e.value.fix
    a2b = FolderDataset(path=str(base), resize="a-to-b").load("ok")
    assert a2b.sources[0].shape == (40, 60) and a2b.meta["resized"] == "a-to-b"
    assert a2b.meta["source_sizes"] == ((30, 20), (60, 40))
    b2a = FolderDataset(path=str(base), resize="b-to-a").load("ok")
    assert b2a.sources[1].shape == (20, 30, 3) and b2a.sources[1].dtype == np.float32
    with pytest.raises(DataError):
        FolderDataset(path=str(base), resize="stretch")


# --- the shared data (skipped when absent) --------------------------------------------------


def _shared_root() -> Path:
    root = shared_data("ivf/tno")
    if root is None:
        pytest.skip("shared datasets not found (set BENCHBED_DATA)")
    return root.resolve()


@pytest.mark.shared
def test_shared_tno_and_pet_mri(monkeypatch):
    monkeypatch.setenv("BENCHBED_DATA", str(_shared_root()))
    tno = NamedDataset("tno")
    ids = tno.pair_ids("test")
    assert len(ids) >= 20 and ids == sorted(ids)
    pair = tno.load(ids[0])
    assert pair.modalities == ("ir", "vi") and pair.sources[0].shape == pair.sources[1].shape
    pet = NamedDataset("pet_mri")
    p = pet.load(pet.pair_ids("test")[0])
    assert p.modalities == ("pet", "mri")
    assert p.sources[0].ndim == 3 and p.sources[1].ndim == 2
