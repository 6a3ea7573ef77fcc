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


DEFAULT_MAX_PIXELS = 25_000_000
"""Largest image (width x height) read by default: 5000 x 5000. Fusion test sets are far below
(1280 x 1024 at most in the shared data); a 10000 x 10000 pair costs several GB per item."""


def max_pixels() -> int:
    """The image-size limit: ``BENCHBED_MAX_PIXELS`` (``run --max-pixels``) or the default."""
    raw = os.environ.get("BENCHBED_MAX_PIXELS", "")
    try:
        return int(raw) if raw else DEFAULT_MAX_PIXELS
    except ValueError:
        raise DataError(f"BENCHBED_MAX_PIXELS={raw!r} is not an integer",
                        fix="set it to a pixel count such as 25000000, or unset it") from None


def check_size(width: int, height: int, what: str) -> None:
    """DataError when ``width x height`` is above :func:`max_pixels` or below 8 px a side."""
    limit = max_pixels()
    if width * height > limit:
        raise DataError(f"{what} is {width}x{height} ({width * height:,} pixels), above the "
                        f"limit of {limit:,}",
                        fix="downscale the images, or raise the limit with --max-pixels N "
                            "(BENCHBED_MAX_PIXELS) if the machine has the memory")
    if min(width, height) < MIN_SIDE:
        raise DataError(f"{what} is {width}x{height}; fusion metrics and restorers need at "
                        f"least {MIN_SIDE} pixels a side", fix="use larger images")


MIN_SIDE = 8
"""Smallest image side benchbed accepts (gradient, window and pyramid code needs a few px)."""


IMAGE_EXTS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
"""The image formats read_image accepts (by suffix, case-insensitive)."""


def image_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The image files directly inside ``folder`` (supported suffixes, no hidden files), sorted."""
    return sorted(p for p in Path(folder).iterdir()
                  if p.suffix.lower() in IMAGE_EXTS and not p.name.startswith(".") and p.is_file())


def file_digest(path: str | os.PathLike[str]) -> str:
    """sha256 of a file's bytes (what a folder of images made elsewhere is identified by)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_image(path: str | os.PathLike[str]) -> Image:
    """Read a PNG/JPEG/BMP/TIFF as float32 [0, 1]: HxW for gray, HxWx3 for colour."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"image file not found: {p}", fix="check the path or BENCHBED_DATA")
    try:
        with PILImage.open(p) as im:
            check_size(*im.size, f"image {p}")
            im.load()
            mode = im.mode
            if mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(im, dtype=np.float64) / 65535.0
                return arr.astype(np.float32)
            if mode not in ("L", "RGB"):
                im = im.convert("RGB" if mode in ("RGBA", "P", "CMYK", "YCbCr", "LA") else "L")
            arr = np.asarray(im, dtype=np.float32) / 255.0
    except PILImage.DecompressionBombError as exc:
        raise DataError(f"image {p} is far above the size limit ({exc})",
                        fix="downscale the images") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(
            f"cannot decode image {p}: {exc}", fix="replace the file with a valid PNG/JPEG"
        ) from exc
    if _equal_channels(arr):
        arr = arr[..., 0]
    return np.ascontiguousarray(arr)


def png_text(path: str | os.PathLike[str]) -> dict[str, str]:
    """The tEXt chunks of a PNG ({} when it has none or cannot be opened)."""
    try:
        with PILImage.open(path) as im:
            return {k: v for k, v in getattr(im, "text", {}).items() if isinstance(v, str)}
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return {}


def to_uint8(image: Image) -> np.ndarray:
    """Quantise a [0, 1] image to uint8 by rounding (what a user saves)."""
    return np.clip(np.rint(np.asarray(image, np.float64) * 255.0), 0, 255).astype(np.uint8)


def quantise(image: Image) -> Image:
    """Round-trip through 8 bits so in-memory values equal what a PNG holds."""
    return (to_uint8(image).astype(np.float32) / 255.0).astype(np.float32)


def write_image(path: str | os.PathLike[str], image: Image,
                text: dict[str, str] | None = None, compress_level: int = 6) -> Path:
    """Write an 8-bit PNG atomically (temp file + rename), so a killed run leaves no half file;
    ``text`` goes into tEXt chunks (read back with :func:`png_text`); ``compress_level`` is
    zlib's (0-9; the pixels are the same at every level)."""
    from PIL.PngImagePlugin import PngInfo

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, suffix=".png.tmp")
    os.close(fd)
    info = None
    if text:
        info = PngInfo()
        for k, v in text.items():
            info.add_text(k, v)
    try:
        PILImage.fromarray(to_uint8(image)).save(tmp, format="PNG", pnginfo=info,
                                                 compress_level=compress_level)
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
    return _uint8_hash(to_uint8(image))


