"""Model kinds. Adding one: a config dataclass + a module, then one line in MODEL_KINDS."""
from __future__ import annotations

from typing import Any

from explorer.models.base import AutoEncoder, LossOutput, ModelConfig
from explorer.models.beta_tcvae import BetaTCVAE, BetaTCVAEConfig
from explorer.models.beta_vae import BetaVAE, BetaVAEConfig
from explorer.models.wae import WAE, WAEConfig

MODEL_KINDS: dict[str, tuple[type[ModelConfig], type[AutoEncoder]]] = {
    "beta-vae": (BetaVAEConfig, BetaVAE),
    "beta-tcvae": (BetaTCVAEConfig, BetaTCVAE),
    "wae-mmd": (WAEConfig, WAE),
}


def make_config(kind: str, values: dict[str, Any]) -> ModelConfig:
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; known: {', '.join(MODEL_KINDS)}")
    return MODEL_KINDS[kind][0].from_dict(values)


def build_model(kind: str, values: dict[str, Any] | ModelConfig) -> AutoEncoder:
    """Model(Config(**bundle['model_config'])): rebuild a model from its saved config."""
    cfg = values if isinstance(values, ModelConfig) else make_config(kind, values)
    if cfg.kind != kind:
        raise ValueError(f"config is for {cfg.kind!r}, not {kind!r}")
    return MODEL_KINDS[kind][1](cfg)


MAX_PARAMETERS = 400_000_000   # 1.6 GB of float32 weights: far above any sensible setting


def shape_model(kind: str, values: dict[str, Any] | ModelConfig) -> dict[str, tuple[int, ...]]:
    """The name and shape of every tensor in the model's state dict, without allocating it
    (built on the meta device). Raises ValueError for a bad config or one over MAX_PARAMETERS."""
    import math

    import torch
    with torch.device("meta"):
        model = build_model(kind, values)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    n = sum(math.prod(s) for s in shapes.values())
    if n > MAX_PARAMETERS:
        raise ValueError(f"the model would have {n:,} parameters ({n * 4 / 1e9:.1f} GB), more "
                         f"than the {MAX_PARAMETERS:,} allowed; use smaller --channels / "
                         f"--hidden-dim")
    return shapes


__all__ = ["shape_model", "AutoEncoder", "LossOutput", "ModelConfig", "MODEL_KINDS", "build_model",
           "make_config"]
