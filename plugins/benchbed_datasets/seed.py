"""The seed papers' own test images (BENCHBED_DATA/seed_pairs): real degraded inputs.

DRFusion ships only degraded images (noise, blur, composite) with no clean reference, so its
pairs have ``sources=None`` and are scored against the degraded sources. ReCoFuse ships LQ/HQ
pairs: HQ is the clean reference, LQ the one ``real`` condition.

Neither repository gives its synthesis code, so the forward models attached to each observation
(operator, noise std, degradation type) are the estimates of ``seed_pairs/README.md`` (method and
per-image numbers there; re-derivable with its ``estimate_degradations.py``). Degradation-aware
fusers and the cascade restorers read them exactly as they read a synthetic observation's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchbed import DataError, Observation, Pair
from benchbed.imaging import read_image, to_gray
from benchbed.operators import AvgPoolDown, Compose, GaussianBlur, Identity, LinearOperator
from benchbed.paths import data_root

from .files import find_image, header_size, list_stems

README = "shared/datasets/seed_pairs/README.md"
DRFUSION_REPO = "YShi-cool/DRFusion @ 9954f17 (data/*/test)"
RECOFUSE_REPO = "HaoZhang1018/ReCoFuse @ 690a90b (datasets/test)"

# The Wiener regulariser the synthetic `composite`/`gaussian_blur` degradations declare, so a
# real observation and its synthetic twin present the same operator to every consumer.
_GAMMA = 1e-3


@dataclass(frozen=True)
class Model:
    """One estimated forward model: degradation type, noise std (0..255 scale), blur, pooling."""

    degradation: str
    noise: float = 0.0
    blur: float = 0.0
    factor: int = 1
    linear: bool = True

    def observation(self, y: Any, clean_shape: tuple[int, ...], condition: str) -> Observation:
        """``y`` with this model's operator on the clean grid ``clean_shape``."""
        op: LinearOperator | None = None
        if self.linear:
            parts: list[LinearOperator] = []
            if self.blur:
                parts.append(GaussianBlur(clean_shape, self.blur, gamma=_GAMMA))
            if self.factor > 1:
                parts.append(AvgPoolDown(clean_shape, self.factor))
            op = (Identity(clean_shape) if not parts
                  else parts[0] if len(parts) == 1 else Compose(parts))
        return Observation(y=y, operator=op, clean_shape=clean_shape,
                           noise_sigma=self.noise / 255.0, degradation=self.degradation,
                           params={"condition": condition, "estimated": True,
                                   "noise_sigma_255": self.noise, "blur_sigma": self.blur,
                                   "factor": self.factor, "source": README})


# DRFusion (README "DRFusion - M3FD" and "- PET-MRI"): sigma 14 noise on both sources; Gaussian
# blur sigma 2; composite = blur 2 + noise, the IR/PET branch average-pooled (x4 / x2) with the
# noise drawn before pooling, so sigma 8 at full resolution leaves 8/s on y.
_NOISE = Model("gaussian_noise", noise=14.0)
_BLUR = Model("gaussian_blur", blur=2.0)
_COMPOSITE_FULL = Model("composite", noise=8.07, blur=2.0)
DRFUSION_MODELS: dict[str, dict[str, dict[str, Model]]] = {
    "drfusion_m3fd": {
        "noise": {"ir": _NOISE, "vi": _NOISE},
        "blur": {"ir": _BLUR, "vi": _BLUR},
        "composite": {"ir": Model("composite", noise=2.0, blur=2.0, factor=4),
                      "vi": _COMPOSITE_FULL},
    },
    "drfusion_pet_mri": {
        # PET noise reads lower (HH-MAD ~7) only because JPEG smoothed it: same recipe as MRI.
        "noise": {"pet": _NOISE, "mri": _NOISE},
        "blur": {"pet": _BLUR, "mri": _BLUR},
        "composite": {"pet": Model("composite", noise=4.0, blur=2.0, factor=2),
                      "mri": _COMPOSITE_FULL},
    },
}


def _lc(noise: float = 0.0) -> Model:
    return Model("low_contrast", noise=noise, linear=False)


def _ll(noise: float = 0.0) -> Model:
    return Model("low_light", noise=noise, linear=False)


_HAZE = Model("haze", linear=False)


def _stripes(noise: float) -> Model:
    return Model("ir_stripes", noise=noise)


