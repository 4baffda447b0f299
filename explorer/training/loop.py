"""Training: a catalogue in, a bundle out (`python -m explorer train`, explorer/cli/train.py).

Training is seeded and repeatable on the CPU; a checkpoint is written atomically after every
epoch (and on Ctrl-C), `--resume` continues from it, and a NaN/inf loss stops with the last good
checkpoint kept. Under torchrun it runs DistributedDataParallel (explorer.training.ddp); only
rank 0 writes.
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from explorer.bundle.core import BundleError
from explorer.bundle.encode import tensor_to_images
from explorer.bundle.write import check_out_target, write_bundle
from explorer.data.catalogue import Catalogue
from explorer.data.splits import split_for
from explorer.models import build_model
from explorer.models.code_scale import settle_code_scale
from explorer.training.budget import plan_run_budget, projection_seconds
from explorer.training.checkpoint import (CKPT_DIR, checkpoint_tensors, chosen_settings,
                                          resume_checkpoint, save_checkpoint)
from explorer.training.config import (GALLERY_SIZE, UNTIL_LIMIT_EPOCHS, TrainConfig,
                                      TrainingError, check_train_config)
from explorer.training.ddp import (dist_info, finish_distributed, init_distributed, pick_device,
                                   rank_weight_checksums, shard, slowest_progress)
from explorer.training.precision import PRECISIONS, available_cpus, choose_threads
from explorer.training.schedule import (EMA, fade_linear_paths, linear_scale, lr_factor,
                                        make_optimizer, run_progress)
from explorer.training.settings import load_warm_weights, model_settings
from explorer.training.steps import (adversarial_step, choose_run_precision, evaluate_split,
                                     init_linear_path, mean_parts, throughput)


# from this many planned steps `train` suggests --linear-fade: measured on the demo catalogue,
# the frozen paths had cost the shape neighbours at 25,320 steps; the fade kept them at 16,880
LONG_RUN_STEPS = 15_000


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
    rank, world, local_rank = dist_info()
    check_train_config(cfg)
    try:
        check_out_target(out, reads=[catalogue.path] if catalogue.path else [],
                         overwrite=overwrite)
    except BundleError as e:
        raise TrainingError(str(e)) from e
    if len(catalogue) < 2:
        raise TrainingError(f"catalogue {catalogue.path or catalogue.name} has {len(catalogue)} "
                            f"items; training needs at least 2")
    mcfg, warm = model_settings(cfg, model_values, catalogue, resume, world)
    if resume and "linear_chroma" not in model_values:
        mcfg = chosen_settings(out, mcfg)  # the value the first run chose for the catalogue
    if cfg.linear_fade > 0 and not getattr(mcfg, "linear_path", False):
        raise TrainingError("--linear-fade fades the linear paths, and this model has none "
                            "(drop --no-linear-path, or --linear-fade)")

    # --time-limit bounds the whole command: the training gets what the encoding and the maps
    # after it will not need (explorer.training.budget); `cfg` from here on carries the
    # training's share
    asked, t_start = cfg, time.monotonic()
    budget = plan_run_budget(cfg.time_limit, len(catalogue), catalogue.size, cfg.projections,
                             writes_bundle=cfg.write_bundle)
    if cfg.time_limit > 0:
        cfg = dataclasses.replace(cfg, time_limit=budget.train_seconds,
                                  projections=budget.projections)
    if cfg.precision not in PRECISIONS:
        raise TrainingError(f"--precision must be one of {', '.join(PRECISIONS)}, "
                            f"got {cfg.precision!r}")
    threads, threads_why = choose_threads(cfg.threads, available_cpus(),
                                          int(os.environ.get("LOCAL_WORLD_SIZE", world)))
    torch.set_num_threads(threads)
    device = pick_device(cfg, local_rank)
    if world > 1:
        init_distributed(device)

    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, mcfg).to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if warm is not None:  # after any initialisation, before the optimizer and any weight copy
        load_warm_weights(model, mcfg, cfg.init_from, warm)
        log(f"warm start: the weights of {cfg.init_from} ({warm['model_kind']}, trained on "
            f"{warm['catalogue'].get('count')} items)")
    opt = make_optimizer(model, cfg)

    train_idx, val_idx = split_for(cfg.to_dict(), len(catalogue), catalogue.images,
                                   catalogue.metadata)
    n_train = len(train_idx)
    # the whole catalogue as one uint8 tensor: a memmap read once, ~12 KB per 64 px image
    data = torch.from_numpy(np.array(catalogue.images, dtype=np.uint8, copy=True))
    if mcfg.linear_path and not resume and warm is None:
        auto = "linear_chroma" not in model_values  # else the run's own --linear-chroma
        n_pick, info = init_linear_path(model, data, train_idx, cfg.seed, catalogue.size,
                                        device, catalogue.metadata if auto else None)
        mcfg = model.cfg  # linear_chroma as chosen (the same on every rank: same sample)
        if progress and rank == 0:
            log(f"linear path set from the PCA of {n_pick} training images "
                f"({info['explained']:.1%} of their variance in {mcfg.latent_dim} components)")
        if rank == 0:
            log(info["chroma_line"])
    if cfg.linear_fade > 0 and rank == 0:
        log(f"linear paths fade out from {cfg.linear_fade_start:.0%} to {cfg.linear_fade:.0%} "
            f"of the run: the conv nets carry the whole code after that")
    if device.type == "cuda":
        data = data.to(device)  # a few hundred MB at most: index batches on the GPU
    gen = torch.Generator().manual_seed(cfg.seed + 12345)
    z_gallery = torch.randn(GALLERY_SIZE, mcfg.latent_dim, generator=gen).to(device)

    state: dict[str, Any] = {"epoch": 0, "batch": 0, "step": 0, "history": [],
                             "train_config": asked.to_dict(), "model_kind": cfg.model,
                             "model_config": mcfg.to_dict(),
                             "catalogue_fingerprint": catalogue.fingerprint,
                             "seconds": 0.0, "linear_scale": 1.0}
    if mcfg.linear_path and not resume and warm is None:
        state["linear_chroma"] = info["chroma"]
    if warm is not None:
        state["init_from"] = {"path": str(cfg.init_from),
                              "model_sha256": warm["files"]["model.safetensors"]["sha256"],
                              "catalogue_fingerprint": warm["catalogue"]["fingerprint"],
                              "catalogue_count": warm["catalogue"]["count"]}
    gallery: list[np.ndarray] = []
    if resume:
        gallery = resume_checkpoint(out, cfg, mcfg.to_dict(), catalogue.fingerprint, model, opt,
                                    state)
        log(f"resuming from epoch {state['epoch']} batch {state['batch']} (step {state['step']})")

    ema = EMA(model, cfg.ema) if cfg.ema > 0 else None
    disc = opt_d = None
    if cfg.adversarial > 0:
        from explorer.models.discriminator import PatchDiscriminator
        disc = PatchDiscriminator().to(device)
        if resume and checkpoint_tensors(out, "disc.") is not None:
            disc.load_state_dict(checkpoint_tensors(out, "disc."))
        opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr, betas=(0.5, 0.9))
    if ema is not None and resume and checkpoint_tensors(out, "ema.") is not None:
        ema.model.load_state_dict(checkpoint_tensors(out, "ema."))
        ema.updates = int(state.get("ema_updates", state["step"]))
    train_model: torch.nn.Module = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP
        train_model = DDP(model, device_ids=[local_rank] if device.type == "cuda" else None)
    step_fn = torch.compile(train_model) if cfg.compile else train_model
    precision = choose_run_precision(cfg, model, data, train_idx, device, n_train, world,
                                     resumed=state.get("precision") if resume else None)
    state["precision"] = precision.precision
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
    if (rank == 0 and mcfg.linear_path and cfg.linear_fade == 0 and cfg.linear_lr == 0
            and cfg.time_limit == 0 and planned_steps >= LONG_RUN_STEPS and not resume):
        log(f"a long run ({planned_steps:,} steps) with frozen linear paths: their codes keep "
            f"PCA's neighbours; --linear-fade 0.5 hands the code to the conv nets by half-way "
            f"(README, 'The demo bundle')")
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
            perm = shard(perm, world, rank)  # equal shards: every rank takes as many steps
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
                if world > 1 and cfg.time_limit > 0:
                    prog = slowest_progress(prog, device)
                if (cfg.time_limit > 0 and prog >= 1.0 and state["step"] > first_step
                        and state["step"] < planned_steps):
                    spent = state["seconds"] + elapsed()
                    if cfg.epochs >= UNTIL_LIMIT_EPOCHS:  # planned to the limit: its end
                        stopped_at = (f"time limit reached: {spent:.0f} s of training, step "
                                      f"{state['step']:,} (epoch {epoch + 1}); the schedules "
                                      f"ran to their end")
                        state["stopped_at_time_limit"] = {
                            "at_step": state["step"], "at_epoch": epoch + 1,
                            "seconds": round(spent, 1), "time_limit": asked.time_limit}
                        break
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
                    loss = loss + adversarial_step(model, disc, opt_d, x, out_, cfg)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                opt.step()
                if cfg.linear_fade > 0:
                    state["linear_scale"] = fade_linear_paths(
                        model, state["linear_scale"], linear_scale(cfg, prog))
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
            if rank == 0 and seen > 0:  # (a limit reached at an epoch's start: no row)
                row = {"epoch": epoch + 1, "step": state["step"], "seconds": round(dt, 2),
                       "images_per_s": round(seen * world / max(dt, 1e-9), 1),
                       "train": mean_parts(acc, seen)}
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
                # one line per epoch with or without the bars (--no-progress is for logs)
                v = row.get("val", {})
                log(f"epoch {epoch + 1}: train loss {row['train']['loss']:.4g}"
                    + (f", val loss {v['loss']:.4g}, val PSNR {v['psnr']:.2f} dB, "
                       f"active dims {v['active_dims']}" if v else "")
                    + f" ({dt:.0f} s)")
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
        rank_checksums = rank_weight_checksums(model, world)
    if ema is not None:
        model = ema.model  # the weight average is what is evaluated and saved
    if hook is not None and rank == 0 and last_hook_step != state["step"]:
        call_hook()
    spent = state["seconds"]
    if (rank == 0 and cfg.time_limit > 0 and not state.get("stopped_early")
            and not state.get("stopped_at_time_limit") and spent < 0.8 * cfg.time_limit
            and state["epoch"] > 0):
        fits = int(state["epoch"] * cfg.time_limit / max(spent, 1e-9))
        log(f"training reached --epochs {cfg.epochs} after {spent:.0f} s of the "
            f"{cfg.time_limit:.0f} s it had (about --epochs {fits} would fit); more passes "
            f"over the same items can overfit: watch the validation PSNR above (README, "
            f"'Budget')")
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
        metrics["code_scale"] = settle_code_scale(model, data, train_idx, cfg.seed, log)
        if state["history"] and "val" in state["history"][-1]:
            metrics["val"] = state["history"][-1]["val"]
        metrics.update(throughput(state["history"]))
        for key in ("stopped_early", "stopped_at_time_limit", "linear_chroma"):
            if state.get(key):
                metrics[key] = state[key]
        if budget.time_limit > 0:
            metrics["budget"] = budget.to_dict()
        deadline = (t_start + cfg.time_limit - seconds_at_start + budget.reserve_seconds
                    if budget.time_limit > 0 else None)
        # every map asked for, cheapest first, against the time actually left: a map the plan
        # skipped is made after all when the training ended early (it stops at --epochs)
        maps = sorted(asked.projections, key=lambda m: projection_seconds(m, len(catalogue)))
        if deadline is not None and any(m not in cfg.projections for m in maps):
            log(f"maps: {max(deadline - time.monotonic(), 0):.0f} s of the time limit left "
                f"after training; a map the plan skipped is made if it still fits")
        result = write_bundle(out, model, catalogue, train_config=asked.to_dict(),
                              history=state["history"], gallery=np.stack(gallery) if gallery
                              else np.zeros((0, GALLERY_SIZE, catalogue.size, catalogue.size, 3),
                                            np.uint8),
                              metrics=metrics, projections=maps, seed=cfg.seed,
                              image_quality=cfg.image_quality or None, progress=progress,
                              keep=[CKPT_DIR, "names.json", "directions.json"],
                              precision=cfg.precision, device=device.type, log=log,
                              deadline=deadline)
        log(f"wrote bundle {result}")
    if world > 1:
        finish_distributed()
    return result
