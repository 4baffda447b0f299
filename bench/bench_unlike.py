"""What the "unlike this catalogue" reference costs to build once per bundle (the first photo
uploaded on the map or in Find similar waits for it on a fresh data folder), the old way
against the current one, and how far the resulting percentiles moved. Prints figures;
asserts nothing.

    python -m bench.bench_unlike [--bundle checkpoints/demo] [--repeat 1]

before: the whole 10-neighbour table (explorer.latent.hygiene.neighbour_table, only its first
column used) and 2,000 reconstructions with the decoder in the default (NCHW) layout.
after:  explorer.latent.unlike.nearest_other_distances (one argmin per product) and the same
2,000 reconstructions with the decoder in channels-last layout (explorer.bundle.core's load).
Both read the same 2,000 images first (decoding every WebP shard), timed apart.
"""
from __future__ import annotations

import argparse
import copy
import os
import time

import numpy as np


def _timed(label: str, fn):
    """fn() -> (its value, wall seconds); prints the wall and CPU seconds (the CPU time of
    all threads: steadier than the wall time on a shared machine)."""
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    dt, dc = time.perf_counter() - t, time.process_time() - c
    print(f"  {label:<46} {dt:6.1f} s wall {dc:6.1f} s CPU", flush=True)
    return out, dt


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", default="checkpoints/demo")
    ap.add_argument("--repeat", type=int, default=1, help="before/after pairs, alternating")
    args = ap.parse_args(argv)

    import torch

    from explorer.app.cache_hygiene import NN_SAMPLE, RECON_SAMPLE
    from explorer.bundle.core import load_bundle
    from explorer.latent import hygiene, unlike
    from explorer.latent.index import LatentIndex

    b = load_bundle(args.bundle, check_hashes=False)
    print(f"{args.bundle}: {len(b):,} products, torch threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f} (2-core machine shared with other jobs)")
    nchw = copy.deepcopy(b.model)
    nchw.decoder.to(memory_format=torch.contiguous_format)

    def decode_nchw(z):
        from explorer.bundle.encode import tensor_to_images
        return tensor_to_images(nchw.decode(torch.as_tensor(np.atleast_2d(z), dtype=torch.float32)))

    imgs, t_img = _timed(f"read {RECON_SAMPLE:,} images", lambda: b.images.get(
        unlike.reference_sample(len(b), RECON_SAMPLE, seed=0)))
    rows = unlike.reference_sample(len(b), NN_SAMPLE, seed=1)
    for r in range(args.repeat):
        print(f"round {r + 1} (load {os.getloadavg()[0]:.1f})")
        with torch.inference_mode():
            (_, d10), t1 = _timed("before: neighbour table k = 10",
                                  lambda: hygiene.neighbour_table(LatentIndex(b.mu), 10))
            e0, t2 = _timed("before: reconstructions, NCHW decoder",
                            lambda: unlike.reconstruction_errors(b.encode, decode_nchw, imgs))
            nn, t3 = _timed("after:  nearest-other distances",
                            lambda: unlike.nearest_other_distances(b.mu, rows))
            e1, t4 = _timed("after:  reconstructions, channels-last decoder",
                            lambda: unlike.reconstruction_errors(b.encode, b.decode, imgs))
        print(f"  total with reading the images: before {t_img + t1 + t2:.1f} s, "
              f"after {t_img + t3 + t4:.1f} s")
        print(f"  max |distance change| {np.abs(nn - d10[rows, 0]).max():.2e}, "
              f"max |error change| {np.abs(e1 - e0).max():.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
