"""Validation on the real ReCoFuse LQ/HQ pairs (seed_pairs/ReCoFuse): restoration PSNR and fusion stats.

Used only to report numbers in the provenance JSON; nothing is selected or tuned on them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchbed_recofuse.data import luma
from benchbed_recofuse.model import ReCoFuse, run_pair


def seed_pairs_root() -> Path | None:
    """BENCHBED_DATA/seed_pairs/ReCoFuse when present."""
    from benchbed.paths import data_root

    root = data_root(required=False)
    if root is None:
        return None
    p = root / "seed_pairs" / "ReCoFuse"
    return p if p.is_dir() else None


def list_seed_pairs(root: Path) -> list[tuple[str, dict[str, Path]]]:
    """(name, {vi_lq, vi_hq, ir_lq, ir_hq}) for every pair, sorted by dataset and name."""
    out = []
    for ds in sorted(p for p in root.iterdir() if p.is_dir()):
        for f in sorted((ds / "LQ" / "vi").glob("*.png")):
            paths = {f"{m}_{q.lower()}": ds / q / m / f.name for m in ("vi", "ir") for q in ("LQ", "HQ")}
            if all(p.is_file() for p in paths.values()):
                out.append((f"{ds.name}/{f.stem}", paths))
    return out


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two [0, 1] images after 8-bit quantisation."""
    a8, b8 = np.round(np.clip(a, 0, 1) * 255), np.round(np.clip(b, 0, 1) * 255)
    mse = float(np.mean((a8 - b8) ** 2))
    return float("inf") if mse == 0 else 10 * math.log10(255.0**2 / mse)


def _metrics() -> dict[str, Any]:
    from benchbed.registry import Registry

    reg = Registry()
    out = {}
    for name in ("EN", "SD", "MI"):
        if name in reg.names("metric"):
            spec = reg.get("metric", name)
            out[name] = spec.factory(**spec.profile_params())
    return out


def validate(model: ReCoFuse, steps: int = 20, limit: int | None = None, device: str = "cpu",
             seed: int = 0, x0_clip: float = 3.0) -> dict[str, Any]:
    """Mean restoration PSNR (Y) and fused EN/SD/MI (vs HQ sources) over the seed pairs."""
    from benchbed.imaging import read_image

    root = seed_pairs_root()
    if root is None:
        return {"skipped": "seed_pairs/ReCoFuse not found under BENCHBED_DATA"}
    pairs = list_seed_pairs(root)[: int(limit) if limit else None]
    metrics = _metrics()
    dev = torch.device(device)
    rows = []
    for name, paths in pairs:
        img = {k: luma(read_image(p)) for k, p in paths.items()}
        tens = [torch.from_numpy(img[k])[None, None].to(dev) for k in ("vi_lq", "ir_lq")]
        gen = torch.Generator(device=dev).manual_seed(seed)
        out = run_pair(model, tens[0], tens[1], steps=steps, generator=gen, x0_clip=x0_clip)
        # A diverged sampler gives inf/NaN; score it as the saturated image it decodes to.
        fused, vis, ir = (torch.nan_to_num(t[0, 0].float(), nan=0.0, posinf=1.0, neginf=0.0)
                          .clamp(0, 1).cpu().numpy() for t in (out.fused, out.vis, out.ir))
        row = {"pair": name, "finite": bool(torch.isfinite(out.fused).all()),
               "psnr_vis": psnr(vis, img["vi_hq"]), "psnr_ir": psnr(ir, img["ir_hq"]),
               "psnr_vis_lq": psnr(img["vi_lq"], img["vi_hq"]),
               "psnr_ir_lq": psnr(img["ir_lq"], img["ir_hq"])}
        g = lambda x: np.round(np.clip(x, 0, 1) * 255).astype(np.float64)  # noqa: E731
        for mname, metric in metrics.items():
            row[f"fused_{mname}"] = float(metric.compute(g(img["vi_hq"]), g(img["ir_hq"]), g(fused)))
        rows.append(row)
    keys = [k for k in rows[0] if k not in ("pair", "finite")] if rows else []
    finite = sum(bool(r.pop("finite")) for r in rows)
    return {"pairs": len(rows), "finite_outputs": finite, "sampling_steps": steps,
            "x0_clip": x0_clip,
            "source": str(root.name),
            "mean": {k: round(float(np.mean([r[k] for r in rows])), 4) for k in keys},
            "per_pair": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
                         for r in rows]}
