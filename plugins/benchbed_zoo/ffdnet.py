"""FFDNet (Zhang, Zuo, Zhang, IEEE TIP 2018), gray model, from its MatConvNet release.

The image is split into 4 half-resolution sub-images (2x2 pixel shuffle), a constant noise-level
map (sigma on the [0, 1] scale) is appended as a fifth channel, a 15-conv stack maps them to 4
clean sub-images, and the inverse shuffle rebuilds the image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as nnf
from torch import nn

from benchbed import BenchbedError, Image, Observation

from ._matconvnet import conv_stack_state, read_simplenn
from ._refs import FFDNET_GRAY
from ._restore import finish, upsample
from ._torch import (
    ConvStack,
    cached_model,
    channels,
    from_batch,
    load_strict,
    merge,
    pad_to_multiple,
    to_batch,
    torch_device,
)

# MatConvNet orders the 2x2 sub-images column-major, pixel_unshuffle row-major: swap 1 and 2
# (the permutation is its own inverse). Without it Set12 sigma 25 drops far below 30.4 dB.
_ORDER = [0, 2, 1, 3]


class FFDNet(nn.Module):
    """Down-shuffle x2, append the noise map, conv stack 5 -> 64 ... 64 -> 4, up-shuffle x2."""

    def __init__(self, widths: list[int]) -> None:
        super().__init__()
        self.net = ConvStack(widths)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """Denoise Nx1xHxW ``x`` (H, W even) at noise std ``sigma`` (shape N, [0, 1] scale)."""
        sub = nnf.pixel_unshuffle(x, 2)[:, _ORDER]
        level = sigma.view(-1, 1, 1, 1).expand(-1, 1, *sub.shape[-2:])
        out = self.net(torch.cat([sub, level], dim=1))
        return nnf.pixel_shuffle(out[:, _ORDER], 2)


def _build(paths: tuple[Path, ...]) -> nn.Module:
    widths, state = conv_stack_state(read_simplenn(paths[0]))
    return load_strict(FFDNet(widths), {f"net.{k}": v for k, v in state.items()})


def load_ffdnet(device: str = "cpu") -> nn.Module:
    """The verified, cached FFDNet gray model on ``device``."""
    return cached_model((FFDNET_GRAY,), device, _build, "ffdnet-gray")


def denoise(model: nn.Module, planes: list[np.ndarray], sigma: float,
            device: str = "cpu") -> list[np.ndarray]:
    """FFDNet on equal-size HxW planes at noise std ``sigma``; odd sizes are padded and cropped."""
    dev = torch_device(device)
    h, w = planes[0].shape
    with torch.inference_mode():
        x = pad_to_multiple(to_batch(planes, dev), 2)  # replicate the last row/column
        level = torch.full((x.shape[0],), float(sigma), dtype=x.dtype, device=dev)
        return from_batch(model(x, level)[..., :h, :w])


class FFDNetRestorer:
    """Denoise with FFDNet at the observation's noise level (``sigma`` overrides), per channel.

    The noise-level map is uniform at ``observation.noise_sigma`` (std on [0, 1], FFDNet's
    sigma/255). Colour images are denoised channel by channel, since the degradations add
    independent noise to R, G and B. sigma 0 returns y (on the clean grid) untouched.
    """

    def __init__(self, sigma: float | None = None, device: str = "cpu") -> None:
        if sigma is not None and float(sigma) < 0:
            raise BenchbedError(f"ffdnet: sigma={sigma} must be >= 0", fix="give sigma >= 0 or null")
        self.sigma = None if sigma is None else float(sigma)
        self.device = device
        self.model = load_ffdnet(device)

    def restore(self, observation: Observation, modality: str) -> Image:
        """The denoised source on the clean grid."""
        sigma = observation.noise_sigma if self.sigma is None else self.sigma
        y = np.asarray(observation.y, np.float32)
        if sigma > 0:
            y = merge(denoise(self.model, channels(y), sigma, self.device), y)
        return finish(upsample(y, observation.down_factor, observation.clean_shape))
