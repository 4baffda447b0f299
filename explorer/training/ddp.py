"""Training under torchrun: which process this is, its device, the process group, each rank's
share of an epoch, and the checks that keep the ranks in step (DistributedDataParallel: gloo
on CPU, NCCL on GPU; only rank 0 writes)."""
from __future__ import annotations

import hashlib
import os

import numpy as np
import torch
from torch.utils.data import DistributedSampler

from explorer.training.config import TrainConfig, TrainingError


def dist_info() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) without it."""
    return (int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
            int(os.environ.get("LOCAL_RANK", 0)))


def pick_device(cfg: TrainConfig, local_rank: int) -> torch.device:
    if cfg.device == "cpu" or (cfg.device == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise TrainingError("--device cuda asked for, but no CUDA device is available")
    return torch.device("cuda", local_rank)


def init_distributed(device: torch.device) -> None:
    """Join the process group (once) and pin this rank's GPU."""
    import torch.distributed as dist
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)


def shard(perm: np.ndarray, world: int, rank: int) -> np.ndarray:
    """This rank's part of an epoch's order. DistributedSampler pads the shards to equal length,
    so every rank takes the same number of steps (an uneven split would leave one rank waiting
    in an all-reduce)."""
    return perm[np.fromiter(DistributedSampler(perm, num_replicas=world, rank=rank,
                                               shuffle=False), dtype=np.int64)]


def slowest_progress(progress: float, device: torch.device) -> float:
    """The largest progress across ranks: under a time limit every rank follows the slowest
    clock."""
    pt = torch.tensor([progress], dtype=torch.float64, device=device)
    torch.distributed.all_reduce(pt, op=torch.distributed.ReduceOp.MAX)
    return float(pt.item())


def rank_weight_checksums(model: torch.nn.Module, world: int) -> list[str]:
    """Every rank's checksum of its weights (DDP must have kept them identical)."""
    import torch.distributed as dist
    flat = torch.cat([p.detach().float().cpu().flatten() for p in model.parameters()])
    mine = hashlib.sha256(flat.numpy().tobytes()).hexdigest()[:16]
    gathered: list = [None] * world
    dist.all_gather_object(gathered, mine)
    return [str(g) for g in gathered]


def finish_distributed() -> None:
    import torch.distributed as dist
    dist.barrier()
    dist.destroy_process_group()
