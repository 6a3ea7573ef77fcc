"""Folder datasets: two modality subfolders of same-named images, splits from small text files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchbed import DataError, Pair
from benchbed.paths import data_root, working_dir

from .files import (
    check_resize,
    confined,
    find_image,
    header_size,
    list_stems,
    load_pair,
    read_split,
)

# Folder-name aliases accepted by auto-detection (the source repos spell them many ways).
_ALIASES: dict[str, tuple[str, ...]] = {
    "ir": ("ir", "infrared", "thermal", "lwir"),
    "vi": ("vi", "vis", "visible", "rgb"),
    "mri": ("mri",),
    "ct": ("ct",),
    "pet": ("pet",),
    "spect": ("spect",),
}
_NOT_MODALITIES = {"splits", "labels"}


def _subfolders(path: Path) -> dict[str, Path]:
    """Lower-cased name -> subfolder, hidden folders and known non-modality folders left out."""
    return {
        p.name.lower(): p
        for p in sorted(path.iterdir())
        if p.is_dir() and not p.name.startswith(".") and p.name.lower() not in _NOT_MODALITIES
    }


def detect_modalities(path: Path) -> tuple[tuple[str, str], tuple[Path, Path]]:
    """Modality names and folders of ``path``: ir/vi, <ct|pet|spect>/mri, else the two sorted."""
    subs = _subfolders(path)

    def pick(modality: str) -> Path | None:
        return next((subs[a] for a in _ALIASES[modality] if a in subs), None)

    ir, vi = pick("ir"), pick("vi")
    if ir and vi:
        return ("ir", "vi"), (ir, vi)
    mri = pick("mri")
    for other in ("ct", "pet", "spect"):
        folder = pick(other)
        if mri and folder:
            # Functional/CT image first, like IR: the "salient" source comes first.
            return (other, "mri"), (folder, mri)
    if len(subs) == 2:
        names = sorted(subs)
        return (names[0], names[1]), (subs[names[0]], subs[names[1]])
    raise DataError(
        f"cannot tell the two modality folders of {path}: found {sorted(subs) or 'no subfolders'}",
        fix="use subfolders ir/vi or mri + ct|pet|spect, or pass modalities=[A, B] naming two",
    )


class FolderDataset:
    """Any folder with two modality subfolders of same-named images (``folder`` dataset).

    Splits: ``<path>/splits/<split>.txt`` when such files exist; a folder without split files
    puts every pair in ``test``. Nothing is read until ``pair_ids``/``load`` (cheap, picklable).
    """

    name = "folder"

    def __init__(
        self,
        path: str | None = None,
        modalities: Sequence[str] | str | None = None,
        resize: str | None = None,
    ) -> None:
        self.path = path
        if isinstance(modalities, str):
            modalities = [m.strip() for m in modalities.split(",")]
        if modalities is not None and len(modalities) != 2:
            raise DataError(
                f"modalities must name two subfolders, got {list(modalities)}",
                fix="pass modalities=[A, B], e.g. [ir, vi]",
            )
        self.modality_param = tuple(modalities) if modalities is not None else None
        self.resize = check_resize(resize)
        # Resolved on first use and kept, so a pickled copy in a worker needs no env or CWD.
        self._layout: tuple[Path, tuple[str, str], tuple[Path, Path]] | None = None

    # --- layout -----------------------------------------------------------------------------

    def _base(self) -> Path:
        """The dataset folder (absolute); DataError when it does not exist."""
        if not self.path:
            raise DataError(
                "the folder dataset needs a path", fix="pass path=DIR (a folder with ir/ and vi/)"
            )
        p = Path(self.path).expanduser()
        tried = [p]
        if not p.is_absolute():
            root = data_root(required=False)
            tried = ([root / p] if root else []) + [working_dir() / p]
        for cand in tried:
            if cand.is_dir():
                return cand.resolve()
        raise DataError(
            f"dataset folder {self.path!r} not found (looked at {', '.join(map(str, tried))})",
            fix="pass an existing folder (absolute, or relative to BENCHBED_DATA or the CWD)",
        )

    def _resolve(self) -> tuple[Path, tuple[str, str], tuple[Path, Path]]:
        if self._layout is None:
            base = self._base()
            if self.modality_param is None:
                mods, folders = detect_modalities(base)
            else:
                mods = (self.modality_param[0].lower(), self.modality_param[1].lower())
                folders = (base / self.modality_param[0], base / self.modality_param[1])
                for f in folders:
                    if not f.is_dir():
                        raise DataError(
                            f"modality folder {f} does not exist",
                            fix=f"pick two of the subfolders of {base}",
                        )
            # A modality folder (detected, or a modalities=[..] param) that is a link or a '..'
            # out of the dataset folder would let every pair name reach files outside it.
            for f in folders:
                confined(f, base, f"dataset {self.name!r} modality folder {f.name!r}",
                         fix="keep the modality folders inside the dataset folder (link or pass "
                             "the whole dataset folder instead, or copy the images in)")
            self._layout = (base, mods, folders)
        return self._layout

    @property
    def modalities(self) -> tuple[str, str]:
        """The two modality names, in source order (resolves the folder)."""
        return self._resolve()[1]

    # --- splits -----------------------------------------------------------------------------

    def _split_file(self, split: str) -> Path:
        splits = self._resolve()[0] / "splits"
        return confined(splits / f"{split}.txt", splits, f"dataset {self.name!r} split {split!r}")

    def available_splits(self) -> list[str]:
        """Splits that have a split file (``test`` = all pairs when there is none at all)."""
        d = self._resolve()[0] / "splits"
        names = sorted(p.stem for p in d.glob("*.txt")) if d.is_dir() else []
        return names or ["test"]

    def _all_ids(self) -> list[str]:
        _, _, (fa, fb) = self._resolve()
        return sorted(list_stems(fa) & list_stems(fb))

    def pair_ids(self, split: str | None = None) -> list[str]:
        """Pair names of ``split`` (read from its split file), or every complete pair for None."""
        if split is None:
            return self._all_ids()
        f = self._split_file(split)
        if f.is_file():
            return read_split(f)
        available = self.available_splits()
        if available == ["test"] and split == "test":
            return self._all_ids()
        raise DataError(
            f"dataset {self.name!r} has no split {split!r} (no file {f})",
            fix=f"use one of the splits {available}, or None for all pairs",
        )

    # --- pairs ------------------------------------------------------------------------------

    def labels_for(self, pair_id: str) -> Any:
        """Detection labels of a pair (none for a plain folder)."""
        return None

    def paths(self, pair_id: str) -> tuple[Path, Path]:
        """The two image files of a pair; DataError naming the missing one."""
        _, mods, folders = self._resolve()
        what = f"dataset {self.name!r} pair {pair_id!r}"
        return (
            find_image(folders[0], pair_id, f"{what} ({mods[0]})"),
            find_image(folders[1], pair_id, f"{what} ({mods[1]})"),
        )

    def load(self, pair_id: str) -> Pair:
        """Load one pair as float32 [0, 1] sources; mismatched sizes need the resize policy."""
        mods = self.modalities
        return load_pair(
            pair_id,
            mods,
            self.paths(pair_id),
            self.resize,
            f"dataset {self.name!r} pair {pair_id!r}",
            labels=self.labels_for(pair_id),
            extra_meta={"dataset": self.name},
        )

    def describe_sizes(
        self, split: str | None = None
    ) -> tuple[int, tuple[int, int], tuple[int, int]]:
        """(pairs, (minW, minH), (maxW, maxH)) over both modalities, from image headers only."""
        ids = self.pair_ids(split)
        sizes = [header_size(p) for i in ids for p in self.paths(i)]
        if not sizes:
            return 0, (0, 0), (0, 0)
        ws, hs = [s[0] for s in sizes], [s[1] for s in sizes]
        return len(ids), (min(ws), min(hs)), (max(ws), max(hs))
