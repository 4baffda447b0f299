"""Encoding images with a model: the uint8 <-> float tensor conversions and `encode_images`
(batched, in float32 or bfloat16 autocast, with the precision chosen by timing where it could
pay; explorer.training.precision)."""
from __future__ import annotations

from typing import Iterable

import numpy as np
import torch

from explorer.models import AutoEncoder
from explorer.training.precision import PRECISIONS


def images_to_tensor(images: np.ndarray, channels_last: bool = False) -> torch.Tensor:
    """uint8 [B, S, S, 3] -> float32 [B, 3, S, S] in [0, 1]."""
    t = torch.from_numpy(np.array(images, dtype=np.uint8, copy=True))
    t = t.permute(0, 3, 1, 2).float().div_(255.0)
    return t.contiguous(memory_format=torch.channels_last) if channels_last else t.contiguous()


def tensor_to_images(x: torch.Tensor) -> np.ndarray:
    """float [B, 3, S, S] in [0, 1] -> uint8 [B, S, S, 3]."""
    return (x.detach().clamp(0, 1).mul(255).round().byte().permute(0, 2, 3, 1).cpu().numpy())


def encode_precision(model: AutoEncoder, images: np.ndarray, asked: str = "auto",
                     batch_size: int = 512):
    """explorer.training.precision's choice for encoding images with model on its device: where the
    hardware does bfloat16, a few encoder batches are timed in each precision."""
    from explorer.training.precision import resolve_precision

    device = next(model.parameters()).device
    x = images_to_tensor(images[:min(len(images), batch_size)],
                         channels_last=device.type == "cpu").to(device)

    @torch.inference_mode()
    def step(bf16: bool) -> int:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            model.encode(x)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return len(x)

    was_training = model.training
    model.eval()
    try:
        return resolve_precision(asked, device.type, step if len(x) else None)
    finally:
        model.train(was_training)


@torch.inference_mode()
def encode_images(model: AutoEncoder, images: np.ndarray, batch_size: int = 512,
                  progress: bool = False, precision: str = "fp32"
                  ) -> tuple[np.ndarray, np.ndarray]:
    """uint8 [N, S, S, 3] -> (mu, logvar), float32 [N, latent_dim] each.

    precision "bf16" runs the encoder under bfloat16 autocast (on CPUs with AMX or AVX512-BF16
    about 4x faster than float32, on CPUs without them slower; on the demo the means move by at
    most ~4% of their spread and 99% of each item's 10 nearest neighbours stay the same, see
    bench/bench_train.py); "auto" takes encode_precision's choice. The results are float32
    either way."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        precision = encode_precision(model, images, batch_size=batch_size).precision
    was_training = model.training
    model.eval()
    n, d = len(images), model.cfg.latent_dim
    mu = np.empty((n, d), np.float32)
    logvar = np.empty((n, d), np.float32)
    steps: Iterable[int] = range(0, n, batch_size)
    if progress:
        from tqdm import tqdm
        steps = tqdm(steps, desc="encoding", unit="batch")
    device = next(model.parameters()).device
    cl = device.type == "cpu"
    for s in steps:
        x = images_to_tensor(images[s:s + batch_size], channels_last=cl).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            m, lv = model.encode(x)
        mu[s:s + len(x)] = m.float().cpu().numpy()
        logvar[s:s + len(x)] = lv.float().cpu().numpy()
    model.train(was_training)
    return mu, logvar
