"""The standard datasets under BENCHBED_DATA (layout of shared/datasets/MANIFEST.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchbed import DataError
from benchbed.paths import data_root

from .files import confined, read_split
from .folder import FolderDataset

_CDDFUSE = (
    "Zhao et al., CDDFuse: Correlation-Driven Dual-Branch Feature Decomposition for "
    "Multi-Modality Image Fusion, CVPR 2023 (test set); images from the Harvard Whole Brain Atlas"
)
_HARVARD = (
    "Johnson & Becker, The Whole Brain Atlas (Harvard AANLIB); pairs as published in "
    "xianming-gu/Havard-Medical-Image-Fusion-Datasets"
)


@dataclass(frozen=True)
class Entry:
    """Where one standard dataset lives and what it is."""

    name: str
    group: str  # "ivf" or "med": folder under the data root and split-file prefix
    modalities: tuple[str, str]
    splits: tuple[str, ...]
    summary: str
    citation: str
    labels: str | None = None  # folder of YOLO txt labels, relative to the data root


def _ivf(name: str, splits: tuple[str, ...], summary: str, citation: str, **kw: Any) -> Entry:
    return Entry(name, "ivf", ("ir", "vi"), splits, summary, citation, **kw)


def _med(name: str, splits: tuple[str, ...], summary: str, citation: str) -> Entry:
    other = name.split("_", 1)[0]
    return Entry(name, "med", (other, "mri"), splits, summary, citation)


CATALOG: dict[str, Entry] = {
    e.name: e
    for e in (
        _ivf("tno", ("test", "cddfuse25_subset"), "TNO IR/visible pairs (gray visible)",
             "Toet, The TNO Multiband Image Data Collection, Data in Brief 15, 2017"),
        _ivf("roadscene", ("test", "cddfuse50_subset"), "RoadScene IR/visible road pairs (RGB)",
             "Xu et al., U2Fusion: A Unified Unsupervised Image Fusion Network, TPAMI 2020"),
        _ivf("vifb", ("test",), "VIFB: the 21 visible/infrared benchmark pairs",
             "Zhang, Ye, Xiao, VIFB: A Visible and Infrared Image Fusion Benchmark, CVPRW 2020"),
        _ivf("llvip", ("test", "train", "detection"), "LLVIP low-light pedestrian pairs, 640x512",
             "Jia et al., LLVIP: A Visible-infrared Paired Dataset for Low-light Vision, "
             "ICCVW 2021", labels="detection/llvip/labels"),
        _ivf("msrs", ("test", "train", "detection"), "MSRS day/night road pairs, 640x480",
             "Tang et al., PIAFusion: A progressive infrared and visible image fusion network "
             "based on illumination aware, Information Fusion 2022",
             labels="detection/msrs/labels"),
        _ivf("m3fd", ("sample",), "M3FD: the one sample pair shipped with TarDAL, 1024x768",
             "Liu et al., Target-aware Dual Adversarial Learning and a Multi-scenario "
             "Multi-Modality Benchmark to Fuse Infrared and Visible for Object Detection, "
             "CVPR 2022"),
        _med("pet_mri", ("test",), "PET/MRI pairs of the CDDFuse test set (RGB PET)", _CDDFUSE),
        _med("ct_mri", ("test",), "CT/MRI pairs of the CDDFuse test set", _CDDFUSE),
        _med("spect_mri", ("test",), "SPECT/MRI pairs of the CDDFuse test set (RGB SPECT)",
             _CDDFUSE),
        _med("pet_mri_harvard", ("test", "train"), "Harvard AANLIB PET/MRI pairs (RGB PET)",
             _HARVARD),
        _med("ct_mri_harvard", ("test",), "Harvard AANLIB CT/MRI test pairs", _HARVARD),
        _med("spect_mri_harvard", ("test",), "Harvard AANLIB SPECT/MRI test pairs (RGB SPECT)",
             _HARVARD),
    )
}


class NamedDataset(FolderDataset):
    """A standard dataset at ``<root>/<group>/<name>/<modality>/<NAME>.png`` (root: BENCHBED_DATA).

    Split ``s`` is ``<root>/splits/<group>_<name>_<s>.txt``; ``detection`` is
    ``<root>/splits/detection_<name>.txt``.
    """

    def __init__(self, name: str, root: str | None = None, resize: str | None = None) -> None:
        if name not in CATALOG:
            raise DataError(f"no standard dataset {name!r}", fix=f"use one of {sorted(CATALOG)}")
        self.entry = CATALOG[name]
        self.name = name
        self.root = root
        self._root_path: Path | None = None
        super().__init__(path=None, modalities=self.entry.modalities, resize=resize)

    def _root(self) -> Path:
        # Kept once found, so a pickled copy in a worker does not depend on its environment.
        if self._root_path is None:
            if self.root:
                p = Path(self.root).expanduser()
                if not p.is_dir():
                    raise DataError(f"dataset root {p} is not a folder", fix="pass root=DATA_DIR")
            else:
                p = data_root(required=True)
                assert p is not None  # required=True raises instead of returning None
            self._root_path = p.resolve()
        return self._root_path

    def _base(self) -> Path:
        root = self._root()
        base = root / self.entry.group / self.name
        if not base.is_dir():
            mods = "{" + ",".join(self.entry.modalities) + "}"
            raise DataError(
                f"dataset {self.name!r} not found: {base} does not exist",
                fix=f"put the {self.name} pairs at {base}/{mods}/<NAME>.png "
                "(see shared/datasets/MANIFEST.md) or set BENCHBED_DATA to the datasets folder",
            )
        return base

    def _split_file(self, split: str) -> Path:
        splits = self._root() / "splits"
        if split == "detection":
            path = splits / f"detection_{self.name}.txt"
        else:
            path = splits / f"{self.entry.group}_{self.name}_{split}.txt"
        return confined(path, splits, f"dataset {self.name!r} split {split!r}",
                        fix=f"use one of the splits {list(self.entry.splits)} (a split is a name, "
                            "and its file must not link out of the splits folder)")

    def available_splits(self) -> list[str]:
        """Splits of this dataset that have a split file under ``<root>/splits``."""
        splits = self._root() / "splits"
        prefix = f"{self.entry.group}_{self.name}_"
        # A longer dataset name sharing the prefix (pet_mri vs pet_mri_harvard) is not a split.
        longer = [f"{self.entry.group}_{n}_" for n in CATALOG if n.startswith(self.name + "_")]
        found = [
            p.stem[len(prefix):]
            for p in splits.glob(f"{prefix}*.txt")
            if not any(p.stem.startswith(x) for x in longer)
        ]
        if (splits / f"detection_{self.name}.txt").is_file():
            found.append("detection")
        return sorted(found)

    def pair_ids(self, split: str | None = None) -> list[str]:
        """Pair names of ``split`` from its split file, or all complete pairs for None."""
        if split is None:
            return self._all_ids()
        self._resolve()  # a missing dataset folder is the clearer error
        f = self._split_file(split)
        if not f.is_file():
            raise DataError(
                f"dataset {self.name!r} has no split {split!r} (no file {f})",
                fix=f"use one of the splits {self.available_splits()}, or None for all pairs",
            )
        return read_split(f)

    def labels_for(self, pair_id: str) -> str | None:
        """Path of the pair's YOLO label txt when the dataset has labels and the file exists."""
        if self.entry.labels is None:
            return None
        labels = self._root() / self.entry.labels
        p = labels / f"{pair_id}.txt"
        if not p.is_file():
            return None
        confined(p, labels, f"dataset {self.name!r} labels of pair {pair_id!r}")
        return str(p)

