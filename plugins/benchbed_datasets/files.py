"""File helpers shared by folder datasets: listing, split files, header sizes, pair loading."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from benchbed import DataError, Pair
from benchbed.imaging import IMAGE_EXTS, image_files, read_image, resize

RESIZE_POLICIES: tuple[str, ...] = ("a-to-b", "b-to-a")


def check_resize(policy: str | None) -> str | None:
    """Validate the ``resize`` dataset param (None, 'a-to-b' or 'b-to-a')."""
    if policy in (None, "", "none"):
        return None
    if policy not in RESIZE_POLICIES:
        raise DataError(
            f"unknown resize policy {policy!r}",
            fix=f"use one of {list(RESIZE_POLICIES)} or leave it unset",
        )
    return policy


def list_stems(folder: Path) -> set[str]:
    """Names (file stems) of the images directly inside ``folder``."""
    return {p.stem for p in image_files(folder)}


_NAME_FIX = "name pairs by their file name only (no '/', '..' or links that leave the folder)"


def confined(path: Path, root: Path, what: str, fix: str = _NAME_FIX) -> Path:
    """``path`` with symlinks resolved, refused unless it lies inside ``root`` (a split file or a
    pair name must not reach files outside the dataset's folder)."""
    real, base = path.resolve(), root.resolve()
    if not real.is_relative_to(base):
        raise DataError(f"{what}: {path} resolves to {real}, outside the dataset folder {base}",
                        fix=fix)
    return real


def find_image(folder: Path, stem: str, what: str) -> Path:
    """The one image file called ``stem`` in ``folder``; DataError when missing or ambiguous."""
    hits = [folder / f"{stem}{ext}" for ext in IMAGE_EXTS if (folder / f"{stem}{ext}").is_file()]
    for hit in hits:
        confined(hit, folder, what)
    if not hits:
        raise DataError(
            f"{what}: no image {stem}.png (or .jpg/.bmp/.tif) in {folder}",
            fix=f"add {folder / (stem + '.png')} or drop {stem!r} from the split file",
        )
    if len(hits) > 1:
        raise DataError(
            f"{what}: several files for one name: {[h.name for h in hits]} in {folder}",
            fix="keep exactly one image file per pair name and modality",
        )
    return hits[0]


def read_split(path: Path) -> list[str]:
    """Pair names of a split file: one per line, blank lines and ``#`` comments ignored."""
    names = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if "/" in line or "\\" in line or line in (".", ".."):
            raise DataError(f"{path}:{number}: split entry {line!r} is a path, not a pair name",
                            fix="list pair names (file names without extension) only; a split "
                                "cannot reach files outside the dataset folder")
        names.append(line)
    # Sorted and de-duplicated: the pair order must not depend on how the file was written.
    return sorted(set(names))


def header_size(path: Path) -> tuple[int, int]:
    """(W, H) from the image header only (PIL opens lazily and decodes nothing here)."""
    try:
        with PILImage.open(path) as im:
            return im.size
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(
            f"cannot read image header {path}: {exc}", fix="replace the file with a valid PNG/JPEG"
        ) from exc


def load_pair(
    pair_id: str,
    modalities: tuple[str, str],
    paths: tuple[Path, Path],
    resize_policy: str | None,
    what: str,
    labels: Any = None,
    extra_meta: Mapping[str, Any] | None = None,
) -> Pair:
    """Read both sources, enforce one size (or apply the explicit resize policy), build a Pair."""
    a, b = read_image(paths[0]), read_image(paths[1])
    sizes = ((a.shape[1], a.shape[0]), (b.shape[1], b.shape[0]))
    if sizes[0] != sizes[1]:
        if resize_policy is None:
            raise DataError(
                f"{what}: {modalities[0]} is {sizes[0][0]}x{sizes[0][1]} ({paths[0]}) but "
                f"{modalities[1]} is {sizes[1][0]}x{sizes[1][1]} ({paths[1]}); "
                "fusion needs registered sources of one size",
                fix="register/crop the images to one size, or set the dataset param "
                f"resize='a-to-b' (resize {modalities[0]} to {modalities[1]}) or 'b-to-a'",
            )
        # Explicit policy only: silently resampling would hide a registration problem.
        if resize_policy == "a-to-b":
            a = resize(a, b.shape[:2], "bicubic")
        else:
            b = resize(b, a.shape[:2], "bicubic")
    meta: dict[str, Any] = {
        "paths": (str(paths[0]), str(paths[1])),
        "size": (a.shape[1], a.shape[0]),
        "source_sizes": sizes,
        "resized": resize_policy if sizes[0] != sizes[1] else None,
        **(extra_meta or {}),
    }
    return Pair(id=pair_id, modalities=modalities, sources=(a, b), labels=labels, meta=meta)
