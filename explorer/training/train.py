"""Training: a catalogue in, a bundle out.

    python -m explorer train CATALOGUE --model beta-vae --latent-dim 16 --epochs 30 \
        --out checkpoints/NAME

Flags map one-to-one to `TrainConfig` and to the chosen model kind's config. Training is seeded
and repeatable on the CPU; a checkpoint is written atomically after every epoch (and on
Ctrl-C), `--resume` continues from it, and a NaN/inf loss stops with the last good checkpoint
kept. Under torchrun it runs DistributedDataParallel (gloo on CPU, NCCL on GPU); only rank 0
writes.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file as torch_load_file
from torch.utils.data import DistributedSampler
from safetensors.torch import save as torch_save

from explorer.data.atomic import atomic_write_bytes, atomic_write_text
from explorer.bundle.core import (BundleError, check_out_target, encode_images, images_to_tensor,
                             tensor_to_images, write_bundle)
from explorer.training.budget import plan_run_budget
from explorer.data.catalogue import Catalogue, CatalogueError
from explorer.models import MODEL_KINDS, AutoEncoder, build_model, make_config, shape_model
from explorer.training.precision import (PRECISIONS, available_cpus, choose_threads,
                                resolve_precision)
from explorer.data.splits import split_for, split_indices  # noqa: F401 (split_indices: re-export)

GALLERY_SIZE = 16

# The default recipe's model settings, applied to whatever the caller leaves unset (the config
# dataclasses' own defaults rebuild the first bundles' nets; see explorer/models/base.py).
# Measured in the README (Training: the recipe).
RECIPE: dict[str, Any] = {"schedule": "fraction", "linear_path": True}
PCA_INIT_BYTES = 256 << 20  # the float32 pixel matrix of the PCA initialisation stays under it


class TrainingError(RuntimeError):
    """Training cannot start or cannot go on (bad input, diverged loss)."""


@dataclass(frozen=True)
class TrainConfig:
    model: str = "beta-vae"
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3               # the peak learning rate
    lr_schedule: str = "cosine"    # cosine: warm-up, then cosine decay to final_lr x lr; constant
    warmup: float = 0.02           # fraction of the run the learning rate warms up over
    final_lr: float = 0.05         # the cosine schedule ends at this fraction of lr
    ema: float = 0.999             # decay of the weight average used for eval/bundle; 0 = off
    # the PCA-initialised linear paths learn at this fraction of lr (0 = frozen, the conv nets
    # learn the residual): Adam moves every weight by ~lr a step, a lot for the small weights
    # of a PCA basis (measured in the README: frozen is as good and cheaper)
    linear_lr: float = 0.0
    # > 0: a patch discriminator (explorer/models/discriminator.py) adds a hinge GAN loss of
    # this weight (relative to the reconstruction loss's gradient) from adversarial_start on
    adversarial: float = 0.0
    adversarial_start: float = 0.3  # fraction of the run
    weight_decay: float = 0.0
    seed: int = 0
    val_fraction: float = 0.1
    max_val: int = 5000
    group_duplicates: bool = True  # pixel-identical images on one side of the split
    stratify: str = ""             # a metadata column whose shares the validation split keeps
    init_from: str = ""            # a bundle whose weights the model starts from (warm start)
    threads: int = 0               # torch intra-op threads; 0 = the CPUs this process may use
    channels_last: bool = True
    compile: bool = False          # torch.compile the model (slow start, faster steps)
    precision: str = "auto"        # auto (the faster here), fp32, bf16 (autocast forward passes)
    device: str = "auto"           # auto, cpu, cuda
    projections: tuple[str, ...] = ("pca", "umap", "tsne")
    image_quality: int = 0         # 0: pack bundle images lossless; else WebP quality
    grad_clip: float = 100.0
    write_bundle: bool = True      # False: only the checkpoint (finish later with --resume)
    # seconds for the whole command (explorer.training.budget); the training's share compresses the
    # schedules (progress = the larger of step / planned steps and elapsed / its share) and
    # stops the run, mid-epoch if need be, when it is spent
    time_limit: float = 0.0

    def __post_init__(self) -> None:
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got "
                             f"{self.lr_schedule!r}")
        if self.adversarial < 0:
            raise ValueError(f"adversarial must be >= 0, got {self.adversarial}")
        if self.linear_lr < 0:
            raise ValueError(f"linear_lr must be >= 0, got {self.linear_lr}")
        for name in ("warmup", "final_lr", "ema", "adversarial_start"):
            v = getattr(self, name)
            if not 0.0 <= v < 1.0 + (name == "final_lr"):
                raise ValueError(f"{name} must be in [0, 1), got {v}")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["projections"] = list(self.projections)
        return d


def check_train_config(cfg: TrainConfig) -> None:
    """Refuse settings that cannot train (or would write an untrained bundle)."""
    def bad(flag: str, want: str, got: Any) -> TrainingError:
        return TrainingError(f"--{flag} must be {want}, got {got!r}")

    for name, lo in (("epochs", 1), ("batch_size", 1), ("threads", 0), ("max_val", 0),
                     ("image_quality", 0), ("seed", 0)):
        v = getattr(cfg, name)
        if not isinstance(v, int) or isinstance(v, bool) or v < lo:
            raise bad(name.replace("_", "-"), f"an integer >= {lo}", v)
    if cfg.image_quality > 100:
        raise bad("image-quality", "0 (lossless) or a WebP quality in 1..100", cfg.image_quality)
    for name, ok, want in (("lr", lambda v: v > 0, "a number > 0"),
                           ("weight_decay", lambda v: v >= 0, "a number >= 0"),
                           ("val_fraction", lambda v: 0 <= v < 1, "in [0, 1)"),
                           ("grad_clip", lambda v: v >= 0, "a number >= 0 (0: off)"),
                           ("time_limit", lambda v: v >= 0, "a number of seconds >= 0")):
        v = getattr(cfg, name)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) \
                or not ok(v):
            raise bad(name.replace("_", "-"), want, v)


LR_SCHEDULES = ("cosine", "constant")


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


def _dist_info() -> tuple[int, int, int]:
    return (int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
            int(os.environ.get("LOCAL_RANK", 0)))


def _pick_device(cfg: TrainConfig, local_rank: int) -> torch.device:
    if cfg.device == "cpu" or (cfg.device == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise TrainingError("--device cuda asked for, but no CUDA device is available")
    return torch.device("cuda", local_rank)


# ---------------------------------------------------------------------------- checkpoints
CKPT_DIR = "checkpoint"


def save_checkpoint(out: Path, model: AutoEncoder, opt: torch.optim.Optimizer,
                    state: dict[str, Any], gallery: list[np.ndarray],
                    ema_model: AutoEncoder | None = None,
                    disc: torch.nn.Module | None = None) -> None:
    """Weights (and their average) + optimizer tensors in safetensors, the rest in JSON; each
    file atomic."""
    ck = out / CKPT_DIR
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if ema_model is not None:
        tensors.update({f"ema.{k}": v.detach().cpu().contiguous()
                        for k, v in ema_model.state_dict().items()})
    if disc is not None:
        disc = getattr(disc, "module", disc)
        tensors.update({f"disc.{k}": v.detach().cpu().contiguous()
                        for k, v in disc.state_dict().items()})
    opt_sd = opt.state_dict()
    for pid, st in opt_sd["state"].items():
        for name, v in st.items():
            tensors[f"opt.{pid}.{name}"] = torch.as_tensor(v).detach().cpu().contiguous()
    tensors["rng.torch"] = torch.get_rng_state()
    if gallery:
        tensors["gallery"] = torch.from_numpy(np.stack(gallery))
    meta = dict(state, param_groups=opt_sd["param_groups"])
    # the progress travels inside the weights file, so the one atomic write keeps them paired;
    # state.json is a readable copy written after it
    atomic_write_bytes(ck / "state.safetensors",
                       torch_save(tensors, metadata={"state": json.dumps(meta)}))
    atomic_write_text(ck / "state.json", json.dumps(meta, indent=1))


def _checkpoint_meta(ck: Path) -> dict[str, Any]:
    """The training progress saved with the weights (falls back to state.json)."""
    from safetensors import safe_open
    with safe_open(str(ck / "state.safetensors"), framework="pt") as f:
        text = (f.metadata() or {}).get("state")
    return json.loads(text) if text else json.loads((ck / "state.json").read_text())


def _prefixed(out: Path, prefix: str) -> dict[str, torch.Tensor] | None:
    """The checkpoint's tensors under prefix ("ema." the weight average, "disc." the
    discriminator), or None (a run without them)."""
    tensors = torch_load_file(str(out / CKPT_DIR / "state.safetensors"))
    found = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    return found or None


def load_checkpoint(out: Path, model: AutoEncoder, opt: torch.optim.Optimizer
                    ) -> tuple[dict[str, Any], list[np.ndarray]]:
    ck = out / CKPT_DIR
    try:
        tensors = torch_load_file(str(ck / "state.safetensors"))
        meta = _checkpoint_meta(ck)
    except FileNotFoundError as e:
        raise TrainingError(f"--resume: no checkpoint in {ck} ({e.filename} missing)") from e
    except Exception as e:  # noqa: BLE001 - any parse failure is a corrupt checkpoint
        raise TrainingError(f"--resume: checkpoint in {ck} is unreadable ({e})") from e
    model_state = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(model_state)
    except RuntimeError as e:
        raise TrainingError(f"--resume: {ck / 'state.safetensors'} holds weights of another "
                            f"model ({str(e).splitlines()[0]})") from e
    opt_state: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith("opt."):
            _, pid, name = k.split(".", 2)
            opt_state.setdefault(int(pid), {})[name] = v
    opt.load_state_dict({"state": opt_state, "param_groups": meta["param_groups"]})
    if "rng.torch" in tensors:
        torch.set_rng_state(tensors["rng.torch"])
    gallery = list(tensors["gallery"].numpy()) if "gallery" in tensors else []
    return meta, gallery


# ---------------------------------------------------------------------------- the loop
def _mean_parts(acc: dict[str, float], n: int) -> dict[str, float]:
    return {k: v / max(n, 1) for k, v in acc.items()}


@torch.inference_mode()
def evaluate_split(model: AutoEncoder, data: torch.Tensor, idx: np.ndarray, device,
                   dataset_size: int, step: int, batch_size: int = 256,
                   progress: float | None = None) -> dict[str, float]:
    """Mean loss parts, pixel MSE, PSNR, KL and active units over data[idx]."""
    model.eval()
    acc: dict[str, float] = {}
    se_sum, n = 0.0, 0
    kl_dims = torch.zeros(model.cfg.latent_dim, dtype=torch.float64)
    for s in range(0, len(idx), batch_size):
        x = data[torch.from_numpy(idx[s:s + batch_size]).to(data.device)].to(device)
        x = x.permute(0, 3, 1, 2)
        x = x.float().div_(255.0)
        out = model.loss(x, step, dataset_size, progress)
        b = len(x)
        for k, v in out.parts.items():
            acc[k] = acc.get(k, 0.0) + float(v) * b
        acc["loss"] = acc.get("loss", 0.0) + float(out.loss) * b
        recon = model.decode(out.mu)
        se_sum += float((recon - x).pow(2).mean(dim=(1, 2, 3)).sum())
        kl = 0.5 * (out.mu.pow(2) + out.logvar.exp() - 1 - out.logvar)
        kl_dims += kl.double().sum(0).cpu()
        n += b
    model.train()
    res = _mean_parts(acc, n)
    mse = se_sum / max(n, 1)
    res["mse"] = mse
    res["psnr"] = 10 * math.log10(1.0 / max(mse, 1e-10))
    kl_mean = (kl_dims / max(n, 1)).numpy()
    res["active_dims"] = int((kl_mean > 0.1).sum()) if not model.deterministic else None
    return res


def _optimizer(model: AutoEncoder, cfg: TrainConfig) -> torch.optim.Optimizer:
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


def _adversarial_step(model: AutoEncoder, disc: torch.nn.Module, opt_d: torch.optim.Optimizer,
                      x: torch.Tensor, out_, cfg: TrainConfig) -> torch.Tensor:
    """One discriminator update on (x, the reconstructions), then the autoencoder's weighted
    adversarial loss term (to add to its loss before backward)."""
    from explorer.models.discriminator import (adaptive_weight, generator_loss,
                                               hinge_d_loss)
    fake = model.to_image(out_.out.float())
    d_loss = hinge_d_loss(disc(x), disc(fake.detach()))
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    g_loss = generator_loss(disc(fake))
    last = model.decoder.deconv[-1].weight
    lam = adaptive_weight(out_.recon.mean(), g_loss, last)
    out_.parts["adv"] = g_loss.detach()
    out_.parts["d_loss"] = d_loss.detach()
    return cfg.adversarial * lam * g_loss


def train(catalogue: Catalogue, cfg: TrainConfig, model_values: dict[str, Any], out: str | Path,
          resume: bool = False, progress: bool = True, log=print, overwrite: bool = False,
          hook=None, hook_every: float = 0.0) -> Path | None:
    """Train a model on the catalogue and write a bundle to `out`; returns its path on rank 0.

    model_values: overrides of the model kind's config (latent_dim, beta, ...) on top of
    RECIPE; image_size is taken from the catalogue. `out` must be new, empty, a bundle or a
    checkpoint folder (or `overwrite` given); it is never the catalogue's own folder (see
    `check_out_target`).
    hook: callable(model, info) called on rank 0 every hook_every seconds of training and at
    the end, with the model as it would be saved (the weight average) in eval mode and info
    {"step", "seconds", "progress", "epoch"}; the time it takes is not counted as training
    (bench/bench_recipe.py evaluates with it).
    """
    out = Path(out)
    rank, world, local_rank = _dist_info()
    check_train_config(cfg)
    try:
        check_out_target(out, reads=[catalogue.path] if catalogue.path else [],
                         overwrite=overwrite)
    except BundleError as e:
        raise TrainingError(str(e)) from e
    if len(catalogue) < 2:
        raise TrainingError(f"catalogue {catalogue.path or catalogue.name} has {len(catalogue)} "
                            f"items; training needs at least 2")
    if cfg.model not in MODEL_KINDS:
        raise TrainingError(f"unknown model kind {cfg.model!r}; known: {', '.join(MODEL_KINDS)}")
    values = dict(model_values)
    warm = None
    if cfg.init_from and not resume:  # on --resume the checkpoint holds the weights
        warm, values = _warm_start(cfg, values, catalogue)  # the bundle's settings, not RECIPE
    else:
        values = {**RECIPE, **values}
        if values.get("recon_loss") == "bernoulli" and "linear_path" not in model_values:
            values["linear_path"] = False  # the linear path decodes to pixels, not logits
    if "image_size" in values and values["image_size"] != catalogue.size:
        raise TrainingError(f"the catalogue is {catalogue.size} px but the model was asked for "
                            f"{values['image_size']} px; ingest or synthesise at that size")
    values["image_size"] = catalogue.size
    if cfg.stratify and cfg.stratify not in catalogue.metadata.columns:
        raise TrainingError(f"--stratify {cfg.stratify!r}: no such column in the catalogue's "
                            f"metadata (columns: {', '.join(map(str, catalogue.metadata.columns))})")
    if cfg.adversarial > 0 and world > 1:
        raise TrainingError("--adversarial runs in one process only (not under torchrun)")
    try:
        mcfg = make_config(cfg.model, values)
        shape_model(cfg.model, mcfg)
    except (TypeError, ValueError) as e:
        raise TrainingError(f"bad model settings for {cfg.model}: {e}") from e

    # --time-limit bounds the whole command: the training gets what the encoding and the maps
    # after it will not need (explorer.training.budget); `cfg` from here on carries the training's share
    asked, t_start = cfg, time.monotonic()
    budget = plan_run_budget(cfg.time_limit, len(catalogue), catalogue.size, cfg.projections)
    if cfg.time_limit > 0:
        cfg = dataclasses.replace(cfg, time_limit=budget.train_seconds,
                                  projections=budget.projections)
    if cfg.precision not in PRECISIONS:
        raise TrainingError(f"--precision must be one of {', '.join(PRECISIONS)}, "
                            f"got {cfg.precision!r}")
    threads, threads_why = choose_threads(cfg.threads, available_cpus(),
                                          int(os.environ.get("LOCAL_WORLD_SIZE", world)))
    torch.set_num_threads(threads)
    device = _pick_device(cfg, local_rank)
    if world > 1:
        import torch.distributed as dist
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            torch.cuda.set_device(device)

    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, mcfg).to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if warm is not None:  # after any initialisation, before the optimizer and any weight copy
        _load_warm_weights(model, mcfg, cfg.init_from, warm)
        log(f"warm start: the weights of {cfg.init_from} ({warm['model_kind']}, trained on "
            f"{warm['catalogue'].get('count')} items)")
    opt = _optimizer(model, cfg)

    train_idx, val_idx = split_for(cfg.to_dict(), len(catalogue), catalogue.images,
                                   catalogue.metadata)
    n_train = len(train_idx)
    # the whole catalogue as one uint8 tensor: a memmap read once, ~12 KB per 64 px image
    data = torch.from_numpy(np.array(catalogue.images, dtype=np.uint8, copy=True))
    if mcfg.linear_path and not resume and warm is None:
        # every rank draws the same sample, so the initial weights agree under DDP
        cap = max(2, min(n_train, PCA_INIT_BYTES // (4 * 3 * catalogue.size ** 2)))
        pick = np.sort(np.random.default_rng([cfg.seed, 31]).choice(train_idx, min(cap, n_train),
                                                                     replace=False))
        xs = data[torch.from_numpy(pick)].permute(0, 3, 1, 2).float().div_(255.0)
        info = model.init_from_pca(xs.to(device), seed=cfg.seed)
        del xs
        if progress and rank == 0:
            log(f"linear path set from the PCA of {len(pick)} training images "
                f"({info['explained']:.1%} of their variance in {mcfg.latent_dim} components)")
    if device.type == "cuda":
        data = data.to(device)  # a few hundred MB at most: index batches on the GPU
    gen = torch.Generator().manual_seed(cfg.seed + 12345)
    z_gallery = torch.randn(GALLERY_SIZE, mcfg.latent_dim, generator=gen).to(device)

    state: dict[str, Any] = {"epoch": 0, "batch": 0, "step": 0, "history": [],
                             "train_config": asked.to_dict(), "model_kind": cfg.model,
                             "model_config": mcfg.to_dict(),
                             "catalogue_fingerprint": catalogue.fingerprint,
                             "seconds": 0.0}
    if warm is not None:
        state["init_from"] = {"path": str(cfg.init_from),
                              "model_sha256": warm["files"]["model.safetensors"]["sha256"],
                              "catalogue_fingerprint": warm["catalogue"]["fingerprint"],
                              "catalogue_count": warm["catalogue"]["count"]}
    gallery: list[np.ndarray] = []
    if resume:
        ck_file = out / CKPT_DIR / "state.safetensors"
        if not ck_file.is_file():
            raise TrainingError(f"--resume: no checkpoint at {ck_file}")
        try:
            prev = _checkpoint_meta(out / CKPT_DIR)
        except Exception as e:  # noqa: BLE001 - any parse failure is a corrupt checkpoint
            raise TrainingError(f"--resume: the checkpoint {ck_file} is unreadable ({e})") from e
        if prev.get("model_kind") != cfg.model:
            raise TrainingError(f"--resume: the checkpoint in {out} is a {prev.get('model_kind')} "
                                f"model, not {cfg.model}")
        if prev.get("model_config") != mcfg.to_dict():
            raise TrainingError(f"--resume: the checkpoint in {out} was made with other model "
                                f"settings: {prev.get('model_config')}")
        if prev.get("catalogue_fingerprint") != catalogue.fingerprint:
            raise TrainingError(f"--resume: the checkpoint in {out} was trained on another "
                                f"catalogue ({prev.get('catalogue_fingerprint')})")
        meta, gallery = load_checkpoint(out, model, opt)
        for group in opt.param_groups:  # this run's --lr / --weight-decay take effect
            group["lr"], group["weight_decay"] = cfg.lr, cfg.weight_decay
        state.update({k: meta[k] for k in ("epoch", "batch", "step", "history", "seconds")})
        state["trained_on"] = meta.get("trained_on", [])
        if meta.get("init_from"):
            state["init_from"] = meta["init_from"]
        log(f"resuming from epoch {state['epoch']} batch {state['batch']} (step {state['step']})")

    ema = EMA(model, cfg.ema) if cfg.ema > 0 else None
    disc = opt_d = None
    if cfg.adversarial > 0:
        from explorer.models.discriminator import PatchDiscriminator
        disc = PatchDiscriminator().to(device)
        if resume and _prefixed(out, "disc.") is not None:
            disc.load_state_dict(_prefixed(out, "disc."))
        opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr, betas=(0.5, 0.9))
    if ema is not None and resume and _prefixed(out, "ema.") is not None:
        ema.model.load_state_dict(_prefixed(out, "ema."))
        ema.updates = int(state.get("ema_updates", state["step"]))
    train_model: torch.nn.Module = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP
        train_model = DDP(model, device_ids=[local_rank] if device.type == "cuda" else None)
    step_fn = torch.compile(train_model) if cfg.compile else train_model
    precision = _choose_precision(cfg, model, data, train_idx, device, n_train, world)
    if rank == 0:
        if budget.time_limit > 0:
            log(budget.message())
        log(f"threads: {threads} ({threads_why}); precision: {precision.precision} "
            f"({precision.reason}"
            + (", " + ", ".join(f"{k} {v:.0f} images/s" for k, v in precision.timings.items())
               if precision.timings else "") + ")")

    if state["epoch"] < cfg.epochs:
        where = f"{device.type}" + (f" ({torch.cuda.get_device_name(device)})"
                                    if device.type == "cuda" else "") + f" x{world}"
        state.setdefault("trained_on", [])
        if where not in state["trained_on"]:
            state["trained_on"].append(where)
    steps_per_epoch = math.ceil(math.ceil(n_train / world) / cfg.batch_size)
    planned_steps = cfg.epochs * steps_per_epoch
    dataset_size = n_train
    interrupted = False
    seconds_at_start = state["seconds"]
    stopped_at: str | None = None
    next_hook = hook_every if hook_every > 0 else float("inf")
    eval_model = ema.model if ema is not None else model
    last_hook_step = -1

    def call_hook(extra: float = 0.0) -> float:
        """Run the hook on the saved-model weights; returns the seconds it took."""
        h0 = time.perf_counter()
        was = eval_model.training
        eval_model.eval()
        nonlocal last_hook_step
        last_hook_step = state["step"]
        hook(eval_model, {"step": state["step"], "seconds": state["seconds"] + extra,
                          "progress": prog, "epoch": state["epoch"]})
        eval_model.train(was)
        return time.perf_counter() - h0

    prog = run_progress(state["step"], planned_steps, state["seconds"], cfg.time_limit)
    first_step = state["step"]
    if state["history"] and state["history"][-1].get("partial"):
        state["history"].pop()  # the epoch a time limit cut short is recorded again, whole
        gallery = gallery[:-1]
    try:
        for epoch in range(state["epoch"], cfg.epochs):
            perm = train_idx[np.random.default_rng([cfg.seed, epoch]).permutation(n_train)]
            # DistributedSampler pads the shards to equal length, so every rank takes the same
            # number of steps (an uneven split would leave one rank waiting in an all-reduce)
            perm = perm[np.fromiter(DistributedSampler(perm, num_replicas=world, rank=rank,
                                                       shuffle=False), dtype=np.int64)]
            start_batch = state["batch"] if epoch == state["epoch"] else 0
            if start_batch == 0:
                torch.manual_seed(cfg.seed * 1_000_003 + epoch * 101 + rank)
            model.train()
            acc: dict[str, float] = {}
            seen, t0, paused = 0, time.perf_counter(), 0.0

            def elapsed(t0=t0) -> float:
                return time.perf_counter() - t0 - paused
            bar = range(start_batch, steps_per_epoch)
            if progress and rank == 0:
                from tqdm import tqdm
                bar = tqdm(bar, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch",
                           initial=start_batch, total=steps_per_epoch, dynamic_ncols=True)
            for b in bar:
                idx = perm[b * cfg.batch_size:(b + 1) * cfg.batch_size]
                if len(idx) == 0:
                    continue
                x = data[torch.from_numpy(idx).to(data.device)].to(device, non_blocking=True)
                x = x.permute(0, 3, 1, 2).float().div_(255.0)
                if cfg.channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                prog = run_progress(state["step"], planned_steps,
                                    state["seconds"] + elapsed(), cfg.time_limit)
                if world > 1 and cfg.time_limit > 0:  # every rank follows the slowest clock
                    pt = torch.tensor([prog], dtype=torch.float64, device=device)
                    torch.distributed.all_reduce(pt, op=torch.distributed.ReduceOp.MAX)
                    prog = float(pt.item())
                if (cfg.time_limit > 0 and prog >= 1.0 and state["step"] > first_step
                        and state["step"] < planned_steps):
                    spent = state["seconds"] + elapsed()
                    stopped_at = (f"time limit: {spent:.0f} s of training >= the "
                                  f"{cfg.time_limit:.0f} s it may take; STOPPED EARLY at step "
                                  f"{state['step']:,} of the {planned_steps:,} planned (epoch "
                                  f"{epoch + 1} of {cfg.epochs}, batch {b} of "
                                  f"{steps_per_epoch}); the schedules were compressed into the "
                                  f"limit and ran to their end")
                    state["stopped_early"] = {
                        "reason": "time_limit", "at_step": state["step"],
                        "planned_steps": planned_steps, "at_epoch": epoch + 1,
                        "planned_epochs": cfg.epochs, "at_batch": b,
                        "seconds": round(spent, 1),
                        "train_seconds_limit": round(cfg.time_limit, 1),
                        "time_limit": asked.time_limit, "schedules_completed": True}
                    break
                for group in opt.param_groups:
                    group["lr"] = cfg.lr * lr_factor(cfg, prog) * group.get("lr_scale", 1.0)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision.bf16):
                    out_ = step_fn(x, state["step"], dataset_size, prog)
                if not torch.isfinite(out_.loss.detach()):
                    raise TrainingError(
                        f"loss became {float(out_.loss.detach())} at epoch {epoch + 1}, step "
                        f"{state['step']} (parts: "
                        f"{ {k: round(float(v), 3) for k, v in out_.parts.items()} }); stopped. "
                        f"The last good checkpoint in {out / CKPT_DIR} is kept; try a lower --lr.")
                loss = out_.loss
                if disc is not None and prog >= cfg.adversarial_start:
                    loss = loss + _adversarial_step(model, disc, opt_d, x, out_, cfg)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                opt.step()
                if ema is not None:
                    ema.update(model)
                state["step"] += 1
                state["batch"] = b + 1
                seen += len(idx)
                for k, v in out_.parts.items():
                    acc[k] = acc.get(k, 0.0) + float(v) * len(idx)
                acc["loss"] = acc.get("loss", 0.0) + float(out_.loss.detach()) * len(idx)
                if progress and rank == 0 and (b % 10 == 0 or b == steps_per_epoch - 1):
                    ips = seen * world / max(time.perf_counter() - t0, 1e-9)
                    bar.set_postfix({**{k: f"{v / seen:.4g}" for k, v in acc.items()},
                                     "img/s": f"{ips:.0f}"})
                if hook is not None and rank == 0 and state["seconds"] + elapsed() >= next_hook:
                    paused += call_hook(elapsed())
                    next_hook += hook_every
            if progress and rank == 0 and hasattr(bar, "close"):
                bar.close()
            dt = time.perf_counter() - t0 - paused
            state["seconds"] += dt
            if rank == 0:
                row = {"epoch": epoch + 1, "step": state["step"], "seconds": round(dt, 2),
                       "images_per_s": round(seen * world / max(dt, 1e-9), 1),
                       "train": _mean_parts(acc, seen)}
                if stopped_at is not None:
                    row["partial"] = True
                if len(val_idx):
                    row["val"] = evaluate_split(eval_model, data, val_idx, device, dataset_size,
                                                state["step"], progress=prog)
                    if not all(math.isfinite(v) for v in row["val"].values()
                               if isinstance(v, float)):
                        raise TrainingError(f"validation loss is not finite at epoch {epoch + 1}"
                                            f" ({row['val']}); the last good checkpoint is kept")
                state["history"].append(row)
                with torch.inference_mode():
                    eval_model.eval()
                    gallery.append(tensor_to_images(eval_model.decode(z_gallery)))
                    eval_model.train()
                if progress:
                    v = row.get("val", {})
                    log(f"epoch {epoch + 1}: train loss {row['train']['loss']:.4g}"
                        + (f", val loss {v['loss']:.4g}, val PSNR {v['psnr']:.2f} dB, "
                           f"active dims {v['active_dims']}" if v else ""))
            if stopped_at is None:
                state["epoch"], state["batch"] = epoch + 1, 0
            if ema is not None:
                state["ema_updates"] = ema.updates
            if rank == 0:
                save_checkpoint(out, model, opt, state, gallery,
                                ema.model if ema is not None else None, disc)
            if world > 1:
                torch.distributed.barrier()
            if stopped_at is not None:
                if rank == 0:
                    log(stopped_at)
                break
    except KeyboardInterrupt:
        interrupted = True
        if rank == 0:
            save_checkpoint(out, model, opt, state, gallery,
                            ema.model if ema is not None else None, disc)
            log(f"\ninterrupted: checkpoint saved in {out / CKPT_DIR} at epoch "
                f"{state['epoch'] + 1} batch {state['batch']}; continue with --resume")
    finally:
        if world > 1 and torch.distributed.is_initialized() and interrupted:
            torch.distributed.destroy_process_group()
    if interrupted:
        raise KeyboardInterrupt

    rank_checksums: list[str] = []
    if world > 1:
        # every rank reports a checksum of its weights: DDP must have kept them identical
        import hashlib
        import torch.distributed as dist
        flat = torch.cat([p.detach().float().cpu().flatten() for p in model.parameters()])
        mine = hashlib.sha256(flat.numpy().tobytes()).hexdigest()[:16]
        gathered: list[Any] = [None] * world
        dist.all_gather_object(gathered, mine)
        rank_checksums = [str(g) for g in gathered]
    if ema is not None:
        model = ema.model  # the weight average is what is evaluated and saved
    if hook is not None and rank == 0 and last_hook_step != state["step"]:
        call_hook()
    result = None
    if rank == 0 and not cfg.write_bundle:
        log(f"checkpoint in {out / CKPT_DIR}; write the bundle with --resume")
    elif rank == 0:
        model = model.to("cpu").to(memory_format=torch.contiguous_format)
        model.eval()
        metrics = {"train_seconds": round(state["seconds"], 1), "epochs": state["epoch"],
                   "steps": state["step"], "world_size": world,
                   "trained_on": state.get("trained_on", []),
                   **({"init_from": state["init_from"]} if state.get("init_from") else {}),
                   "device": ", ".join(state.get("trained_on", [])) or device.type,
                   "precision": precision.to_dict(),
                   "threads": {"n": threads, "reason": threads_why},
                   "planned_steps": planned_steps}
        if rank_checksums:
            metrics["rank_weight_checksums"] = rank_checksums
        if state["history"] and "val" in state["history"][-1]:
            metrics["val"] = state["history"][-1]["val"]
        metrics.update(_throughput(state["history"]))
        if state.get("stopped_early"):
            metrics["stopped_early"] = state["stopped_early"]
        if budget.time_limit > 0:
            metrics["budget"] = budget.to_dict()
        deadline = (t_start + cfg.time_limit - seconds_at_start + budget.reserve_seconds
                    if budget.time_limit > 0 else None)
        result = write_bundle(out, model, catalogue, train_config=asked.to_dict(),
                              history=state["history"], gallery=np.stack(gallery) if gallery
                              else np.zeros((0, GALLERY_SIZE, catalogue.size, catalogue.size, 3),
                                            np.uint8),
                              metrics=metrics, projections=cfg.projections, seed=cfg.seed,
                              image_quality=cfg.image_quality or None, progress=progress,
                              keep=[CKPT_DIR, "names.json", "directions.json"],
                              precision=cfg.precision, device=device.type, log=log,
                              deadline=deadline, skipped=budget.skipped)
        log(f"wrote bundle {result}")
    if world > 1:
        import torch.distributed as dist
        dist.barrier()
        dist.destroy_process_group()
    return result


def _warm_start(cfg: TrainConfig, values: dict[str, Any], catalogue: Catalogue
                ) -> tuple[dict[str, Any], dict[str, Any]]:
    """--init-from: the bundle's info, checked against this run before anything trains, and
    the model settings: the bundle's, overridden by those given, the colour curriculum off
    unless given (the model is past the grey start it exists for)."""
    from explorer.bundle.core import read_bundle_info
    src = cfg.init_from
    try:
        info = read_bundle_info(src)
    except BundleError as e:
        raise TrainingError(f"--init-from {src}: {e}") from e
    bcfg = dict(info["model_config"])
    if info["model_kind"] != cfg.model:
        raise TrainingError(f"--init-from {src}: it is a {info['model_kind']} model, this run "
                            f"trains {cfg.model} (add --model {info['model_kind']})")
    if bcfg.get("image_size") != catalogue.size:
        raise TrainingError(f"--init-from {src}: its model takes {bcfg.get('image_size')} px "
                            f"images, the catalogue {catalogue.path or catalogue.name} is "
                            f"{catalogue.size} px")
    for key in ("latent_dim", "image_size"):
        if key in values and values[key] != bcfg.get(key):
            raise TrainingError(f"--init-from {src}: its model has {key} {bcfg.get(key)}, "
                                f"this run asks for {values[key]}")
    merged = {k: v for k, v in bcfg.items() if k not in ("kind",)}
    if "colour_boost" in merged:
        merged["colour_boost"] = 1.0
    merged.update(values)
    return info, merged


def _load_warm_weights(model: AutoEncoder, mcfg, src: str, info: dict[str, Any]) -> None:
    """Copy the bundle's weights (checksum checked) into model; a clear error if they do not
    fit this run's settings."""
    from explorer.bundle.core import _sha256, load_model
    fp = Path(src) / "model.safetensors"
    want = info["files"].get("model.safetensors", {}).get("sha256")
    if not fp.is_file():
        raise TrainingError(f"--init-from {src}: no model.safetensors")
    if want and _sha256(fp) != want:
        raise TrainingError(f"--init-from {src}: model.safetensors does not match its "
                            f"checksum in bundle.json (changed or corrupted)")
    try:
        source = load_model(src, info)
    except BundleError as e:
        raise TrainingError(f"--init-from {src}: {e}") from e
    try:
        model.load_state_dict(source.state_dict())
    except RuntimeError as e:
        ours = mcfg.to_dict()
        differ = {k: (v, ours.get(k)) for k, v in info["model_config"].items()
                  if ours.get(k) != v and k != "colour_boost"}
        raise TrainingError(f"--init-from {src}: its weights do not fit this run's model; "
                            f"settings that differ (bundle, this run): {differ} "
                            f"({str(e).splitlines()[0]})") from e


