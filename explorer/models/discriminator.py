"""A patch discriminator for the adversarial option of every model kind (`train --adversarial
WEIGHT`), after the VAE-GAN hybrids (Larsen et al. 2016) and VQGAN's patch critic (Esser et
al. 2021), trained from scratch with the hinge loss.

It scores overlapping patches of an image as real or reconstructed; the autoencoder gets
-mean(score) of its reconstructions as an extra loss, weighted adaptively so that its gradient
at the decoder's last layer is `weight` times that of the reconstruction loss (VQGAN's rule).
Only training uses it: bundles do not carry it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class PatchDiscriminator(nn.Module):
    """[B, 3, S, S] in [0, 1] -> patch scores [B, 1, S/8, S/8] (receptive field ~ 34 px)."""

    def __init__(self, width: int = 32):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            spectral_norm(nn.Conv2d(3, w, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True),
            spectral_norm(nn.Conv2d(w, 2 * w, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True),
            spectral_norm(nn.Conv2d(2 * w, 4 * w, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True),
            spectral_norm(nn.Conv2d(4 * w, 1, 3, 1, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2.0 - 1.0)


def hinge_d_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """The discriminator's hinge loss: mean(relu(1 - real)) + mean(relu(1 + fake))."""
    return F.relu(1.0 - real_scores).mean() + F.relu(1.0 + fake_scores).mean()


def generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """What the autoencoder minimises: -mean(score of its reconstructions)."""
    return -fake_scores.mean()


def adaptive_weight(rec_loss: torch.Tensor, adv_loss: torch.Tensor, last: torch.Tensor,
                    cap: float = 1e4) -> torch.Tensor:
    """||d rec / d last|| / ||d adv / d last||, detached: the factor that gives the adversarial
    term as large a gradient at the decoder's last layer as the reconstruction term."""
    g_rec = torch.autograd.grad(rec_loss, last, retain_graph=True)[0]
    g_adv = torch.autograd.grad(adv_loss, last, retain_graph=True)[0]
    return (g_rec.norm() / (g_adv.norm() + 1e-4)).clamp(0.0, cap).detach()
