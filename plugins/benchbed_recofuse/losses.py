"""Training losses: the AE's cross-reconstruction, IR-SDE matching, and the fusion regulariser."""

from __future__ import annotations

import torch
import torch.nn.functional as nnf

from benchbed_recofuse.autoencoder import FusionAutoencoder

_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]).view(1, 1, 3, 3)


def sobel_abs(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """|Sobel_x|, |Sobel_y| of (B, 1, H, W) images with replicate padding."""
    kx = _SOBEL_X.to(y.device, y.dtype)
    p = nnf.pad(y, (1, 1, 1, 1), mode="replicate")
    return nnf.conv2d(p, kx).abs(), nnf.conv2d(p, kx.transpose(2, 3)).abs()


def fusion_loss(vis: torch.Tensor, ir: torch.Tensor, fused: torch.Tensor,
                w_int: float = 1.0, w_grad: float = 6.0) -> tuple[torch.Tensor, dict[str, float]]:
    """1 * L1(Y_f, max(Y_vis, Y_ir)) + 6 * gradient-max L1 (x and y); the CbCr term is the core's."""
    l_int = nnf.l1_loss(fused, torch.maximum(vis, ir))
    (fx, fy), (vx, vy), (ix, iy) = sobel_abs(fused), sobel_abs(vis), sobel_abs(ir)
    l_grad = nnf.l1_loss(fx, torch.maximum(vx, ix)) + nnf.l1_loss(fy, torch.maximum(vy, iy))
    total = w_int * l_int + w_grad * l_grad
    return total, {"fuse_int": l_int.item(), "fuse_grad": l_grad.item()}


def ae_loss(ae: FusionAutoencoder, images: list[torch.Tensor]) -> torch.Tensor:
    """Sum of the 16 L1 terms: decode(latent of a, skips of b) must give image a, for all a, b.

    ``images`` = [VIS LQ, VIS GT, IR LQ, IR GT]; with 4 images that is 4 x 4 decodes.
    """
    size = tuple(images[0].shape[-2:])
    codes = [ae.encode(x) for x in images]
    total = images[0].new_zeros(())
    for (z, _), target in zip(codes, images):
        for _, skips in codes:
            total = total + nnf.l1_loss(ae.decode(z, skips, size), target)  # type: ignore[arg-type]
    return total