# ReCoFuse LQ vs HQ (README table "ReCoFuse - LQ vs HQ pairs"): (IR, VI) per pair. VI that is
# noisy with an affine loss (LQ ~ a HQ + b, a ~0.54-0.70) is filed as low contrast + noise.
RECOFUSE_MODELS: dict[str, dict[str, tuple[Model, Model]]] = {
    "recofuse_mfnet": {
        "MFNet_1": (_lc(), _ll()),
        "MFNet_2": (_lc(), _ll()),
        "MFNet_3": (_stripes(0.0), _HAZE),
        "MFNet_4": (_lc(), _HAZE),
        "MFNet_5": (_stripes(11.5), _HAZE),
    },
    "recofuse_fmb": {
        "FMB_1": (_lc(), _lc(13.0)),
        "FMB_2": (_stripes(11.3), _lc(15.0)),
        "FMB_3": (_lc(), _lc(12.0)),
        "FMB_4": (_lc(), Model("gaussian_noise", noise=12.0)),
        "FMB_5": (_lc(), _ll(10.5)),
    },
    "recofuse_llvip": {
        "190015": (_lc(), _ll()),
        "190061": (_lc(), _ll()),
        "210011": (_lc(), _ll(3.0)),
        "210375": (_stripes(5.1), _ll()),
        "260157": (Model("gaussian_noise", noise=12.6), _ll()),
    },
}


@dataclass(frozen=True)
class SeedEntry:
    """Where one seed-pair set lives and what it holds."""

    name: str
    folder: str  # under <root>/seed_pairs
    modalities: tuple[str, str]
    conditions: tuple[str, ...]
    has_clean: bool
    summary: str
    citation: str
    folders: dict[str, str] = field(default_factory=dict)  # condition -> subfolder


_DRF = ("Shi et al., Degradation-Robust Fusion (DRFusion), CVPR 2026; test images from "
        f"{DRFUSION_REPO}")
_RCF = f"H. Zhang et al., ReCoFuse, CVPR 2026; test pairs from {RECOFUSE_REPO}"

SEED_CATALOG: dict[str, SeedEntry] = {
    e.name: e
    for e in (
        SeedEntry("drfusion_m3fd", "DRFusion/M3FD", ("ir", "vi"), ("noise", "blur", "composite"),
                  False, "DRFusion's M3FD test pairs, degraded only (noise, blur, composite; "
                  "composite IR x4 down), 1024x768", _DRF),
        SeedEntry("drfusion_pet_mri", "DRFusion/PET_MRI", ("pet", "mri"),
                  ("noise", "blur", "composite"), False,
                  "DRFusion's PET-MRI test pairs, degraded only (JPEG originals; composite PET "
                  "x2 down), 256x256", _DRF),
        SeedEntry("recofuse_mfnet", "ReCoFuse/MFNet", ("ir", "vi"), ("real",), True,
                  "ReCoFuse's MFNet LQ/HQ pairs (real = LQ; HQ is the clean reference), 640x480",
                  _RCF, {"real": "LQ"}),
        SeedEntry("recofuse_fmb", "ReCoFuse/FMB", ("ir", "vi"), ("real",), True,
                  "ReCoFuse's FMB LQ/HQ pairs (real = LQ; HQ is the clean reference), 800x600",
                  _RCF, {"real": "LQ"}),
        SeedEntry("recofuse_llvip", "ReCoFuse/LLVIP", ("ir", "vi"), ("real",), True,
                  "ReCoFuse's LLVIP LQ/HQ pairs (real = LQ; HQ is the clean reference), 640x512",
                  _RCF, {"real": "LQ"}),
    )
}


def _as_modality(image: Any, modality: str) -> Any:
    """IR is single-channel (M3FD's composite IR is stored RGB with per-channel noise)."""
    return to_gray(image) if modality == "ir" and image.ndim == 3 else image