def _throughput(history: list[dict[str, Any]]) -> dict[str, Any]:
    """images_per_s: the mean over the whole run (all images / all training seconds, across
    --resume), and the last epoch's, from the per-epoch history."""
    secs = sum(float(r.get("seconds", 0)) for r in history)
    imgs = sum(float(r.get("images_per_s", 0)) * float(r.get("seconds", 0)) for r in history)
    if not history or secs <= 0:
        return {}
    return {"images_per_s": round(imgs / secs, 1),
            "last_epoch_images_per_s": history[-1].get("images_per_s")}


def _choose_precision(cfg: TrainConfig, model: AutoEncoder, data: torch.Tensor,
                      train_idx: np.ndarray, device: torch.device, dataset_size: int,
                      world: int):
    """fp32 or bf16 for this run (explorer.training.precision), timing forward+backward steps of a copy
    of the model on a real batch where bfloat16 could be the faster; every rank takes rank 0's
    choice."""
    import copy

    def step(bf16: bool) -> int:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out_ = probe(x, 0, dataset_size)
        out_.loss.backward()
        probe.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return len(x)

    probe = copy.deepcopy(model).train()
    idx = torch.from_numpy(train_idx[:cfg.batch_size]).to(data.device)
    x = data[idx].to(device).permute(0, 3, 1, 2).float().div_(255.0)
    if cfg.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    choice = resolve_precision(cfg.precision, device.type, step)
    del probe
    if world > 1:
        import torch.distributed as dist
        flag = torch.tensor([float(choice.bf16)], device=device)
        dist.broadcast(flag, src=0)
        if bool(flag.item()) != choice.bf16:
            from explorer.training.precision import PrecisionChoice
            choice = PrecisionChoice("bf16" if flag.item() else "fp32", "rank 0's choice",
                                     cfg.precision)
    return choice


