"""`python -m explorer project BUNDLE --method pca|umap|tsne [--dims 2|3]`: one 2-D (or 3-D) map for
every item of a big bundle, fitted on a sample and applied in batches
(explorer.latent.projection.project_large), stored in the bundle (explorer.bundle.projections:
3-D maps go to projections3d.safetensors, which the map page's 3-D view reads)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from explorer.bundle.projections import read_means, store_projection
from explorer.latent.projection import project_large


def add_arguments(p) -> None:
    p.add_argument("bundle", help="bundle folder")
    p.add_argument("--method", choices=("pca", "umap", "tsne"), default="pca",
                   help="tsne: 2-D only, fitted on every item (it cannot place items it was "
                        "not fitted on), so at most --sample items")
    p.add_argument("--sample", type=int, default=50_000, help="fit on this many items")
    p.add_argument("--batch", type=int, default=100_000, help="transform this many at a time")
    p.add_argument("--dims", type=int, choices=(2, 3), default=2,
                   help="2: the map; 3: a map for the map page's 3-D view")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-neighbors", type=int, default=15, help="UMAP")
    p.add_argument("--min-dist", type=float, default=0.1, help="UMAP")
    p.add_argument("--no-progress", action="store_true")


def run(args) -> int:
    path = Path(args.bundle)
    if not (path / "bundle.json").is_file():
        print(f"{path}: not a bundle (no bundle.json)", file=sys.stderr)
        return 2
    for name, value in (("--sample", args.sample), ("--batch", args.batch)):
        if value < 1:
            print(f"{name} must be at least 1 (got {value})", file=sys.stderr)
            return 2
    mu = read_means(path)
    if args.method == "tsne" and (args.dims != 2 or len(mu) > args.sample):
        print(f"{path}: t-SNE maps only in 2-D and must be fitted on every item "
              f"({len(mu):,} here, --sample {args.sample:,}); use --method umap for a 3-D "
              f"map or a sample", file=sys.stderr)
        return 2
    t = time.perf_counter()
    if args.method == "tsne":
        from explorer.latent.projection import tsne_2d
        if not args.no_progress:
            print(f"fitting tsne on all {len(mu):,} items …", flush=True)
        xy = tsne_2d(mu, seed=args.seed)
    else:
        params = {"n_neighbors": args.n_neighbors, "min_dist": args.min_dist} \
            if args.method == "umap" else {}
        xy = project_large(mu, args.method, args.sample, args.batch, args.seed,
                           progress=not args.no_progress, dims=args.dims, **params)
    took = time.perf_counter() - t
    proj_file = store_projection(path, args.method, xy, took, min(len(mu), args.sample),
                                 args.seed)
    what = f"{args.method} map" if args.dims == 2 else f"3-D {args.method} map"
    print(f"{what} of {len(mu):,} items written to {proj_file} in {took:.1f} s")
    return 0
