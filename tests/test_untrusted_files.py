"""Untrusted files cannot run code or reach outside their folder: legacy torch checkpoints are
read without an unrestricted unpickler, training states load weights-only, and split files or
pair names cannot name files outside the dataset folder."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from benchbed.errors import DataError
from benchbed.imaging import write_image

_MAGIC = 0x1950A86A20F9469CFC6C
_PROTOCOL = 1001


class _Payload:
    """Pickles as a call to os.system that would create a marker file (the attack)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


def _legacy_file(path: Path, header: object, body: object, keys: object) -> Path:
    with open(path, "wb") as fh:
        for part in (_MAGIC, _PROTOCOL, header, body, keys):
            pickle.dump(part, fh, protocol=2)
    return path


@pytest.mark.parametrize("where", ["header", "body", "keys"])
def test_a_crafted_legacy_checkpoint_runs_no_code(tmp_path: Path, where: str) -> None:
    from benchbed_zoo._legacy import load_legacy

    marker = tmp_path / "pwned"
    parts = {"header": {"little_endian": True}, "body": {"w": 1}, "keys": []}
    parts[where] = _Payload(marker)
    path = _legacy_file(tmp_path / f"evil-{where}.pth", parts["header"], parts["body"],
                        parts["keys"])
    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        load_legacy(path)
    assert not marker.exists(), "the crafted pickle ran its payload"


def test_a_benign_legacy_container_still_loads(tmp_path: Path) -> None:
    from benchbed_zoo._legacy import load_legacy

    path = _legacy_file(tmp_path / "ok.pth", {"little_endian": True, "type_sizes": {"int": 4}},
                        {"epoch": 3, "names": ["a", "b"]}, [])
    assert load_legacy(path) == {"epoch": 3, "names": ["a", "b"]}


def test_recofuse_training_state_loads_weights_only(tmp_path: Path) -> None:
    """The resumable state written by the trainer is plain tensors and containers, so resuming
    reads it with torch.load(weights_only=True) (a crafted state file cannot run code)."""
    torch = pytest.importorskip("torch")
    from test_recofuse import _trainer

    trainer = _trainer({"ae": 1, "dim": 1, "joint": 0})
    trainer.advance()
    trainer.advance()
    trainer.save_state(tmp_path / "state.pt")
    state = torch.load(tmp_path / "state.pt", weights_only=True)
    assert state["k"] >= 1 and state["history"]
    evil = tmp_path / "evil.pt"
    with open(evil, "wb") as fh:
        pickle.dump(_Payload(tmp_path / "pwned"), fh)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(evil, weights_only=True)
    assert not (tmp_path / "pwned").exists()


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "pairs"
    rng = np.random.default_rng(0)
    for mod in ("ir", "vi"):
        (root / mod).mkdir(parents=True)
        for name in ("a", "b"):
            write_image(root / mod / f"{name}.png", rng.random((16, 16)).astype(np.float32))
    (root / "splits").mkdir()
    outside = tmp_path / "secret"
    for mod in ("ir", "vi"):
        (outside / mod).mkdir(parents=True)
        write_image(outside / mod / "x.png", np.zeros((16, 16), np.float32))
    return root


def _dataset(root: Path):  # type: ignore[no-untyped-def]
    from benchbed.registry import Registry

    return Registry().get("dataset", "folder").build(path=str(root))


@pytest.mark.parametrize("entry", ["../../secret/ir/x", "/etc/passwd", "..", "sub\\\\x"])
def test_a_split_entry_that_is_a_path_is_refused(folder: Path, entry: str) -> None:
    (folder / "splits" / "test.txt").write_text(f"a\n{entry}\n")
    with pytest.raises(DataError, match="is a path, not a pair name") as err:
        _dataset(folder).pair_ids("test")
    assert "test.txt:2" in str(err.value)


def test_a_symlink_out_of_the_folder_is_refused(folder: Path) -> None:
    for mod in ("ir", "vi"):
        (folder / mod / "c.png").symlink_to(folder.parent / "secret" / mod / "x.png")
    ds = _dataset(folder)
    assert ds.load("a").sources is not None  # normal pairs still load
    with pytest.raises(DataError, match="outside the dataset folder"):
        ds.load("c")


