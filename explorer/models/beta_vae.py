"""β-VAE (Higgins et al. 2017) with Burgess et al.'s (2018) capacity annealing.

loss = recon + β · |KL − C|, with the KL target C rising linearly from 0 to capacity_max nats
over capacity_steps steps (or over the first capacity_end of the run with schedule "fraction").
capacity_max = 0 gives the plain β-VAE (loss = recon + β·KL); β = 1
and capacity_max = 0 is the plain VAE.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from explorer.models.base import (AutoEncoder, LossOutput, ModelConfig, gaussian_kl, ramp,
                                  reparameterize)


@dataclass(frozen=True)
class BetaVAEConfig(ModelConfig):
    beta: float = 1.0
    capacity_max: float = 0.0      # nats; 0 disables capacity annealing
    capacity_steps: int = 10_000
    kl_warmup_steps: int = 0       # β ramps from 0 to its value (used when capacity_max = 0)
    free_bits: float = 0.0         # nats per dimension below which the KL is not penalised
    capacity_end: float = 1.0      # schedule "fraction": the capacity ramp ends here
    kl_warmup_end: float = 0.0     # schedule "fraction": the β warm-up ends here (0 = none)

    kind: ClassVar[str] = "beta-vae"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.beta < 0 or self.capacity_max < 0 or self.free_bits < 0:
            raise ValueError("beta, capacity_max and free_bits must be >= 0")
        for name in ("capacity_end", "kl_warmup_end"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a fraction in [0, 1], got "
                                 f"{getattr(self, name)}")


class BetaVAE(AutoEncoder):
    config_class = BetaVAEConfig
    cfg: BetaVAEConfig

    def loss(self, x: torch.Tensor, step: int = 0, dataset_size: int = 1,
             progress: float | None = None) -> LossOutput:
        cfg = self.cfg
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar)
        recon, out = self._recon(x, z, step, progress)
        frac = cfg.schedule == "fraction"
        p = 1.0 if progress is None else progress
        kl_dims = gaussian_kl(mu, logvar)                       # [B, D]
        kl = kl_dims.sum(1).mean()
        if cfg.free_bits > 0:
            kl_pen = kl_dims.mean(0).clamp_min(cfg.free_bits).sum()
        else:
            kl_pen = kl
        if cfg.capacity_max > 0:
            c = cfg.capacity_max * (ramp(p, cfg.capacity_end) if frac
                                    else min(1.0, step / max(1, cfg.capacity_steps)))
            reg = cfg.beta * (kl_pen - c).abs()
        else:
            c = 0.0
            if frac:
                warm = ramp(p, cfg.kl_warmup_end)
            else:
                warm = min(1.0, step / cfg.kl_warmup_steps) if cfg.kl_warmup_steps else 1.0
            reg = cfg.beta * warm * kl_pen
        loss = recon.mean() + reg
        parts = {"recon": recon.mean().detach(), "kl": kl.detach(),
                 "capacity": torch.tensor(float(c))}
        return LossOutput(loss, recon, reg, z, mu, logvar, parts, out)
