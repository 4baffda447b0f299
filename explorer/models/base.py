"""What every model kind shares: the config base, the conv encoder/decoder, the output type.

A model kind is one config dataclass plus one module subclassing `AutoEncoder`; register it in
`explorer/models/__init__.py`. The networks follow Burgess et al. (2018): 4x4 stride-2
convolutions down to 4x4, two fully connected layers, and the mirror image for the decoder.

Options (each off by default, so that a bundle's saved config rebuilds the net it was trained
with; `explorer.training.config.RECIPE` turns on the ones the default recipe uses):
- linear_path: a linear encoder (pixels -> code mean) and a linear decoder (code -> pixels)
  beside the conv nets, set from the PCA basis of the training images by `init_from_pca`
  (whitened, so the codes start with unit variance; linear_whiten < 1 keeps part of PCA's own
  proportions, mean variance still 1), with the conv nets' last layers at zero:
  the model starts as PCA and the conv nets learn the residual. The decoder's output is then in
  pixel space (clamped to [0, 1] by `decode`) instead of logits.
- res_blocks: residual blocks (GroupNorm, SiLU, 3x3 conv, twice) after every conv stage.
- schedule = "fraction": the colour curriculum, capacity annealing and KL warm-up run over
  fractions of the run (`progress` in [0, 1], given by the training loop) instead of fixed
  step counts, so that --epochs and --time-limit scale them instead of cutting them off.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

import torch
from torch import nn

from explorer.models.losses import recon_nll, squared_error  # noqa: F401 (re-exported)

RECON_LOSSES = ("gaussian", "bernoulli", "mse")
SCHEDULES = ("steps", "fraction")
LOGVAR_INIT = -6.0  # the posterior log-variance a linear-path model starts from (sd 0.05)
# the encoders' default log-variance floor (ModelConfig.logvar_floor): a hard clamp, so a
# posterior held there gets no gradient back from the KL; `evaluate` says when one sits on it
LOGVAR_FLOOR = -12.0


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
    # schedule = "fraction": colour_boost_end (and each kind's *_end) is the fraction of the
    # run over which a schedule runs; "steps": the *_steps counts (the first bundles' way)
    schedule: str = "steps"
    colour_boost_end: float = 0.5
    # region colour: the squared error of the image's block means (a region_grid x
    # region_grid grid of per-region mean colours, e.g. a shoe part's colour) counts
    # 1 + region_weight times, all run long (0 = off; see squared_error)
    region_weight: float = 0.0
    region_grid: int = 8
    linear_path: bool = False      # PCA-initialised linear paths; the conv nets add residuals
    # how far init_from_pca whitens the linear path's codes: code_i = projection_i / sd_i**w,
    # rescaled to a mean variance of 1 over the dims. 1: every component unit variance (the
    # first recipe); 0: PCA's own proportions, so the large-variance components (part colours
    # on a catalogue) weigh in Euclidean distances as much as they do for PCA itself
    linear_whiten: float = 1.0
    # the PCA that sets the linear paths is taken with the two opponent-colour channels scaled
    # by this (1 = plain PCA): pixel variance is mostly light against dark, so plain PCA's
    # components spend little of the code on colour, which a catalogue's shoppers see first
    linear_chroma: float = 1.0
    res_blocks: int = 0            # residual blocks after every conv stage
    # the posterior log-variance's lower clamp (sd e^(floor/2)); a model that wants more
    # precision per code than this shrinks its codes instead (see `evaluate`)
    logvar_floor: float = LOGVAR_FLOOR

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
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if not 0.0 <= self.colour_boost_end <= 1.0:
            raise ValueError(f"colour_boost_end must be a fraction in [0, 1], got "
                             f"{self.colour_boost_end}")
        if self.region_weight < 0:
            raise ValueError(f"region_weight must be >= 0, got {self.region_weight}")
        if not (1 <= self.region_grid <= self.image_size
                and self.image_size % self.region_grid == 0):
            raise ValueError(f"region_grid must divide image_size {self.image_size}, got "
                             f"{self.region_grid}")
        if not 0.0 <= self.linear_whiten <= 1.0:
            raise ValueError(f"linear_whiten must be in [0, 1], got {self.linear_whiten}")
        if not 0.0 < self.linear_chroma <= 10.0:
            raise ValueError(f"linear_chroma must be in (0, 10], got {self.linear_chroma}")
        if not 0 <= self.res_blocks <= 8:
            raise ValueError(f"res_blocks must be in 0..8, got {self.res_blocks}")
        if not -30.0 <= self.logvar_floor <= -4.0:
            raise ValueError(f"logvar_floor must be in [-30, -4], got {self.logvar_floor}")
        if self.linear_path and self.recon_loss == "bernoulli":
            raise ValueError("linear_path decodes to pixels, not logits: use recon_loss "
                             "gaussian or mse with it")
        object.__setattr__(self, "linear_path", bool(self.linear_path))
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
    z: the sampled code [B, latent_dim]; mu/logvar: the posterior [B, latent_dim];
    out: the decoder's raw output for z (AutoEncoder.to_image makes it an image)."""

    loss: torch.Tensor
    recon: torch.Tensor
    reg: torch.Tensor
    z: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor
    parts: dict[str, torch.Tensor]
    out: torch.Tensor | None = None


