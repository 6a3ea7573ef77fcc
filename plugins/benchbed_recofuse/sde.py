"""The mean-reverting IR-SDE (Luo et al. 2023) as ReCoFuse uses it, with a per-branch mean mu.

Forward: dz = theta_t (mu - z) dt + sigma_t dw with sigma_t^2 = 2 max_sigma^2 theta_t, so that
z_t | z_0 ~ N(mu + (z_0 - mu) e^{-bar_theta_t dt}, max_sigma^2 (1 - e^{-2 bar_theta_t dt})).
Timesteps are integers 1..T; index 0 is the clean state. ``t`` arguments may be ints or (B,)
long tensors.
"""

from __future__ import annotations

import math

import torch

from benchbed_recofuse.configs import SDEConfig


def cosine_thetas(T: int, s: float = 0.008) -> torch.Tensor:
    """theta_0..theta_T: one minus a cosine alpha-bar over T + 2 steps (IR-SDE's cosine schedule)."""
    n = T + 2
    x = torch.linspace(0, n, n + 1, dtype=torch.float64)
    abar = torch.cos(((x / n) + s) / (1 + s) * math.pi * 0.5) ** 2
    abar = abar / abar[0]
    return 1 - abar[1:-1]


class IRSDE:
    """Schedules and closed-form steps of the IR-SDE; tensors live on ``device`` in float32."""

    def __init__(self, cfg: SDEConfig, device: str | torch.device = "cpu") -> None:
        if cfg.schedule == "cosine":
            thetas = cosine_thetas(cfg.T)
        elif cfg.schedule == "linear":
            scale = 1000 / (cfg.T + 1)
            thetas = torch.linspace(scale * 1e-4, scale * 0.02, cfg.T + 1, dtype=torch.float64)
        else:
            raise ValueError(f"unknown theta schedule {cfg.schedule!r}")
        self.T = cfg.T
        self.max_sigma = float(cfg.max_sigma)
        cum = torch.cumsum(thetas, 0) - thetas[0]  # theta_0 is not 0, so bar_theta_0 := 0
        # dt is chosen so that the mean reverts to within eps of mu at t = T.
        self.dt = float(-math.log(cfg.eps) / cum[-1])
        sig = torch.sqrt(2 * self.max_sigma**2 * thetas)
        sbar = torch.sqrt(self.max_sigma**2 * (1 - torch.exp(-2 * cum * self.dt)))
        self.device = torch.device(device)
        self.thetas = thetas.float().to(self.device)
        self.sigmas = sig.float().to(self.device)
        self.thetas_cumsum = cum.float().to(self.device)
        self.sigma_bars = sbar.float().to(self.device)

    def to(self, device: str | torch.device) -> IRSDE:
        """Move the schedule tensors to ``device``."""
        self.device = torch.device(device)
        for name in ("thetas", "sigmas", "thetas_cumsum", "sigma_bars"):
            setattr(self, name, getattr(self, name).to(self.device))
        return self

    def _at(self, table: torch.Tensor, t: int | torch.Tensor) -> torch.Tensor:
        if isinstance(t, torch.Tensor) and t.ndim > 0:
            return table[t.to(table.device).long()].view(-1, 1, 1, 1)
        return table[int(t)]

    def decay(self, t: int | torch.Tensor) -> torch.Tensor:
        """e^{-bar_theta_t dt}: how much of z_0 - mu survives at time t."""
        return torch.exp(-self._at(self.thetas_cumsum, t) * self.dt)

    def sigma_bar(self, t: int | torch.Tensor) -> torch.Tensor:
        """Marginal std of z_t given z_0."""
        return self._at(self.sigma_bars, t)

    def marginal_mean(self, x0: torch.Tensor, mu: torch.Tensor, t: int | torch.Tensor) -> torch.Tensor:
        """E[z_t | z_0, mu]."""
        return mu + (x0 - mu) * self.decay(t)

    def sample_marginal(self, x0: torch.Tensor, mu: torch.Tensor, t: int | torch.Tensor,
                        noise: torch.Tensor) -> torch.Tensor:
        """z_t = E[z_t | z_0] + sigma_bar_t * noise."""
        return self.marginal_mean(x0, mu, t) + self.sigma_bar(t) * noise

    def reverse_drift(self, x: torch.Tensor, mu: torch.Tensor, eps: torch.Tensor,
                      t: int | torch.Tensor) -> torch.Tensor:
        """(theta_t (mu - x) - sigma_t^2 score) dt with score = -eps / sigma_bar_t."""
        th = self._at(self.thetas, t)
        s2 = self._at(self.sigmas, t) ** 2
        return (th * (mu - x) + s2 * eps / self.sigma_bar(t)) * self.dt

    def reverse_mean_step(self, x: torch.Tensor, mu: torch.Tensor, eps: torch.Tensor,
                          t: int | torch.Tensor) -> torch.Tensor:
        """One Euler reverse step without the dispersion term (the training prediction)."""
        return x - self.reverse_drift(x, mu, eps, t)

    def reverse_sde_step(self, x: torch.Tensor, mu: torch.Tensor, eps: torch.Tensor,
                         t: int | torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Euler-Maruyama reverse step t -> t-1 (the published sampler, stochastic)."""
        return self.reverse_mean_step(x, mu, eps, t) - self._at(self.sigmas, t) * math.sqrt(self.dt) * noise

    def optimum_step(self, xt: torch.Tensor, x0: torch.Tensor, mu: torch.Tensor,
                     t: int | torch.Tensor) -> torch.Tensor:
        """Posterior mean E[z_{t-1} | z_t, z_0]: the training target."""
        return self.posterior_mean(xt, x0, mu, t, t - 1)

    def _posterior_coeffs(self, t: int | torch.Tensor, s: int | torch.Tensor
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        ct, cs = self._at(self.thetas_cumsum, t), self._at(self.thetas_cumsum, s)
        a = torch.exp(-(ct - cs) * self.dt)  # transition s -> t keeps a of (z_s - mu)
        b = torch.exp(-ct * self.dt)
        c = torch.exp(-cs * self.dt)
        return a, b, c

    def posterior_mean(self, xt: torch.Tensor, x0: torch.Tensor, mu: torch.Tensor,
                       t: int | torch.Tensor, s: int | torch.Tensor) -> torch.Tensor:
        """E[z_s | z_t, z_0] for any s < t (the OU bridge); s = t - 1 gives IR-SDE's optimum step."""
        a, b, c = self._posterior_coeffs(t, s)
        den = 1 - b**2
        return a * (1 - c**2) / den * (xt - mu) + c * (1 - a**2) / den * (x0 - mu) + mu

    def posterior_std(self, t: int | torch.Tensor, s: int | torch.Tensor) -> torch.Tensor:
        """Std of z_s | z_t, z_0 (zero when s = 0)."""
        a, b, c = self._posterior_coeffs(t, s)
        var = (1 - a**2) * (1 - c**2) / (1 - b**2)
        return self.max_sigma * torch.sqrt(torch.clamp(var, min=0.0))

    def x0_from_noise(self, xt: torch.Tensor, mu: torch.Tensor, eps: torch.Tensor,
                      t: int | torch.Tensor) -> torch.Tensor:
        """The clean state implied by a noise prediction (inverse of the marginal)."""
        return (xt - mu - self.sigma_bar(t) * eps) / self.decay(t) + mu

    def posterior_step(self, xt: torch.Tensor, mu: torch.Tensor, eps: torch.Tensor,
                       t: int, s: int, noise: torch.Tensor | None,
                       x0_limit: float | None = None) -> torch.Tensor:
        """Jump t -> s < t through the bridge posterior at the predicted z_0 (fewer-step sampler).

        Near t = T the predicted z_0 divides by e^{-bar_theta_t dt} (about ``eps``), so a small
        noise-prediction error becomes a huge z_0 and the jumps diverge; ``x0_limit`` clamps
        z_0 - mu elementwise to +-x0_limit first (the latent analogue of DDPM's clipped x_0).
        """
        x0 = self.x0_from_noise(xt, mu, eps, t)
        if x0_limit is not None:
            x0 = mu + (x0 - mu).clamp(-x0_limit, x0_limit)
        return self.bridge_step(xt, mu, x0, t, s, noise)

    def bridge_step(self, xt: torch.Tensor, mu: torch.Tensor, x0: torch.Tensor, t: int, s: int,
                    noise: torch.Tensor | None) -> torch.Tensor:
        """z_s drawn from the OU bridge posterior p(z_s | z_t, z_0 = x0) (its mean if no noise)."""
        mean = self.posterior_mean(xt, x0, mu, t, s)
        if noise is None or s == 0:
            return mean
        return mean + self.posterior_std(t, s) * noise

    def timesteps(self, steps: int) -> list[int]:
        """Descending visit order T = t_1 > ... > t_n >= 1 for ``steps`` reverse steps (evenly spaced)."""
        steps = max(1, min(int(steps), self.T))
        if steps == self.T:
            return list(range(self.T, 0, -1))
        grid = torch.linspace(self.T, 1, steps).round().long().tolist()
        out: list[int] = []
        for t in grid:
            if not out or t < out[-1]:
                out.append(int(t))
        return out