def _uint8_hash(q: np.ndarray) -> str:
    return content_hash(str(q.shape), q.tobytes())


def _equal_channels(arr: np.ndarray) -> bool:
    """An HxWx3 array whose three channels are identical (the loader returns it as gray)."""
    return arr.ndim == 3 and np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(
        arr[..., 1], arr[..., 2])


def pixel_digest(image: Image) -> str:
    """Hash of what a PNG of ``image`` decodes to (equal RGB channels count as gray, as the
    loader returns them): recorded with every cached artifact and checked when it is read."""
    q = to_uint8(image)
    return _uint8_hash(q[..., 0] if _equal_channels(q) else q)


RANGE_TOLERANCE = 0.02
"""How far a plugin's output may leave [0, 1] (about 5 grey levels: interpolation or a learned
network's ringing). Such values are clipped and counted in :data:`CLIPPED`; beyond it the output
is refused, so a 0-255 image, a x3 scale or a [-1, 1] output fails its item instead of being
clipped into a ranked result."""

CLIPPED: dict[str, int] = {}
"""Per process: plugin (``what``) -> number of outputs clipped within the tolerance since the
last :func:`take_clipped` (the runner reports them per item)."""


def take_clipped() -> dict[str, int]:
    """The clip counts gathered since the last call, and reset them."""
    out = dict(CLIPPED)
    CLIPPED.clear()
    return out


def check_image(image: object, what: str, shape: tuple[int, ...] | None = None) -> Image:
    """Validate a plugin's output image: a float array, finite, 2-D or HxWx3, optional exact
    shape, values in [0, 1] up to :data:`RANGE_TOLERANCE` (clipped and counted)."""
    from benchbed.errors import PluginOutputError

    if not isinstance(image, np.ndarray):
        raise PluginOutputError(
            f"{what} returned {type(image).__name__}, not a numpy array",
            fix="return a float32 numpy array in [0, 1]",
        )
    if not np.issubdtype(image.dtype, np.floating):
        raise PluginOutputError(
            f"{what} returned a {image.dtype} array; outputs are float in [0, 1]",
            fix="return image.astype(np.float32) / 255 for 8-bit data",
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
    lo, hi = (float(image.min()), float(image.max())) if image.size else (0.0, 1.0)
    if lo < -RANGE_TOLERANCE or hi > 1.0 + RANGE_TOLERANCE:
        raise PluginOutputError(
            f"{what} returned values in [{lo:.4g}, {hi:.4g}], outside [0, 1] by more than "
            f"{RANGE_TOLERANCE}",
            fix="return float values in [0, 1] (divide 8-bit data by 255, map [-1, 1] outputs "
                "with (x + 1) / 2); benchbed does not clip such outputs",
        )
    if lo < 0.0 or hi > 1.0:
        CLIPPED[what] = CLIPPED.get(what, 0) + 1
        return np.clip(image.astype(np.float32, copy=False), 0.0, 1.0)
    return image.astype(np.float32, copy=False)
