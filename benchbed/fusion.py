"""Applying a fuser under its colour policy: the core, not the fuser, owns colour."""

from __future__ import annotations

import numpy as np

from benchbed.errors import BenchbedError
from benchbed.imaging import check_image, is_colour, resize, rgb_to_ycbcr, to_gray, ycbcr_to_rgb
from benchbed.types import FuserSpec, FusionInputs, Image, Observation


def fuse_with_policy(
    spec: FuserSpec,
    fuser: object,
    images: tuple[Image, Image],
    modalities: tuple[str, str],
    out_shape: tuple[int, int],
    observations: tuple[Observation, Observation] | None = None,
    device: str = "cpu",
    seed: int = 0,
) -> Image:
    """Fuse two sources and return an image of ``out_shape`` (RGB when a source is colour).

    ``y-cbcr``: the fuser sees the BT.601 Y of each source; colour comes back from the CbCr of
    the first colour source (resized to the output when it was smaller, e.g. a low-res PET).
    ``gray``: luma only, gray output. ``rgb``: gray sources are replicated to three channels.
    """
    what = f"fuser {spec.name!r}"
    colour_idx = next((i for i, im in enumerate(images) if is_colour(im)), None)
    if spec.colour == "rgb":
        rgb = tuple(im if is_colour(im) else np.repeat(im[..., None], 3, axis=2) for im in images)
        inputs = FusionInputs(rgb, modalities, observations, device, seed)  # type: ignore[arg-type]
        fused = check_image(fuser.fuse(inputs), what, out_shape)  # type: ignore[attr-defined]
        return fused
    lumas = (to_gray(images[0]), to_gray(images[1]))
    inputs = FusionInputs(lumas, modalities, observations, device, seed)
    fused = check_image(fuser.fuse(inputs), what, out_shape)  # type: ignore[attr-defined]
    if fused.ndim == 3:
        fused = to_gray(fused)
    if spec.colour == "gray" or colour_idx is None:
        return fused
    ycc = rgb_to_ycbcr(images[colour_idx])
    chroma = ycc[..., 1:]
    if chroma.shape[:2] != fused.shape[:2]:
        chroma = resize(chroma, fused.shape[:2])
    return ycbcr_to_rgb(np.concatenate([fused[..., None], chroma], axis=2))


def source_pair(
    inputs: FusionInputs, name: str, dtype: type = np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """The two sources of a `y-cbcr`/`gray` fuser as HxW arrays of one shape, or a clear error."""
    a, b = (np.asarray(x, dtype=dtype) for x in inputs.images)
    if a.ndim != 2 or b.ndim != 2:
        raise BenchbedError(
            f"fuser {name!r} got images of shapes {a.shape} and {b.shape}, expected HxW",
            fix="register it with colour='y-cbcr' or 'gray' so the core passes single channels",
        )
    if a.shape != b.shape:
        raise BenchbedError(
            f"fuser {name!r} got sources of different sizes {a.shape} and {b.shape}",
            fix="register (resize) the sources to one size before fusing",
        )
    return a, b
