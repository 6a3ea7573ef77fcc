"""Read legacy (torch < 1.6) pickles of whole modules into state dicts without running their code.

Some published checkpoints (DnCNN-S, VDSR) pickle the whole ``nn.Module``. ``torch.load`` with
``weights_only=True`` refuses them (they reference their classes, and VDSR is a Python 2 pickle),
and ``weights_only=False`` would execute whatever the pickle names. This reader parses the legacy
container itself with a restricted unpickler: every class it meets must be on an allow-list and is
replaced by an inert record of its pickled ``__dict__``; the only callables it hands to the pickle
are the tensor/parameter rebuild stand-ins below. Tensors are then materialised from the raw
storage bytes that follow the pickle.

Legacy container layout: pickle(magic) pickle(protocol) pickle(sys_info) pickle(object, with
persistent ids for storages) pickle(list of storage keys), then per storage key, in that order,
an int64 element count followed by the raw little-endian elements.
"""

from __future__ import annotations

import io
import pickle
import struct
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

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


class PickledModule:
    """Inert stand-in for a pickled ``nn.Module``: keeps its class name and pickled ``__dict__``."""

    qualname = "?"

    def __new__(cls, *args: Any) -> PickledModule:  # NEWOBJ passes the class's __new__ args
        return object.__new__(cls)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.state = dict(state)


class _Storage:
    def __init__(self, dtype: type, numel: int) -> None:
        self.dtype = np.dtype(dtype)
        self.numel = int(numel)
        self.data: np.ndarray | None = None


class _TensorRef:
    """A tensor whose storage bytes have not been read yet."""

    def __init__(self, storage: _Storage, offset: int, size: tuple[int, ...],
                 stride: tuple[int, ...]) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def __setstate__(self, state: Any) -> None:
        """Old Parameters BUILD (requires_grad, volatile, hooks) onto the tensor: not weights."""

    def materialise(self) -> np.ndarray:
        data = self.storage.data
        if data is None:
            raise pickle.UnpicklingError("tensor refers to a storage that was never written")
        item = data.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset :], shape=self.size, strides=tuple(s * item for s in self.stride)
        )
        return np.array(view, copy=True)


def _rebuild_tensor(storage: _Storage, offset: int, size: tuple[int, ...],
                    stride: tuple[int, ...], *_: Any) -> _TensorRef:
    return _TensorRef(storage, offset, size, stride)


def _parameter(data: Any, *_: Any) -> Any:  # a Parameter is its data for a state dict
    return data


def _ignored(*_: Any) -> None:  # e.g. torch<1.0 modules pickle a THNN backend handle
    return None


_CALLABLES = {
    "torch._utils._rebuild_tensor": _rebuild_tensor,
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor,
    "torch._utils._rebuild_parameter": _parameter,
    "torch.nn.parameter.Parameter": _parameter,
    "torch.nn.backends.thnn._get_thnn_function_backend": _ignored,
    "collections.OrderedDict": OrderedDict,
}


class _DataUnpickler(pickle.Unpickler):
    """For the container's plain parts (magic, protocol, sys_info, storage keys): ints, strings,
    lists and dicts need no global, so none is allowed (a crafted header must not run code)."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"global {module}.{name!r} is not allowed in a weights file "
                                     "header")

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not allowed in a weights file header")


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, fh: io.BufferedIOBase, module_classes: frozenset[str]) -> None:
        super().__init__(fh, encoding="latin1")  # latin1 reads Python 2 str as bytes-exact text
        self.module_classes = module_classes
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        dotted = f"{module}.{name}"
        if dotted in _CALLABLES:
            return _CALLABLES[dotted]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _STORAGE_DTYPES[name]
        if dotted in self.module_classes or module.startswith("torch.nn.modules."):
            # A fresh subclass per name, so the record says which class it stood in for.
            return type(name, (PickledModule,), {"qualname": dotted})
        raise pickle.UnpicklingError(f"global {dotted!r} is not allowed in a weights file")

    def persistent_load(self, pid: Any) -> Any:
        kind = pid[0]
        if kind == "module":  # (module, class, source file, source): keep the class only
            return pid[1]
        if kind == "storage":
            dtype, key, _location, numel, view = pid[1:6]
            if view is not None:
                raise pickle.UnpicklingError("storage views are not supported")
            if key not in self.storages:
                self.storages[key] = _Storage(dtype, numel)
            return self.storages[key]
        raise pickle.UnpicklingError(f"unknown persistent id {kind!r}")


def load_legacy(path: Path, module_classes: tuple[str, ...] = ()) -> Any:
    """Unpickle a legacy torch file; modules become PickledModule records, tensors numpy arrays."""
    with open(path, "rb") as fh:
        header = _DataUnpickler(fh)  # magic, protocol and sys_info are plain ints/dicts
        if header.load() != _MAGIC or header.load() != _PROTOCOL:
            raise pickle.UnpicklingError(f"{path} is not a legacy torch file")
        header.load()
        unpickler = _RestrictedUnpickler(fh, frozenset(module_classes))
        obj = unpickler.load()
        keys = _DataUnpickler(fh, encoding="latin1").load()
        for key in keys:
            storage = unpickler.storages[key]
            (count,) = struct.unpack("<q", fh.read(8))
            raw = fh.read(count * storage.dtype.itemsize)
            if count != storage.numel or len(raw) != count * storage.dtype.itemsize:
                raise pickle.UnpicklingError(f"{path}: storage {key} is truncated")
            storage.data = np.frombuffer(raw, dtype=storage.dtype.newbyteorder("<"))
    return _materialise(obj)


def _materialise(obj: Any) -> Any:
    if isinstance(obj, _TensorRef):
        return obj.materialise()
    if isinstance(obj, PickledModule):
        obj.state = {k: _materialise(v) for k, v in obj.state.items()}
        return obj
    if isinstance(obj, dict):
        return type(obj)((k, _materialise(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialise(v) for v in obj)
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
