"""The gates of the staged ReCoFuse rebuild, measured on a checkpoint (issue 19).

Each stage is trained only after the previous one passes its gate:

1. latent: decode(encode(x)) of clean IVF test images is at least ``LATENT_PSNR_DB`` dB PSNR (Y);
2. score nets: relative noise-prediction error below ``EPS_ERROR_MAX`` at every step on
   held-out training-split pairs, and each branch alone (no TIM) above the LQ input's PSNR;
3. coupling: the coupled sampler restores at least as well as the uncoupled one;
4. the suites sample with the sampler the score nets were trained for.

This module measures them; ``benchmarks/recofuse_gates.py`` prints the figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from benchbed_recofuse.data import luma
from benchbed_recofuse.model import ReCoFuse, pad_bottom_right, run_pair
from benchbed_recofuse.validate import psnr

LATENT_PSNR_DB = 28.0
"""Gate 1: mean PSNR (Y, 8-bit) of the AE's reconstruction of clean test images."""

LATENT_DATA = "msrs:test,llvip:test"
"""The IVF test splits gate 1 is measured on (those of the recofuse-ivf suite)."""


@dataclass
class GateResult:
    """One gate's verdict with the figures it rests on."""

    gate: str
    passed: bool
    figure: str
    details: dict[str, Any] = field(default_factory=dict)


def clean_test_images(spec: str = LATENT_DATA) -> list[tuple[str, np.ndarray]]:
    """(name, Y image in [0, 1]) for both sources of every pair of the given test splits."""
    from benchbed.registry import Registry

    reg = Registry()
    out = []
    for part in spec.split(","):
        name, _, split = part.partition(":")
        ds = reg.get("dataset", name).build()
        for pid in ds.pair_ids(split or "test"):
            pair = ds.load(pid)
            for mod, img in zip(pair.modalities, pair.sources):
                out.append((f"{name}/{pid}/{mod}", luma(np.asarray(img, np.float32))))
    return out


@torch.no_grad()
def reconstruct(model: ReCoFuse, image: np.ndarray) -> np.ndarray:
    """decode(encode(image)) with the image's own skips, cropped back (float32 HxW)."""
    x = torch.from_numpy(np.ascontiguousarray(image, np.float32))[None, None]
    z, skips = model.ae.encode(x)
    return model.ae.decode(z, skips, tuple(image.shape[:2]))[0, 0].float().numpy()


def latent_gate(model: ReCoFuse, images: list[tuple[str, np.ndarray]]) -> GateResult:
    """Gate 1 on ``images``: mean, min and per-modality PSNR of the AE's reconstruction."""
    rows = [(name, psnr(reconstruct(model, img), img)) for name, img in images]
    values = np.array([v for _, v in rows])
    by_mod: dict[str, list[float]] = {}
    for name, v in rows:
        by_mod.setdefault(name.rsplit("/", 1)[1], []).append(v)
    mean = float(values.mean())
    factor = 2 ** (len(model.cfg.ae.ch_mult) - 1)
    return GateResult(
        "1 latent", mean >= LATENT_PSNR_DB,
        f"AE reconstruction PSNR (Y) {mean:.2f} dB mean, {values.min():.2f} dB min over "
        f"{len(rows)} clean test images (gate: mean >= {LATENT_PSNR_DB:.0f} dB)",
        {"mean_db": round(mean, 3), "min_db": round(float(values.min()), 3),
         "per_modality_db": {k: round(float(np.mean(v)), 3) for k, v in sorted(by_mod.items())},
         "images": len(rows),
         "latent_shape": f"H/{factor} x W/{factor} x {model.cfg.ae.embed_dim}"})


# --- gate 2: score nets -------------------------------------------------------------------------

EPS_ERROR_MAX = 0.5
"""Gate 2: relative noise-prediction error ||eps_hat - eps|| / ||eps|| below this at every t."""


