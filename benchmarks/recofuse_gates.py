"""Every gate of the staged ReCoFuse rebuild (issue 19), measured on one checkpoint.

    BENCHBED_DATA=../shared/datasets python benchmarks/recofuse_gates.py              # shipped
    python benchmarks/recofuse_gates.py --checkpoint runs/recofuse-gated/recofuse-gated.pt
    python benchmarks/recofuse_gates.py --gates 1          # only the latent gate (fast)
    python benchmarks/recofuse_gates.py --state runs/recofuse-gated/state.pt   # mid-training

Gates (plugins/benchbed_recofuse/gates.py):
1. latent: mean PSNR (Y) of decode(encode(x)) over the clean sources of the MSRS and LLVIP test
   pairs >= 28 dB; also printed: the restoration ceiling decode(z_HQ, skips_LQ) on the cases of
   gate 2b (what a perfect score net could reach with these skips);
2a. relative noise-prediction error < 0.5 at every t, on crops of the held-out training-split
   pairs (the config's ``holdout``; the training pairs when it holds none out, said so);
2b. each branch alone (no TIM, T-step Euler-Maruyama) above the LQ input's PSNR: on the 15 real
   ReCoFuse LQ/HQ pairs and on synthetic level-3 low light, haze, noise (visible) and low
   contrast, stripes (IR) of the first ``--synthetic`` MSRS test pairs;
3. coupled sampler >= each branch alone on the same cases (the paper's Model-I direction);
4. every standard suite samples ReCoFuse with the model's T steps.

Prints one line per gate (PASS/FAIL with its figures) and writes the details as JSON with
``--json F``. Exit status 0 when every gate measured passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

SYNTHETIC = {"low_light": "vis", "haze": "vis", "gaussian_noise": "vis",
             "low_contrast": "ir", "ir_stripes": "ir"}
"""The trained degradations and the source each applies to (the recofuse-ivf suite's)."""


def real_cases() -> list[Any]:
    """The ReCoFuse seed LQ/HQ pairs as restoration cases (group 'real')."""
    from benchbed_recofuse.data import luma
    from benchbed_recofuse.gates import RestorationCase
    from benchbed_recofuse.validate import list_seed_pairs, seed_pairs_root

    from benchbed.imaging import read_image

    root = seed_pairs_root()
    if root is None:
        return []
    out = []
    for name, paths in list_seed_pairs(root):
        img = {k: luma(np.asarray(read_image(p), np.float32)) for k, p in paths.items()}
        out.append(RestorationCase(f"real/{name}", img["vi_lq"], img["ir_lq"], img["vi_hq"],
                                   img["ir_hq"]))
    return out


def synthetic_cases(n_pairs: int, seed: int = 0) -> list[Any]:
    """Level-3 synthetic degradations of the first ``n_pairs`` MSRS test pairs."""
    from benchbed_recofuse.data import luma
    from benchbed_recofuse.gates import RestorationCase

    from benchbed.registry import Registry

    reg = Registry()
    ds = reg.get("dataset", "msrs").build()
    out = []
    for pid in ds.pair_ids("test")[:n_pairs]:
        pair = ds.load(pid)
        by_mod = dict(zip(pair.modalities, pair.sources))
        vi = next(v for k, v in by_mod.items() if k.startswith("vi"))
        ir = next(v for k, v in by_mod.items() if not k.startswith("vi"))
        for name, branch in SYNTHETIC.items():
            spec = reg.get("degradation", name)
            deg = spec.build()
            rng = np.random.default_rng(seed)
            src, mod = (vi, "vi") if branch == "vis" else (ir, "ir")
            obs = deg.apply(np.asarray(src, np.float32), mod, dict(spec.severities["3"]), rng)
            lq = luma(np.asarray(obs.y, np.float32))
            vis_lq = lq if branch == "vis" else luma(np.asarray(vi, np.float32))
            ir_lq = lq if branch == "ir" else luma(np.asarray(ir, np.float32))
            out.append(RestorationCase(f"{name}/{pid}", vis_lq, ir_lq,
                                       luma(np.asarray(vi, np.float32)),
                                       luma(np.asarray(ir, np.float32)), (branch,)))
    return out


def held_out_batches(model: Any, n: int, seed: int = 0) -> tuple[list[Any], str]:
    """``n`` batches of LQ/clean crops from the held-out training-split pairs."""
    from benchbed_recofuse.data import BatchMaker, load_pairs, split_holdout
    from benchbed_recofuse.synth import DegradationSampler

    pairs, _ = load_pairs(None)
    train, held = split_holdout(pairs, model.cfg.train.holdout)
    source = ("held-out training-split pairs " + ", ".join(p.id for p in held) if held else
              "training pairs (this config holds none out: the figure is on trained data)")
    maker = BatchMaker(held or train, DegradationSampler())
    rng = np.random.default_rng(seed)
    return [maker.make(4, 128, rng) for _ in range(n)], source


def suite_steps() -> dict[str, list[int]]:
    """suite -> the sampling ``steps`` of its recofuse methods (standard suites)."""
    import yaml

    root = Path(__file__).resolve().parents[1] / "benchbed" / "standard_suites"
    out: dict[str, list[int]] = {}
    for path in sorted(root.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text()) or {}
        for m in doc.get("methods", []):
            fuse = m.get("fuse") if isinstance(m, dict) else m
            name = fuse.get("name") if isinstance(fuse, dict) else fuse
            if name == "recofuse" or (isinstance(name, str) and name.startswith("recofuse")):
                params = fuse.get("params", {}) if isinstance(fuse, dict) else {}
                out.setdefault(str(doc.get("name", path.stem)), []).append(
                    int(params.get("steps", 0)) or -1)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="weights file (default: the shipped small checkpoint)")
    parser.add_argument("--state", type=Path, default=None,
                        help="a training state (state.pt of `benchbed train recofuse`) instead")
    parser.add_argument("--alone-checkpoint", type=Path, default=None,
                        help="weights for the branches-alone rows of gates 2b and 3 (the paper's "
                             "Model I, trained without TIM: the branch-stage checkpoint); "
                             "default: the weights measured")
    parser.add_argument("--gates", default="1,2a,2b,3,4", help="comma-separated gates to measure")
    parser.add_argument("--synthetic", type=int, default=2, help="MSRS test pairs per synthetic "
                                                                  "degradation (gates 2b, 3)")
    parser.add_argument("--batches", type=int, default=4, help="crop batches for gate 2a")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import torch
    from benchbed_recofuse import gates
    from benchbed_recofuse.fuser import resolve_checkpoint
    from benchbed_recofuse.model import load_weights

    torch.manual_seed(args.seed)
    if args.state is not None:
        from benchbed_recofuse.configs import get_config
        from benchbed_recofuse.model import ReCoFuse

        st = torch.load(args.state, map_location="cpu", weights_only=True)
        model = ReCoFuse(get_config(st["config"]))
        model.load_state_dict(st["model"], strict=True)
        model.eval()
        path = Path(f"{args.state} (stage {st['stage_idx']}, step {st['k']})")
    else:
        path = args.checkpoint or resolve_checkpoint("small", "")
        model = load_weights(path)
    wanted = set(args.gates.split(","))
    print(f"recofuse gates of {path} (config {model.cfg.name}, T = {model.sde.T}, latent "
          f"H/{2 ** (len(model.cfg.ae.ch_mult) - 1)} x {model.cfg.ae.embed_dim})")
    results, details = [], {}
    t0 = time.time()
    cases = []
    if wanted & {"1", "2b", "3"}:
        cases = real_cases() + synthetic_cases(args.synthetic, args.seed)
    if "1" in wanted:
        r = gates.latent_gate(model, gates.clean_test_images())
        results.append(r)
        oracle = gates.oracle_table(model, cases)
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in oracle:
            groups.setdefault(f"{row['case'].split('/', 1)[0]} {row['branch']}", []).append(row)
        means = {g: (float(np.mean([x["lq_db"] for x in rs])),
                     float(np.mean([x["oracle_db"] for x in rs]))) for g, rs in groups.items()}
        r.details["ceiling_decode_zHQ_skipsLQ"] = {g: {"lq_db": round(a, 3), "ceiling_db":
                                                       round(b, 3)} for g, (a, b) in means.items()}
        print("  ceiling decode(z_HQ, skips_LQ): " + "; ".join(
            f"{g}: LQ {a:.2f} -> {b:.2f} dB" for g, (a, b) in means.items()))
    if "2a" in wanted:
        batches, source = held_out_batches(model, args.batches, args.seed)
        r = gates.eps_gate(gates.eps_errors(model, batches, args.seed))
        r.details["data"] = source
        results.append(r)
    rows = []
    if wanted & {"2b", "3"}:
        alone = load_weights(args.alone_checkpoint) if args.alone_checkpoint else None
        if alone is not None:
            print(f"  branches alone: {args.alone_checkpoint}")
        rows = gates.restoration_table(model, cases, args.seed, coupled="3" in wanted,
                                       alone_model=alone)
        details["restoration"] = rows
    if "2b" in wanted:
        results.append(gates.branch_gate(rows))
    if "3" in wanted:
        results.append(gates.coupling_gate(rows))
    if "4" in wanted:
        results.append(gates.sampler_gate(model, suite_steps()))
    for r in results:
        print(f"{'PASS' if r.passed else 'FAIL'}  gate {r.gate}: {r.figure}")
    print(f"({time.time() - t0:.0f} s)")
    if args.json:
        details["gates"] = [{"gate": r.gate, "passed": r.passed, "figure": r.figure,
                             "details": r.details} for r in results]
        details["checkpoint"] = str(path)
        args.json.write_text(json.dumps(details, indent=2, default=float) + "\n")
    return 0 if results and all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
