"""Ingest throughput: N small JPEG product photos -> a Catalogue, in images per second.

    python -m bench.bench_ingest [--n 5000] [--size 64] [--workers W] [--width 60 --height 80]

(run from the repository root, so that the explorer package is importable.)

Makes N JPEGs (a shoe-like dark blob on white, random colour and position, so no two are
alike) in a temporary folder, then times explorer.data.ingest.ingest_folder on it (walk, decode,
preprocess, duplicate check, metadata) and prints images/s. The folder is deleted afterwards.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from explorer.data.ingest import ingest_folder


def make_jpegs(folder: Path, n: int, width: int, height: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for i in range(n):
        img = Image.new("RGB", (width, height), (255, 255, 255))
        draw = ImageDraw.Draw(img)
        colour = tuple(int(c) for c in rng.integers(0, 200, 3))
        x0, y0 = rng.integers(0, width // 3), rng.integers(height // 4, height // 2)
        draw.ellipse((int(x0), int(y0), int(x0 + width // 2 + 8), int(y0 + height // 3)),
                     fill=colour)
        draw.rectangle((int(x0), int(y0 + height // 6), int(x0 + width // 2),
                        int(y0 + height // 3)), fill=colour)
        img.save(folder / f"shoe_{i:06d}.jpg", quality=90)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000, help="number of JPEGs (default 5000)")
    ap.add_argument("--size", type=int, default=64, help="catalogue image size (default 64)")
    ap.add_argument("--width", type=int, default=60)
    ap.add_argument("--height", type=int, default=80)
    ap.add_argument("--workers", type=int, default=None, help="default: all CPUs")
    ap.add_argument("--repeat", type=int, default=1, help="time this many ingests, report best")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="kickspace-bench-") as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        t0 = time.perf_counter()
        make_jpegs(folder, args.n, args.width, args.height)
        print(f"made {args.n} {args.width}x{args.height} JPEGs in "
              f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
        best = float("inf")
        for _ in range(max(1, args.repeat)):
            t0 = time.perf_counter()
            cat, report = ingest_folder(folder, size=args.size, workers=args.workers,
                                        progress=False)
            best = min(best, time.perf_counter() - t0)
        assert len(cat) == args.n, report.to_text()
        workers = args.workers or len(os.sched_getaffinity(0))
        print(f"ingest: {args.n} images {args.width}x{args.height} JPEG -> {args.size}px, "
              f"{workers} workers (os.cpu_count()={os.cpu_count()}): {best:.2f} s, "
              f"{args.n / best:.0f} images/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
