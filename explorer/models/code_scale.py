"""The codes' overall scale, and putting it back at the prior's.

A VAE's decoder reads its code through one linear layer (and, with linear paths, the linear
decoder), and the encoder writes it through one (and the linear encoder). Multiplying every
code by k there and dividing the decoder's first weights by k gives the same images from the
same photos, and the same neighbour order (every distance scaled by k): only the KL changes.
Nothing in the reconstruction holds that scale, and the KL's pull back is weak beside a
sharp likelihood; a run whose linear paths fade out loses the PCA start that set it, and its
codes are left at the conv encoder's residual scale (0.02-0.46 sd on the demo catalogue,
against the prior's 1). `settle_code_scale` puts such a model at the KL's best isotropic
scale before its bundle is written, so that prior units (the naming check's traversals, the
lab's KL and active dimensions) mean what they say in the bundle.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from explorer.models.base import AutoEncoder, gaussian_kl

# a bundle's codes are rescaled only when the best scale is off by more than this factor
# either way (a run that kept its scale is written as trained, weight for weight)
SETTLE_BEYOND = 1.25
SAMPLE = 2048  # training images the scale is measured on


def kl_best_scale(mu: torch.Tensor, logvar: torch.Tensor) -> float:
    """The factor k that minimises the KL to N(0, I) when every code is multiplied by k:
    sum_i 0.5 k^2 E[mu_i^2 + var_i] - D log k is least at k^2 = D / sum_i E[mu_i^2 + var_i]."""
    second = float((mu.double().pow(2) + logvar.double().exp()).sum(1).mean())
    return math.sqrt(mu.shape[1] / max(second, 1e-30))


def _encoder_head(model: AutoEncoder) -> torch.nn.Linear:
    head = model.encoder.fc[-1]
    if not isinstance(head, torch.nn.Linear) or head.out_features != 2 * model.cfg.latent_dim:
        raise TypeError(f"{type(model).__name__}: the encoder does not end in a (mu, logvar) "
                        f"linear head; its codes cannot be rescaled")
    return head


@torch.no_grad()
def rescale_codes(model: AutoEncoder, k: float) -> None:
    """Multiply the model's codes by k in place: the encoder's mu head (and linear encoder)
    by k, its log-variance head's bias by + 2 log k, the decoder's first layer (and linear
    decoder) weights by 1 / k. The same images come out; the log-variance clamp is where it
    was, so a posterior that sat on it stays clamped."""
    if not (math.isfinite(k) and k > 0):
        raise ValueError(f"the code scale must be a positive number, got {k}")
    d = model.cfg.latent_dim
    head = _encoder_head(model)
    head.weight[:d].mul_(k)
    head.bias[:d].mul_(k)
    head.bias[d:].add_(2.0 * math.log(k))
    model.decoder.fc[0].weight.div_(k)
    if model.cfg.linear_path:
        model.lin_enc.weight.mul_(k)
        model.lin_enc.bias.mul_(k)
        model.lin_dec.weight.div_(k)


def _sample(idx: np.ndarray, seed: int) -> np.ndarray:
    return np.sort(np.random.default_rng([seed, 6021]).permutation(np.asarray(idx))[:SAMPLE])


@torch.no_grad()
def _codes(model: AutoEncoder, data: torch.Tensor, pick: np.ndarray
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """(mu, logvar) in float32 on the CPU for the images data[pick], in eval mode (its own
    loop: the models layer does not build on explorer.bundle's encode_images)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    mus, lvs = [], []
    for start in range(0, len(pick), 256):
        part = torch.from_numpy(pick[start:start + 256]).to(data.device)
        x = data[part].to(device).permute(0, 3, 1, 2).float().div_(255.0)
        mu, logvar = model.encode(x)
        mus.append(mu.float().cpu())
        lvs.append(logvar.float().cpu())
    model.train(was_training)
    return torch.cat(mus), torch.cat(lvs)


@torch.no_grad()
def settle_code_scale(model: AutoEncoder, data: torch.Tensor, idx: np.ndarray, seed: int = 0,
                      log=None, beyond: float = SETTLE_BEYOND) -> dict[str, Any] | None:
    """Measure the model's codes on up to SAMPLE of the images data[idx] (uint8 [N, S, S, 3])
    and, when the KL's best scale k is beyond [1 / beyond, beyond], rescale them in place
    (kept only if the KL on the sample falls: a posterior held on the log-variance clamp
    can make it rise, and is then left as trained). Returns None for a deterministic model
    or with no images, else {"factor", "applied", "kl_before", "kl_after"} (the KL in nats
    per item on the sample). log: a callable told what was done when the codes were
    rescaled or the rescale was refused."""
    if getattr(model, "deterministic", False) or len(idx) == 0:
        return None
    pick = _sample(idx, seed)

    def kl(m: torch.Tensor, lv: torch.Tensor) -> float:
        return float(gaussian_kl(m, lv).sum(1).mean())

    mu, logvar = _codes(model, data, pick)
    k = kl_best_scale(mu, logvar)
    before = after = kl(mu, logvar)
    applied = not (1.0 / beyond <= k <= beyond)
    if applied:
        saved = {name: t.clone() for name, t in model.state_dict().items()}
        rescale_codes(model, k)
        # measured again: a posterior on the clamp stays there
        after = kl(*_codes(model, data, pick))
        if after >= before:  # codes held narrow by the clamp: the KL gains nothing
            model.load_state_dict(saved)
            applied, after = False, before
    if log is not None and not (1.0 / beyond <= k <= beyond):
        log(f"codes rescaled x{k:.3g} to the prior's scale (the KL's best; the same images "
            f"and neighbours): KL {before:.1f} -> {after:.1f} nats on {len(pick)} training "
            f"images" if applied else
            f"codes left at their trained scale (x{k:.3g} from the prior's): rescaling them "
            f"would not lower the KL, their posteriors sit on the log-variance floor")
    return {"factor": round(k, 4), "applied": applied, "kl_before": round(before, 2),
            "kl_after": round(after, 2)}
