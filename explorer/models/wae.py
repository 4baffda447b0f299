"""WAE-MMD (Tolstikhin et al. 2018): a deterministic encoder whose aggregate code distribution
is pulled towards the prior N(0, I) by the maximum mean discrepancy with an inverse
multiquadric kernel k(x, y) = C / (C + ||x − y||²), summed over several scales C = 2·D·σ²·s.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from explorer.models.base import AutoEncoder, LossOutput, ModelConfig

# a fixed, tiny posterior spread so that WAE codes fit the (mu, logvar) embedding format
WAE_LOGVAR = -9.21  # log(1e-4)


@dataclass(frozen=True)
class WAEConfig(ModelConfig):
    mmd_weight: float = 100.0   # λ
    prior_sigma: float = 1.0
    scales: tuple[float, ...] = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)

    kind: ClassVar[str] = "wae-mmd"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "scales", tuple(float(s) for s in self.scales))

    def to_dict(self):
        d = super().to_dict()
        d["scales"] = list(self.scales)
        return d


def imq_mmd(zq: torch.Tensor, zp: torch.Tensor, sigma: float, scales) -> torch.Tensor:
    """Unbiased MMD² between samples zq and zp [B, D] with a multi-scale IMQ kernel."""
    b, d = zq.shape
    zz = torch.cdist(zq, zq).pow(2)
    pp = torch.cdist(zp, zp).pow(2)
    zp_ = torch.cdist(zq, zp).pow(2)
    off = 1.0 - torch.eye(b, device=zq.device, dtype=zq.dtype)
    total = zq.new_zeros(())
    for s in scales:
        c = 2.0 * d * sigma ** 2 * s
        k_qq = (c / (c + zz) * off).sum() / (b * (b - 1))
        k_pp = (c / (c + pp) * off).sum() / (b * (b - 1))
        k_qp = (c / (c + zp_)).sum() / (b * b)
        total = total + k_qq + k_pp - 2 * k_qp
    return total


class WAE(AutoEncoder):
    config_class = WAEConfig
    deterministic = True
    cfg: WAEConfig

    # deterministic: the encoder has one output per latent, the code itself

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu = self.encoder(x).float()  # float32 codes and loss under bf16 autocast
        if self.cfg.linear_path:
            mu = mu + self.linear_code(x)
        return mu, torch.full_like(mu, WAE_LOGVAR)

    def loss(self, x: torch.Tensor, step: int = 0, dataset_size: int = 1,
             progress: float | None = None) -> LossOutput:
        cfg = self.cfg
        z, logvar = self.encode(x)
        recon, out = self._recon(x, z, step, progress)
        zp = torch.randn_like(z) * cfg.prior_sigma
        mmd = imq_mmd(z, zp, cfg.prior_sigma, cfg.scales)
        reg = cfg.mmd_weight * mmd
        loss = recon.mean() + reg
        parts = {"recon": recon.mean().detach(), "mmd": mmd.detach()}
        return LossOutput(loss, recon, reg, z, z, logvar, parts, out)
