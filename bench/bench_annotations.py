"""Annotation store speed: bulk tagging, single-tag commits, map colouring, export/import.

    python -m bench.bench_annotations [--n 30000] [--tags 20] [--ops 200] [--synchronous FULL]

(run from the repository root, so that the explorer package is importable.)

Works on a fresh SQLite file in a temporary folder (deleted afterwards) for a catalogue of N
SKUs: tags every SKU with one of --tags tags in bulk (one transaction per tag), times --ops
single-SKU add_tag calls (each one committed transaction, the merchandiser's click), the
map's tag_column over all N SKUs, tags(), and an export_csv/import_csv round trip.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from explorer.store.annotations import AnnotationStore


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=30000, help="catalogue size (default 30000)")
    ap.add_argument("--tags", type=int, default=20, help="distinct bulk tags (default 20)")
    ap.add_argument("--ops", type=int, default=200, help="single-SKU commits to time")
    ap.add_argument("--synchronous", default="FULL", choices=["NORMAL", "FULL"],
                    help="SQLite synchronous setting (default FULL, the store's default)")
    args = ap.parse_args(argv)

    import pandas  # noqa: F401  (imported lazily by the store; keep it out of the timings)

    skus = [f"SKU-{i:06d}" for i in range(args.n)]
    with tempfile.TemporaryDirectory(prefix="kickspace-bench-") as tmp:
        store = AnnotationStore(Path(tmp) / "a.sqlite", "bench", known_skus=skus,
                                synchronous=args.synchronous)
        t0 = time.perf_counter()
        for k in range(args.tags):
            store.add_tag(f"tag-{k}", skus[k::args.tags], user="bench")
        bulk = time.perf_counter() - t0
        print(f"bulk add_tag     {args.n / bulk:10.0f} SKUs/s  ({args.n} SKUs in "
              f"{args.tags} transactions, {bulk:.2f} s)")

        _, single = _timed(lambda: [store.add_tag("click", [s], user="bench")
                                    for s in skus[:args.ops]])
        print(f"single add_tag   {1000 * single / args.ops:10.2f} ms/commit")

        col, t = _timed(lambda: store.tag_column(skus))
        print(f"tag_column       {1000 * t:10.1f} ms for {len(col)} SKUs")
        _, t = _timed(store.tags)
        print(f"tags()           {1000 * t:10.1f} ms")
        data, t_exp = _timed(store.export_csv)
        other = AnnotationStore(Path(tmp) / "b.sqlite", "bench", known_skus=skus,
                                synchronous=args.synchronous)
        result, t_imp = _timed(lambda: other.import_csv(data, user="bench"))
        print(f"export_csv       {1000 * t_exp:10.1f} ms ({len(data) / 2**20:.1f} MiB)")
        print(f"import_csv       {1000 * t_imp:10.1f} ms ({result.summary()})")
        _, t = _timed(store.undo_last)
        print(f"undo_last        {1000 * t:10.1f} ms (one single-SKU action)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