def ramp(progress: float, end: float) -> float:
    """0 -> 1 linearly over the first `end` of the run (1 from the start when end = 0)."""
    return 1.0 if end <= 0 else min(1.0, max(0.0, progress) / end)


class ResBlock(nn.Module):
    """x + conv(silu(norm(conv(silu(norm(x)))))); the last conv starts at zero (identity)."""

    def __init__(self, c: int):
        super().__init__()
        groups = 8 if c % 8 == 0 else 1
        self.body = nn.Sequential(
            nn.GroupNorm(groups, c), nn.SiLU(), nn.Conv2d(c, c, 3, 1, 1),
            nn.GroupNorm(groups, c), nn.SiLU(), nn.Conv2d(c, c, 3, 1, 1))
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Encoder(nn.Module):
    """[B, 3, S, S] in [0, 1] -> [B, out_dim]."""

    def __init__(self, cfg: ModelConfig, out_dim: int):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for c in cfg.channels:
            layers += [nn.Conv2d(c_in, c, 4, 2, 1), nn.ReLU(inplace=True)]
            layers += [ResBlock(c) for _ in range(cfg.res_blocks)]
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
            if i > 0:
                layers += [ResBlock(c) for _ in range(cfg.res_blocks)]
            layers.append(nn.ConvTranspose2d(c, c_out, 4, 2, 1))
            if i + 1 < len(chans):
                layers.append(nn.ReLU(inplace=True))
        self.deconv = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.fc(z).view(-1, self.c0, 4, 4))


def colour_weight(cfg: ModelConfig, step: int, progress: float | None = None) -> float:
    """The weight of the colour channels' squared error at a training step (1 = none).
    With schedule "fraction" it follows progress (the fraction of the run done, None = the
    end) over the first colour_boost_end of the run instead."""
    if cfg.colour_boost <= 1.0:
        return 1.0
    if cfg.schedule == "fraction":
        t = 1.0 if progress is None else ramp(progress, cfg.colour_boost_end)
    else:
        t = min(1.0, step / max(1, cfg.colour_boost_steps))
    return cfg.colour_boost + (1.0 - cfg.colour_boost) * t


def colour_mix(chroma: float) -> torch.Tensor:
    """The per-pixel map [3, 3] from RGB into the basis a linear path's PCA is taken in: the
    opponent-colour basis with both colour channels times chroma (identity at 1)."""
    if chroma == 1.0:
        return torch.eye(3)
    from explorer.models.losses import opponent_basis
    return torch.diag(torch.tensor([1.0, chroma, chroma])) @ opponent_basis()


