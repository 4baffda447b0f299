"""Time to quality: train the default recipe for a wall-clock budget and, every few minutes,
compare it with PCA (as many components, fitted on the same training split) on held-out PSNR
and on k-NN accuracy of every label column, the way `python -m explorer evaluate` does.

    python -m bench.bench_recipe CATALOGUE [--budget 600] [--every 120] [--threads 1]
        [--steps N [--eval-steps N,N]] [--set KEY=VALUE ...] [--json PATH]

Prints one line per evaluation and, at the end, the training time at which the model first
beat PCA on PSNR and on each k-NN column (evaluation time is not counted as training: the
training clock pauses while it runs). --set overrides a TrainConfig or model-config field
(e.g. --set linear_path=false --set lr=2e-3) for ablations. Catalogues used in the README:

    python -m explorer ingest --fashion-mnist --classes footwear --size 32 --out data/fm32
    python -m explorer synth --size 64 --out data/proc64
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import tempfile
import time

import numpy as np


def _parse_sets(items: list[str]) -> tuple[dict, dict]:
    from explorer.models import MODEL_KINDS
    from explorer.training.config import TrainConfig

    tfields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    mfields = {f.name: f for c, _ in MODEL_KINDS.values() for f in dataclasses.fields(c)}
    tvals, mvals = {}, {}
    for item in items:
        key, _, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        f = tfields.get(key) or mfields.get(key)
        if f is None:
            raise SystemExit(f"--set {item}: no training or model setting named {key!r}")
        typ = str(f.type)
        if typ in ("bool", "<class 'bool'>"):
            val = raw.strip().lower() in ("1", "true", "yes", "on")
        elif typ in ("int", "<class 'int'>"):
            val = int(raw)
        elif typ in ("float", "<class 'float'>"):
            val = float(raw)
        elif "tuple" in typ:
            val = tuple(int(v) if key == "channels" else float(v) for v in raw.split(","))
        else:
            val = raw
        (tvals if key in tfields else mvals)[key] = val
    return tvals, mvals


def main(argv: list[str] | None = None) -> int:
    from explorer.training.config import UNTIL_LIMIT_EPOCHS

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("catalogue")
    ap.add_argument("--budget", type=float, default=600.0, help="seconds of training")
    ap.add_argument("--every", type=float, default=120.0, help="seconds between evaluations")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--latent-dim", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=UNTIL_LIMIT_EPOCHS,
                    help="planned epochs (default: so many that the budget decides)")
    ap.add_argument("--steps", type=int, default=0,
                    help="instead of a time budget: about this many steps (whole epochs), "
                         "evaluated at the end (for ablations at equal steps on a busy CPU)")
    ap.add_argument("--eval-steps", default="", metavar="N,N,...",
                    help="also evaluate when the run first reaches each of these steps (with "
                         "--steps: a curve at equal steps across ablations)")
    ap.add_argument("--max-items", type=int, default=5000,
                    help="cap on the training items voting in the k-NN (default 5000)")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    import torch

    from explorer.data.catalogue import Catalogue
    from explorer.evaluation.evaluate import _pca_codes, _psnr, pca_baseline, reconstruct_split
    from explorer.metrics import knn_accuracies, label_columns
    from explorer.data.splits import split_for
    from explorer.training.config import TrainConfig
    from explorer.training.loop import train

    torch.set_num_threads(args.threads)
    cat = Catalogue.load(args.catalogue)
    tvals, mvals = _parse_sets(args.set)
    if args.steps:
        n_train = len(split_for(TrainConfig().to_dict(), len(cat), cat.images, cat.metadata)[0])
        args.epochs = max(1, round(args.steps / math.ceil(n_train / 64)))
        args.budget, args.every = 0.0, 0.0
    cfg = TrainConfig(**{"epochs": args.epochs, "time_limit": args.budget,
                         "threads": args.threads, "projections": ("pca",),
                         "write_bundle": False, **tvals})
    mvals = {"latent_dim": args.latent_dim, **mvals}
    train_idx, val_idx = split_for(cfg.to_dict(), len(cat), cat.images, cat.metadata)
    rng = np.random.default_rng([cfg.seed, 2718])
    knn_train = (np.sort(rng.choice(train_idx, args.max_items, replace=False))
                 if len(train_idx) > args.max_items else train_idx)
    images, md = cat.images, cat.metadata
    cols = label_columns(md)
    load = os.getloadavg()
    print(f"{cat.name}: {len(cat)} items at {cat.size} px, {len(train_idx)} train / "
          f"{len(val_idx)} validation; k-NN from {len(knn_train)} training items; columns "
          f"{', '.join(cols) or '(none)'}; {args.threads} thread(s); budget {args.budget:g} s; "
          f"settings {dict(tvals, **mvals)}; load {load[0]:.1f}", flush=True)

    t0 = time.perf_counter()
    pca, pca_mse, _ = pca_baseline(images, knn_train, val_idx, args.latent_dim, cfg.seed)
    pca_knn = knn_accuracies(_pca_codes(pca, images, knn_train), _pca_codes(pca, images, val_idx),
                             md.iloc[knn_train], md.iloc[val_idx], k=args.k, columns=cols)
    pca_row = {"psnr": _psnr(pca_mse), **{c: r["knn"] for c, r in pca_knn.items()}}
    pca_sharp = pca.sharp_
    print(f"PCA-{args.latent_dim} ({time.perf_counter() - t0:.0f} s): "
          + "  ".join(f"{k} {v:.3f}" if k != "psnr" else f"PSNR {v:.2f}"
                      for k, v in pca_row.items()), flush=True)

    rows: list[dict] = []

    final_step = cfg.epochs * math.ceil(len(train_idx) / cfg.batch_size)
    eval_steps = sorted(int(v) for v in args.eval_steps.split(",") if v.strip())
    by_step = bool(eval_steps)
    hook_every = 1.0 if by_step else args.every
    # by_step: look every second of training; evaluate only at the steps asked and the last

    def hook(model, info) -> None:
        if by_step:
            due = [s for s in eval_steps if s <= info["step"]]
            final = info["step"] >= final_step
            if not due and not final:
                return
            del eval_steps[:len(due)]
        h0 = time.perf_counter()
        rec = reconstruct_split(model, images, val_idx)
        tr = reconstruct_split(model, images, knn_train)["mu"]
        res = knn_accuracies(tr, rec["mu"], md.iloc[knn_train], md.iloc[val_idx], k=args.k,
                             columns=cols)
        row = {"seconds": round(info["seconds"], 1), "step": info["step"],
               "progress": round(info["progress"], 3), "psnr": rec["psnr"],
               "sharp": rec["sharp"],
               **{c: r["knn"] for c, r in res.items()}, "load": round(os.getloadavg()[0], 1)}
        rows.append(row)
        wins = sum(row[k] > pca_row[k] for k in pca_row)
        print(f"{row['seconds']:7.0f} s  step {row['step']:6d}  p {row['progress']:.2f}  "
              + "  ".join(f"{k} {row[k]:.3f}" if k != "psnr" else f"PSNR {row[k]:.2f}"
                          for k in pca_row)
              + f"  sharp {row['sharp']:.2f} (PCA {pca_sharp:.2f})"
              + f"  | beats PCA on {wins}/{len(pca_row)}  (eval {time.perf_counter() - h0:.0f} s,"
                f" load {row['load']})", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        train(cat, cfg, mvals, tmp, progress=False, log=lambda m: print(m, flush=True),
              hook=hook, hook_every=hook_every)
    print("\nfirst evaluation at which the model beats PCA (seconds of training, step):")
    first: dict[str, object] = {}
    for k in pca_row:
        hit = next((r for r in rows if r[k] > pca_row[k]), None)
        first[k] = None if hit is None else {"seconds": hit["seconds"], "step": hit["step"]}
        last = rows[-1][k] if rows else math.nan
        print(f"  {k:14s} PCA {pca_row[k]:.3f}  final {last:.3f}  "
              + (f"first beaten at {hit['seconds']:.0f} s (step {hit['step']})" if hit
                 else "NOT beaten"))
    all_hit = all(first.values())
    when = max(v["seconds"] for v in first.values()) if all_hit else None
    print(f"beats PCA on all {len(pca_row)}: "
          + (f"yes, from {when:.0f} s" if all_hit else "no") + f"; load now "
          f"{os.getloadavg()[0]:.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"catalogue": args.catalogue, "settings": dict(tvals, **mvals),
                       "threads": args.threads, "budget": args.budget, "pca": pca_row,
                       "pca_sharp": pca_sharp,
                       "rows": rows, "first_beaten": first, "all_beaten_at": when}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
