"""``zoo_auto``: the restore-then-fuse cascade of DRFusion's competitors with learned parts.

Same order and reasons as the built-in ``auto``: denoise first on y's own grid, where the noise
is white with the known std (what FFDNet/DnCNN assume; after upsampling it would be
correlated); then super-resolve (VDSR) to the clean grid; then deblur there, because the kernel
is defined on the high-resolution grid (PnP-HQS with the learned denoiser, `wiener_dncnn`).
"""

from __future__ import annotations

import numpy as np

from benchbed import BenchbedError, Image, Observation
from benchbed.operators import find_part

from . import vdsr
from ._restore import finish, upsample
from ._torch import channels, merge
from .pnp import DENOISERS, effective_blur, hqs_deblur, make_denoiser, upsampled_noise


class ZooAuto:
    """Denoise (FFDNet or DnCNN-B) -> VDSR (when pooled) -> PnP-HQS deblurring (when blurred).

    ``residual`` is the fraction of the noise std assumed to survive the denoiser: it sets the
    noise level (hence the regularisation) of the deblurring step, together with ``sr_noise``
    (see ``pnp.upsampled_noise``). ``pool_var`` models the blur left by pooling + VDSR on the
    clean grid (see ``pnp.effective_blur``); 0 (VDSR undoes the pooling blur) fitted best.
    """

    def __init__(self, denoiser: str = "ffdnet", residual: float = 0.5, iters: int = 8,
                 lam: float = 0.23, pool_var: float = 0.0, sr_noise: float = 4.0 / 255.0,
                 device: str = "cpu") -> None:
        if denoiser not in DENOISERS:
            raise BenchbedError(f"zoo_auto: unknown denoiser {denoiser!r}",
                                fix=f"use one of {list(DENOISERS)}")
        self.device = device
        self.denoise = make_denoiser(denoiser, device)
        self.residual = float(residual)
        self.iters, self.lam, self.pool_var = int(iters), float(lam), float(pool_var)
        self.sr_noise = float(sr_noise)
        # Loaded (and verified) at build time, so a missing file fails before any work is done.
        self._vdsr = vdsr.load_vdsr(device)

    def restore(self, observation: Observation, modality: str) -> Image:
        """The cascade estimate of the clean source on the clean grid."""
        y = np.asarray(observation.y, np.float32)
        sigma = float(observation.noise_sigma)
        if sigma > 0:
            y = merge(self.denoise(channels(y), sigma), y)
            sigma *= self.residual
        factor = observation.down_factor
        if factor > 1:
            y = vdsr.super_resolve(self._vdsr, y, factor, observation.clean_shape, self.device)
            sigma = upsampled_noise(sigma, factor, self.sr_noise)
        y = upsample(y, 1, observation.clean_shape)
        blur = find_part(observation.operator, "blur")
        if blur is not None:
            y = hqs_deblur(y, effective_blur(blur, factor, self.pool_var), sigma, self.denoise,
                           self.iters, self.lam)
        return finish(y)
