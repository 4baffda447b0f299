"""What every model kind shares: the config base, the conv encoder/decoder, the output type.

A model kind is one config dataclass plus one module subclassing `AutoEncoder`; register it in
`explorer/models/__init__.py`. The networks follow Burgess et al. (2018): 4x4 stride-2
convolutions down to 4x4, two fully connected layers, and the mirror image for the decoder.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

RECON_LOSSES = ("gaussian", "bernoulli", "mse")


MAX_IMAGE_SIZE = 1024
MAX_WIDTH = 8192   # conv channels and hidden_dim


@dataclass(frozen=True)
class ModelConfig:
    """Settings shared by every model kind. Frozen: a model is rebuilt from this alone."""

    image_size: int = 64            # 64 or 128 (any power of two >= 32 works)
    latent_dim: int = 16
    # conv widths, one per stride-2 layer down to 4 px; () = (32, 32, 64, 64, ...) for the size
    channels: tuple[int, ...] = ()
    hidden_dim: int = 256
    # gaussian: decoder with the optimal shared variance (sigma-VAE, Rybkin et al. 2021);
    # bernoulli: per-pixel BCE; mse: summed squared error (a Gaussian with sigma = 1).
    recon_loss: str = "gaussian"
    # Colour curriculum (gaussian and mse losses): the squared error is measured in an
    # orthonormal luminance/opponent-colour basis and the two colour channels are weighted by
    # colour_boost at step 0, annealed linearly to 1 (the plain likelihood) by
    # colour_boost_steps. Without it a VAE settles on grey reconstructions: colour is a
    # small share of the pixel error early on, and the net never leaves that saddle (measured
    # in the README). 1.0 disables it.
    colour_boost: float = 20.0
    colour_boost_steps: int = 6000

    kind: ClassVar[str] = "base"

    def __post_init__(self) -> None:
        # a crafted bundle.json or a typo on the command line must not allocate gigabytes
        for f in fields(self):
            v = getattr(self, f.name)
            if f.type in ("int", int) and (not isinstance(v, numbers.Integral)
                                           or isinstance(v, bool)):
                raise ValueError(f"{f.name} must be an integer, got {v!r}")
            if f.type in ("float", float) and (not isinstance(v, numbers.Real)
                                               or isinstance(v, bool) or not math.isfinite(v)):
                raise ValueError(f"{f.name} must be a finite number, got {v!r}")
            if f.type in ("str", str) and not isinstance(v, str):
                raise ValueError(f"{f.name} must be a string, got {v!r}")
            if f.type in ("int", int) and v < 0:
                raise ValueError(f"{f.name} must be >= 0, got {v}")
        for name, hi in (("image_size", MAX_IMAGE_SIZE), ("hidden_dim", MAX_WIDTH)):
            if not 1 <= getattr(self, name) <= hi:
                raise ValueError(f"{name} must be in 1..{hi}, got {getattr(self, name)}")
        if (not isinstance(self.channels, (tuple, list))
                or not all(isinstance(c, numbers.Integral) and not isinstance(c, bool)
                           and 1 <= c <= MAX_WIDTH for c in self.channels)):
            raise ValueError(f"channels must be a list of integers in 1..{MAX_WIDTH}, "
                             f"got {self.channels!r}")
        if self.image_size < 32 or self.image_size & (self.image_size - 1):
            raise ValueError(f"image_size must be a power of two >= 32, got {self.image_size}")
        if not 1 <= self.latent_dim <= 512:
            raise ValueError(f"latent_dim must be in 1..512, got {self.latent_dim}")
        if self.recon_loss not in RECON_LOSSES:
            raise ValueError(f"recon_loss must be one of {RECON_LOSSES}, got {self.recon_loss!r}")
        if not (self.colour_boost >= 1.0 and math.isfinite(self.colour_boost)):
            raise ValueError(f"colour_boost must be a number >= 1, got {self.colour_boost}")
        if self.colour_boost_steps < 0:
            raise ValueError(f"colour_boost_steps must be >= 0, got {self.colour_boost_steps}")
        # JSON gives lists; keep the dataclass hashable and comparable
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        n_layers = int(math.log2(self.image_size // 4))
        if not self.channels:
            object.__setattr__(self, "channels", ((32, 32) + (64,) * n_layers)[:n_layers])
        if len(self.channels) < n_layers:
            extra = (self.channels[-1],) * (n_layers - len(self.channels))
            object.__setattr__(self, "channels", self.channels + extra)
        elif len(self.channels) > n_layers:
            raise ValueError(f"{len(self.channels)} conv widths given for {self.image_size} px; "
                             f"that size takes {n_layers}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown {cls.kind} config keys: {sorted(unknown)}")
        return cls(**d)


@dataclass
class LossOutput:
    """loss: scalar to minimise; recon: reconstruction NLL per image; reg: the latent
    regulariser as weighted in the loss; parts: every named term (floats, for logging);
    z: the sampled code [B, latent_dim]; mu/logvar: the posterior [B, latent_dim]."""

    loss: torch.Tensor
    recon: torch.Tensor
    reg: torch.Tensor
    z: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor
    parts: dict[str, torch.Tensor]


class Encoder(nn.Module):
    """[B, 3, S, S] in [0, 1] -> [B, out_dim]."""

    def __init__(self, cfg: ModelConfig, out_dim: int):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for c in cfg.channels:
            layers += [nn.Conv2d(c_in, c, 4, 2, 1), nn.ReLU(inplace=True)]
            c_in = c
        self.conv = nn.Sequential(*layers)
        self.fc = nn.Sequential(
            nn.Linear(c_in * 16, cfg.hidden_dim), nn.ReLU(inplace=True),
            nn.Linear(cfg.hidden_dim, cfg.hidden_dim), nn.ReLU(inplace=True),
            nn.Linear(cfg.hidden_dim, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).flatten(1))


class Decoder(nn.Module):
    """[B, latent_dim] -> logits [B, 3, S, S] (sigmoid gives the image in [0, 1])."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        chans = list(reversed(cfg.channels))
        self.c0 = chans[0]
        self.fc = nn.Sequential(
            nn.Linear(cfg.latent_dim, cfg.hidden_dim), nn.ReLU(inplace=True),
            nn.Linear(cfg.hidden_dim, cfg.hidden_dim), nn.ReLU(inplace=True),
            nn.Linear(cfg.hidden_dim, self.c0 * 16), nn.ReLU(inplace=True))
        layers: list[nn.Module] = []
        for i, c in enumerate(chans):
            c_out = chans[i + 1] if i + 1 < len(chans) else 3
            layers.append(nn.ConvTranspose2d(c, c_out, 4, 2, 1))
            if i + 1 < len(chans):
                layers.append(nn.ReLU(inplace=True))
        self.deconv = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.fc(z).view(-1, self.c0, 4, 4))