@torch.no_grad()
def eps_errors(model: ReCoFuse, batches: list[Any], seed: int = 0) -> dict[str, dict[int, float]]:
    """Relative noise-prediction error of each branch at every step t = 1..T, on ``batches``
    (LQ/clean crops: the latents of the clean crop diffused to t towards the LQ crop's).

    A ``condition``-coupled model is measured as its sampler uses it: given TIM's z_f of the
    two diffused latents at that t.
    """
    sde, ae = model.sde, model.ae
    gen = torch.Generator().manual_seed(seed)
    sums: dict[str, dict[int, list[float]]] = {"vis": {}, "ir": {}}
    for b in batches:
        mus = {"vis": ae.encode(b.vis_lq)[0], "ir": ae.encode(b.ir_lq)[0]}
        z0s = {"vis": ae.encode(b.vis_gt)[0], "ir": ae.encode(b.ir_gt)[0]}
        # drawn branch by branch, t = 1..T each (the stream every recorded figure used)
        noises = {br: [torch.randn(mus[br].shape, generator=gen) for _ in range(sde.T)]
                  for br in ("vis", "ir")}
        for t in range(1, sde.T + 1):
            noise = {br: noises[br][t - 1] for br in ("vis", "ir")}
            xt = {br: sde.sample_marginal(z0s[br], mus[br], t, noise[br]) for br in ("vis", "ir")}
            z_f = (model.tim(xt["vis"], xt["ir"], t) if model.cfg.dim.coupling == "condition"
                   else None)
            for branch in ("vis", "ir"):
                err = model.eps(branch, xt[branch], mus[branch], t, z_f) - noise[branch]
                acc = sums[branch].setdefault(t, [0.0, 0.0])
                acc[0] += float(err.pow(2).sum())
                acc[1] += float(noise[branch].pow(2).sum())
    return {br: {t: math.sqrt(a / n) for t, (a, n) in rows.items()} for br, rows in sums.items()}


def eps_gate(errors: dict[str, dict[int, float]]) -> GateResult:
    """Gate 2a from :func:`eps_errors`: the worst step of either branch below EPS_ERROR_MAX."""
    worst = {br: max(rows.items(), key=lambda kv: kv[1]) for br, rows in errors.items()}
    passed = all(v < EPS_ERROR_MAX for _, v in worst.values())
    shown = ", ".join(f"{br} worst {v:.2f} at t={t}" for br, (t, v) in worst.items())
    return GateResult("2a score nets", passed,
                      f"relative eps error: {shown} (gate: < {EPS_ERROR_MAX} at every t)",
                      {br: {str(t): round(v, 4) for t, v in rows.items()}
                       for br, rows in errors.items()})


# --- gates 2b and 3: restoration by each branch alone and coupled --------------------------------

