"""`benchbed train drfusion`: end-to-end training of the unrolled T-step sampler.

As in the public code the whole sampler (T U-Net calls with their corrections) is run and
back-propagated through; the loss is the paper's (losses.py). Degradations are drawn on the fly
from the degradation plugins (data.py). Training splits only. Checkpoint + resume, tqdm, seeded.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchbed import BenchbedError
from benchbed.weights import file_sha256
from benchbed_drfusion.checkpoints import FORMAT, read_checkpoint, save_weights, shipped_name
from benchbed_drfusion.configs import DRFusionConfig, get_config
from benchbed_drfusion.data import (
    SCENARIOS,
    BatchSampler,
    CleanPair,
    degrade_pair,
    family_of,
    load_pairs,
    split_holdout,
)
from benchbed_drfusion.losses import drfusion_loss
from benchbed_drfusion.model import count_parameters
from benchbed_drfusion.operators_torch import to_torch
from benchbed_drfusion.sampler import DRFusionNet

# options of the trainer that are not model/config fields
OPTIONS = {
    "max_minutes": None,  # stop (and save) after this much wall clock, whatever `steps` says
    "t_train": "config",  # T per iteration: "config" = the model's T (3), an int, or "random" (1..max)
    "holdout": None,  # validation pairs held out per dataset (default: 2 pairs in total)
    "ckpt_every": 100,
    "log_every": 10,
    "export_dtype": "float32",
    "validate": True,
    "grad_clip": 1.0,
    "split": "train",
    "val_max_side": 640,
    "threads": 0,  # torch CPU threads (0 = torch's default); 1 is far faster on an oversubscribed host
    "init": None,  # weights file (exported or last.pt) to start from: fine-tuning with a fresh optimiser
}


def git_commit(cwd: Path | None = None) -> str:
    """`git rev-parse HEAD` of the source tree (DRFUSION_GIT_COMMIT where the tree has no .git)."""
    if os.environ.get("DRFUSION_GIT_COMMIT"):
        return os.environ["DRFUSION_GIT_COMMIT"]
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd or Path(__file__).parent,
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def code_sha256() -> str:
    """Content hash of this plugin's Python sources (the code may be newer than the commit)."""
    import hashlib

    h = hashlib.sha256()
    for f in sorted(Path(__file__).parent.glob("*.py")):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def machine(device: str) -> dict[str, Any]:
    """Where a run happened: host, CPU count, torch, and the GPU name for CUDA devices."""
    info: dict[str, Any] = {"host": platform.node(), "platform": platform.platform(),
                            "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                            "torch": torch.__version__, "device": device}
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def lr_at(cfg: DRFusionConfig, progress: float) -> float:
    """Multi-step schedule: lr * gamma^(milestones passed), milestones as fractions of the run."""
    return cfg.lr * cfg.lr_gamma ** sum(progress >= m for m in cfg.milestones)


@torch.no_grad()
def validate(net: DRFusionNet, pairs: Sequence[CleanPair], family: str, device: str,
             steps: int | None = None, seed: int = 0, max_side: int = 640,
             registry: Any = None) -> dict[str, Any]:
    """QABF and QW of DRFusion (and of the initial average of A†y) on held-out pairs at the paper's
    degradation levels, scored against the clean sources like the suites do."""
    from benchbed.imaging import to_gray_255

    if registry is None:
        from benchbed.registry import Registry

        registry = Registry()
    metrics = {m: registry.get("metric", m).build() for m in ("QABF", "QW")}
    rng = np.random.default_rng(seed)
    was_training = net.training
    net.eval()
    rows: dict[str, dict[str, list[float]]] = {}
    for scenario, (deg_name, levels) in SCENARIOS.items():
        spec = registry.get("degradation", deg_name)
        level = max(levels[family], key=lambda lp: lp[1])[0]  # the paper's level
        deg = spec.build()
        for pair in pairs:
            # a centre crop bounds the CPU cost; multiples of 32 keep x4 pooling exact
            h, w = pair.images[0].shape[:2]
            ch, cw = min(h, max_side) // 32 * 32, min(w, max_side) // 32 * 32
            t, left = (h - ch) // 2, (w - cw) // 2
            imgs = [np.ascontiguousarray(im[t : t + ch, left : left + cw]) for im in pair.images]
            obs = degrade_pair(imgs, pair.modalities, deg, spec.severities[level], rng)
            ys = [torch.from_numpy(o.y)[None, None].to(device) for o in obs]
            gain = net.cfg.wiener_noise_gain
            ops = [to_torch(o.operator, (ch, cw), gain * o.noise_sigma**2) for o in obs]
            sigmas = [o.noise_sigma for o in obs]
            state = net(ys, ops, sigmas, steps=steps).state
            fused = state[0, 2].clamp(0, 1).cpu().numpy()
            pinvs = [op.A_pinv(y)[0, 0].clamp(0, 1).cpu().numpy() for op, y in zip(ops, ys)]
            init = 0.5 * (pinvs[0] + pinvs[1])
            for i in range(2):
                key = f"psnr_src{i + 1}:{scenario}/{level}"
                for what, est in (("drfusion", state[0, i].clamp(0, 1).cpu().numpy()),
                                  ("pinv", pinvs[i])):
                    mse = float(np.mean((est.astype(np.float64) - imgs[i]) ** 2))
                    rows.setdefault(key, {}).setdefault(what, []).append(10 * np.log10(1 / max(mse, 1e-12)))
            a, b = (to_gray_255(im) for im in imgs)
            for method, img in (("drfusion", fused), ("init_average", init)):
                f = to_gray_255(img)
                for mname, m in metrics.items():
                    key = f"{scenario}/{level}"
                    rows.setdefault(f"{method}:{key}", {}).setdefault(mname, []).append(
                        float(m.compute(a, b, f)))
    net.train(was_training)
    return {k: {m: float(np.mean(v)) for m, v in d.items()} for k, d in sorted(rows.items())}


def train(config: str = "small", data: str | None = None, out: Path | None = None,
          steps: int | None = None, device: str = "cpu", seed: int = 2025, resume: bool = False,
          echo: Callable[[str], Any] = print, **extra: Any) -> dict[str, Any]:
    """Train DRFusion; writes last.pt (resumable), the exported weights and provenance.json."""
    from tqdm import tqdm

    opts = {**OPTIONS, **{k: v for k, v in extra.items() if k in OPTIONS}}
    cfg_over = {k: v for k, v in extra.items() if k not in OPTIONS}
    cfg = get_config(config, **cfg_over)
    names = [n.strip() for n in (data or "msrs,llvip").split(",") if n.strip()]
    total = int(steps or cfg.train_steps)
    out = Path(out or Path("runs") / "drfusion")
    out.mkdir(parents=True, exist_ok=True)
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise BenchbedError("--device cuda but CUDA is not available", fix="use --device cpu")
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if int(opts["threads"]) > 0:
        torch.set_num_threads(int(opts["threads"]))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)

    from benchbed.registry import Registry

    registry = Registry()
    pairs = load_pairs(names, opts["split"], registry)
    family = family_of(pairs[0].modalities)
    if any(family_of(p.modalities) != family for p in pairs):
        raise BenchbedError("--data mixes infrared/visible and medical datasets",
                            fix="train one model per family (e.g. msrs,llvip or pet_mri_harvard)")
    holdout = opts["holdout"] if opts["holdout"] is not None else max(1, 2 // len(names))
    train_pairs, val_pairs = split_holdout(pairs, int(holdout))
    sampler = BatchSampler(train_pairs, family, cfg.crop, cfg.batch, rng, registry,
                           noise_gain=cfg.wiener_noise_gain)

    net = DRFusionNet(cfg).to(device)
    optim = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    step, elapsed, history = 0, 0.0, []
    last = out / "last.pt"
    # The CLI resumes by default: an existing last.pt is continued, otherwise training starts fresh.
    if resume and last.is_file():
        ck = read_checkpoint(last)
        if ck["config"] != cfg.to_dict():
            raise BenchbedError(f"{last} was trained with another config", fix="use the same --config/--set")
        net.load_state_dict(ck["state_dict"], strict=True)
        optim.load_state_dict(ck["optimizer"])
        step, elapsed = int(ck["step"]), float(ck["elapsed"])
        rng.bit_generator.state = json.loads(ck["numpy_rng"])
        torch.set_rng_state(ck["torch_rng"])
        history = json.loads(ck.get("history", "[]"))
        echo(f"resumed from {last} at step {step}")
    elif opts["init"]:
        init = Path(str(opts["init"]))
        try:
            net.load_state_dict({k: v.float() if v.is_floating_point() else v
                                 for k, v in read_checkpoint(init)["state_dict"].items()}, strict=True)
        except RuntimeError as exc:
            raise BenchbedError(f"{init} does not fit the {config} network: {exc}",
                                fix="pass weights of the same --config") from exc
        echo(f"initialised from {init} (sha256 {file_sha256(init)[:12]})")

    def checkpoint() -> None:
        payload = {"format": FORMAT, "config": cfg.to_dict(), "family": family,
                   "state_dict": net.state_dict(), "optimizer": optim.state_dict(),
                   "step": step, "elapsed": elapsed,
                   "numpy_rng": json.dumps(rng.bit_generator.state),
                   "torch_rng": torch.get_rng_state(), "history": json.dumps(history)}
        tmp = last.with_suffix(".pt.tmp")
        torch.save(payload, tmp)
        os.replace(tmp, last)

    n_params = count_parameters(net.unet)
    echo(f"DRFusion {config}: {n_params / 1e6:.2f} M parameters, {family}, "
         f"{len(train_pairs)} train / {len(val_pairs)} val pairs, {total} steps on {device}")
    amp = device.startswith("cuda")
    deadline = None if opts["max_minutes"] is None else float(opts["max_minutes"]) * 60.0
    log = (out / "log.jsonl").open("a")
    net.train()
    bar = tqdm(total=total, initial=step, desc=f"drfusion-{config}-{family}", unit="step",
               dynamic_ncols=True, disable=None)
    stopped_early = False
    while step < total:
        t0 = time.time()
        # Progress is steps done or, under max_minutes, wall time used, whichever is further, so a
        # time-boxed run still walks through the whole multi-step schedule.
        progress = step / total if deadline is None else max(step / total, elapsed / deadline)
        for group in optim.param_groups:
            group["lr"] = lr_at(cfg, progress)
        batch = sampler.sample(device)
        t_steps = (int(rng.integers(1, cfg.max_steps + 1)) if opts["t_train"] == "random"
                   else cfg.steps if opts["t_train"] == "config" else int(opts["t_train"]))
        out_state = net(batch.ys, batch.ops, batch.sigmas, steps=t_steps, amp=amp)
        loss, parts = drfusion_loss(out_state.state, out_state.w1, batch.clean[0], batch.clean[1],
                                    family, cfg.loss_weights)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        if opts["grad_clip"]:
            torch.nn.utils.clip_grad_norm_(net.parameters(), float(opts["grad_clip"]))
        optim.step()
        step += 1
        elapsed += time.time() - t0
        if not math.isfinite(parts["total"]):
            raise BenchbedError(f"loss became {parts['total']} at step {step}",
                                fix="lower the learning rate (--set lr=...) or resume from last.pt")
        bar.update(1)
        bar.set_postfix(loss=f"{parts['total']:.3f}", T=t_steps, deg=batch.scenario)
        out_of_time = deadline is not None and elapsed >= deadline
        if step % int(opts["log_every"]) == 0 or step == total or out_of_time:
            rec = {"step": step, "T": t_steps, "scenario": batch.scenario, "lr": optim.param_groups[0]["lr"],
                   "elapsed": round(elapsed, 2), **{k: round(v, 5) for k, v in parts.items()}}
            history.append(rec)
            log.write(json.dumps(rec) + "\n")
            log.flush()
        if step % int(opts["ckpt_every"]) == 0:
            checkpoint()
        if out_of_time:
            stopped_early = step < total
            break
    bar.close()
    log.close()
    checkpoint()
    dtype = torch.float16 if opts["export_dtype"] == "float16" else torch.float32
    weights = save_weights(out / shipped_name(config, family), net, family, dtype=dtype, step=step)
    val = {}
    if opts["validate"] and val_pairs:
        echo(f"validating on {[p.id for p in val_pairs]}")
        t_val = time.time()
        val = validate(net, val_pairs, family, device, seed=seed, max_side=int(opts["val_max_side"]),
                       registry=registry)
        val["seconds"] = round(time.time() - t_val, 1)  # type: ignore[assignment]
    recent = history[-20:]
    prov = {
        "command": " ".join(["benchbed", "train", "drfusion", *sys.argv[3:]])
        if len(sys.argv) > 2 and sys.argv[1:3] == ["train", "drfusion"] else " ".join(sys.argv),
        "config": cfg.to_dict(), "family": family, "parameters": n_params,
        "data": {"datasets": names, "split": opts["split"],
                 "train_pairs": [p.id for p in train_pairs], "val_pairs": [p.id for p in val_pairs]},
        "options": {k: opts[k] for k in OPTIONS}, "seed": seed,
        "init": ({"file": Path(str(opts["init"])).name, "sha256": file_sha256(Path(str(opts["init"])))}
                 if opts["init"] else None),
        "steps": step, "steps_requested": total, "stopped_early_by_max_minutes": stopped_early,
        "train_seconds": round(elapsed, 1), "machine": machine(device), "git_commit": git_commit(),
        "plugin_code_sha256": code_sha256(),
        "final_loss_mean_last20": ({k: float(np.mean([r[k] for r in recent]))
                                    for k in recent[0] if k not in ("step", "T", "scenario", "lr", "elapsed")}
                                   if recent else {}),
        "validation": val,
        "weights": {"file": weights.name, "sha256": file_sha256(weights),
                    "bytes": weights.stat().st_size, "dtype": str(dtype).replace("torch.", "")},
    }
    (out / "provenance.json").write_text(json.dumps(prov, indent=2))
    echo(f"wrote {weights} ({weights.stat().st_size / 1e6:.1f} MB) and {out / 'provenance.json'}")
    return prov
