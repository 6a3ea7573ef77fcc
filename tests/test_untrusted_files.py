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
