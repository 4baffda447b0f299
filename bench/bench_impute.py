"""Imputation from the latent space: hold-out accuracy per categorical column vs the baseline.

    python -m bench.bench_impute [--bundle PATH]... [--frac 0.2] [--k 10] [--min-confidence 0.6]

(run from the repository root, so that the explorer package is importable.)

For each bundle (default: checkpoints/demo, if it exists) it hides --frac of the known values of
every categorical metadata column, imputes them from the k nearest items in the latent space
(bundle.mu) and prints the accuracy next to the majority-class baseline, with the share of
hidden items confident enough to skip review and the accuracy on those. Numeric columns get
the mean absolute error next to the median's. Give a Fashion-MNIST footwear bundle with
another --bundle to score its "class" column (Sandal / Sneaker / Ankle boot).

Identifier-like columns (sku, name, file, index; or a distinct value on nearly every row) and
columns with a single value are left out.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from explorer.latent.impute import column_kind, holdout_accuracy

DEFAULT_BUNDLE = Path("checkpoints/demo")
SKIP_COLUMNS = {"sku", "name", "file", "index", "split"}


def scored_columns(metadata: pd.DataFrame) -> list[tuple[str, str]]:
    """(column, kind) for every column worth scoring."""
    out = []
    for col in metadata.columns:
        s = metadata[col]
        known = s.notna().sum()
        n_unique = s.nunique(dropna=True)
        if col in SKIP_COLUMNS or known < 10 or n_unique < 2:
            continue
        kind = column_kind(s)
        if kind == "categorical" and n_unique > 0.5 * known:
            continue  # an identifier, not an attribute
        out.append((col, kind))
    return out


def bench_bundle(path: Path, frac: float, k: int, min_confidence: float, seed: int) -> None:
    from explorer.bundle.core import BundleError, load_bundle
    try:
        bundle = load_bundle(path)
    except (BundleError, ValueError, OSError) as e:
        print(f"{path}: cannot load the bundle ({e})")
        return
    md = bundle.metadata
    print(f"\n{path}: {len(bundle)} items, latent_dim {bundle.latent_dim}, "
          f"hold-out {frac:.0%}, k={k}, review below confidence {min_confidence}")
    print(f"  {'column':<22} {'classes':>7} {'accuracy':>8} {'baseline':>8} "
          f"{'coverage':>8} {'acc@conf':>8}")
    numeric = []
    for col, kind in scored_columns(md):
        r = holdout_accuracy(bundle.mu, md[col], frac=frac, k=k, random_state=seed,
                             min_confidence=min_confidence, kind=kind)
        if kind == "numeric":
            numeric.append((col, r))
            continue
        print(f"  {col:<22} {md[col].nunique():>7d} {r['accuracy']:>8.3f} "
              f"{r['baseline']:>8.3f} {r['coverage']:>8.3f} {r['accuracy_confident']:>8.3f}")
    if numeric:
        print(f"  {'numeric column':<22} {'MAE':>10} {'median MAE':>10} {'coverage':>8} "
              f"{'MAE@conf':>10}")
        for col, r in numeric:
            print(f"  {col:<22} {r['mae']:>10.3f} {r['baseline_mae']:>10.3f} "
                  f"{r['coverage']:>8.3f} {r['mae_confident']:>10.3f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", action="append", type=Path, metavar="PATH",
                    help=f"bundle folder (repeatable; default {DEFAULT_BUNDLE})")
    ap.add_argument("--frac", type=float, default=0.2, help="share of known values hidden")
    ap.add_argument("--k", type=int, default=10, help="neighbours per prediction")
    ap.add_argument("--min-confidence", type=float, default=0.6,
                    help="confidence below which an imputed value needs review")
    ap.add_argument("--seed", type=int, default=0, help="seed for choosing the hidden values")
    args = ap.parse_args(argv)

    bundles = args.bundle or ([DEFAULT_BUNDLE] if (DEFAULT_BUNDLE / "bundle.json").is_file()
                              else [])
    if not bundles:
        print(f"no bundle to score: {DEFAULT_BUNDLE} does not exist yet. Train one (python -m "
              f"explorer train ...) or pass --bundle PATH.", file=sys.stderr)
        return 1
    for path in bundles:
        bench_bundle(path, args.frac, args.k, args.min_confidence, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
