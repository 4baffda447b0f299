"""`python -m explorer synth`: generate the procedural sneaker catalogue
(explorer.data.synthetic), write it and/or a contact sheet of its first items.

    python -m explorer synth --n 30000 --size 64 --out data/synth --sheet s.png
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from explorer.data.synthetic import DESIGNS, contact_sheet, generate


def _int_at_least(lo: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"must be >= {lo}, got {value}")
        return value
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Generate the procedural sneaker catalogue: side-view product photos of sneakers with "
        "known ground-truth factors (silhouette, toe, sole, colours, logo, material, ...). "
        "Item i depends only on (seed, i).")
    parser.add_argument("--n", type=_int_at_least(1), default=30000,
                        help="number of items to generate (default: %(default)s)")
    parser.add_argument("--size", type=_int_at_least(16), default=64,
                        help="image side in pixels (default: %(default)s)")
    parser.add_argument("--seed", type=_int_at_least(0), default=0,
                        help="catalogue seed; item i depends only on (seed, i) "
                             "(default: %(default)s)")
    parser.add_argument("--design", choices=DESIGNS, default="full",
                        help="full: every factor varies (23 factors, the demo catalogue); "
                             "study: six salient factors vary independently over a grid of "
                             "levels (silhouette, sole thickness, upper hue, accent hue, sole "
                             "lightness, scale) and the rest are fixed, for measuring "
                             "disentanglement as on dSprites or 3D Shapes (default: %(default)s)")
    parser.add_argument("--start", type=_int_at_least(0), default=0,
                        help="index of the first item, to generate a slice of a larger "
                             "catalogue (default: %(default)s)")
    parser.add_argument("--out", metavar="DIR",
                        help="write the catalogue folder here (catalogue.json, images.npy, "
                             "metadata.csv); optional when only --sheet is wanted")
    parser.add_argument("--sheet", metavar="PATH",
                        help="also write an 8x8 contact sheet of the first 64 items as PNG")
    parser.add_argument("--sheet-scale", type=_int_at_least(1), default=1,
                        help="enlarge each sheet tile this many times (default: %(default)s)")
    parser.add_argument("--workers", type=_int_at_least(1), default=None, metavar="N",
                        help="worker processes for rendering (default: all CPUs)")
    parser.add_argument("--no-progress", action="store_true",
                        help="do not show the progress bar")


def run(args: argparse.Namespace) -> int:
    if not args.out and not args.sheet:
        print("synth: nothing to do; give --out DIR and/or --sheet PATH", file=sys.stderr)
        return 2
    n = args.n if args.out else min(args.n, 64)
    t0 = time.perf_counter()
    cat = generate(n, size=args.size, seed=args.seed, start=args.start, workers=args.workers,
                   progress=not args.no_progress, design=args.design)
    took = time.perf_counter() - t0
    if args.out:
        path = cat.save(args.out)
        print(f"wrote {path}: {len(cat)} items at {cat.size} px, fingerprint {cat.fingerprint} "
              f"({took:.1f} s, {len(cat) / took:.0f} items/s)")
    if args.sheet:
        sheet_path = os.path.abspath(args.sheet)
        os.makedirs(os.path.dirname(sheet_path), exist_ok=True)
        contact_sheet(cat.images, scale=args.sheet_scale).save(sheet_path, format="PNG")
        print(f"wrote {args.sheet}: contact sheet of {min(len(cat), 64)} items")
    return 0