def test_a_split_name_cannot_leave_the_splits_folder(folder: Path) -> None:
    (folder.parent / "evil.txt").write_text("a\n")
    with pytest.raises(DataError, match="outside the dataset folder"):
        _dataset(folder).pair_ids("../../evil")
    (folder / "splits" / "test.txt").write_text("a\nb\n")
    assert _dataset(folder).pair_ids("test") == ["a", "b"]


# --- legacy checkpoints in the container torch itself writes -------------------------------------


def _torch_legacy(path: Path, obj: object) -> Path:
    """``obj`` saved the way torch < 1.6 did (the container load_legacy reads)."""
    torch = pytest.importorskip("torch")
    torch.save(obj, path, _use_new_zipfile_serialization=False)
    return path


def test_a_payload_in_a_torch_written_legacy_file_is_refused_with_a_weights_error(
        tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from benchbed_zoo._legacy import LegacyPickleError, load_legacy

    from benchbed.errors import WeightsError

    marker = tmp_path / "pwned"
    path = _torch_legacy(tmp_path / "evil.pth", {"w": torch.ones(3), "x": _Payload(marker)})
    with pytest.raises(WeightsError) as err:
        load_legacy(path)
    assert isinstance(err.value, LegacyPickleError) and isinstance(err.value, pickle.UnpicklingError)
    text = str(err.value)
    assert str(path) in text and f"'{os.system.__module__}.system'" in text and "not allowed" in text
    assert err.value.fix and "weights_only=True" in err.value.fix
    assert not marker.exists(), "the crafted pickle ran its payload"


def test_a_torch_written_legacy_state_dict_and_module_load(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from benchbed_zoo._legacy import load_legacy, module_state_dict

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.BatchNorm2d(2))
    expected = {k: v.numpy() for k, v in net.state_dict().items()}
    state = load_legacy(_torch_legacy(tmp_path / "sd.pth", net.state_dict()))
    assert list(state) == list(expected)
    for k, v in expected.items():
        assert state[k].dtype == v.dtype and np.array_equal(state[k], v), k
    for m in net.modules():  # torch < 1.6 modules had no such set (and sets are not allowed)
        del m.__dict__["_non_persistent_buffers_set"]
    record = load_legacy(_torch_legacy(tmp_path / "net.pth", net))
    assert record.qualname == "torch.nn.modules.container.Sequential"
    got = module_state_dict(record)
    assert sorted(got) == sorted(expected)
    assert all(np.array_equal(got[k], v) for k, v in expected.items())


def _crafted_tensor_file(path: Path, size: tuple[int, ...], stride: tuple[int, ...],
                         numel: int = 4) -> Path:
    """A legacy file holding one float tensor record with the given size/stride over a storage
    of ``numel`` floats (torch refuses to write an out-of-bounds view, so it is written here)."""
    torch = pytest.importorskip("torch")
    from collections import OrderedDict

    class Storage:
        pass

    class Tensor:
        pass

    store = Storage()

    class Writer(pickle.Pickler):
        def persistent_id(self, obj: object) -> object:
            return ("storage", torch.FloatStorage, "0", "cpu", numel, None) if obj is store else None

        def reducer_override(self, obj: object) -> object:
            if isinstance(obj, Tensor):
                return (torch._utils._rebuild_tensor_v2,
                        (store, 0, size, stride, False, OrderedDict()))
            return NotImplemented

    with open(path, "wb") as fh:
        for part in (_MAGIC, _PROTOCOL, {"little_endian": True}):
            pickle.dump(part, fh, protocol=2)
        Writer(fh, protocol=2).dump({"t": Tensor()})
        pickle.dump(["0"], fh, protocol=2)
        fh.write(numel.to_bytes(8, "little") + np.arange(numel, dtype="<f4").tobytes())
    return path


def test_a_crafted_tensor_record_reads_within_its_storage(tmp_path: Path) -> None:
    from benchbed_zoo._legacy import load_legacy

    got = load_legacy(_crafted_tensor_file(tmp_path / "ok.pth", (2, 2), (1, 2)))
    assert np.array_equal(got["t"], np.array([[0, 2], [1, 3]], np.float32))


@pytest.mark.parametrize(("size", "stride"), [((100,), (1,)), ((2, 2), (1, 1000)),
                                              ((2,), (-1,)), ((1000, 1000), (0, 0))])
def test_a_tensor_record_reaching_past_its_storage_is_refused(
        tmp_path: Path, size: tuple[int, ...], stride: tuple[int, ...]) -> None:
    from benchbed_zoo._legacy import load_legacy

    from benchbed.errors import WeightsError

    path = _crafted_tensor_file(tmp_path / "bad.pth", size, stride)
    with pytest.raises(WeightsError, match="does not fit its storage") as err:
        load_legacy(path)
    assert str(path) in str(err.value)


# --- folders and the standard datasets ------------------------------------------------------------


def test_a_modality_folder_outside_the_dataset_is_refused(folder: Path) -> None:
    from benchbed.registry import Registry

    linked = folder.parent / "linked"
    linked.mkdir()
    (linked / "ir").symlink_to(folder.parent / "secret" / "ir", target_is_directory=True)
    (linked / "vi").symlink_to(folder / "vi", target_is_directory=True)
    with pytest.raises(DataError, match="outside the dataset folder"):
        _dataset(linked).pair_ids()
    ds = Registry().get("dataset", "folder").build(path=str(folder),
                                                   modalities=["../secret/ir", "vi"])
    with pytest.raises(DataError, match="modality folder"):
        ds.load("a")
    link = folder.parent / "link-to-pairs"  # linking the whole dataset folder is fine
    link.symlink_to(folder, target_is_directory=True)
    assert _dataset(link).pair_ids() == ["a", "b"]


@pytest.fixture()
def data_root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    for mod in ("ir", "vi"):
        (root / "ivf" / "msrs" / mod).mkdir(parents=True)
        write_image(root / "ivf" / "msrs" / mod / "a.png", np.zeros((16, 16), np.float32))
    (root / "splits").mkdir()
    (root / "splits" / "ivf_msrs_test.txt").write_text("a\n")
    (root / "detection" / "msrs" / "labels").mkdir(parents=True)
    (tmp_path / "secret.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    return root


def _msrs(root: Path):  # type: ignore[no-untyped-def]
    from benchbed_datasets import NamedDataset

    return NamedDataset("msrs", root=str(root))


@pytest.mark.parametrize("entry", ["../../etc/passwd", "/etc/passwd"])
def test_a_standard_split_naming_a_path_is_refused(data_root: Path, entry: str) -> None:
    split = data_root / "splits" / "ivf_msrs_test.txt"
    split.write_text(f"a\n{entry}\n")
    with pytest.raises(DataError, match="is a path, not a pair name") as err:
        _msrs(data_root).pair_ids("test")
    assert f"{split}:2" in str(err.value) and entry in str(err.value)


def test_a_standard_split_cannot_leave_the_splits_folder(data_root: Path) -> None:
    assert _msrs(data_root).pair_ids("test") == ["a"]  # a normal split still works
    with pytest.raises(DataError, match="outside the dataset folder"):
        _msrs(data_root).pair_ids("../../../secret")
    split = data_root / "splits" / "ivf_msrs_train.txt"
    split.symlink_to(data_root.parent / "secret.txt")
    with pytest.raises(DataError, match="outside the dataset folder"):
        _msrs(data_root).pair_ids("train")


def test_labels_that_link_out_of_the_labels_folder_are_refused(data_root: Path) -> None:
    labels = data_root / "detection" / "msrs" / "labels"
    (labels / "a.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    assert _msrs(data_root).labels_for("a") == str(labels / "a.txt")
    (labels / "a.txt").unlink()
    (labels / "a.txt").symlink_to(data_root.parent / "secret.txt")
    with pytest.raises(DataError, match="outside the dataset folder"):
        _msrs(data_root).labels_for("a")
    with pytest.raises(DataError, match="outside the dataset folder"):
        _msrs(data_root).labels_for("../../../../secret")
