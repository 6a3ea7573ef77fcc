"""Read legacy (torch < 1.6) pickles of whole modules into state dicts without running their code.

Some published checkpoints (DnCNN-S, VDSR) pickle the whole ``nn.Module``. ``torch.load`` with
``weights_only=True`` refuses them (they reference their classes, and VDSR is a Python 2 pickle),
and ``weights_only=False`` would execute whatever the pickle names. This reader parses the legacy
container itself. Every one of its pickles goes through a restricted unpickler: the header and
the storage-key list may name no global at all, and the object pickle only the allow-list below.
Module classes become inert records of their pickled ``__dict__``; the only callables handed to
the pickle are the tensor/parameter rebuild stand-ins below. Tensors are then materialised, with
bounds checks, from the raw storage bytes that follow the pickle. Anything else is refused with a
``LegacyPickleError`` (a ``WeightsError``) naming the file, the refused global and the fix, before
any of it is called.

Legacy container layout: pickle(magic) pickle(protocol) pickle(sys_info) pickle(object, with
persistent ids for storages) pickle(list of storage keys), then per storage key, in that order,
an int64 element count followed by the raw little-endian elements.
"""

from __future__ import annotations

import io
import math
import pickle
import struct
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from benchbed.errors import WeightsError

_MAGIC = 0x1950A86A20F9469CFC6C
_PROTOCOL = 1001
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
_FIX = ("use the published checkpoint (its sha256 is pinned in the zoo), or convert the file to a "
        "plain state dict and load it with torch.load(weights_only=True)")


class LegacyPickleError(WeightsError, pickle.UnpicklingError):
    """A legacy torch file that names a global outside the allow-list, or is malformed."""


class PickledModule:
    """Inert stand-in for a pickled ``nn.Module``: keeps its class name and pickled ``__dict__``."""

    qualname = "?"

    def __new__(cls, *args: Any) -> PickledModule:  # NEWOBJ passes the class's __new__ args
        return object.__new__(cls)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.state = dict(state)


class _StorageType:
    """What ``torch.FloatStorage`` & co. resolve to: not callable, only a dtype for a storage."""

    def __init__(self, name: str) -> None:
        self.name, self.dtype = name, np.dtype(_STORAGE_DTYPES[name])


_STORAGE_TYPES = {name: _StorageType(name) for name in _STORAGE_DTYPES}


class _Storage:
    def __init__(self, dtype: np.dtype, numel: int) -> None:
        self.dtype = dtype
        self.numel = numel
        self.data: np.ndarray | None = None


class _TensorRef:
    """A tensor whose storage bytes have not been read yet."""

    def __init__(self, storage: _Storage, offset: int, size: tuple[int, ...],
                 stride: tuple[int, ...]) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def __setstate__(self, state: Any) -> None:
        """Old Parameters BUILD (requires_grad, volatile, hooks) onto the tensor: not weights."""

    def materialise(self, path: Path) -> np.ndarray:
        data = self.storage.data
        if data is None:
            raise LegacyPickleError(f"{path}: a tensor refers to a storage that was never written",
                                    fix=_FIX)
        # as_strided trusts its arguments: check the view lies inside the storage first (and,
        # weights never being expanded views, that it holds no more elements than the storage).
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if (len(self.size) != len(self.stride) or self.offset < 0
                or any(n < 0 for n in self.size) or any(s < 0 for s in self.stride)
                or (all(n > 0 for n in self.size) and last >= data.size)
                or math.prod(self.size) > data.size):
            raise LegacyPickleError(
                f"{path}: tensor of size {self.size}, stride {self.stride} at offset {self.offset} "
                f"does not fit its storage of {data.size} elements", fix=_FIX)
        item = data.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset :], shape=self.size, strides=tuple(s * item for s in self.stride)
        )
        return np.array(view, copy=True)


def _ints(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *_: Any) -> _TensorRef:
    if (not isinstance(storage, _Storage) or not _ints(offset)
            or not isinstance(size, tuple) or not isinstance(stride, tuple)
            or not all(_ints(v) for v in (*size, *stride))):
        raise pickle.UnpicklingError("malformed tensor record")
    return _TensorRef(storage, offset, size, stride)


def _parameter(data: Any, *_: Any) -> Any:  # a Parameter is its data for a state dict
    return data


def _ignored(*_: Any) -> None:  # e.g. torch<1.0 modules pickle a THNN backend handle
    return None


# The allow-list: every global a legacy whole-module checkpoint needs, each mapped to an inert
# stand-in (never to the real torch object).
_CALLABLES = {
    # _parameters/_buffers/_modules of every module are OrderedDicts; v2 tensors' hook dicts too.
    "collections.OrderedDict": OrderedDict,
    # How a tensor is pickled: torch 0.3 (VDSR) and torch 0.4-1.5 (DnCNN-S) respectively.
    "torch._utils._rebuild_tensor": _rebuild_tensor,
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor,
    # How a Parameter is pickled: torch 1.0-1.5, and torch < 1.0 (REDUCE on the class itself).
    "torch._utils._rebuild_parameter": _parameter,
    "torch.nn.parameter.Parameter": _parameter,
    # torch < 1.0 modules pickle their THNN backend (`_backend`), which holds no weights.
    "torch.nn.backends.thnn._get_thnn_function_backend": _ignored,
}
# The torch module classes the shipped checkpoints contain; each becomes an inert record.
_TORCH_MODULES = frozenset({
    "torch.nn.modules.activation.ReLU",
    "torch.nn.modules.batchnorm.BatchNorm2d",
    "torch.nn.modules.container.Sequential",
    "torch.nn.modules.conv.Conv2d",
})


