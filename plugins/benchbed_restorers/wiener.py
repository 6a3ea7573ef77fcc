"""Non-blind Wiener deconvolution with the observation's Gaussian blur operator."""

from __future__ import annotations

import math

import numpy as np

from benchbed import Image, Observation
from benchbed.operators import GaussianBlur, LinearOperator, find_part
from benchbed_restorers._common import QUANT_SIGMA, finish, on_clean_grid


def wiener_gamma(noise_sigma: float, kernel_sigma: float, gamma_scale: float = 2.0) -> float:
    """Regulariser gamma = gamma_scale * sigma_total / kernel_sigma for a flat-spectrum Wiener.

    Empirical rule, fitted on Set12, MSRS, TNO and PET images at blur 1-3 px and noise 0-25/255
    (8-bit quantised): the best flat-spectrum gamma grows ~linearly with the noise std (not with
    its variance, because natural spectra fall off) and falls with the blur width. sigma_total
    adds the 8-bit rounding noise, so a noise-free observation is not deconvolved unregularised.
    """
    return gamma_scale * math.hypot(noise_sigma, QUANT_SIGMA) / kernel_sigma


def aliasing_gamma(blur_sigma: float, factor: int, alias: float = 0.03) -> float:
    """Extra regulariser after upsampling from ``factor``: alias * exp(-pi^2 blur^2 / (2 s^2)).

    The interpolated detail is partly invented, which acts as extra noise in proportion to how
    much of the HR-blurred spectrum survives at the low-resolution Nyquist frequency 1/(2s).
    """
    if factor <= 1:
        return 0.0
    return alias * math.exp(-(math.pi**2) * blur_sigma**2 / (2.0 * factor**2))


def deblur(image: Image, blur: LinearOperator, factor: int, noise_sigma: float,
           gamma: float | None = None, gamma_scale: float = 2.0, alias: float = 0.03) -> Image:
    """Wiener-deconvolve ``image`` (already on the clean grid) for the HR blur ``blur``.

    When the image was upsampled from an s-fold average pooling, its blur is the Gaussian *and*
    the pooling box (variance (s^2 - 1)/12) *and* the interpolation's own smoothing; a Gaussian
    of variance blur^2 + s^2/6 models the whole chain best in our fits (s^2/6 beat (s^2-1)/12).
    """
    if not isinstance(blur, GaussianBlur):  # some other blur model: use its own pseudo-inverse
        return finish(blur.A_pinv(image))
    kernel = blur
    if factor > 1:
        kernel = GaussianBlur(blur.in_shape, math.sqrt(blur.sigma**2 + factor**2 / 6.0),
                              gamma=blur.gamma)
    if gamma is None:
        gamma = wiener_gamma(noise_sigma, kernel.sigma, gamma_scale)
        gamma += aliasing_gamma(blur.sigma, factor, alias)
    return finish(kernel.wiener(np.asarray(image, np.float32), gamma))


class Wiener:
    """Wiener deconvolution with the operator's blur part; plain y (resized) when there is none.

    ``gamma`` fixes the regulariser; None derives it from the observation's noise level
    (see ``wiener_gamma``). A low-resolution y is bicubic-upsampled first, because the kernel
    lives on the high-resolution grid.
    """

    def __init__(self, gamma: float | None = None, gamma_scale: float = 2.0,
                 alias: float = 0.03) -> None:
        self.gamma = gamma
        self.gamma_scale = float(gamma_scale)
        self.alias = float(alias)

    def restore(self, observation: Observation, modality: str) -> Image:
        """Deblurred y on the clean grid."""
        y = on_clean_grid(np.asarray(observation.y, np.float32), observation.clean_shape)
        blur = find_part(observation.operator, "blur")
        if blur is None:
            return finish(y)
        return deblur(y, blur, observation.down_factor, observation.noise_sigma,
                      self.gamma, self.gamma_scale, self.alias)
