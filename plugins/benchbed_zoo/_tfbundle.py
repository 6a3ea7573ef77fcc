"""Read float tensors from a TensorFlow 1 checkpoint (tensor bundle) without TensorFlow.

A bundle is ``<prefix>.index`` + ``<prefix>.data-00000-of-00001``. The index is a LevelDB-format
SSTable mapping each tensor name to a ``BundleEntryProto`` (dtype, shape, shard, offset, size);
the data file holds the raw little-endian values. The table is small, so it is parsed whole:
footer -> index block -> data blocks -> prefix-compressed entries.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER = 48  # two padded block handles (40 bytes) + 8-byte magic
_DT_FLOAT = 1


class BundleError(ValueError):
    """The index is not a tensor bundle this reader understands."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _block(buf: bytes, offset: int, size: int) -> list[tuple[bytes, bytes]]:
    """Key/value entries of one table block (keys are stored as shared-prefix deltas)."""
    if buf[offset + size] != 0:  # 1-byte trailer type after the block: 0 = uncompressed
        raise BundleError("compressed SSTable blocks are not supported")
    data = buf[offset : offset + size]
    (restarts,) = struct.unpack_from("<I", data, size - 4)
    end = size - 4 - 4 * restarts
    entries: list[tuple[bytes, bytes]] = []
    key = b""
    pos = 0
    while pos < end:
        shared, pos = _varint(data, pos)
        unshared, pos = _varint(data, pos)
        vlen, pos = _varint(data, pos)
        key = key[:shared] + data[pos : pos + unshared]
        pos += unshared
        entries.append((key, data[pos : pos + vlen]))
        pos += vlen
    return entries


def _handle(value: bytes, pos: int = 0) -> tuple[int, int, int]:
    offset, pos = _varint(value, pos)
    size, pos = _varint(value, pos)
    return offset, size, pos


def _entry(value: bytes) -> dict[str, object]:
    """Decode the BundleEntryProto fields we need: dtype(1) shape(2) shard(3) offset(4) size(5)."""
    out: dict[str, object] = {"dtype": 0, "shape": [], "shard": 0, "offset": 0, "size": 0}
    pos = 0
    while pos < len(value):
        tag, pos = _varint(value, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            num, pos = _varint(value, pos)
            name = {1: "dtype", 3: "shard", 4: "offset", 5: "size"}.get(field)
            if name:
                out[name] = num
        elif wire == 2:
            length, pos = _varint(value, pos)
            sub = value[pos : pos + length]
            pos += length
            if field == 2:  # TensorShapeProto: repeated Dim dim = 2 { int64 size = 1 }
                out["shape"] = _shape(sub)
            elif field == 7:
                raise BundleError("sliced tensors are not supported")
        elif wire == 5:
            pos += 4  # crc32c (fixed32); the data file's sha256 is verified instead
        elif wire == 1:
            pos += 8
        else:
            raise BundleError(f"unexpected protobuf wire type {wire}")
    return out


def _shape(sub: bytes) -> list[int]:
    dims: list[int] = []
    pos = 0
    while pos < len(sub):
        tag, pos = _varint(sub, pos)
        length, pos = _varint(sub, pos)
        dim = sub[pos : pos + length]
        pos += length
        if tag >> 3 != 2:
            continue
        size, p = 0, 0
        while p < len(dim):
            t, p = _varint(dim, p)
            if t >> 3 == 1 and t & 7 == 0:
                size, p = _varint(dim, p)
            else:
                raise BundleError("unexpected field in TensorShapeProto.Dim")
        dims.append(size)
    return dims


def read_bundle(index_path: Path, data_path: Path) -> dict[str, np.ndarray]:
    """Every tensor in the bundle as a float32 numpy array in TF's own axis order."""
    buf = index_path.read_bytes()
    if len(buf) < _FOOTER or struct.unpack_from("<Q", buf, len(buf) - 8)[0] != _TABLE_MAGIC:
        raise BundleError(f"{index_path} is not an SSTable")
    footer = buf[len(buf) - _FOOTER :]
    _, _, pos = _handle(footer)  # metaindex handle (unused)
    idx_off, idx_size, _ = _handle(footer, pos)
    data = data_path.read_bytes()
    tensors: dict[str, np.ndarray] = {}
    for _, handle in _block(buf, idx_off, idx_size):
        off, size, _ = _handle(handle)
        for key, value in _block(buf, off, size):
            if key == b"":  # the BundleHeaderProto, not a tensor
                continue
            e = _entry(value)
            if e["dtype"] != _DT_FLOAT or e["shard"] != 0:
                raise BundleError(f"tensor {key!r}: only float32 tensors in shard 0 are supported")
            shape = [int(d) for d in e["shape"]]  # type: ignore[union-attr]
            start, nbytes = int(e["offset"]), int(e["size"])  # type: ignore[arg-type]
            if nbytes != 4 * int(np.prod(shape)) or start + nbytes > len(data):
                raise BundleError(f"tensor {key!r}: size {nbytes} does not match shape {shape}")
            arr = np.frombuffer(data, dtype="<f4", count=nbytes // 4, offset=start)
            tensors[key.decode()] = arr.reshape(shape).astype(np.float32)
    return tensors