def top_components(flat: torch.Tensor, dims: int, seed: int = 0
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean [D], top directions [D, d], their standard deviations [d]) of the rows of flat
    [N, D], d = min(dims, N - 1, D), by a randomised SVD seeded with seed that leaves the
    global random state as it was. The linear paths' start and the colour-weight choice
    (explorer.training.chroma) both take their PCA here."""
    mean = flat.mean(0)
    d = min(dims, len(flat) - 1, flat.shape[1])
    gen_state = torch.get_rng_state()
    torch.manual_seed(seed)
    _, s, v = torch.svd_lowrank(flat - mean, q=min(d + 10, *flat.shape), niter=4)
    torch.set_rng_state(gen_state)
    sd = (s[:d] / math.sqrt(max(len(flat) - 1, 1))).clamp_min(1e-6)
    return mean, v[:, :d], sd


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
        d = cfg.latent_dim
        self.encoder = Encoder(cfg, d if self.deterministic else 2 * d)
        self.decoder = Decoder(cfg)
        if cfg.linear_path:
            n_px = 3 * cfg.image_size ** 2
            self.lin_enc = nn.Linear(n_px, d)
            self.lin_dec = nn.Linear(d, n_px)
            last_enc, last_dec = self.encoder.fc[-1], self.decoder.deconv[-1]
            for p in (last_enc.weight, last_enc.bias, last_dec.weight, last_dec.bias):
                nn.init.zeros_(p)  # the conv nets start by adding nothing to the linear paths
            if not self.deterministic:
                with torch.no_grad():
                    last_enc.bias[d:] = LOGVAR_INIT

    @torch.no_grad()
    def init_from_pca(self, x: torch.Tensor, seed: int = 0) -> dict[str, float]:
        """Set the linear paths from the PCA of x [N, 3, S, S] in [0, 1] (the training
        images), taken in the opponent-colour basis with both colour channels scaled by
        cfg.linear_chroma (1: plain PCA): encoder = projection onto the top latent_dim
        components, divided by sd**w (w = cfg.linear_whiten; 1 = whitened) and rescaled so
        that the codes' variance is 1 on average over the dims; decoder = its inverse, so
        that decode(encode(x)) starts as that PCA's reconstruction (plain PCA's when
        linear_chroma = 1). Returns the explained variance fraction (in that basis)."""
        if not self.cfg.linear_path:
            raise ValueError("init_from_pca needs a model with linear_path")
        n, c = len(x), x.shape[1]
        # per-pixel colour map: y = mix @ rgb (identity for grey images or linear_chroma 1)
        mix = colour_mix(self.cfg.linear_chroma) if c == 3 else torch.eye(c)
        flat = torch.einsum("kc,nchw->nkhw", mix, x.float()).reshape(n, -1)
        mean, v, sd = top_components(flat, self.cfg.latent_dim, seed)
        d = len(sd)
        # code_i = projection_i / scale_i has sd_i ** (1 - w) / c; c sets the mean variance to 1
        keep = sd.pow(1.0 - self.cfg.linear_whiten)
        scale = sd.pow(self.cfg.linear_whiten) * keep.pow(2).mean().sqrt()
        # back to pixels: the code reads (mix x - mix mean) and the decoder writes mix^-1 y
        v3 = v.reshape(c, -1, d)
        v_enc = torch.einsum("kpd,kc->cpd", v3, mix).reshape(-1, d)
        v_dec = torch.einsum("ck,kpd->cpd", torch.linalg.inv(mix), v3).reshape(-1, d)
        mean_px = x.float().reshape(n, -1).mean(0)
        self.lin_enc.weight.zero_()
        self.lin_enc.bias.zero_()
        self.lin_dec.weight.zero_()
        self.lin_enc.weight[:d] = (v_enc / scale).T
        self.lin_enc.bias[:d] = -(mean_px @ v_enc) / scale
        self.lin_dec.weight[:, :d] = v_dec * scale
        self.lin_dec.bias.copy_(mean_px)
        total = float((flat - mean).pow(2).sum()) / max(len(flat) - 1, 1)
        return {"explained": float(sd.pow(2).sum()) / max(total, 1e-12)}

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [B, 3, S, S] in [0, 1] -> (mu, logvar), each [B, latent_dim]."""
        h = self.encoder(x).float()  # the loss stays in float32 under bf16 autocast
        mu, logvar = h.chunk(2, dim=1)
        if self.cfg.linear_path:
            mu = mu + self.linear_code(x)
        return mu, logvar.clamp(self.cfg.logvar_floor, 8.0)

    def linear_code(self, x: torch.Tensor) -> torch.Tensor:
        """The linear encoder path, always in float32: its weights times the pixels and its
        bias nearly cancel (a projection of x - mean), which bfloat16 cannot resolve."""
        with torch.autocast(x.device.type, enabled=False):
            return self.lin_enc(x.float().flatten(1))

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder's raw output: logits, or pixels for a linear-path model."""
        out = self.decoder(z)
        if self.cfg.linear_path:
            with torch.autocast(z.device.type, enabled=False):
                out = out.float() + self.lin_dec(z.float()).view(out.shape)
        return out

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z [B, latent_dim] -> image [B, 3, S, S] in [0, 1]."""
        return self.to_image(self.decode_logits(z))

    def to_image(self, out: torch.Tensor) -> torch.Tensor:
        """decode_logits' output -> image in [0, 1]."""
        return out.clamp(0.0, 1.0) if self.cfg.linear_path else torch.sigmoid(out)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x)[0])

    def loss(self, x: torch.Tensor, step: int = 0, dataset_size: int = 1,
             progress: float | None = None) -> LossOutput:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, step: int = 0, dataset_size: int = 1,
                progress: float | None = None) -> LossOutput:
        return self.loss(x, step, dataset_size, progress)

    def _recon(self, x: torch.Tensor, z: torch.Tensor, step: int = 0,
               progress: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstruction NLL [B], the decoder's raw output [B, 3, S, S])."""
        out = self.decode_logits(z)
        nll = recon_nll(self.cfg.recon_loss, out, x, colour_weight(self.cfg, step, progress),
                        pixels=self.cfg.linear_path, region=self.cfg.region_weight,
                        grid=self.cfg.region_grid)
        return nll, out
