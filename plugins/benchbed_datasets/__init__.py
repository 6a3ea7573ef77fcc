"""Built-in datasets: synthetic ``demo``, the standard folders in BENCHBED_DATA, ``folder``."""

from __future__ import annotations

from functools import partial

from benchbed import DatasetSpec, hookimpl

from .catalog import CATALOG, NamedDataset
from .demo import DemoDataset
from .folder import FolderDataset
from .seed import SEED_CATALOG, SeedPairs

__all__ = [
    "CATALOG",
    "SEED_CATALOG",
    "DemoDataset",
    "FolderDataset",
    "NamedDataset",
    "SeedPairs",
    "benchbed_register_datasets",
]


def _named_spec(name: str) -> DatasetSpec:
    entry = CATALOG[name]
    return DatasetSpec(
        name=name,
        version="1",
        summary=f"{entry.summary} ({entry.group}/{name} under BENCHBED_DATA)",
        # partial keeps the factory picklable and lets build(**params) pass root/resize.
        factory=partial(NamedDataset, name),
        params={"root": None, "resize": None},
        modalities=entry.modalities,
        splits=entry.splits,
        citation=entry.citation,
    )


def _seed_spec(name: str) -> DatasetSpec:
    entry = SEED_CATALOG[name]
    return DatasetSpec(
        name=name,
        version="1",
        summary=f"{entry.summary} (seed_pairs/{entry.folder} under BENCHBED_DATA; degradation "
        "`given`)",
        factory=partial(SeedPairs, name),
        params={"root": None},
        modalities=entry.modalities,
        splits=("test",),
        conditions=entry.conditions,
        has_clean=entry.has_clean,
        citation=entry.citation,
    )


@hookimpl
def benchbed_register_datasets() -> list[DatasetSpec]:
    """The datasets this package provides."""
    return [
        DatasetSpec(
            name="demo",
            version="1",
            summary="8 synthetic IR/visible street scenes (~128x128, 5 RGB visible), no files",
            factory=DemoDataset,
            params={},
            modalities=("ir", "vi"),
            splits=("test",),
            citation="benchbed built-in synthetic data (plugins/benchbed_datasets/demo.py)",
        ),
        DatasetSpec(
            name="folder",
            version="1",
            summary="any folder with two modality subfolders of same-named images "
            "(path relative to BENCHBED_DATA or the CWD)",
            factory=FolderDataset,
            params={"path": None, "modalities": None, "resize": None},
            modalities=(),  # decided by the folder's subfolders (or the modalities param)
            splits=("test",),
            citation="",
        ),
        *(_named_spec(name) for name in CATALOG),
        *(_seed_spec(name) for name in SEED_CATALOG),
    ]
