"""The pieces of a training run's loop: a validation pass, a discriminator step, the
precision choice, the PCA start of the linear paths, and the throughput summary."""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch

from explorer.models import AutoEncoder
from explorer.training.config import PCA_INIT_BYTES, TrainConfig
from explorer.training.precision import resolve_precision


def mean_parts(acc: dict[str, float], n: int) -> dict[str, float]:
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
    res = mean_parts(acc, n)
    mse = se_sum / max(n, 1)
    res["mse"] = mse
    res["psnr"] = 10 * math.log10(1.0 / max(mse, 1e-10))
    kl_mean = (kl_dims / max(n, 1)).numpy()
    res["active_dims"] = int((kl_mean > 0.1).sum()) if not model.deterministic else None
    return res


def adversarial_step(model: AutoEncoder, disc: torch.nn.Module, opt_d: torch.optim.Optimizer,
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


def choose_run_precision(cfg: TrainConfig, model: AutoEncoder, data: torch.Tensor,
                      train_idx: np.ndarray, device: torch.device, dataset_size: int,
                      world: int, resumed: str | None = None):
    """fp32 or bf16 for this run (explorer.training.precision), timing forward+backward steps of
    a copy of the model on a real batch where bfloat16 could be the faster; every rank takes
    rank 0's choice. resumed: the precision of the run being resumed, kept under
    --precision auto (a fresh timing could flip it, and the run would not go on as it began)."""
    import copy

    from explorer.training.precision import PrecisionChoice
    if resumed in ("fp32", "bf16") and cfg.precision == "auto":
        return PrecisionChoice(resumed, "the resumed run's own choice, kept so that it goes on "
                                        "as it began; --precision to change it")

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
            choice = PrecisionChoice("bf16" if flag.item() else "fp32", "rank 0's choice",
                                     cfg.precision)
    return choice


def throughput(history: list[dict[str, Any]]) -> dict[str, Any]:
    """images_per_s: the mean over the whole run (all images / all training seconds, across
    --resume), and the last epoch's, from the per-epoch history."""
    secs = sum(float(r.get("seconds", 0)) for r in history)
    imgs = sum(float(r.get("images_per_s", 0)) * float(r.get("seconds", 0)) for r in history)
    if not history or secs <= 0:
        return {}
    return {"images_per_s": round(imgs / secs, 1),
            "last_epoch_images_per_s": history[-1].get("images_per_s")}


def init_linear_path(model: AutoEncoder, data: torch.Tensor, train_idx: np.ndarray, seed: int,
                     image_size: int, device: torch.device, metadata=None
                     ) -> tuple[int, dict[str, Any]]:
    """Set the model's linear paths from the PCA of a sample of the training images (every rank
    draws the same sample, so the initial weights agree under DDP); returns (sample size,
    init_from_pca's info). metadata (the catalogue's table): first choose linear_chroma for
    this catalogue from the same sample (explorer.training.chroma; model.cfg is replaced
    with the choice, and info["chroma"] says why)."""
    n_train = len(train_idx)
    cap = max(2, min(n_train, PCA_INIT_BYTES // (4 * 3 * image_size ** 2)))
    pick = np.sort(np.random.default_rng([seed, 31]).choice(train_idx, min(cap, n_train),
                                                             replace=False))
    xs = data[torch.from_numpy(pick)].permute(0, 3, 1, 2).float().div_(255.0)
    chroma: dict[str, Any] = {"why": "as asked"}
    if metadata is not None:
        from explorer.training.chroma import choose_linear_chroma
        c, report = choose_linear_chroma(xs, metadata.iloc[pick], model.cfg.latent_dim,
                                         model.cfg.linear_whiten, seed)
        model.cfg = dataclasses.replace(model.cfg, linear_chroma=c)
        chroma = {"why": report["why"], "mean_knn_by_weight": {
            f"{k:g}": round(v["mean"], 4) for k, v in report.get("scores", {}).items()}}
    info = model.init_from_pca(xs.to(device), seed=seed)
    # for the log, and bundle.json's metrics (the model card shows it)
    info["chroma"] = {"chosen": model.cfg.linear_chroma, **chroma}
    info["chroma_line"] = (f"linear_chroma {model.cfg.linear_chroma:g} (colour's weight in that "
                           f"PCA; 1 = plain PCA): {chroma['why']}")
    return len(pick), info
