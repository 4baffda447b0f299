"""A sheet of held-out originals above their reconstructions, one pair of rows per bundle.

    python scripts/recon_sheet.py BUNDLE [BUNDLE ...] --out docs/reconstructions.png
        [--n 12] [--tile 64] [--label NAME ...] [--pca]

Items are drawn from each bundle's own validation split (never seen in training), with a
fixed seed; tiles are enlarged (nearest neighbour) to --tile pixels so that 32 px and 64 px
bundles line up. --pca adds a row for a PCA reconstruction with as many components as the
model has latents, fitted on the training split (the baseline of `explorer evaluate`).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explorer.bundle.core import load_bundle  # noqa: E402
from explorer.bundle.encode import images_to_tensor  # noqa: E402
from explorer.evaluation.evaluate import pca_baseline  # noqa: E402
from explorer.render.sheets import row_labelled_grid  # noqa: E402
from explorer.data.splits import split_for  # noqa: E402


def _resize(images: np.ndarray, tile: int) -> np.ndarray:
    if images.shape[1] == tile:
        return images
    return np.stack([np.asarray(Image.fromarray(im).resize((tile, tile), Image.NEAREST))
                     for im in images])


def rows_for(path: str, n: int, tile: int, with_pca: bool, seed: int = 0
             ) -> tuple[list[np.ndarray], list[str]]:
    b = load_bundle(path)
    tc = b.info["train_config"]
    train_idx, val_idx = split_for(tc, len(b), b.images.all() if tc.get("group_duplicates")
                                   else None, b.metadata)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(val_idx, size=min(n, len(val_idx)), replace=False))
    originals = b.images.get(pick)
    with torch.inference_mode():
        rec = b.model.reconstruct(images_to_tensor(originals))
    rec = (rec.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    rows = [_resize(originals, tile), _resize(rec, tile)]
    labels = ["held-out originals", f"{b.kind} reconstructions"]
    if with_pca:
        fit = np.sort(rng.choice(train_idx, size=min(5000, len(train_idx)), replace=False))
        # unpack only the fitting items and the shown ones, not the whole catalogue
        images = np.concatenate([b.images.get(fit), originals])
        pca, _, _ = pca_baseline(images, np.arange(len(fit)),
                                 np.arange(len(fit), len(images)), b.latent_dim, seed)
        flat = originals.reshape(len(pick), -1).astype(np.float32) / 255
        prec = np.clip(pca.inverse_transform(pca.transform(flat)), 0, 1)
        prec = (prec * 255).round().astype(np.uint8).reshape(originals.shape)
        rows.append(_resize(prec, tile))
        labels.append(f"PCA-{b.latent_dim} reconstructions")
    return rows, labels


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bundles", nargs="+", metavar="BUNDLE")
    ap.add_argument("--out", required=True, type=Path, help="PNG to write")
    ap.add_argument("--n", type=int, default=12, help="items per bundle")
    ap.add_argument("--tile", type=int, default=64, help="tile size in pixels")
    ap.add_argument("--label", action="append", default=None,
                    help="a name per bundle for the row labels (default: folder name)")
    ap.add_argument("--pca", action="store_true", help="add a PCA reconstruction row")
    args = ap.parse_args(argv)
    names = args.label or [Path(p).name for p in args.bundles]
    if len(names) != len(args.bundles):
        ap.error(f"{len(args.bundles)} bundles but {len(names)} --label values")
    rows, labels = [], []
    for path, name in zip(args.bundles, names):
        r, lab = rows_for(path, args.n, args.tile, args.pca)
        rows += r
        labels += [f"{name}: {t}" for t in lab]
    width = min(len(r) for r in rows)
    sheet = row_labelled_grid(np.stack([r[:width] for r in rows]), labels)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out} ({sheet.width}x{sheet.height})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
