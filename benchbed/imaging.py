"""The one image loader/writer, the one colour conversion, quantisation and content hashing."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from benchbed.errors import DataError
from benchbed.types import Image

# ITU-R BT.601 full-range (JPEG/JFIF) YCbCr, as MATLAB's rgb2ycbcr-free fusion code and
# the published Python evaluators (cv2.COLOR_RGB2YCrCb) use it; Y is the 0.299/0.587/0.114 luma.
_RGB2YCC = np.array(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]],
    dtype=np.float64,
)
_YCC2RGB = np.linalg.inv(_RGB2YCC)


def read_image(path: str | os.PathLike[str]) -> Image:
    """Read a PNG/JPEG/BMP/TIFF as float32 [0, 1]: HxW for gray, HxWx3 for colour."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"image file not found: {p}", fix="check the path or BENCHBED_DATA")
    try:
        with PILImage.open(p) as im:
            im.load()
            mode = im.mode
            if mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(im, dtype=np.float64) / 65535.0
                return arr.astype(np.float32)
            if mode not in ("L", "RGB"):
                im = im.convert("RGB" if mode in ("RGBA", "P", "CMYK", "YCbCr", "LA") else "L")
            arr = np.asarray(im, dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(
            f"cannot decode image {p}: {exc}", fix="replace the file with a valid PNG/JPEG"
        ) from exc
    if arr.ndim == 3 and np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(
        arr[..., 1], arr[..., 2]
    ):
        arr = arr[..., 0]
    return np.ascontiguousarray(arr)


def to_uint8(image: Image) -> np.ndarray:
    """Quantise a [0, 1] image to uint8 by rounding (what a user saves)."""
    return np.clip(np.rint(np.asarray(image, np.float64) * 255.0), 0, 255).astype(np.uint8)


def quantise(image: Image) -> Image:
    """Round-trip through 8 bits so in-memory values equal what a PNG holds."""
    return (to_uint8(image).astype(np.float32) / 255.0).astype(np.float32)


def write_image(path: str | os.PathLike[str], image: Image) -> Path:
    """Write an 8-bit PNG atomically (temp file + rename), so a killed run leaves no half file."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, suffix=".png.tmp")
    os.close(fd)
    try:
        PILImage.fromarray(to_uint8(image)).save(tmp, format="PNG")
        os.replace(tmp, p)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return p


def is_colour(image: Image) -> bool:
    """True for HxWx3 images."""
    return image.ndim == 3 and image.shape[2] == 3


def rgb_to_ycbcr(image: Image) -> Image:
    """BT.601 full-range RGB -> YCbCr, all channels in [0, 1] (Cb, Cr centred at 0.5)."""
    ycc = np.asarray(image, np.float64) @ _RGB2YCC.T
    ycc[..., 1:] += 0.5
    return ycc.astype(np.float32)


def ycbcr_to_rgb(ycc: Image) -> Image:
    """Inverse of rgb_to_ycbcr, clipped to [0, 1]."""
    x = np.asarray(ycc, np.float64).copy()
    x[..., 1:] -= 0.5
    return np.clip(x @ _YCC2RGB.T, 0.0, 1.0).astype(np.float32)


def to_gray(image: Image) -> Image:
    """Luma (BT.601 Y) of a colour image; gray images pass through."""
    if is_colour(image):
        return rgb_to_ycbcr(image)[..., 0]
    return np.asarray(image, np.float32)


def to_gray_255(image: Image) -> np.ndarray:
    """8-bit gray on 0..255 as float64: the input convention of the metric toolboxes."""
    return to_uint8(to_gray(quantise(image))).astype(np.float64)


def resize(image: Image, shape: tuple[int, int], method: str = "bicubic") -> Image:
    """Resize the spatial axes to ``shape`` (H, W) with PIL bicubic/bilinear/nearest, float-exact."""
    h, w = shape
    resample = {
        "bicubic": PILImage.Resampling.BICUBIC,
        "bilinear": PILImage.Resampling.BILINEAR,
        "nearest": PILImage.Resampling.NEAREST,
    }[method]
    chans = [image] if image.ndim == 2 else [image[..., c] for c in range(image.shape[2])]
    out = [
        np.asarray(
            PILImage.fromarray(np.asarray(c, np.float32), mode="F").resize((w, h), resample),
            np.float32,
        )
        for c in chans
    ]
    res = out[0] if image.ndim == 2 else np.stack(out, axis=-1)
    return np.clip(res, 0.0, 1.0).astype(np.float32)


def content_hash(*parts: bytes | str) -> str:
    """The one cache-key function: sha256 over length-prefixed parts."""
    h = hashlib.sha256()
    for part in parts:
        b = part.encode() if isinstance(part, str) else part
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def image_hash(image: Image) -> str:
    """Content hash of an image's 8-bit pixels and shape."""
    q = to_uint8(image)
    return content_hash(str(q.shape), q.tobytes())


def check_image(image: object, what: str, shape: tuple[int, ...] | None = None) -> Image:
    """Validate a plugin's output image: ndarray, finite, 2-D or HxWx3, optional exact shape."""
    from benchbed.errors import PluginOutputError

    if not isinstance(image, np.ndarray):
        raise PluginOutputError(
            f"{what} returned {type(image).__name__}, not a numpy array",
            fix="return a float32 numpy array in [0, 1]",
        )
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise PluginOutputError(
            f"{what} returned an array of shape {image.shape}", fix="return HxW or HxWx3"
        )
    if shape is not None and tuple(image.shape[:2]) != tuple(shape[:2]):
        raise PluginOutputError(
            f"{what} returned shape {tuple(image.shape)}, expected {tuple(shape)}",
            fix="return an image of the input size",
        )
    if not np.all(np.isfinite(image)):
        raise PluginOutputError(
            f"{what} returned NaN or inf values", fix="check the plugin's numerics"
        )
    return np.clip(image.astype(np.float32, copy=False), 0.0, 1.0)
