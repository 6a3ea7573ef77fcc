"""The benchbed fuser: degraded Y/gray VIS and IR in, restored-and-fused Y at the clean shape out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from benchbed import FusionInputs, Image, WeightsRef

PACKAGE = Path(__file__).resolve().parent
CHECKPOINTS = PACKAGE / "checkpoints"


def shipped_weights(config: str) -> WeightsRef | None:
    """The committed checkpoint of ``config`` with the sha256 from its provenance JSON, if shipped."""
    prov = CHECKPOINTS / f"recofuse-{config}.json"
    if not prov.is_file():
        return None
    sha = json.loads(prov.read_text()).get("sha256")
    # absolute, so that any caller (the run's preflight included) can verify it without a base
    return WeightsRef(path=str(CHECKPOINTS / f"recofuse-{config}.pt"), sha256=sha) if sha else None


def resolve_checkpoint(config: str, checkpoint: str) -> Path:
    """An explicit ``checkpoint`` (absolute, or under BENCHBED_WEIGHTS), else the shipped one."""
    from benchbed.errors import WeightsError
    from benchbed.paths import weights_root
    from benchbed.weights import resolve_weights, weights_param_path

    if checkpoint:
        # the same resolution as the file hashed into the item identity (benchbed.weights)
        p = weights_param_path(checkpoint)
        if not p.is_file():
            raise WeightsError(f"ReCoFuse checkpoint not found: {p}",
                               fix="give an absolute path or one under BENCHBED_WEIGHTS")
        return p
    ref = shipped_weights(config)
    if ref is not None:
        return resolve_weights(ref, base=PACKAGE)
    fallback = weights_root() / f"recofuse-{config}.pt" if weights_root() else None
    if fallback is not None and fallback.is_file():
        return fallback
    raise WeightsError(
        f"no ReCoFuse {config!r} checkpoint is shipped (the paper config is too large for the repo)",
        fix=f"train one (`benchbed train recofuse --config {config}`) and pass checkpoint=PATH, or put "
            f"recofuse-{config}.pt under BENCHBED_WEIGHTS")


def _vis_index(modalities: tuple[str, str]) -> int:
    mods = [m.lower() for m in modalities]
    for i, m in enumerate(mods):
        if m.startswith("vi"):
            return i
    return 1  # no visible source named: treat the second as "visible" (the branch order only)


class ReCoFuseFuser:
    """Loads the model lazily; ``fuse`` runs the coupled reverse SDE once per pair."""

    def __init__(self, config: str = "small", steps: int = 100, device: str = "cpu",
                 checkpoint: str = "", edge_pad: int = 0, stochastic: bool = True,
                 x0_clip: float = 3.0, coupled: bool = True) -> None:
        self.config, self.steps, self.device = config, int(steps), device
        self.coupled = bool(coupled)
        self.x0_clip = float(x0_clip)
        self.checkpoint, self.edge_pad, self.stochastic = checkpoint, int(edge_pad), bool(stochastic)
        self._model: Any = None
        self._on: str | None = None

    def model(self, device: str) -> Any:
        """The loaded model on ``device`` (loaded once)."""
        if self._model is None:
            from benchbed_recofuse.model import load_weights

            self._model = load_weights(resolve_checkpoint(self.config, self.checkpoint), self.config)
        if self._on != device:
            self._model.to(device)
            self._on = device
        return self._model

    def _prepare(self, inputs: FusionInputs) -> tuple[list[np.ndarray], tuple[int, int]]:
        from benchbed.imaging import resize, to_gray

        imgs = [to_gray(np.asarray(im, np.float32)) for im in inputs.images]
        if inputs.observations is not None:
            shape = tuple(inputs.observations[0].clean_shape[:2])
        else:
            shape = imgs[0].shape[:2]
        # A low-resolution source (DRFusion suites) is brought to the clean grid first.
        imgs = [im if im.shape[:2] == shape else resize(im, shape) for im in imgs]  # type: ignore[arg-type]
        return imgs, shape  # type: ignore[return-value]

    def fuse(self, inputs: FusionInputs) -> Image:
        """Fused Y at the clean shape, float32 in [0, 1]."""
        import torch

        device = inputs.device if inputs.device and inputs.device != "cpu" else self.device
        model = self.model(device)
        imgs, _ = self._prepare(inputs)
        vi = _vis_index(inputs.modalities)
        from benchbed_recofuse.model import run_pair

        tens = [torch.from_numpy(im)[None, None].to(device) for im in imgs]
        gen = torch.Generator(device=device).manual_seed(int(inputs.seed))
        out = run_pair(model, tens[vi], tens[1 - vi], steps=self.steps, stochastic=self.stochastic,
                       generator=gen, edge_pad=self.edge_pad, x0_clip=self.x0_clip,
                       coupled=self.coupled)
        # An undertrained score model can diverge; return the saturated image it decodes to.
        fused = torch.nan_to_num(out.fused[0, 0].float(), nan=0.0, posinf=1.0, neginf=0.0)
        fused = fused.clamp(0, 1).cpu().numpy()
        return np.ascontiguousarray(fused, dtype=np.float32)
