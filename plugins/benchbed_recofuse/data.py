"""Training batches: clean pairs from training splits, random crops and flips, LQ synthesised per crop."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from benchbed_recofuse.synth import DegradationSampler

# Test splits are for scoring only; a trainer that could read them would leak into every result.
FORBIDDEN_SPLITS = {"test", "val", "holdout"}


@dataclass
class CleanPair:
    """One registered scene: IR (HxW) and visible (HxW or HxWx3), float32 in [0, 1]."""

    id: str
    ir: np.ndarray
    vi: np.ndarray


@dataclass
class Batch:
    """Y/gray tensors (B, 1, h, w): LQ and clean, both modalities."""

    vis_lq: torch.Tensor
    vis_gt: torch.Tensor
    ir_lq: torch.Tensor
    ir_gt: torch.Tensor

    def to(self, device: str | torch.device) -> Batch:
        """The batch on ``device``."""
        return Batch(*(t.to(device) for t in (self.vis_lq, self.vis_gt, self.ir_lq, self.ir_gt)))


def parse_data(spec: str | None) -> list[tuple[str, str]]:
    """'msrs,llvip:train' -> [(msrs, train), (llvip, train)]; refuses test splits."""
    from benchbed.errors import BenchbedError

    items = []
    for part in (spec or "msrs:train,llvip:train").split(","):
        name, _, split = part.strip().partition(":")
        split = split or "train"
        if split in FORBIDDEN_SPLITS:
            raise BenchbedError(f"refusing to train on {name}:{split}",
                                fix="train on training splits only, e.g. --data msrs:train,llvip:train")
        items.append((name, split))
    return items


def load_pairs(spec: str | None) -> tuple[list[CleanPair], list[str]]:
    """Load every pair of the given dataset splits; returns the pairs and 'dataset:split (n)' labels."""
    from benchbed.errors import BenchbedError
    from benchbed.registry import Registry

    reg = Registry()
    pairs, labels = [], []
    for name, split in parse_data(spec):
        ds = reg.get("dataset", name).build()
        ids = ds.pair_ids(split)
        if not ids:
            raise BenchbedError(f"dataset {name}:{split} has no pairs",
                                fix="check BENCHBED_DATA and the split name")
        for pid in ids:
            pair = ds.load(pid)
            by_mod = dict(zip(pair.modalities, pair.sources))
            vi = next(v for k, v in by_mod.items() if k.startswith("vi"))
            ir = next(v for k, v in by_mod.items() if not k.startswith("vi"))
            if ir.ndim == 3:
                ir = ir.mean(axis=2)
            pairs.append(CleanPair(f"{name}/{pid}", ir.astype(np.float32), vi.astype(np.float32)))
        labels.append(f"{name}:{split} ({len(ids)} pairs)")
    return pairs, labels


def split_holdout(pairs: list[CleanPair], n: int) -> tuple[list[CleanPair], list[CleanPair]]:
    """(training, held-out): the last ``n`` pairs by id of each dataset split are held out (never
    trained on) for the gates' figures on training-split data; n = 0 holds out nothing."""
    if n <= 0:
        return pairs, []
    by_ds: dict[str, list[CleanPair]] = {}
    for p in pairs:
        by_ds.setdefault(p.id.split("/", 1)[0], []).append(p)
    held = {p.id for group in by_ds.values() for p in sorted(group, key=lambda q: q.id)[-n:]
            if len(group) > n}
    return [p for p in pairs if p.id not in held], [p for p in pairs if p.id in held]


def luma(x: np.ndarray) -> np.ndarray:
    """BT.601 Y of an RGB image (gray passes through), as the core's colour policy computes it."""
    if x.ndim == 2:
        return x
    return (0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]).astype(np.float32)


def _augment(arrs: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    if rng.random() < 0.5:
        arrs = [a[:, ::-1] for a in arrs]
    if rng.random() < 0.5:
        arrs = [a[::-1] for a in arrs]
    if rng.random() < 0.5:
        arrs = [np.swapaxes(a, 0, 1) for a in arrs]
    return [np.ascontiguousarray(a) for a in arrs]


def tone_jitter(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``x`` under a random global tone change s * x^g (g in 0.5-1.6 log-uniform, s in 0.8-1.15).

    The clean target moves with it, so the nets learn that brightness and contrast alone are not
    a degradation: the training pairs are mostly night scenes, and without it the VIS branch
    darkened bright daytime inputs as if dehazing (issue 19, gate 2b).
    """
    g = float(np.exp(rng.uniform(np.log(0.5), np.log(1.6))))
    return np.clip(rng.uniform(0.8, 1.15) * np.power(x, g), 0.0, 1.0).astype(np.float32)


class BatchMaker:
    """Random crops of random pairs, with hflip/vflip/rot90 and fresh degradations per crop.

    ``tone``: the probability that a crop's clean image (per modality) gets a ``tone_jitter``
    before it is degraded.
    """

    def __init__(self, pairs: list[CleanPair], sampler: DegradationSampler, tone: float = 0.0) -> None:
        self.pairs, self.sampler, self.tone = pairs, sampler, tone

    def make(self, batch: int, crop: int, rng: np.random.Generator) -> Batch:
        """``batch`` crops of side ``crop`` (clipped to the image size)."""
        cols: list[list[np.ndarray]] = [[], [], [], []]
        for _ in range(batch):
            p = self.pairs[int(rng.integers(len(self.pairs)))]
            h, w = p.ir.shape[:2]
            c = min(crop, h, w)
            y0, x0 = int(rng.integers(h - c + 1)), int(rng.integers(w - c + 1))
            ir, vi = p.ir[y0:y0 + c, x0:x0 + c], p.vi[y0:y0 + c, x0:x0 + c]
            ir, vi = _augment([ir, vi], rng)
            if self.tone > 0:
                # Drawn only when on, so tone = 0 keeps the random stream of earlier runs.
                vi = tone_jitter(vi, rng) if rng.random() < self.tone else vi
                ir = tone_jitter(ir, rng) if rng.random() < self.tone else ir
            # Degrade the RGB crop and take Y afterwards: the core does the same at test time.
            vi_lq, _ = self.sampler.degrade(vi, "vi", rng)
            ir_lq, _ = self.sampler.degrade(ir, "ir", rng)
            for col, arr in zip(cols, (luma(vi_lq), luma(vi), ir_lq, ir)):
                col.append(arr)
        return Batch(*(torch.from_numpy(np.stack(col)[:, None].astype(np.float32)) for col in cols))
