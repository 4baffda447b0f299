"""Catalogue hygiene on a bundle: what each per-bundle table costs, how k is chosen, and what
the near-duplicate thresholds are calibrated on. Prints figures; asserts nothing.

    python -m bench.bench_hygiene [--bundle checkpoints/demo] [--skip-bic]

Per-bundle costs (the app computes each once and keeps it in $KICKSPACE_DATA_DIR): the
10-neighbour table, the pixel digests, the duplicate groups, the reconstruction reference
(2,000 products). Then the calibration of the duplicate finder (200 products re-saved as JPEG
against their nearest different product), the label audit's counts per column, and the
silhouette and BIC scores for k = 2..15 with the adjusted Rand index of k-means against the
silhouette column, when the catalogue has one.
"""
from __future__ import annotations

import argparse
import io
import os
import time

import numpy as np


def _timed(label: str, fn):
    t = time.perf_counter()
    out = fn()
    print(f"{label:<34} {time.perf_counter() - t:7.1f} s", flush=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", default="checkpoints/demo")
    ap.add_argument("--skip-bic", action="store_true", help="leave out the k scores (~1 min)")
    args = ap.parse_args(argv)

    import torch
    from PIL import Image

    from explorer.latent import cluster_summary, clusters

    from explorer.latent import hygiene, unlike
    from explorer.bundle.core import load_bundle
    from explorer.latent.index import LatentIndex

    torch.set_num_threads(1)
    print(f"load average {os.getloadavg()[0]:.1f} (2-core machine shared with other jobs)")
    b = load_bundle(args.bundle, check_hashes=False)
    print(f"{args.bundle}: {len(b):,} products, {b.latent_dim} latents, {b.image_size} px")
    index = LatentIndex(b.mu)
    nbr, dist = _timed("neighbour table (k = 10)", lambda: hygiene.neighbour_table(index, 10))
    dig = _timed("pixel digests", lambda: hygiene.pixel_digests(b.images))
    groups = _timed("duplicate groups", lambda: hygiene.near_duplicates(b.images, nbr, dist, dig))
    print(f"  {len(groups)} groups, {sum(len(g) for g in groups)} products")
    sample = unlike.reference_sample(len(b), 2000)
    with torch.inference_mode():
        errs = _timed("reconstruction reference (2,000)", lambda: unlike.reconstruction_errors(
            b.encode, b.decode, b.images.get(sample)))
    print(f"  reconstruction MSE percentiles 50/95/99: "
          f"{' / '.join(f'{v:.5f}' for v in np.percentile(errs, [50, 95, 99]))}")
    print(f"  nearest-other distance percentiles 1/50/99: "
          f"{' / '.join(f'{v:.3f}' for v in np.percentile(dist[:, 0], [1, 50, 99]))}")

    # duplicate thresholds: JPEG re-saves against the nearest different product
    imgs = b.images.get(np.arange(min(200, len(b))))
    for q in (90, 75, 50):
        rs = []
        for im in imgs:
            buf = io.BytesIO()
            Image.fromarray(im).save(buf, "JPEG", quality=q)
            rs.append(np.asarray(Image.open(buf).convert("RGB")))
        rs = np.stack(rs)
        with torch.inference_mode():
            mu, _ = b.encode(rs)
        d = np.linalg.norm(mu - b.mu[:len(imgs)], axis=1)
        r = hygiene.pixel_rmse(imgs, rs)
        print(f"  JPEG q{q}: latent shift median {np.median(d):.2f} "
              f"(95th {np.percentile(d, 95):.2f},"
              f" max {d.max():.2f}); pixel RMSE median {np.median(r):.1f}")
    other = hygiene.pixel_rmse(imgs, b.images.get(nbr[:len(imgs), 0]))
    print(f"  nearest different product: latent {dist[:len(imgs), 0].min():.2f}+ "
          f"(median {np.median(dist[:len(imgs), 0]):.2f}); pixel RMSE {other.min():.1f}+")

    for col in cluster_summary.describing_columns(b.metadata):
        if b.metadata[col].nunique() <= 12:
            print(f"  label audit {col:<12} {len(hygiene.label_audit(b.metadata[col], nbr)):>5} "
                  f"products at 70 %")
    if args.skip_bic:
        return 0
    from sklearn.metrics import adjusted_rand_score
    sil = _timed("silhouette k = 2..15 (2,000)", lambda: clusters.silhouette_scores(b.mu))
    for seed in (0, 1, 2):
        k, bic = _timed(f"BIC k = 2..15 (4,000, seed {seed})",
                        lambda: clusters.suggest_k(b.mu, seed=seed))
        print(f"  seed {seed}: k = {k}; next best {sorted(bic, key=bic.get)[1:4]}")
    print("  silhouette: " + ", ".join(f"{k}: {v:.3f}" for k, v in sil.items()))
    if "silhouette" in b.metadata.columns:
        for k in (2, 6, 8):
            labels, _ = clusters.kmeans(b.mu, k, seed=0)
            print(f"  k-means k = {k}: adjusted Rand vs silhouette "
                  f"{adjusted_rand_score(b.metadata['silhouette'], labels):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
