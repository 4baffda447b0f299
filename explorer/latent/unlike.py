"""How unlike the catalogue one photo is.

Two scores of one photo, each as a percentile of the catalogue's own
distribution: its reconstruction error (mean squared error over pixels in 0..1, the photo
against the model's decoding of its latent mean), and its latent distance to the nearest
catalogue product (against every product's distance to its nearest other product). Above
the 99th percentile of either, the photo is flagged. The catalogue's reconstruction errors
are measured on the bundle's stored (possibly lossy WebP) images, which can only raise
them a little: the flag errs towards silence.

Usage::

    ref = unlike_reference(recon_errors, nearest_other_distances(mu))   # the catalogue's own
    score = unlike_score(ref, recon_error, nn_distance)   # percentiles, flagged above 99

nearest_other_distances needs only each product's nearest other, not a whole neighbour table
(explorer.latent.hygiene.neighbour_table gives the same first column, ~4x slower).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

FLAG_PERCENTILE = 99.0


@dataclass(frozen=True)
class UnlikeReference:
    """The catalogue's own distributions (sorted ascending), the yardstick of unlike_score."""

    recon_errors: np.ndarray     # float64 [R]: a sample of products' reconstruction MSE
    nn_distances: np.ndarray     # float64 [N]: products' distances to their nearest other


@dataclass(frozen=True)
class UnlikeScore:
    """How unlike the catalogue one photo is."""

    recon_error: float           # MSE over pixels in 0..1
    recon_percentile: float      # 0..100: share of catalogue products with a lower error
    nn_distance: float           # latent distance to the nearest catalogue product
    nn_percentile: float         # 0..100, against products' nearest-other distances
    flagged: bool                # either percentile above FLAG_PERCENTILE
    reasons: list[str] = field(default_factory=list)

    @property
    def percentile(self) -> float:
        """The larger of the two percentiles (one number for a colour scale)."""
        return max(self.recon_percentile, self.nn_percentile)

    def message(self) -> str:
        """One sentence for the user: why the photo looks unlike the catalogue, or that it
        does not."""
        if not self.flagged:
            return (f"Like the catalogue: reconstruction error at the "
                    f"{self.recon_percentile:.0f}th percentile, nearest product at the "
                    f"{self.nn_percentile:.0f}th.")
        return ("This photo is unlike this catalogue: " + "; ".join(self.reasons)
                + ". Its matches below are the least unlike products, not look-alikes.")


def reconstruction_errors(encode: Callable, decode: Callable, images: np.ndarray,
                          batch: int = 256) -> np.ndarray:
    """Mean squared error over pixels (0..1) between each image [B, S, S, 3] uint8 and the
    decoding of its latent mean: encode(images) -> (mu, logvar), decode(mu) -> uint8 images
    (a Bundle's encode and decode). float64 [B]."""
    imgs = np.asarray(images)
    out = np.empty(len(imgs), np.float64)
    for s in range(0, len(imgs), batch):
        x = imgs[s:s + batch]
        mu, _ = encode(x)
        rec = decode(mu)
        d = (np.asarray(x, np.float32) - np.asarray(rec, np.float32)) / 255.0
        out[s:s + len(x)] = (d * d).reshape(len(x), -1).mean(1)
    return out


def reference_sample(n: int, size: int = 2000, seed: int = 0) -> np.ndarray:
    """Sorted indices of the products whose reconstruction error makes the reference."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False))


def nearest_other_distances(vectors: np.ndarray, rows: np.ndarray | None = None,
                            max_scores: int = 1 << 20) -> np.ndarray:
    """Exact Euclidean distance from each of `rows` (indices; all by default) of vectors
    [N, D] to its nearest *other* vector (an exact duplicate: 0): float64 [len(rows)].

    One float32 BLAS product per block of rows (max_scores scores at a time: 4 MB blocks
    stay in cache, 1.3 s for the demo's 30,000 against 2.3 s with 128 MB ones), the argmin
    with the row itself left out, and the candidates within float32 rounding of it
    re-measured in float64."""
    x = np.ascontiguousarray(vectors, np.float32)
    n = len(x)
    if x.ndim != 2 or n < 2:
        raise ValueError(f"nearest_other_distances needs [N >= 2, D] vectors, got {x.shape}")
    rows = np.arange(n) if rows is None else np.asarray(rows, np.int64).reshape(-1)
    sq = np.einsum("ij,ij->i", x, x)
    eps = 64 * float(np.finfo(np.float32).eps)
    out = np.empty(len(rows), np.float64)
    step = max(1, int(max_scores) // n)
    for s in range(0, len(rows), step):
        r = rows[s:s + step]
        q = x[r]
        scores = (q * np.float32(-2.0)) @ x.T        # ||x||^2 - 2 x.q (+ ||q||^2 = squared)
        scores += sq
        scores[np.arange(len(r)), r] = np.inf
        tol = eps * (sq[r].astype(np.float64) + float(sq.max()))
        j = scores.argmin(1)
        best = scores[np.arange(len(r)), j].astype(np.float64)
        near = scores <= (best + tol)[:, None]
        one = np.count_nonzero(near, axis=1) == 1
        d = x[j].astype(np.float64) - q.astype(np.float64)
        out[s:s + len(r)] = np.sqrt(np.einsum("ij,ij->i", d, d))
        for i in np.flatnonzero(~one):               # near-ties: every candidate in float64
            c = np.flatnonzero(near[i])
            dd = x[c].astype(np.float64) - q[i].astype(np.float64)
            out[s + i] = np.sqrt(np.einsum("ij,ij->i", dd, dd).min())
    return out


def unlike_reference(recon_errors: np.ndarray, nn_distances: np.ndarray) -> UnlikeReference:
    """The reference from a sample of catalogue reconstruction errors and products'
    nearest-other distances (nearest_other_distances: every product's, or a large sample's)."""
    r = np.sort(np.asarray(recon_errors, np.float64).reshape(-1))
    d = np.sort(np.asarray(nn_distances, np.float64).reshape(-1))
    if not len(r) or not len(d) or not (np.isfinite(r).all() and np.isfinite(d).all()):
        raise ValueError("the reference needs finite reconstruction errors and distances")
    return UnlikeReference(recon_errors=r, nn_distances=d)


def percentile_of(sorted_ref: np.ndarray, x) -> np.ndarray:
    """100 x the share of sorted_ref strictly below x (0 = below everything)."""
    ref = np.asarray(sorted_ref)
    return 100.0 * np.searchsorted(ref, np.asarray(x, np.float64), side="left") / len(ref)


def unlike_score(ref: UnlikeReference, recon_error: float, nn_distance: float,
                 threshold: float = FLAG_PERCENTILE) -> UnlikeScore:
    """Score one photo from its reconstruction error and its distance to the nearest
    catalogue product; flagged above `threshold` (99) on either."""
    rp = float(percentile_of(ref.recon_errors, recon_error))
    dp = float(percentile_of(ref.nn_distances, nn_distance))
    reasons = []
    if rp > threshold:
        reasons.append(f"the model reconstructs it worse than {rp:.1f}% of catalogue "
                       f"products (error {recon_error:.4f})")
    if dp > threshold:
        reasons.append(f"it is farther from its nearest product than {dp:.1f}% of catalogue "
                       f"products are from theirs (distance {nn_distance:.2f})")
    return UnlikeScore(recon_error=float(recon_error), recon_percentile=rp,
                       nn_distance=float(nn_distance), nn_percentile=dp,
                       flagged=bool(reasons), reasons=reasons)