# ---------------------------------------------------------------------------- CLI
def _model_fields() -> dict[str, dataclasses.Field]:
    """Every model-config field across kinds (same name = same flag)."""
    found: dict[str, dataclasses.Field] = {}
    for cfg_cls, _ in MODEL_KINDS.values():
        for f in dataclasses.fields(cfg_cls):
            if f.name != "image_size":
                found.setdefault(f.name, f)
    return found


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_arguments(parser) -> None:
    parser.add_argument("catalogue", help="catalogue folder (from `synth` or `ingest`)")
    parser.add_argument("--out", required=True, help="bundle folder to write, e.g. "
                        "checkpoints/NAME (an existing bundle there is replaced)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace --out even when it holds something other than a bundle")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the checkpoint in --out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    g = parser.add_argument_group("training (TrainConfig)")
    for f in dataclasses.fields(TrainConfig):
        if f.name == "model":
            g.add_argument("--model", default=f.default, choices=list(MODEL_KINDS),
                           help=f"model kind (default {f.default})")
        elif f.type in ("bool", bool):
            g.add_argument(_flag(f.name), default=f.default,
                           action=argparse.BooleanOptionalAction,
                           help=f"(default {f.default})")
        elif f.name == "precision":
            g.add_argument("--precision", default=f.default, choices=PRECISIONS,
                           help="fp32, bf16 (bfloat16 autocast) or auto: bf16 only where the "
                                "hardware does bfloat16 (AMX / AVX512-BF16 CPU, GPU) and a few "
                                "timed steps show it faster; the choice is logged (default auto)")
            g.add_argument("--bf16", dest="precision", action="store_const", const="bf16",
                           default=argparse.SUPPRESS, help="same as --precision bf16")
        elif f.name == "init_from":
            g.add_argument("--init-from", default="", metavar="BUNDLE",
                           help="start from this bundle's weights (same model kind, image size "
                                "and latent dimensions; model settings not given default to "
                                "the bundle's, the colour curriculum to off): fine-tune a "
                                "grown catalogue instead of training from scratch")
        elif f.name == "stratify":
            g.add_argument("--stratify", default="", metavar="COLUMN",
                           help="keep each value's share of this metadata column in the "
                                "validation split (default: a plain random split)")
        elif f.name == "threads":
            g.add_argument("--threads", type=int, default=f.default,
                           help="intra-op CPU threads; 0: the CPUs this process may use "
                                "(os.sched_getaffinity), logged (default 0)")
        elif f.name == "projections":
            g.add_argument("--projections", default=",".join(f.default),
                           help="comma-separated projections to cache: pca, umap, tsne "
                                "(default all)")
        else:
            typ = {"int": int, "float": float, "str": str}.get(str(f.type), str)
            g.add_argument(_flag(f.name), type=typ, default=f.default,
                           help=f"(default {f.default})")
    m = parser.add_argument_group("model (the chosen kind's config; unset = its default)")
    for name, f in _model_fields().items():
        owners = [k for k, (c, _) in MODEL_KINDS.items()
                  if name in {x.name for x in dataclasses.fields(c)}]
        typ = {"int": int, "float": float, "str": str}.get(str(f.type))
        label = "all kinds" if len(owners) == len(MODEL_KINDS) else ", ".join(owners)
        if f.type in ("bool", bool):
            m.add_argument(_flag(name), default=None,
                           action=__import__("argparse").BooleanOptionalAction,
                           help=f"({label}; default {RECIPE.get(name, f.default)})")
        elif name in ("channels", "scales"):
            m.add_argument(_flag(name), default=None,
                           help=f"comma-separated ({label}; default "
                                f"{','.join(str(v) for v in f.default) or 'by image size'})")
        else:
            m.add_argument(_flag(name), type=typ or str, default=None,
                           help=f"({label}; default {RECIPE.get(name, f.default)})")


def config_from_args(args) -> tuple[TrainConfig, dict[str, Any]]:
    tvals = {}
    for f in dataclasses.fields(TrainConfig):
        v = getattr(args, f.name)
        if f.name == "projections":
            v = tuple(p.strip() for p in v.split(",") if p.strip())
        tvals[f.name] = v
    cfg = TrainConfig(**tvals)
    kind_fields = {f.name for f in dataclasses.fields(MODEL_KINDS[cfg.model][0])}
    mvals: dict[str, Any] = {}
    for name in _model_fields():
        v = getattr(args, name)
        if v is None:
            continue
        if name not in kind_fields:
            raise TrainingError(f"{_flag(name)} does not apply to {cfg.model}")
        if name in ("channels", "scales"):
            conv = int if name == "channels" else float
            v = tuple(conv(p) for p in str(v).split(","))
        mvals[name] = v
    return cfg, mvals


def run(args) -> int:
    try:
        cfg, mvals = config_from_args(args)
        catalogue = Catalogue.load(args.catalogue)
        train(catalogue, cfg, mvals, args.out, resume=args.resume,
              progress=not args.no_progress, overwrite=args.overwrite)
    except (TrainingError, CatalogueError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
