"""β-TCVAE (Chen et al. 2018): the KL split into index-code MI, total correlation and
dimension-wise KL, with the total correlation weighted by β. The aggregate posterior q(z) is
estimated from the minibatch: q(z) = 1/N Σ_n q(z|x_n) ≈ 1/B Σ_j q(z|x_j), so every log-density
is normalised by log B. Chen et al.'s code normalises by log(B N), which adds constants to the
logged terms (TC + (D-1) log N, MI + log N, dimension-wise KL - D log N; tests/test_known_answers
measures them); constants carry no gradient, so training is the same either way, but with log B
the logged MI, TC and dimension-wise KL are estimates of the true values.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from explorer.models.base import (AutoEncoder, LossOutput, ModelConfig, gaussian_kl, ramp,
                                  reparameterize)


@dataclass(frozen=True)
class BetaTCVAEConfig(ModelConfig):
    alpha: float = 1.0   # index-code mutual information
    beta: float = 6.0    # total correlation
    gamma: float = 1.0   # dimension-wise KL
    kl_warmup_steps: int = 0
    kl_warmup_end: float = 0.0   # schedule "fraction": the warm-up ends here (0 = none)

    kind: ClassVar[str] = "beta-tcvae"


def _log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return -0.5 * (math.log(2 * math.pi) + logvar + (z - mu).pow(2) * torch.exp(-logvar))


class BetaTCVAE(AutoEncoder):
    config_class = BetaTCVAEConfig
    cfg: BetaTCVAEConfig

    def loss(self, x: torch.Tensor, step: int = 0, dataset_size: int = 1,
             progress: float | None = None) -> LossOutput:
        cfg = self.cfg
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar)
        recon, out = self._recon(x, z, step, progress)
        b = z.shape[0]
        n = max(dataset_size, b)
        log_qz_x = _log_normal(z, mu, logvar).sum(1)                              # [B]
        log_pz = _log_normal(z, torch.zeros_like(z), torch.zeros_like(z)).sum(1)  # [B]
        mat = _log_normal(z.unsqueeze(1), mu.unsqueeze(0), logvar.unsqueeze(0))   # [B, B, D]
        log_norm = math.log(b)   # not log(b * n): see the module docstring
        log_qz = torch.logsumexp(mat.sum(2), dim=1) - log_norm                    # [B]
        log_prod_qz = (torch.logsumexp(mat, dim=1) - log_norm).sum(1)             # [B]
        mi = (log_qz_x - log_qz).mean()
        tc = (log_qz - log_prod_qz).mean()
        dim_kl = (log_prod_qz - log_pz).mean()
        if cfg.schedule == "fraction":
            warm = ramp(1.0 if progress is None else progress, cfg.kl_warmup_end)
        else:
            warm = min(1.0, step / cfg.kl_warmup_steps) if cfg.kl_warmup_steps else 1.0
        reg = warm * (cfg.alpha * mi + cfg.beta * tc + cfg.gamma * dim_kl)
        kl = gaussian_kl(mu, logvar).sum(1).mean()
        loss = recon.mean() + reg
        parts = {"recon": recon.mean().detach(), "kl": kl.detach(), "mi": mi.detach(),
                 "tc": tc.detach(), "dim_kl": dim_kl.detach()}
        return LossOutput(loss, recon, reg, z, mu, logvar, parts, out)
