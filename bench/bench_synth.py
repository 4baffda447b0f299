"""Benchmark: how fast the procedural sneaker catalogue renders.

    python -m bench.bench_synth [--n 30000] [--size 64] [--workers N]

(run from the repository root, so that the explorer package is importable.)

Prints items/s and total seconds for explorer.data.synthetic.generate (rendering, metadata and the
catalogue fingerprint; not the write to disk). Target: 30,000 items at 64 px in at most 60 s
on a 2-core machine.
"""
from __future__ import annotations

import argparse
import os
import resource
import time

from explorer.data.synthetic import generate, render, sample_item


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=30000, help="items to generate (default: 30000)")
    parser.add_argument("--size", type=int, default=64, help="image side in px (default: 64)")
    parser.add_argument("--seed", type=int, default=0, help="catalogue seed (default: 0)")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes (default: all CPUs)")
    parser.add_argument("--progress", action="store_true", help="show the progress bar")
    args = parser.parse_args()
    workers = args.workers or os.cpu_count() or 1

    # single-process cost per item, for context (after one warm-up render)
    items = [sample_item(args.seed, i) for i in range(200)]
    render(items[0], args.size)
    t0 = time.perf_counter()
    for item in items:
        render(item, args.size)
    per_item_ms = (time.perf_counter() - t0) / len(items) * 1000

    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    cat = generate(args.n, size=args.size, seed=args.seed, workers=workers,
                   progress=args.progress)
    total = time.perf_counter() - t0
    cpu = _cpu_seconds() - cpu0
    load = os.getloadavg()[0]
    print(f"synth: {len(cat)} items at {args.size} px, {workers} worker(s), "
          f"{os.cpu_count()} CPU(s)")
    print(f"  render, one process: {per_item_ms:.2f} ms/item")
    print(f"  generate: {total:.1f} s total, {len(cat) / total:.0f} items/s")
    print(f"  CPU time: {cpu:.1f} s ({cpu / len(cat) * 1000:.2f} ms/item over all processes); "
          f"load average during the run ~{load:.1f} on {os.cpu_count()} CPU(s)")


if __name__ == "__main__":
    main()
