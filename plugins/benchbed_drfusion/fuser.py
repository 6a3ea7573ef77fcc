"""The DRFusion fuser: degraded observations and their operators in, fused luminance out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from benchbed import BenchbedError, FusionInputs, Image
from benchbed.types import Observation
from benchbed_drfusion.checkpoints import default_checkpoint, load_model
from benchbed_drfusion.data import canonical_order, family_of
from benchbed_drfusion.operators_torch import to_torch


def _device(name: str) -> str:
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BenchbedError(f"device {name!r} requested but CUDA is not available",
                            fix="run with --device cpu")
    return name


class DRFusionFuser:
    """Runs the T-step DRFusion sampler on one pair of observations (Y/gray, any linear operator)."""

    def __init__(self, steps: int = 3, config: str = "small", checkpoint: str = "auto",
                 device: str = "cpu", tile: int = 0, sigma_y: float | None = None,
                 wiener_noise_gain: float | None = None, constraint: bool = True) -> None:
        self.steps = int(steps)
        self.config = str(config)
        self.checkpoint = str(checkpoint)
        self.device = str(device)
        self.tile = int(tile or 0)
        self.sigma_y = sigma_y
        self.wiener_noise_gain = wiener_noise_gain
        self.constraint = bool(constraint)

    def checkpoint_path(self, family: str) -> Path:
        """The checkpoint to use for a modality family ('auto': the released one; a relative
        path is under BENCHBED_WEIGHTS, as the file hashed into the item identity)."""
        from benchbed.weights import weights_param_path

        if self.checkpoint in ("auto", "", "default"):
            return default_checkpoint(self.config, family)
        return weights_param_path(self.checkpoint)

    def fuse(self, inputs: FusionInputs) -> Image:
        """Fused Y/gray image at the clean shape of the observations."""
        mods = tuple(inputs.modalities)
        family = family_of(mods)
        device = _device(self.device if self.device != "auto" else inputs.device)
        net, _ = load_model(self.checkpoint_path(family), device)
        order = canonical_order(mods)
        observations = inputs.observations or tuple(
            Observation(y=im, operator=None, clean_shape=im.shape) for im in inputs.images)
        hw = tuple(int(s) for s in observations[0].clean_shape[:2])
        for obs in observations:
            if tuple(obs.clean_shape[:2]) != hw:
                raise BenchbedError(f"the two sources have different clean shapes "
                                    f"{[o.clean_shape for o in observations]}",
                                    fix="fuse registered pairs of one size")
        gain = net.cfg.wiener_noise_gain if self.wiener_noise_gain is None else float(self.wiener_noise_gain)
        ys, ops, sigmas = [], [], []
        for i in order:
            y = np.asarray(inputs.images[i], np.float32)
            op = observations[i].operator
            if op is None and y.shape[:2] != hw:
                raise BenchbedError(f"source {mods[i]} is {y.shape[:2]} without an operator to {hw}",
                                    fix="use a degradation with a linear operator")
            top = to_torch(op, hw, gain * float(observations[i].noise_sigma) ** 2)  # type: ignore[arg-type]
            if tuple(y.shape[:2]) != tuple(top.out_hw):
                raise BenchbedError(f"observation of {mods[i]} is {y.shape[:2]} but its operator "
                                    f"produces {top.out_hw}", fix="check the degradation plugin")
            ys.append(torch.from_numpy(np.ascontiguousarray(y))[None, None].to(device))
            ops.append(top)
            sigmas.append(float(observations[i].noise_sigma))
        torch.manual_seed(int(inputs.seed))  # the sampler is deterministic; this pins any future noise
        with torch.inference_mode():
            state = net(ys, ops, sigmas, steps=self.steps, constraint=self.constraint,
                        sigma_y=self.sigma_y, tile=self.tile, amp=False).state
        fused = state[0, 2].clamp(0.0, 1.0).float().cpu().numpy()
        return np.ascontiguousarray(fused, dtype=np.float32)
