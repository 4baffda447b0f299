"""How the weights move over a run: the learning-rate schedule along the run's progress, the
optimizer (with the linear paths' own rate) and the weight average that is evaluated and saved."""
from __future__ import annotations

import math

import torch

from explorer.models import AutoEncoder
from explorer.training.config import TrainConfig


def lr_factor(cfg: TrainConfig, progress: float) -> float:
    """The learning rate as a fraction of cfg.lr at a point of the run (progress in [0, 1])."""
    p = min(max(progress, 0.0), 1.0)
    warm = min(1.0, (p + 1e-3) / cfg.warmup) if cfg.warmup > 0 else 1.0
    if cfg.lr_schedule == "constant":
        return warm
    if cfg.warmup > 0 and p < cfg.warmup:
        return warm
    t = (p - cfg.warmup) / max(1e-9, 1.0 - cfg.warmup)
    return cfg.final_lr + (1.0 - cfg.final_lr) * 0.5 * (1.0 + math.cos(math.pi * t))


def run_progress(step: int, planned_steps: int, seconds: float, time_limit: float) -> float:
    """How far through its schedules a run is: the larger of step / planned_steps and, with a
    time limit, seconds / time_limit (so a time limit compresses the schedules, never cuts
    them off)."""
    p = step / max(planned_steps, 1)
    if time_limit > 0:
        p = max(p, seconds / time_limit)
    return min(p, 1.0)


def linear_scale(cfg: TrainConfig, progress: float) -> float:
    """How much of the linear paths is left at a point of the run: 1 until linear_fade_start,
    then a cosine down to 0 at linear_fade (always 1 when linear_fade is 0)."""
    if cfg.linear_fade <= 0 or progress <= cfg.linear_fade_start:
        return 1.0
    if progress >= cfg.linear_fade:
        return 0.0
    t = (progress - cfg.linear_fade_start) / (cfg.linear_fade - cfg.linear_fade_start)
    return 0.5 * (1.0 + math.cos(math.pi * t))


@torch.no_grad()
def fade_linear_paths(model: AutoEncoder, before: float, now: float) -> float:
    """Scale the (frozen) linear paths from `before` to `now` of their initial size: the
    encoder's projection and offset and the decoder's basis; the decoder's bias (the mean
    image) stays. Multiplicative, so that a resumed run needs no copy of the initial weights;
    once at 0 they stay at 0. Returns the scale now held."""
    if now >= before:
        return before
    ratio = now / before if before > 0 else 0.0
    for p in (model.lin_enc.weight, model.lin_enc.bias, model.lin_dec.weight):
        p.mul_(ratio)
    return now


class EMA:
    """An exponential moving average of a model's parameters (Polyak averaging), kept in a
    copy of the model; the copy is what is evaluated and saved. The decay warms up as
    min(decay, (1 + n) / (10 + n)) so that early averages are not dominated by the init."""

    def __init__(self, model: AutoEncoder, decay: float):
        import copy
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        ema_p = list(self.model.parameters())
        torch._foreach_lerp_(ema_p, [p.detach() for p in model.parameters()], 1.0 - d)


def make_optimizer(model: AutoEncoder, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Adam; the linear paths (if any) in their own group at linear_lr x the learning rate
    (each group's "lr_scale"; frozen at 0)."""
    lin = [p for n, p in model.named_parameters() if n.startswith(("lin_enc.", "lin_dec."))]
    rest = [p for n, p in model.named_parameters() if not n.startswith(("lin_enc.", "lin_dec."))]
    groups = [{"params": rest, "lr_scale": 1.0}]
    if lin:
        if cfg.linear_lr == 0:
            for p in lin:
                p.requires_grad_(False)
        groups.append({"params": lin, "lr_scale": cfg.linear_lr})
    return torch.optim.Adam(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