# RGB -> orthonormal (luminance, red-green, yellow-blue): squared error is unchanged by it
_OPPONENT = torch.tensor([[1 / math.sqrt(3), 1 / math.sqrt(3), 1 / math.sqrt(3)],
                          [1 / math.sqrt(2), -1 / math.sqrt(2), 0.0],
                          [1 / math.sqrt(6), 1 / math.sqrt(6), -2 / math.sqrt(6)]])


def colour_weight(cfg: ModelConfig, step: int) -> float:
    """The weight of the colour channels' squared error at a training step (1 = none)."""
    if cfg.colour_boost <= 1.0 or step >= cfg.colour_boost_steps:
        return 1.0
    return cfg.colour_boost + (1.0 - cfg.colour_boost) * step / max(1, cfg.colour_boost_steps)


def squared_error(pred: torch.Tensor, x: torch.Tensor, colour: float = 1.0) -> torch.Tensor:
    """Per-pixel squared error [B, C*S*S]; for RGB with colour != 1 the two opponent-colour
    channels of the difference are weighted by colour (the luminance one by 1)."""
    diff = pred - x
    if colour == 1.0 or diff.shape[1] != 3:
        return diff.pow(2).flatten(1)
    opp = torch.einsum("oc,bchw->bohw", _OPPONENT.to(diff), diff)
    w = torch.tensor([1.0, colour, colour], dtype=diff.dtype, device=diff.device)
    return (opp.pow(2) * w.view(1, 3, 1, 1)).flatten(1)


def recon_nll(kind: str, logits: torch.Tensor, x: torch.Tensor, colour: float = 1.0
              ) -> torch.Tensor:
    """Reconstruction negative log-likelihood per image [B] (summed over pixels); colour
    weights the colour part of the squared error (see colour_weight)."""
    logits = logits.float()  # sums over thousands of pixels need float32 under autocast
    if kind == "bernoulli":
        return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    se = squared_error(torch.sigmoid(logits), x, colour)
    if kind == "mse":
        return se.sum(1)
    # sigma-VAE: the variance that maximises the likelihood is the batch MSE; using it
    # (detached) balances reconstruction against the KL without a hand-tuned weight.
    var = se.mean().detach().clamp_min(1e-6)
    d = se.shape[1]
    return 0.5 * (se.sum(1) / var) + 0.5 * d * (torch.log(var) + math.log(2 * math.pi))


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) per dimension, [B, latent_dim]."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)


class AutoEncoder(nn.Module):
    """The common API: encode, decode, reconstruct, loss (also forward, for DDP)."""

    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    deterministic: ClassVar[bool] = False  # True: the code is a point (no posterior variance)

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg, 2 * cfg.latent_dim)
        self.decoder = Decoder(cfg)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [B, 3, S, S] in [0, 1] -> (mu, logvar), each [B, latent_dim]."""
        h = self.encoder(x).float()  # the loss stays in float32 under bf16 autocast
        mu, logvar = h.chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z [B, latent_dim] -> image [B, 3, S, S] in [0, 1]."""
        return torch.sigmoid(self.decoder(z))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x)[0])

    def loss(self, x: torch.Tensor, step: int = 0, dataset_size: int = 1) -> LossOutput:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, step: int = 0, dataset_size: int = 1) -> LossOutput:
        return self.loss(x, step, dataset_size)

    def _recon(self, x: torch.Tensor, z: torch.Tensor, step: int = 0) -> torch.Tensor:
        return recon_nll(self.cfg.recon_loss, self.decode_logits(z), x,
                         colour_weight(self.cfg, step))
