"""The training checkpoint (out/checkpoint/): weights, their average, the discriminator and the
optimizer's tensors in one safetensors file whose metadata holds the run's progress, written
atomically after every epoch (and on Ctrl-C); `--resume` continues from it."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file as torch_load_file
from safetensors.torch import save as torch_save

from explorer.data.atomic import atomic_write_bytes, atomic_write_text
from explorer.models import AutoEncoder
from explorer.training.config import TrainConfig, TrainingError

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


def checkpoint_meta(ck: Path) -> dict[str, Any]:
    """The training progress saved with the weights (falls back to state.json)."""
    from safetensors import safe_open
    with safe_open(str(ck / "state.safetensors"), framework="pt") as f:
        text = (f.metadata() or {}).get("state")
    return json.loads(text) if text else json.loads((ck / "state.json").read_text())


def checkpoint_tensors(out: Path, prefix: str) -> dict[str, torch.Tensor] | None:
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
        meta = checkpoint_meta(ck)
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


def chosen_settings(out: Path, mcfg, chosen=("linear_chroma",)):
    """--resume: mcfg with the settings training chose for itself (not asked for on the
    command line) taken from the checkpoint in out, so that the run compares and carries
    them; mcfg unchanged where there is no readable checkpoint (resume_checkpoint says so)."""
    try:
        prev = checkpoint_meta(out / CKPT_DIR).get("model_config") or {}
    except Exception:  # noqa: BLE001 - resume_checkpoint reports an unreadable checkpoint
        return mcfg
    keep = {k: prev[k] for k in chosen if k in prev and hasattr(mcfg, k)}
    return dataclasses.replace(mcfg, **keep) if keep else mcfg


def resume_checkpoint(out: Path, cfg: TrainConfig, model_config: dict[str, Any],
                      fingerprint: str, model: AutoEncoder, opt: torch.optim.Optimizer,
                      state: dict[str, Any]) -> list[np.ndarray]:
    """--resume: check that the checkpoint in out was made by this run (model kind, model
    settings, catalogue), load it into model, opt and state, and return its gallery."""
    ck_file = out / CKPT_DIR / "state.safetensors"
    if not ck_file.is_file():
        raise TrainingError(f"--resume: no checkpoint at {ck_file}")
    try:
        prev = checkpoint_meta(out / CKPT_DIR)
    except Exception as e:  # noqa: BLE001 - any parse failure is a corrupt checkpoint
        raise TrainingError(f"--resume: the checkpoint {ck_file} is unreadable ({e})") from e
    if prev.get("model_kind") != cfg.model:
        raise TrainingError(f"--resume: the checkpoint in {out} is a {prev.get('model_kind')} "
                            f"model, not {cfg.model}")
    if prev.get("model_config") != model_config:
        raise TrainingError(f"--resume: the checkpoint in {out} was made with other model "
                            f"settings: {prev.get('model_config')}")
    if prev.get("catalogue_fingerprint") != fingerprint:
        raise TrainingError(f"--resume: the checkpoint in {out} was trained on another "
                            f"catalogue ({prev.get('catalogue_fingerprint')})")
    meta, gallery = load_checkpoint(out, model, opt)
    for group in opt.param_groups:  # this run's --lr / --weight-decay take effect
        group["lr"], group["weight_decay"] = cfg.lr, cfg.weight_decay
    state.update({k: meta[k] for k in ("epoch", "batch", "step", "history", "seconds")})
    state["trained_on"] = meta.get("trained_on", [])
    state["linear_scale"] = float(meta.get("linear_scale", 1.0))  # what a fade has left
    if meta.get("precision") in ("fp32", "bf16"):
        state["precision"] = meta["precision"]  # --precision auto keeps the run's choice
    for key in ("init_from", "linear_chroma"):
        if meta.get(key):
            state[key] = meta[key]
    return gallery