@torch.no_grad()
def restore(model: ReCoFuse, vis_lq: np.ndarray, ir_lq: np.ndarray, seed: int = 0,
            coupled: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Restored VIS and IR of the model's own T-step sampler, coupled by TIM or each branch alone.

    Both modes draw the same noise from ``seed``, so gate 3 compares them pair by pair.
    """
    t = [torch.from_numpy(np.ascontiguousarray(a, np.float32))[None, None] for a in (vis_lq, ir_lq)]
    out = run_pair(model, t[0], t[1], steps=model.sde.T,
                   generator=torch.Generator().manual_seed(seed), coupled=coupled)
    return (out.vis[0, 0].float().clamp(0, 1).numpy(), out.ir[0, 0].float().clamp(0, 1).numpy())


@dataclass
class RestorationCase:
    """One degraded pair with its clean sources (Y, [0, 1]) and which sources are degraded."""

    name: str
    vis_lq: np.ndarray
    ir_lq: np.ndarray
    vis_hq: np.ndarray
    ir_hq: np.ndarray
    degraded: tuple[str, ...] = ("vis", "ir")


def restoration_table(model: ReCoFuse, cases: list[RestorationCase], seed: int = 0,
                      coupled: bool = True, alone_model: ReCoFuse | None = None
                      ) -> list[dict[str, Any]]:
    """Per case and degraded branch: PSNR of the LQ input, of the branch alone and (unless
    ``coupled`` is False: gate 2b alone, TIM being the slow part) of the coupled sampler.

    ``alone_model``: the weights whose branches restore alone (the paper's Model I, trained
    without TIM, i.e. the branch-stage checkpoint); by default ``model``'s own branches.
    """
    rows = []
    for c in cases:
        av, ai = restore(alone_model or model, c.vis_lq, c.ir_lq, seed, coupled=False)
        cv, ci = restore(model, c.vis_lq, c.ir_lq, seed, coupled=True) if coupled else (None, None)
        for branch in c.degraded:
            lq, hq, both, alone = ((c.vis_lq, c.vis_hq, cv, av) if branch == "vis"
                                   else (c.ir_lq, c.ir_hq, ci, ai))
            row = {"case": c.name, "branch": branch, "lq_db": psnr(lq, hq),
                   "alone_db": psnr(alone, hq)}
            if both is not None:
                row["coupled_db"] = psnr(both, hq)
            rows.append(row)
    return rows


def branch_gate(rows: list[dict[str, Any]]) -> GateResult:
    """Gate 2b: each branch alone above the LQ input's PSNR in every group of cases (real pairs,
    each synthetic degradation), on the group mean."""
    groups = _group_means(rows)
    fails = [g for g, m in groups.items() if not m["alone_db"] > m["lq_db"]]
    shown = "; ".join(f"{g}: LQ {m['lq_db']:.2f} -> alone {m['alone_db']:.2f} dB"
                      for g, m in groups.items())
    return GateResult("2b branches alone", not fails and bool(groups),
                      f"{shown} (gate: alone > LQ in every group)", {"groups": groups})


def coupling_gate(rows: list[dict[str, Any]]) -> GateResult:
    """Gate 3: the coupled sampler restores at least as well as each branch alone (group means)."""
    groups = _group_means(rows)
    fails = [g for g, m in groups.items() if not m["coupled_db"] >= m["alone_db"]]
    shown = "; ".join(f"{g}: alone {m['alone_db']:.2f} vs coupled {m['coupled_db']:.2f} dB"
                      for g, m in groups.items())
    return GateResult("3 coupling", not fails and bool(groups),
                      f"{shown} (gate: coupled >= alone in every group)", {"groups": groups})


def _group_means(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean PSNRs per (case group, branch): the case name's part before '/'."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(f"{r['case'].split('/', 1)[0]} {r['branch']}", []).append(r)
    return {g: {k: round(float(np.mean([r[k] for r in rs])), 3) for k in
                ("lq_db", "alone_db", "coupled_db") if all(k in r for r in rs)} | {"n": len(rs)}
            for g, rs in out.items()}


# --- gate 4: the suites' sampler -----------------------------------------------------------------

def sampler_gate(model: ReCoFuse, suite_steps: dict[str, list[int]]) -> GateResult:
    """Gate 4: every suite samples ReCoFuse with the model's T steps (the trained Euler-Maruyama
    sampler, no posterior jumps). ``suite_steps``: suite -> the ``steps`` of its recofuse methods."""
    T = model.sde.T
    bad = {s: v for s, v in suite_steps.items() if any(n != T for n in v)}
    shown = ", ".join(f"{s}: {v}" for s, v in sorted(suite_steps.items()))
    return GateResult("4 sampler", not bad,
                      f"trained for T = {T} steps; suites sample with {shown} "
                      "(gate: every suite uses T)", {"T": T, "suites": suite_steps})


@torch.no_grad()
def oracle_table(model: ReCoFuse, cases: list[RestorationCase]) -> list[dict[str, Any]]:
    """The AE's ceiling for restoration: decode(latent of the clean source, skips of the LQ one)
    against the clean source, beside the LQ input's PSNR (what a perfect score net reaches)."""
    def tensor(a: np.ndarray) -> torch.Tensor:
        return pad_bottom_right(torch.from_numpy(np.ascontiguousarray(a, np.float32))[None, None])

    rows = []
    for c in cases:
        for branch in c.degraded:
            lq, hq = (c.vis_lq, c.vis_hq) if branch == "vis" else (c.ir_lq, c.ir_hq)
            z_hq, _ = model.ae.encode(tensor(hq))
            _, skips = model.ae.encode(tensor(lq))
            h, w = hq.shape
            out = model.ae.decode(z_hq, skips)[0, 0, :h, :w].float().clamp(0, 1).numpy()
            rows.append({"case": c.name, "branch": branch, "lq_db": psnr(lq, hq),
                         "oracle_db": psnr(out, hq)})
    return rows
