"""`python -m explorer evaluate BUNDLE [BUNDLE ...]`: one table comparing models, with a PCA
baseline beside each (explorer.evaluation.evaluate), then how the k-NN columns were scored."""
from __future__ import annotations

import json
import sys

from explorer.bundle.core import BundleError, check_catalogue_matches, load_bundle
from explorer.data.catalogue import Catalogue, CatalogueError
from explorer.evaluation.evaluate import evaluate_bundle
from explorer.evaluation.report import (evaluation_table, format_table, json_safe, knn_report,
                                        posterior_report)


def add_arguments(parser) -> None:
    parser.add_argument("bundles", nargs="+", metavar="BUNDLE", help="bundle folders")
    parser.add_argument("--catalogue", default=None,
                        help="catalogue folder to read the images from (must be the one the "
                             "bundles were trained on); default: the bundles' own images")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the results "
                        "(with per-factor details) as JSON")
    parser.add_argument("--seed", type=int, default=0, help="seed for subsampling, the PCA "
                        "and the metrics' splits (default 0)")
    parser.add_argument("--max-items", type=int, default=10000,
                        help="cap on the items used by the metrics and k-NN (default 10000)")
    parser.add_argument("--k", type=int, default=5, help="neighbours in the k-NN vote "
                        "(default 5)")
    parser.add_argument("--columns", default=None, metavar="A,B,C",
                        help="the attributes the k-NN vote scores (any column; numbers as "
                             "classes); default: every categorical column, however many "
                             "classes, the output listing the others and why")
    parser.add_argument("--stratify", default=None, metavar="COLUMN",
                        help="score the k-NN vote on a split stratified by this column "
                             "(pixel-identical duplicates still on one side); default: the "
                             "bundle's own train/validation split")


def run(args) -> int:
    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    if args.max_items < 2 or args.k < 1:
        print("error: --max-items must be >= 2 and --k >= 1", file=sys.stderr)
        return 2
    try:
        catalogue = Catalogue.load(args.catalogue) if args.catalogue else None
        bundles = [load_bundle(p) for p in args.bundles]
        if catalogue is not None:
            for b in bundles:
                check_catalogue_matches(b.info, catalogue)
    except (BundleError, CatalogueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    columns = None
    if args.columns is not None:
        columns = [c.strip() for c in args.columns.split(",") if c.strip()]
        if not columns:
            print("error: --columns names no column", file=sys.stderr)
            return 2
    results = []
    for b in bundles:
        try:
            results.append(evaluate_bundle(
                b, seed=args.seed, max_items=args.max_items, k=args.k, progress=log,
                images=None if catalogue is None else catalogue.images, columns=columns,
                stratify=args.stratify))
        except (BundleError, FileNotFoundError, ValueError) as e:
            print(f"error: {b.path}: {e}", file=sys.stderr)
            return 2
    print(format_table(evaluation_table(results, majority=True)))
    for line in knn_report(results, args.k) + posterior_report(results):
        print(line)
    if args.json:
        from explorer.data.atomic import atomic_write_text
        atomic_write_text(args.json, json.dumps(json_safe({"results": results}), indent=1))
        log(f"wrote {args.json}")
    return 0
