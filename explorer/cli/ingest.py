"""`python -m explorer ingest`: a folder of product photos (+ optional catalog CSV), or
Fashion-MNIST, into a catalogue folder (explorer.data.ingest), with its ingest report.

    python -m explorer ingest IMAGES_DIR [--catalog catalog.csv] --size 64 --out DIR
    python -m explorer ingest --fashion-mnist [--classes footwear|all] [--split train] --out DIR
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from explorer.data.fashion_mnist import FMNIST_DEFAULT_PATH, ingest_fashion_mnist
from explorer.data.ingest import ingest_folder
from explorer.data.ingest_plan import _is_within
from explorer.data.ingest_report import IngestError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images_dir", nargs="?", metavar="IMAGES_DIR",
                        help="folder of product photos (searched recursively)")
    parser.add_argument("--catalog", metavar="CSV",
                        help="catalog CSV with a 'file' (relative path) or 'sku' column")
    parser.add_argument("--fashion-mnist", action="store_true",
                        help="ingest Fashion-MNIST instead of a folder")
    parser.add_argument("--fmnist-path", default=FMNIST_DEFAULT_PATH, metavar="P",
                        help=f"Fashion-MNIST folder (default {FMNIST_DEFAULT_PATH})")
    parser.add_argument("--classes", default="footwear",
                        help="Fashion-MNIST classes: footwear (default), all, or a comma list")
    parser.add_argument("--split", default="train", choices=("train", "test", "all"))
    parser.add_argument("--limit", type=int, metavar="N", help="at most N Fashion-MNIST items")
    parser.add_argument("--size", type=int, default=64, help="square image size (default 64)")
    parser.add_argument("--out", required=True, metavar="DIR", help="catalogue folder to write")
    parser.add_argument("--background", default="white",
                        help="padding/transparency colour: white (default), a name or #RRGGBB")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="worker processes (default: all CPUs)")
    parser.add_argument("--name", help="catalogue name (default: the folder's name)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _fail(message: str) -> int:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    try:
        if args.fashion_mnist:
            if args.images_dir or args.catalog:
                return _fail("--fashion-mnist takes no IMAGES_DIR or --catalog")
            cat = ingest_fashion_mnist(args.fmnist_path, classes=args.classes, split=args.split,
                                       size=args.size, limit=args.limit)
            if args.name:
                cat.name = args.name
            cat.save(out)
            for stale in ("ingest_report.json", "ingest_report.txt"):  # from an older ingest
                (out / stale).unlink(missing_ok=True)
            print(f"{len(cat)} Fashion-MNIST images ({', '.join(cat.source['class_names'])}; "
                  f"{args.split}) at {cat.size}px -> {out} (fingerprint {cat.fingerprint})")
            return 0
        if not args.images_dir:
            return _fail("IMAGES_DIR is required (or use --fashion-mnist)")
        images_real = os.path.realpath(args.images_dir)
        if _is_within(os.path.realpath(out), images_real):
            return _fail(f"--out {out} is inside the images folder {args.images_dir}; the "
                         f"source folder is never written to, choose another folder")
        if args.workers is not None and args.workers < 1:
            return _fail("--workers must be at least 1")
        cat, report = ingest_folder(args.images_dir, args.catalog, size=args.size,
                                    background=args.background, workers=args.workers,
                                    progress=not args.no_progress, name=args.name)
        cat.save(out)
        report.save(out)
        print(report.to_text(), end="")
        print(f"wrote {len(cat)} images at {cat.size}px to {out} (fingerprint "
              f"{cat.fingerprint}); report: {out / 'ingest_report.txt'}")
        return 0
    except IngestError as e:
        if e.report is not None:
            print(e.report.to_text(), end="")
        return _fail(str(e))
    except (ValueError, OSError) as e:
        return _fail(f"{type(e).__name__}: {e}" if isinstance(e, OSError) else str(e))
