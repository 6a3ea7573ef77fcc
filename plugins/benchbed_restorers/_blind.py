"""Shared chain of the blind photometric restorers: optional denoising around one correction."""

from __future__ import annotations

import numpy as np

from benchbed import BenchbedError, Image, Observation
from benchbed_restorers._common import finish, on_clean_grid
from benchbed_restorers.denoise import DENOISERS


def guided_smooth(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s gray guided filter, reused from the GFF fuser (one implementation in the tree)."""
    # Imported here, not at module level, so that a broken fuser package cannot stop the
    # restorers from registering; only the restorers that filter need it.
    from benchbed_fusers.gff import guided_filter

    return guided_filter(np.asarray(guide, np.float64), np.asarray(src, np.float64), radius, eps)


class BlindRestorer:
    """y -> [denoise] -> ``correct`` -> [denoise] -> clean grid; never reads the true severity.

    The denoiser (``nlm``, ``bm3d`` or ``none``) runs only when ``observation.noise_sigma > 0``,
    on y's own grid where that noise is white with the known std. It runs before the correction
    by default, because a photometric correction (brightening, dehazing, stretching) scales the
    noise unevenly, so it is no longer white with that std; subclasses whose correction leaves
    white noise untouched but confuses the denoiser (column stripes) set ``denoise_last``.
    """

    denoise_last = False

    def __init__(self, denoiser: str | None = "nlm") -> None:
        name = "none" if denoiser in (None, "", "none") else str(denoiser)
        if name != "none" and name not in DENOISERS:
            raise BenchbedError(f"{type(self).__name__}: unknown denoiser {denoiser!r}",
                                fix=f"use one of {sorted(DENOISERS)} or 'none'")
        self.denoiser = name

    def correct(self, y: np.ndarray) -> np.ndarray:
        """The photometric correction of a (denoised) HxW or HxWx3 image in [0, 1]."""
        raise NotImplementedError

    def restore(self, observation: Observation, modality: str) -> Image:
        """The corrected (and denoised, when y is noisy) estimate on the clean grid."""
        y = np.asarray(observation.y, np.float32)
        sigma = float(observation.noise_sigma)
        denoise = DENOISERS[self.denoiser] if self.denoiser != "none" and sigma > 0 else None
        if denoise is not None and not self.denoise_last:
            y = denoise(y, sigma)
        y = finish(self.correct(np.asarray(y, np.float64)))
        if denoise is not None and self.denoise_last:
            y = denoise(y, sigma)
        return finish(on_clean_grid(y, observation.clean_shape))
