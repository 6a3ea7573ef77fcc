"""ReCoFuse cost at 640x480: seconds per fused image and peak memory, per config and device.

Usage: python benchmarks/recofuse.py [--device cpu|cuda] [--configs small,paper] [--steps 100]
                                     [--repeat 2] [--threads N] [--json out.json]

It times what the fuser runs for one pair (``run_pair``): edge padding to a multiple of 128
(640x480 -> 640x512, latent 8x64x80), two encodes, ``steps`` coupled reverse steps (TIM + two
DiM passes each), and three decodes. Weights are
random: cost does not depend on them. On a slow CPU, pass --steps 10: the script then also
prints the 100-step estimate (encode/decode + 100 x the measured per-step cost), labelled as such.

Peak memory: CUDA = torch.cuda.max_memory_allocated; CPU = the process's peak RSS
(resource.getrusage), which includes the Python runtime and the model.

Measured (each figure names its machine; see the JSON files for the raw runs):
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from typing import Any

# Filled from measured runs (python benchmarks/recofuse.py ...); None = not measured.
MEASURED: dict[str, Any] = {
    # One lent NVIDIA H100 80GB HBM3, torch 2.11.0+cu130, fp32 (TF32 convolutions allowed, the
    # default), 100 steps, best of 2 runs after a warm-up. Measured with the earlier padding
    # (50-px edge pad, 690x530 -> 704x544, latent 68x88 = 5984 tokens); the fuser now pads
    # 640x480 to 640x512 (latent 64x80 = 5120 tokens), so these are slight over-estimates.
    "gpu": {
        "card": "NVIDIA H100 80GB HBM3",
        "small": {"seconds_per_image": 2.995, "ms_per_step": 29.7, "peak_memory_MiB": 410.5},
        "paper": {"seconds_per_image": 6.539, "ms_per_step": 64.8, "peak_memory_MiB": 1159.9},
    },
    # This project's 2-core x86_64 VM, torch 2.14.1 (CPU), --threads 1, niced and shared with other
    # jobs (load average 5-6), current padding (640x512). Small: 100 steps measured. Paper: 5 steps
    # measured, 100-step figure = fixed cost + 100 x the measured per-step cost.
    "cpu": {
        "machine": "2-core VM, 1 thread, contended",
        "small": {"seconds_per_image": 89.4, "ms_per_step": 869, "peak_rss_MiB": 988},
        "paper": {"seconds_per_image_5_steps": 19.3, "ms_per_step": 2204,
                  "estimate_100_steps_seconds": 228.7, "peak_rss_MiB": 1734},
    },
}


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bench_config(name: str, device: str, steps: int, repeat: int) -> dict[str, Any]:
    """Time ``repeat`` fused images (after one warm-up) of config ``name``."""
    import torch
    from benchbed_recofuse.configs import get_config
    from benchbed_recofuse.model import ReCoFuse, run_pair

    torch.manual_seed(0)
    model = ReCoFuse(get_config(name)).to(device).eval()
    vis = torch.rand(1, 1, 480, 640, device=device)
    ir = torch.rand(1, 1, 480, 640, device=device)
    gen = torch.Generator(device=device).manual_seed(0)
    run_pair(model, vis, ir, steps=min(steps, 2), generator=gen)  # warm-up (kernels, allocator)
    _sync(device)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run_pair(model, vis, ir, steps=steps, generator=gen)
        _sync(device)
        times.append(time.perf_counter() - t0)
    # Per-step cost from a 0-step run (encode + final TIM + decodes only).
    t0 = time.perf_counter()
    with torch.no_grad():
        vis_p = torch.nn.functional.pad(vis, (0, 0, 0, 32), mode="replicate")
        ir_p = torch.nn.functional.pad(ir, (0, 0, 0, 32), mode="replicate")
        mu_v, h_v = model.ae.encode(vis_p)
        mu_i, h_i = model.ae.encode(ir_p)
        z = model.tim(mu_v, mu_i, 0)
        hf = [(a + b) / 2 for a, b in zip(h_v, h_i)]
        for zz, hh in ((z, hf), (mu_v, h_v), (mu_i, h_i)):
            model.ae.decode(zz, hh)
    _sync(device)
    fixed = time.perf_counter() - t0
    sec = min(times)
    per_step = max(sec - fixed, 0.0) / steps
    out: dict[str, Any] = {
        "config": name, "steps": steps, "seconds_per_image": round(sec, 3),
        "seconds_all_runs": [round(t, 3) for t in times], "fixed_seconds": round(fixed, 3),
        "seconds_per_step": round(per_step, 4),
        "params_M": round(model.param_counts()["total"] / 1e6, 3),
    }
    if steps != model.sde.T:
        out["estimate_100_steps_seconds"] = round(fixed + per_step * model.sde.T, 2)
    if device.startswith("cuda"):
        out["peak_memory_MiB"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    else:
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        out["peak_rss_MiB"] = round(kib / 1024, 1)
    del model
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one line per config (and JSON when asked)."""
    import torch

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--configs", default="small,paper")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json", default="")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    machine = {"host": platform.node(), "processor": platform.processor() or platform.machine(),
               "torch": torch.__version__, "threads": torch.get_num_threads(), "device": args.device}
    if args.device.startswith("cuda"):
        machine["gpu"] = torch.cuda.get_device_name(torch.device(args.device))
        machine["tf32_conv"] = torch.backends.cudnn.allow_tf32
    rows = []
    for name in args.configs.split(","):
        row = bench_config(name.strip(), args.device, args.steps, args.repeat)
        rows.append(row)
        mem = row.get("peak_memory_MiB", row.get("peak_rss_MiB"))
        est100 = row.get("estimate_100_steps_seconds")
        est = f", 100-step estimate {est100} s" if est100 is not None else ""
        print(f"{name:6s} {args.device}: {row['seconds_per_image']:.3f} s/image at 640x480 "
              f"({args.steps} steps, {row['seconds_per_step'] * 1000:.1f} ms/step{est}); "
              f"peak memory {mem} MiB", flush=True)
    result = {"machine": machine, "results": rows}
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
