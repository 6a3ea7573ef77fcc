"""Applying a fuser under its colour policy: the core, not the fuser, owns colour."""

from __future__ import annotations

import numpy as np

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
