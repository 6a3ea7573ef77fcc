"""Weights handling of benchbed_zoo: sha256 errors through the factories, the restricted legacy
reader, the TF bundle and MatConvNet readers."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_weights

from benchbed import WeightsRef
from benchbed.errors import WeightsError
from benchbed.registry import Registry


def _weights_dir() -> Path:
    root = shared_weights("restoration")
    if root is None:
        pytest.skip("shared weights not available (set BENCHBED_WEIGHTS)")
    return root


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry()


def test_wrong_sha256_through_factory(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchbed_zoo import dncnn

    monkeypatch.setenv("BENCHBED_WEIGHTS", str(_weights_dir()))
    wrong = WeightsRef(dncnn.DNCNN_S25.path, "0" * 64)
    monkeypatch.setattr(dncnn, "DNCNN_S25", wrong)
    with pytest.raises(WeightsError) as err:
        registry.get("restorer", "dncnn").build()
    assert "dncnn_sigma25.pth" in str(err.value) and "0" * 64 in str(err.value)


@pytest.mark.parametrize(("kind", "name", "file"), [
    ("restorer", "ffdnet", "restoration/ffdnet/FFDNet_gray.mat"),
    ("fuser", "u2fusion", "fusion/u2fusion/model.ckpt.data-00000-of-00001"),
])
def test_corrupted_file_names_file_and_checksum(registry: Registry, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch, kind: str,
                                                name: str, file: str) -> None:
    src = _weights_dir()
    spec = registry.get(kind, name)
    for ref in spec.weights:  # a full copy of what the spec needs, then one byte flipped
        if (src / ref.path).is_file():
            (tmp_path / ref.path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / ref.path, tmp_path / ref.path)
    data = bytearray((tmp_path / file).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / file).write_bytes(bytes(data))
    monkeypatch.setenv("BENCHBED_WEIGHTS", str(tmp_path))
    expected = next(r.sha256 for r in spec.weights if r.path == file)
    with pytest.raises(WeightsError) as err:
        spec.build()
    assert str(tmp_path / file) in str(err.value) and expected in str(err.value)


def test_missing_weights_names_file_and_checksum(registry: Registry, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCHBED_WEIGHTS", str(tmp_path))
    spec = registry.get("fuser", "ifcnn_max")
    with pytest.raises(WeightsError) as err:
        spec.build()
    assert "IFCNN-MAX.pth" in str(err.value) and spec.weights[0].sha256 in str(err.value)


def test_legacy_reader_refuses_code(tmp_path: Path) -> None:
    from benchbed_zoo._legacy import load_legacy

    path = tmp_path / "evil.pth"
    with open(path, "wb") as fh:  # a legacy container whose object names os.system
        for header in (0x1950A86A20F9469CFC6C, 1001, {}):
            pickle.dump(header, fh, protocol=2)
        pickle.dump(os.system, fh, protocol=2)
        pickle.dump([], fh, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        load_legacy(path)


def test_legacy_reader_reads_whole_modules() -> None:
    from benchbed_zoo._legacy import load_legacy, module_state_dict, submodule

    root = _weights_dir()
    dncnn = load_legacy(root / "restoration/dncnn/dncnn_sigma25.pth", ("__main__.DnCNN",))
    state = module_state_dict(dncnn)
    assert len(state) == 93 and sum(v.size for v in state.values()) == 558031  # keys file
    assert submodule(dncnn, "dncnn.3").state["eps"] == pytest.approx(1e-4)
    vdsr = load_legacy(root / "restoration/vdsr/vdsr_model_epoch_50.pth",
                       ("vdsr.Net", "vdsr.Conv_ReLU_Block"))  # a Python 2 pickle
    state = module_state_dict(vdsr["model"])
    assert vdsr["epoch"] == 50 and len(state) == 20
    assert sum(v.size for v in state.values()) == 664704
    assert state["input.weight"].shape == (64, 1, 3, 3) and state["input.weight"].dtype == np.float32


def test_tf_bundle_matches_keys_file() -> None:
    from benchbed_zoo._tfbundle import read_bundle

    folder = _weights_dir() / "fusion" / "u2fusion"
    tensors = read_bundle(folder / "model.ckpt.index", folder / "model.ckpt.data-00000-of-00001")
    listed = [line.split("\t") for line in (folder / "model.ckpt.keys.txt").read_text().splitlines()
              if line and not line.startswith("#")]
    assert sorted(tensors) == sorted(row[0] for row in listed)
    for name, shape, _dtype, size in listed:
        assert list(tensors[name].shape) == [int(s) for s in shape.strip("[]").split(",")]
        assert tensors[name].nbytes == int(size.split()[0])
    assert sum(t.nbytes for t in tensors.values()) == 2636868  # the whole data file


def test_matconvnet_reader() -> None:
    from benchbed_zoo._matconvnet import conv_stack_state, read_simplenn

    layers = read_simplenn(_weights_dir() / "restoration/dncnn/DnCNN-B_GD_Gray_Blind.mat")
    widths, state = conv_stack_state(layers)
    assert widths == [1] + [64] * 19 + [1]
    assert state["convs.19.weight"].shape == (1, 64, 3, 3)  # MATLAB's dropped singleton restored
    assert sum(v.size for v in state.values()) == 665921  # keys file
