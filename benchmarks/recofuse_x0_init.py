"""Start weights for the gated-x0 ReCoFuse from trained gated (noise-predicting) weights.

    python benchmarks/recofuse_x0_init.py training/recofuse-gated/recofuse-gated-progress.pt OUT.pt
    benchbed train recofuse --config gated-x0 --set init=OUT.pt ...

Copies every module (AE with its latent calibration, both branch nets, TIM) and zeroes the
branch nets' output layer, so the new nets start as the linear-MMSE clean-latent estimate
(model.ReCoFuse.x0) on the trained trunk. The file records the branch stage at step 0 (the
AE stage done), so training restarts the branch stage's schedule from its first step.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="gated weights exported by the trainer")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    from benchbed_recofuse.configs import get_config
    from benchbed_recofuse.model import ReCoFuse, load_checkpoint, save_weights

    from benchbed.weights import file_sha256

    src, meta = load_checkpoint(args.source, "gated")
    model = ReCoFuse(get_config("gated-x0"))
    model.load_state_dict(src.state_dict(), strict=True)
    with torch.no_grad():
        for net in (model.dim_vis, model.dim_ir):
            net.ending.weight.zero_()
            net.ending.bias.zero_()
    prog = dict(meta.get("progress") or {})
    prog.update(stage="dim", k=0)
    plan = dict(meta.get("plan") or {})
    save_weights(model, args.out, meta={"seed": meta.get("seed", 0), "plan": plan, "progress": prog,
                                        "x0_init_from": {"file": str(args.source),
                                                         "sha256": file_sha256(args.source),
                                                         "progress": meta.get("progress")}})
    print(f"wrote {args.out}: gated-x0 start weights from {args.source} (branch output layers zeroed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
