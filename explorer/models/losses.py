"""The reconstruction terms every model kind shares: squared error in an opponent-colour
basis (the colour curriculum's weighting), the region-colour term, and the per-image NLL."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# RGB -> orthonormal (luminance, red-green, yellow-blue): squared error is unchanged by it
_OPPONENT = torch.tensor([[1 / math.sqrt(3), 1 / math.sqrt(3), 1 / math.sqrt(3)],
                          [1 / math.sqrt(2), -1 / math.sqrt(2), 0.0],
                          [1 / math.sqrt(6), 1 / math.sqrt(6), -2 / math.sqrt(6)]])


def opponent_basis() -> torch.Tensor:
    """The orthonormal RGB -> (luminance, red-green, yellow-blue) matrix [3, 3] (a copy)."""
    return _OPPONENT.clone()


def _weighted_square(diff: torch.Tensor, colour: float) -> torch.Tensor:
    if colour == 1.0 or diff.shape[1] != 3:
        return diff.pow(2).flatten(1)
    opp = torch.einsum("oc,bchw->bohw", _OPPONENT.to(diff), diff)
    w = torch.tensor([1.0, colour, colour], dtype=diff.dtype, device=diff.device)
    return (opp.pow(2) * w.view(1, 3, 1, 1)).flatten(1)


def squared_error(pred: torch.Tensor, x: torch.Tensor, colour: float = 1.0,
                  region: float = 0.0, grid: int = 8) -> torch.Tensor:
    """Per-pixel squared error [B, C*S*S]; for RGB with colour != 1 the two opponent-colour
    channels of the difference are weighted by colour (the luminance one by 1). region > 0
    adds region x the squared block mean of the difference (grid x grid blocks) at every
    pixel of its block: the error's low-frequency part, the regions' mean colours, then
    counts 1 + region times (the rest of the error once)."""
    diff = pred - x
    se = _weighted_square(diff, colour)
    if region > 0 and diff.shape[-1] % grid == 0 and diff.shape[-2] % grid == 0:
        kh, kw = diff.shape[-2] // grid, diff.shape[-1] // grid
        low = F.avg_pool2d(diff, (kh, kw))
        low = low.repeat_interleave(kh, dim=2).repeat_interleave(kw, dim=3)
        se = se + region * _weighted_square(low, colour)
    return se


def recon_nll(kind: str, logits: torch.Tensor, x: torch.Tensor, colour: float = 1.0,
              pixels: bool = False, region: float = 0.0, grid: int = 8) -> torch.Tensor:
    """Reconstruction negative log-likelihood per image [B] (summed over pixels); colour
    weights the colour part of the squared error (see colour_weight). pixels: the decoder's
    output is the image itself (a linear-path model), not logits."""
    logits = logits.float()  # sums over thousands of pixels need float32 under autocast
    if kind == "bernoulli":
        return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    se = squared_error(logits if pixels else torch.sigmoid(logits), x, colour, region, grid)
    if kind == "mse":
        return se.sum(1)
    # sigma-VAE: the variance that maximises the likelihood is the batch MSE; using it
    # (detached) balances reconstruction against the KL without a hand-tuned weight.
    var = se.mean().detach().clamp_min(1e-6)
    d = se.shape[1]
    return 0.5 * (se.sum(1) / var) + 0.5 * d * (torch.log(var) + math.log(2 * math.pi))
