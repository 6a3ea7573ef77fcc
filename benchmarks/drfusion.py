"""Seconds per image of DRFusion at 640x480 for T = 1..5, versus the paper's Table 5.

    .venv/bin/python benchmarks/drfusion.py                       # CPU, shipped small model
    .venv/bin/python benchmarks/drfusion.py --device cuda --config paper --random-init

Times the whole `fuse()` call a suite makes (numpy in, torch sampler with the observation
operators, numpy out) on one synthetic 640x480 IR/visible pair under the composite degradation
(IR blur + x4 average-pool + noise, visible blur + noise: the scenario of Table 5). Weights do
not change the cost, so `--random-init` times a config without its checkpoint.
The GPU figures measured for this project are printed from the plugin's provenance file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

# Paper Table 5 (supplement): runtime per image, presumably 1024x768 M3FD on an RTX 4090.
PAPER_SECONDS = {1: 0.1425, 2: 0.2201, 3: 0.3024, 4: 0.3768, 5: 0.4589}


def synthetic_pair(h: int, w: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random IR/visible-like pair (timing does not depend on content)."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    base = ndimage.gaussian_filter(rng.random((h, w)), 6)
    base = (base - base.min()) / (np.ptp(base) + 1e-8)
    ir = np.clip(base + 0.05 * rng.standard_normal((h, w)), 0, 1).astype(np.float32)
    vi = np.clip(1 - base + 0.05 * rng.standard_normal((h, w)), 0, 1).astype(np.float32)
    return ir, vi


def time_fuser(config: str = "small", device: str = "cpu", steps: tuple[int, ...] = (1, 2, 3, 4, 5),
               size: tuple[int, int] = (480, 640), repeats: int = 3, random_init: bool = False,
               checkpoint: str = "auto", degradation: str = "composite") -> dict[int, float]:
    """Median seconds per fused image for each T (one warm-up call per T)."""
    import torch
    from benchbed_drfusion.checkpoints import save_weights
    from benchbed_drfusion.configs import get_config
    from benchbed_drfusion.fuser import DRFusionFuser
    from benchbed_drfusion.sampler import DRFusionNet

    from benchbed import FusionInputs
    from benchbed.registry import Registry

    reg = Registry()
    spec = reg.get("degradation", degradation)
    level = {"composite": "2", "gaussian_noise": "3", "gaussian_blur": "3"}[degradation]
    rng = np.random.default_rng(0)
    ir, vi = synthetic_pair(*size)
    obs = tuple(spec.build().apply(im, mod, spec.severities[level], rng)
                for im, mod in ((ir, "ir"), (vi, "vi")))
    inputs = FusionInputs(tuple(o.y for o in obs), ("ir", "vi"), obs, device, 0)  # type: ignore[arg-type]
    tmp = None
    if random_init:
        torch.manual_seed(0)
        tmp = tempfile.TemporaryDirectory()
        checkpoint = str(save_weights(Path(tmp.name) / "random.pt", DRFusionNet(get_config(config)), "ivf"))
    out: dict[int, float] = {}
    for t in steps:
        fuser = DRFusionFuser(steps=t, config=config, checkpoint=checkpoint, device=device)
        fuser.fuse(inputs)  # warm-up: model load, cuDNN autotune, FFT plans
        times = []
        for _ in range(repeats):
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            fuser.fuse(inputs)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        out[t] = statistics.median(times)
    if tmp is not None:
        tmp.cleanup()
    return out


def table(rows: dict[str, dict[int, float]]) -> str:
    """Markdown table: one column per measured setting plus the paper's Table 5."""
    names = list(rows)
    lines = ["| T | " + " | ".join(names) + " | paper (RTX 4090, Table 5) |",
             "|---|" + "---|" * (len(names) + 1)]
    for t in PAPER_SECONDS:
        vals = [f"{rows[n][t]:.3f}" if t in rows[n] else "-" for n in names]
        lines.append(f"| {t} | " + " | ".join(vals) + f" | {PAPER_SECONDS[t]:.3f} |")
    return "\n".join(lines)


def recorded_gpu_timings() -> dict[str, Any]:
    """GPU timings measured for this project (plugin provenance file), if any."""
    from benchbed_drfusion.checkpoints import provenance

    return provenance().get("timings", {})


def main() -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--config", default="small")
    ap.add_argument("--checkpoint", default="auto")
    ap.add_argument("--random-init", action="store_true")
    ap.add_argument("--steps", default="1,2,3,4,5")
    ap.add_argument("--size", default="640x480", help="W x H")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--degradation", default="composite")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    w, h = (int(v) for v in args.size.lower().split("x"))
    steps = tuple(int(s) for s in args.steps.split(","))
    secs = time_fuser(args.config, args.device, steps, (h, w), args.repeats, args.random_init,
                      args.checkpoint, args.degradation)
    where = args.device
    if args.device.startswith("cuda"):
        where = torch.cuda.get_device_name(args.device)
    else:
        where = f"cpu x{torch.get_num_threads()} threads"
    label = f"{args.config} {where} {w}x{h} {args.degradation}"
    rows = {label: secs}
    for name, rec in recorded_gpu_timings().items():
        rows[f"{name} (recorded)"] = {int(k): float(v) for k, v in rec.get("seconds", {}).items()}
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps({"label": label, "device": where, "config": args.config,
                                         "size": [w, h], "degradation": args.degradation,
                                         "repeats": args.repeats, "torch": torch.__version__,
                                         "seconds": secs}, indent=2))


if __name__ == "__main__":
    main()
