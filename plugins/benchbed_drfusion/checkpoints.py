"""Checkpoint files: the shipped small models, user checkpoints and the external paper model.

A weights file is a torch pickle of plain types: {"format", "config" (DRFusionConfig dict),
"family", "state_dict", "step", ...}. Training checkpoints (``last.pt``) also hold the optimiser,
scheduler and RNG states for resuming.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from benchbed import BenchbedError, WeightsRef
from benchbed.weights import file_sha256, resolve_weights
from benchbed_drfusion.configs import DRFusionConfig
from benchbed_drfusion.sampler import DRFusionNet

FORMAT = "benchbed-drfusion/1"
CHECKPOINT_DIR = Path(__file__).parent / "checkpoints"
PROVENANCE = CHECKPOINT_DIR / "provenance.json"


def shipped_name(config: str, family: str) -> str:
    """File name of a released model, e.g. drfusion-small-ivf.pt."""
    return f"drfusion-{config}-{family}.pt"


def provenance() -> dict[str, Any]:
    """The provenance file of the shipped (and external) checkpoints."""
    if not PROVENANCE.is_file():
        return {}
    return json.loads(PROVENANCE.read_text())


def default_checkpoint(config: str, family: str) -> Path:
    """The verified released checkpoint for (config, family).

    Small models ship in the package; larger ones (the paper config, > 20 MB) live outside the
    repository and are looked up under BENCHBED_WEIGHTS/drfusion/, verified by the sha256 the
    provenance file records.
    """
    name = shipped_name(config, family)
    entry = provenance().get("checkpoints", {}).get(name)
    if entry is None:
        raise BenchbedError(f"no released DRFusion checkpoint {name}",
                            fix="train one with `benchbed train drfusion` and pass checkpoint=PATH")
    if entry.get("shipped", True):
        return resolve_weights(WeightsRef(name, entry["sha256"]), base=CHECKPOINT_DIR)
    env = os.environ.get("DRFUSION_PAPER_WEIGHTS")
    base = Path(env) if env else None
    if base is None and os.environ.get("BENCHBED_WEIGHTS"):
        base = Path(os.environ["BENCHBED_WEIGHTS"]) / "drfusion"
    if base is None:
        raise BenchbedError(f"{name} is not shipped (too large); its location is not set",
                            fix="set DRFUSION_PAPER_WEIGHTS (folder) or BENCHBED_WEIGHTS "
                                "(file under drfusion/), or pass checkpoint=PATH")
    return resolve_weights(WeightsRef(name, entry["sha256"]), base=base)


def save_weights(path: Path, net: DRFusionNet, family: str, dtype: torch.dtype = torch.float32,
                 **meta: Any) -> Path:
    """Write an inference checkpoint (weights only) atomically."""
    state = {k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype)
             for k, v in net.state_dict().items()}
    payload = {"format": FORMAT, "config": net.cfg.to_dict(), "family": family,
               "state_dict": state, **meta}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def read_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint dict (plain types only: weights_only=True)."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise BenchbedError(f"cannot read DRFusion checkpoint {path}: {exc}",
                            fix="pass a file written by `benchbed train drfusion`") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise BenchbedError(f"{path} is not a DRFusion checkpoint ({FORMAT})",
                            fix="pass a file written by `benchbed train drfusion`")
    return payload


def build_from_checkpoint(payload: dict[str, Any]) -> DRFusionNet:
    """The network of a checkpoint, weights loaded strictly (no missing or unexpected keys)."""
    net = DRFusionNet(DRFusionConfig.from_dict(payload["config"]))
    state = {k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
    net.load_state_dict(state, strict=True)
    return net


@lru_cache(maxsize=8)
def _load_cached(path: str, sha: str, device: str) -> tuple[DRFusionNet, str]:
    payload = read_checkpoint(Path(path))
    net = build_from_checkpoint(payload).to(device).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net, payload.get("family", "ivf")


def load_model(path: Path, device: str = "cpu") -> tuple[DRFusionNet, str]:
    """(network in eval mode on ``device``, modality family), cached per file content and device."""
    path = Path(path)
    if not path.is_file():
        raise BenchbedError(f"DRFusion checkpoint not found: {path}",
                            fix="give checkpoint=PATH absolute or relative to BENCHBED_WEIGHTS")
    return _load_cached(str(path.resolve()), file_sha256(path), device)