class SeedPairs:
    """One seed-pair set: ``load`` gives the clean pair (or none), ``observe`` a real condition."""

    def __init__(self, name: str, root: str | None = None) -> None:
        if name not in SEED_CATALOG:
            raise DataError(f"no seed-pair dataset {name!r}",
                            fix=f"use one of {sorted(SEED_CATALOG)}")
        self.entry = SEED_CATALOG[name]
        self.name = name
        self.root = root
        self._base_path: Path | None = None

    @property
    def modalities(self) -> tuple[str, str]:
        """Source order (functional/IR first)."""
        return self.entry.modalities

    def _base(self) -> Path:
        if self._base_path is None:
            root = Path(self.root).expanduser() if self.root else data_root(required=True)
            assert root is not None  # required=True raises instead
            base = root / "seed_pairs" / self.entry.folder
            if not base.is_dir():
                raise DataError(f"dataset {self.name!r} not found: {base} does not exist",
                                fix="set BENCHBED_DATA to the shared datasets folder (it holds "
                                "seed_pairs/, see its README.md)")
            self._base_path = base.resolve()
        return self._base_path

    def _folder(self, condition: str, modality: str) -> Path:
        sub = self.entry.folders.get(condition, condition)
        return self._base() / sub / modality

    def _reference_folder(self) -> str:
        """The folder that lists the pairs: HQ when there is a clean set, else a condition's."""
        return "HQ" if self.entry.has_clean else self.entry.conditions[0]

    def available_splits(self) -> list[str]:
        """Only ``test``: the papers ship test images only."""
        return ["test"]

    def pair_ids(self, split: str | None = None) -> list[str]:
        """Names present for both modalities in every condition (and HQ when there is one)."""
        if split not in (None, "test"):
            raise DataError(f"dataset {self.name!r} has no split {split!r}",
                            fix="use `split: test` (the papers ship test images only)")
        folders = [self._base() / self._reference_folder() / m for m in self.modalities]
        folders += [self._folder(c, m) for c in self.entry.conditions for m in self.modalities]
        stems = None
        for f in folders:
            if not f.is_dir():
                raise DataError(f"dataset {self.name!r}: folder {f} is missing",
                                fix="restore the seed_pairs folder from shared/datasets")
            stems = list_stems(f) if stems is None else stems & list_stems(f)
        return sorted(stems or ())

    def _read(self, folder: Path, pair_id: str, modality: str, what: str) -> Any:
        return _as_modality(read_image(find_image(folder, pair_id, what)), modality)

    def load(self, pair_id: str) -> Pair:
        """The clean (HQ) pair, or a Pair with ``sources=None`` for degraded-only data."""
        what = f"dataset {self.name!r} pair {pair_id!r}"
        meta: dict[str, Any] = {"dataset": self.name, "conditions": list(self.entry.conditions)}
        if not self.entry.has_clean:
            if pair_id not in self.pair_ids(None):
                raise DataError(f"{what}: not in {self._base()}",
                                fix=f"use one of {self.pair_ids(None)}")
            return Pair(id=pair_id, modalities=self.modalities, sources=None, meta=meta)
        a, b = (self._read(self._base() / "HQ" / m, pair_id, m, f"{what} (HQ {m})")
                for m in self.modalities)
        if a.shape[:2] != b.shape[:2]:
            raise DataError(f"{what}: HQ sources differ in size ({a.shape} vs {b.shape})",
                            fix="restore the seed_pairs files from shared/datasets")
        return Pair(id=pair_id, modalities=self.modalities, sources=(a, b), meta=meta)

    def observe(self, pair_id: str, condition: str) -> tuple[Observation, Observation]:
        """The shipped degraded pair under ``condition`` with its estimated forward models."""
        what = f"dataset {self.name!r} pair {pair_id!r} condition {condition!r}"
        if condition not in self.entry.conditions:
            raise DataError(f"{what}: no such condition",
                            fix=f"use one of {list(self.entry.conditions)}")
        ys = [self._read(self._folder(condition, m), pair_id, m, f"{what} ({m})")
              for m in self.modalities]
        models = self._models(pair_id, condition)
        # The clean grid is the full-resolution source's: the larger of the two observations.
        hw = max((y.shape[:2] for y in ys), key=lambda s: s[0] * s[1])
        out = []
        for y, model, m in zip(ys, models, self.modalities):
            clean_shape = tuple(hw) + tuple(y.shape[2:])
            expected = (-(-hw[0] // model.factor), -(-hw[1] // model.factor))
            if y.shape[:2] != expected:
                raise DataError(f"{what} ({m}): image is {y.shape[1]}x{y.shape[0]}, expected "
                                f"{expected[1]}x{expected[0]} for its x{model.factor} model",
                                fix="restore the seed_pairs files from shared/datasets")
            out.append(model.observation(y, clean_shape, condition))
        return out[0], out[1]

    def _models(self, pair_id: str, condition: str) -> tuple[Model, Model]:
        if self.name in DRFUSION_MODELS:
            per = DRFUSION_MODELS[self.name][condition]
            return per[self.modalities[0]], per[self.modalities[1]]
        table = RECOFUSE_MODELS[self.name]
        if pair_id not in table:
            raise DataError(f"dataset {self.name!r} pair {pair_id!r}: no estimated degradation "
                            "model for this pair", fix=f"use one of {sorted(table)}")
        return table[pair_id]

    def describe_sizes(
        self, split: str | None = None
    ) -> tuple[int, tuple[int, int], tuple[int, int]]:
        """(pairs, (minW, minH), (maxW, maxH)) of the full-resolution images, from headers."""
        ids = self.pair_ids(split)
        folder = self._reference_folder()
        sizes = [header_size(find_image(self._base() / folder / m, i, self.name))
                 for i in ids for m in self.modalities]
        if not self.entry.has_clean:  # a condition folder may hold a down-sampled source
            sizes = [max(sizes[k:k + 2], key=lambda s: s[0] * s[1])
                     for k in range(0, len(sizes), 2)]
        if not sizes:
            return 0, (0, 0), (0, 0)
        ws, hs = [s[0] for s in sizes], [s[1] for s in sizes]
        return len(ids), (min(ws), min(hs)), (max(ws), max(hs))
