"""Training data: clean pairs from the registry's datasets (training splits only) and degradations
synthesised on the fly with the registry's degradation plugins.

Channel order of the state follows the public code: ch0 = IR (or MRI), ch1 = visible (or the
functional modality: PET/SPECT/CT), all as luminance in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from benchbed import BenchbedError
from benchbed.imaging import quantise, to_gray
from benchbed_drfusion.operators_torch import TorchOperator, to_torch

IVF_MODALITIES = {"ir", "vi", "vis", "visible", "infrared", "rgb"}
FIRST = {"ivf": ("ir", "infrared"), "med": ("mri",)}

# Scenario -> (degradation name, {family: [(severity level, probability), ...]}).
# The paper's levels dominate (noise 3, blur 3, composite 2 for IR-VIS / 3 for PET-MRI); the
# neighbouring levels keep the model from overfitting one exact severity.
SCENARIOS: dict[str, tuple[str, dict[str, list[tuple[str, float]]]]] = {
    "noise": ("gaussian_noise", {"ivf": [("2", 0.25), ("3", 0.5), ("4", 0.25)],
                                 "med": [("2", 0.25), ("3", 0.5), ("4", 0.25)]}),
    "blur": ("gaussian_blur", {"ivf": [("2", 0.25), ("3", 0.5), ("4", 0.25)],
                               "med": [("2", 0.25), ("3", 0.5), ("4", 0.25)]}),
    "composite": ("composite", {"ivf": [("2", 1.0)], "med": [("3", 1.0)]}),
}


def family_of(modalities: Sequence[str]) -> str:
    """'ivf' when a source is infrared or visible, else 'med'."""
    return "ivf" if any(m.lower() in IVF_MODALITIES for m in modalities) else "med"


def canonical_order(modalities: Sequence[str]) -> tuple[int, int]:
    """Indices (i0, i1) so that source i0 is the state's channel 0 (IR or MRI)."""
    first = FIRST[family_of(modalities)]
    if modalities[1].lower() in first and modalities[0].lower() not in first:
        return 1, 0
    return 0, 1


@dataclass
class CleanPair:
    """One training pair in canonical order, luminance in [0, 1]."""

    id: str
    modalities: tuple[str, str]
    images: tuple[np.ndarray, np.ndarray]


def load_pairs(names: Sequence[str], split: str = "train", registry: Any = None) -> list[CleanPair]:
    """All pairs of ``split`` of the named datasets, canonical order, as luminance."""
    if split != "train" and not split.startswith("train"):
        raise BenchbedError(f"DRFusion trains on training splits only, not {split!r}",
                            fix="use a training split")
    if registry is None:
        from benchbed.registry import Registry

        registry = Registry()
    pairs = []
    for name in names:
        ds = registry.get("dataset", name).build()
        for pid in ds.pair_ids(split):
            p = ds.load(pid)
            i0, i1 = canonical_order(p.modalities)
            pairs.append(CleanPair(f"{name}/{pid}", (p.modalities[i0], p.modalities[i1]),
                                   (to_gray(p.sources[i0]), to_gray(p.sources[i1]))))
    if not pairs:
        raise BenchbedError(f"no {split} pairs in {list(names)}", fix="check --data and BENCHBED_DATA")
    return pairs


def split_holdout(pairs: list[CleanPair], per_dataset: int) -> tuple[list[CleanPair], list[CleanPair]]:
    """Hold out the last ``per_dataset`` pairs of every dataset (by id order) for validation."""
    by_ds: dict[str, list[CleanPair]] = {}
    for p in pairs:
        by_ds.setdefault(p.id.split("/")[0], []).append(p)
    train, val = [], []
    for items in by_ds.values():
        k = min(per_dataset, len(items) - 1)
        train += items[: len(items) - k]
        val += items[len(items) - k :]
    return train, val


@dataclass
class Batch:
    """Clean targets, degraded observations and the shared torch operators of one batch."""

    clean: tuple[torch.Tensor, torch.Tensor]
    ys: tuple[torch.Tensor, torch.Tensor]
    ops: tuple[TorchOperator, TorchOperator]
    scenario: str
    sigmas: tuple[float, float] = (0.0, 0.0)  # noise std of each source's observation on [0, 1]


def degrade_pair(images: Sequence[np.ndarray], modalities: Sequence[str], degradation: Any,
                 severity: Any, rng: np.random.Generator) -> list[Any]:
    """Observations of both sources under one degradation level, y quantised to 8 bits (as the core)."""
    out = []
    for img, mod in zip(images, modalities):
        obs = degradation.apply(img, mod, severity, rng)
        out.append(replace(obs, y=quantise(obs.y)))
    return out


class BatchSampler:
    """Random crops (same position in both sources, random h-flip) degraded by a random scenario."""

    def __init__(self, pairs: list[CleanPair], family: str, crop: int, batch: int,
                 rng: np.random.Generator, registry: Any = None,
                 scenarios: Sequence[str] = ("noise", "blur", "composite"),
                 noise_gain: float = 0.0) -> None:
        if registry is None:
            from benchbed.registry import Registry

            registry = Registry()
        self.pairs = [p for p in pairs if min(p.images[0].shape[:2]) >= crop]
        if not self.pairs:
            raise BenchbedError(f"no training pair is at least {crop} px on each side",
                                fix="lower the crop size (--set crop=...)")
        self.family, self.crop, self.batch, self.rng = family, crop, batch, rng
        self.noise_gain = float(noise_gain)
        self.scenarios = list(scenarios)
        self.specs = {s: registry.get("degradation", SCENARIOS[s][0]) for s in self.scenarios}
        self.built = {s: spec.build() for s, spec in self.specs.items()}

    def sample(self, device: str | torch.device = "cpu") -> Batch:
        """One batch; all samples share the scenario and level, so their operators coincide."""
        rng = self.rng
        scenario = self.scenarios[int(rng.integers(len(self.scenarios)))]
        levels = SCENARIOS[scenario][1][self.family]
        level = levels[int(rng.choice(len(levels), p=[p for _, p in levels]))][0]
        severity = self.specs[scenario].severities[level]
        c = self.crop
        clean: list[list[np.ndarray]] = [[], []]
        ys: list[list[np.ndarray]] = [[], []]
        obs = []
        for _ in range(self.batch):
            pair = self.pairs[int(rng.integers(len(self.pairs)))]
            h, w = pair.images[0].shape[:2]
            top, left = int(rng.integers(h - c + 1)), int(rng.integers(w - c + 1))
            flip = bool(rng.integers(2))
            crops = []
            for img in pair.images:
                patch = img[top : top + c, left : left + c]
                crops.append(np.ascontiguousarray(patch[:, ::-1] if flip else patch))
            obs = degrade_pair(crops, pair.modalities, self.built[scenario], severity, rng)
            for i in range(2):
                clean[i].append(crops[i])
                ys[i].append(obs[i].y)

        def stack(arrs: list[np.ndarray]) -> torch.Tensor:
            return torch.from_numpy(np.stack(arrs)[:, None].astype(np.float32)).to(device)

        ops = tuple(to_torch(o.operator, (c, c), self.noise_gain * o.noise_sigma**2) for o in obs)
        return Batch((stack(clean[0]), stack(clean[1])), (stack(ys[0]), stack(ys[1])),
                     ops, f"{scenario}/{level}",  # type: ignore[arg-type]
                     (float(obs[0].noise_sigma), float(obs[1].noise_sigma)))
