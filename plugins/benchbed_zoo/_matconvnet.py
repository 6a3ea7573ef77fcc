"""Read the conv layers of a MatConvNet SimpleNN model saved as MATLAB v7.3 (HDF5) with h5py.

MATLAB stores arrays column-major, so h5py shows a conv filter ``[kH kW Cin Cout]`` as
``(Cout, Cin, kW, kH)``: swapping the last two axes gives torch's ``[Cout, Cin, kH, kW]``.
MATLAB also drops trailing singleton dimensions, so a ``Cout = 1`` filter arrives 3-D.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class MatLayer:
    """One layer of ``net.layers``: its type, name and (for convs) torch-ordered weight and bias."""

    type: str
    name: str
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    pad: int = 0


def _text(dataset: object) -> str:
    return "".join(chr(int(c)) for c in np.asarray(dataset).ravel())


def read_simplenn(path: Path) -> list[MatLayer]:
    """All layers of ``net.layers`` in order; conv weights converted to torch layout (float32)."""
    try:
        import h5py  # only the MatConvNet models (DnCNN-B, FFDNet) need it
    except ImportError as exc:
        from benchbed import BenchbedError

        raise BenchbedError(f"reading {path.name} needs h5py, which is not installed",
                            fix="pip install 'benchbed[zoo]'") from exc

    layers: list[MatLayer] = []
    with h5py.File(path, "r") as f:
        for ref in np.asarray(f["net/layers"]).ravel():
            g = f[ref]
            kind, name = _text(g["type"]), _text(g["name"])
            if kind != "conv":
                layers.append(MatLayer(kind, name))
                continue
            w_ref, b_ref = np.asarray(g["weights"]).ravel()
            w = np.asarray(f[w_ref], dtype=np.float32)
            if w.ndim == 3:  # Cout = 1 was dropped by MATLAB
                w = w[None]
            weight = np.ascontiguousarray(np.swapaxes(w, 2, 3))
            bias = np.asarray(f[b_ref], dtype=np.float32).reshape(-1)
            pad = int(np.asarray(g["pad"]).ravel()[0])
            layers.append(MatLayer(kind, name, weight, bias, pad))
    return layers


def conv_stack_state(layers: list[MatLayer]) -> tuple[list[int], dict[str, np.ndarray]]:
    """Channel widths and a ``ConvStack`` state dict (``convs.{i}.weight|bias``) from the convs.

    Checks the structure the ConvStack assumes: 3x3 convs with padding 1, a ReLU after every
    conv but the last, nothing else in between.
    """
    convs = [layer for layer in layers if layer.type == "conv"]
    kinds = [layer.type for layer in layers if layer.type in ("conv", "relu")]
    expected = ["conv", "relu"] * (len(convs) - 1) + ["conv"]
    if kinds != expected or any(c.pad != 1 or c.weight.shape[2:] != (3, 3) for c in convs):
        raise ValueError("MatConvNet model is not a plain 3x3 conv/ReLU stack")
    widths = [int(convs[0].weight.shape[1])] + [int(c.weight.shape[0]) for c in convs]
    state: dict[str, np.ndarray] = {}
    for i, c in enumerate(convs):
        state[f"convs.{i}.weight"] = c.weight
        state[f"convs.{i}.bias"] = c.bias
    return widths, state
