"""Warm start (`train --init-from`) against training from scratch: the time to the same quality.

    python -m bench.bench_warmstart [--n 6000] [--size 32] [--base-seconds 120]
                                    [--seconds 240] [--threads 1] [--latent-dim 16]

The scene of the GOAT post: last week's catalogue has a trained model, this week's release adds
10% new products. The procedural catalogue of n items is split as `train` splits it (seed 0);
"last week's" catalogue is its training items less n/10 of them (so the base model never sees
this week's validation items). Three runs with the default recipe, each with a time limit:

  1. base: last week's catalogue, --base-seconds;
  2. scratch: this week's whole catalogue, --seconds;
  3. warm: the same, `--init-from` the base bundle, --seconds.

Prints both runs' validation PSNR after every epoch (cumulative training seconds), the time
each needs to reach the PSNR that scratch ends on, and the time saved. Training seconds exclude
validation and bundle writing, as in bundle.json. Say the machine load beside the figures.
"""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np

from explorer.bundle.core import load_bundle
from explorer.data.catalogue import Catalogue
from explorer.data.splits import split_for
from explorer.data.synthetic import generate
from explorer.training.config import TrainConfig
from explorer.training.loop import train


def curve(bundle: Path) -> list[tuple[float, float]]:
    """(cumulative training seconds, validation PSNR) after every epoch of a bundle's run."""
    out, t = [], 0.0
    for row in load_bundle(bundle, check_hashes=False).history:
        t += float(row["seconds"])
        out.append((t, float(row["val"]["psnr"])))
    return out


def time_to(points: list[tuple[float, float]], target: float) -> float | None:
    """The first cumulative time at which PSNR >= target (None: never)."""
    return next((t for t, p in points if p >= target), None)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=6000)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--base-seconds", type=float, default=120)
    ap.add_argument("--seconds", type=float, default=240)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--latent-dim", type=int, default=16)
    ap.add_argument("--out", default=None, help="keep the bundles here (default: a temp dir)")
    args = ap.parse_args(argv)

    load0 = os.getloadavg()[0]
    cat = generate(args.n, size=args.size, seed=3, workers=1, progress=False)
    common = dict(epochs=100_000, projections=("pca",), threads=args.threads)
    tr, va = split_for(TrainConfig(**common).to_dict(), len(cat), cat.images, cat.metadata)
    rng = np.random.default_rng(0)
    new = rng.choice(tr, size=len(cat) // 10, replace=False)
    old = np.setdiff1d(tr, new)
    last_week = Catalogue(np.ascontiguousarray(cat.images[old]),
                          cat.metadata.iloc[old].reset_index(drop=True), name="last-week",
                          source={"kind": "bench-warmstart"})
    root = Path(args.out or tempfile.mkdtemp(prefix="warmstart-"))
    model = {"latent_dim": args.latent_dim}
    quiet = dict(progress=False, log=lambda *a: None)

    print(f"procedural catalogue, {len(cat):,} items at {args.size} px; last week's: "
          f"{len(old):,} (this week adds {len(new):,}; validation {len(va):,} items never in "
          f"last week's); {args.threads} thread(s); load at start {load0:.1f}", flush=True)
    train(last_week, TrainConfig(time_limit=args.base_seconds, **common), model, root / "base",
          **quiet)
    base = curve(root / "base")
    print(f"base on last week's catalogue: {base[-1][0]:.0f} s, {len(base)} epochs, "
          f"val PSNR {base[-1][1]:.2f} dB (its own split)", flush=True)
    train(cat, TrainConfig(time_limit=args.seconds, **common), model, root / "scratch", **quiet)
    train(cat, TrainConfig(time_limit=args.seconds, init_from=str(root / "base"), **common), {},
          root / "warm", **quiet)
    scratch, warm = curve(root / "scratch"), curve(root / "warm")
    for name, pts in (("from scratch", scratch), ("--init-from base", warm)):
        print(f"{name:>17}: " + ", ".join(f"{t:.0f} s {p:.2f}" for t, p in pts))
    target = scratch[-1][1]
    t_s, t_w = time_to(scratch, target), time_to(warm, target)
    print(f"target: the PSNR from scratch ends on, {target:.2f} dB")
    print(f"time to {target:.2f} dB: from scratch {t_s:.0f} s; warm start "
          + (f"{t_w:.0f} s ({t_s / t_w:.1f}x faster, {t_s - t_w:.0f} s saved)" if t_w
             else f"not within {warm[-1][0]:.0f} s"))
    first = warm[0][1]
    t_first = time_to(scratch, first)
    print(f"warm start after its first epoch ({warm[0][0]:.0f} s): {first:.2f} dB; from "
          f"scratch reaches that " + (f"at {t_first:.0f} s" if t_first
                                      else f"not within {scratch[-1][0]:.0f} s"))
    print(f"warm start at the end: {warm[-1][1]:.2f} dB; load at end "
          f"{os.getloadavg()[0]:.1f}; bundles in {root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