class _PlainUnpickler(pickle.Unpickler):
    """For the header and the storage-key list: plain ints, strings, lists and dicts only."""

    def __init__(self, fh: io.BufferedIOBase, path: Path) -> None:
        super().__init__(fh, encoding="latin1")  # latin1 reads Python 2 str as bytes-exact text
        self.path = path

    def refuse(self, dotted: str, fix: str = _FIX) -> LegacyPickleError:
        return LegacyPickleError(
            f"{self.path}: global {dotted!r} is not allowed in a weights file (refused before "
            "anything in the file was run)", fix=fix)

    def find_class(self, module: str, name: str) -> Any:
        raise self.refuse(f"{module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        raise LegacyPickleError(f"{self.path}: unexpected persistent id in the file's header",
                                fix=_FIX)


class _RestrictedUnpickler(_PlainUnpickler):
    """For the object pickle: the allow-list, module records and storage persistent ids."""

    def __init__(self, fh: io.BufferedIOBase, path: Path, module_classes: frozenset[str]) -> None:
        super().__init__(fh, path)
        self.module_classes = module_classes
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        dotted = f"{module}.{name}"
        if dotted in _CALLABLES:
            return _CALLABLES[dotted]
        if module == "torch" and name in _STORAGE_TYPES:
            return _STORAGE_TYPES[name]
        if dotted in self.module_classes or dotted in _TORCH_MODULES:
            # A fresh subclass per name, so the record says which class it stood in for.
            return type(name, (PickledModule,), {"qualname": dotted})
        raise self.refuse(dotted, fix=f"if {dotted} is an nn.Module class of a trusted checkpoint, "
                          "pass it in load_legacy(module_classes=...) so it becomes an inert "
                          "record; otherwise " + _FIX)

    def persistent_load(self, pid: Any) -> Any:
        kind = pid[0] if isinstance(pid, tuple) and pid else None
        if kind == "module" and len(pid) > 1:  # (module, class, source file, source): the class
            return pid[1]
        if kind == "storage" and len(pid) >= 6:
            stype, key, _location, numel, view = pid[1:6]
            if not isinstance(stype, _StorageType) or not isinstance(key, str) or not _ints(numel) \
                    or numel < 0:
                raise LegacyPickleError(f"{self.path}: malformed storage record {key!r}", fix=_FIX)
            if view is not None:
                raise LegacyPickleError(f"{self.path}: storage views are not supported", fix=_FIX)
            if key not in self.storages:
                self.storages[key] = _Storage(stype.dtype, numel)
            return self.storages[key]
        raise LegacyPickleError(f"{self.path}: unknown persistent id {kind!r}", fix=_FIX)


def load_legacy(path: Path, module_classes: tuple[str, ...] = ()) -> Any:
    """Unpickle a legacy torch file; modules become PickledModule records, tensors numpy arrays.

    Raises ``LegacyPickleError`` (a ``WeightsError`` and a ``pickle.UnpicklingError``) for a
    global outside the allow-list, before anything is called, and for a malformed file.
    """
    try:
        return _load(Path(path), frozenset(module_classes))
    except LegacyPickleError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
            AttributeError, struct.error, RecursionError, MemoryError) as exc:
        raise LegacyPickleError(f"{path} is not a readable legacy torch file: {exc}",
                                fix=_FIX) from exc


def _load(path: Path, module_classes: frozenset[str]) -> Any:
    with open(path, "rb") as fh:
        header = _PlainUnpickler(fh, path)  # magic, protocol and sys_info are plain ints/dicts
        if header.load() != _MAGIC or header.load() != _PROTOCOL:
            raise LegacyPickleError(f"{path} is not a legacy torch file",
                                    fix="pass a torch < 1.6 whole-module checkpoint")
        header.load()
        unpickler = _RestrictedUnpickler(fh, path, module_classes)
        obj = unpickler.load()
        keys = _PlainUnpickler(fh, path).load()
        if not isinstance(keys, list) or set(keys) != set(unpickler.storages):
            raise LegacyPickleError(f"{path}: the storage key list does not match the tensors",
                                    fix=_FIX)
        for key in keys:
            storage = unpickler.storages[key]
            (count,) = struct.unpack("<q", fh.read(8))
            raw = fh.read(count * storage.dtype.itemsize) if 0 <= count == storage.numel else b""
            if count != storage.numel or len(raw) != count * storage.dtype.itemsize:
                raise LegacyPickleError(f"{path}: storage {key} is truncated", fix=_FIX)
            storage.data = np.frombuffer(raw, dtype=storage.dtype.newbyteorder("<"))
    return _materialise(obj, path)


def _materialise(obj: Any, path: Path) -> Any:
    if isinstance(obj, _TensorRef):
        return obj.materialise(path)
    if isinstance(obj, PickledModule):
        obj.state = {k: _materialise(v, path) for k, v in getattr(obj, "state", {}).items()}
        return obj
    if isinstance(obj, dict):
        return type(obj)((k, _materialise(v, path)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialise(v, path) for v in obj)
    return obj


def module_state_dict(module: PickledModule, prefix: str = "") -> dict[str, np.ndarray]:
    """The flat state dict (parameters and buffers, like ``nn.Module.state_dict``) of a record."""
    out: dict[str, np.ndarray] = {}
    for group in ("_parameters", "_buffers"):
        for name, value in (module.state.get(group) or {}).items():
            if value is not None:
                out[prefix + name] = value
    for name, child in (module.state.get("_modules") or {}).items():
        if child is not None:
            out.update(module_state_dict(child, f"{prefix}{name}."))
    return out


def submodule(module: PickledModule, dotted: str) -> PickledModule:
    """The child record at ``dotted`` (e.g. ``dncnn.3``), to read attributes such as BN eps."""
    for part in dotted.split("."):
        module = module.state["_modules"][part]
    return module
