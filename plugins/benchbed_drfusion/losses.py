"""DRFusion's training losses (paper section 3.4; weights lambda = 10, gamma = 20, phi = 10).

L = L_rec + λ·L_f with L_rec = |X̂1 − X1| + |X̂2 − X2| against the clean sources, and
  IR-VIS:  L_f = |Xf − max(T1, T2)| + γ·| |∇Xf| − max(|∇T1|, |∇T2|) |
  medical: L_f = Σi |Xf − Ti| + φ·(1 − SSIM(Xf, Ti))
where the fusion targets T are the clean sources (the paper's "labels"; the public code uses the
network's own restored sources instead, selectable with ``target="restored"``). |·| is the mean
absolute error, |∇| = |Sobel_x| + |Sobel_y| with zero padding as in the public code.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as nnf

_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def sobel_magnitude(x: torch.Tensor) -> torch.Tensor:
    """|Sobel_x * x| + |Sobel_y * x| for N x 1 x H x W tensors (zero padding)."""
    kx = _SOBEL_X.to(x.device, x.dtype).view(1, 1, 3, 3)
    ky = kx.transpose(2, 3)
    return nnf.conv2d(x, kx, padding=1).abs() + nnf.conv2d(x, ky, padding=1).abs()


def ssim(a: torch.Tensor, b: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Mean SSIM with an 11x11 Gaussian window (sigma 1.5), images in [0, 1] (valid region only)."""
    t = torch.arange(window, device=a.device, dtype=a.dtype) - (window - 1) / 2
    g = torch.exp(-0.5 * (t / sigma) ** 2)
    g = g / g.sum()
    w = (g[:, None] * g[None, :]).view(1, 1, window, window)
    c1, c2 = 0.01**2, 0.03**2
    mu_a, mu_b = nnf.conv2d(a, w), nnf.conv2d(b, w)
    saa = nnf.conv2d(a * a, w) - mu_a**2
    sbb = nnf.conv2d(b * b, w) - mu_b**2
    sab = nnf.conv2d(a * b, w) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * sab + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (saa + sbb + c2)
    return (num / den).mean()


def drfusion_loss(state: torch.Tensor, clean1: torch.Tensor, clean2: torch.Tensor, family: str,
                  weights: Mapping[str, float],
                  target: str = "clean") -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss for a final sampler state [X̂1, X̂2, Xf] and its parts (for logging)."""
    x1, x2, xf = state[:, 0:1], state[:, 1:2], state[:, 2:3]
    rec = (x1 - clean1).abs().mean() + (x2 - clean2).abs().mean()
    t1, t2 = (clean1, clean2) if target == "clean" else (x1, x2)
    parts: dict[str, torch.Tensor] = {"rec": rec}
    if family == "ivf":
        parts["int"] = (xf - torch.maximum(t1, t2)).abs().mean()
        parts["grad"] = (sobel_magnitude(xf) - torch.maximum(sobel_magnitude(t1), sobel_magnitude(t2))
                         ).abs().mean()
        fusion = parts["int"] + weights["grad"] * parts["grad"]
    else:
        parts["int"] = (xf - t1).abs().mean() + (xf - t2).abs().mean()
        parts["ssim"] = (1 - ssim(xf, t1)) + (1 - ssim(xf, t2))
        fusion = parts["int"] + weights["ssim"] * parts["ssim"]
    total = weights["rec"] * rec + weights["fusion"] * fusion
    return total, {k: float(v.detach()) for k, v in {**parts, "total": total}.items()}
