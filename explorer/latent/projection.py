"""2-D projections of the latent means for the catalogue map: PCA, UMAP and t-SNE; and 3-D
ones (PCA, UMAP) for its 3-D view.

Every function takes plain arrays and an explicit seed and returns float32 [N, 2] (or
[N, dims] where it takes dims).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

METHODS = ("pca", "umap", "tsne")


def pca_2d(x: np.ndarray, seed: int = 0, dims: int = 2) -> np.ndarray:
    """x [N, D] -> [N, dims] (exact PCA via SVD, fitted on the first 50,000 rows; the seed is
    unused but kept for one signature). Columns past D are zeros."""
    x = np.asarray(x, dtype=np.float64)
    xc = x - x.mean(0)
    if len(x) < 2:
        return np.zeros((len(x), dims), np.float32)
    _, _, vt = np.linalg.svd(xc[: min(len(xc), 50_000)], full_matrices=False)
    out = xc @ vt[:dims].T
    if out.shape[1] < dims:
        out = np.pad(out, ((0, 0), (0, dims - out.shape[1])))
    return out.astype(np.float32)


def pca_3d(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """x [N, D] -> [N, 3]: the first three principal components (the 3-D map's default)."""
    return pca_2d(x, seed, dims=3)


def umap_2d(x: np.ndarray, seed: int = 0, n_neighbors: int = 15, min_dist: float = 0.1,
            dims: int = 2) -> np.ndarray:
    import umap  # imported lazily: numba start-up takes seconds

    n_neighbors = max(2, min(n_neighbors, len(x) - 1))
    reducer = umap.UMAP(n_components=dims, n_neighbors=n_neighbors, min_dist=min_dist,
                        random_state=seed, n_jobs=1)
    return reducer.fit_transform(np.asarray(x, np.float32)).astype(np.float32)


def tsne_2d(x: np.ndarray, seed: int = 0, perplexity: float = 30.0, n_jobs: int = 2) -> np.ndarray:
    from openTSNE import TSNE

    perplexity = float(min(perplexity, max(2.0, (len(x) - 1) / 3)))
    emb = TSNE(n_components=2, perplexity=perplexity, random_state=seed, n_jobs=n_jobs,
               verbose=False).fit(np.asarray(x, np.float64))
    return np.asarray(emb, dtype=np.float32)


PROJECTORS: dict[str, Callable[..., np.ndarray]] = {"pca": pca_2d, "umap": umap_2d,
                                                     "tsne": tsne_2d}


def project(method: str, x: np.ndarray, seed: int = 0, **params: Any) -> np.ndarray:
    """Project latent means x [N, D] to [N, 2] with 'pca', 'umap' or 'tsne'."""
    if method not in PROJECTORS:
        raise ValueError(f"unknown projection {method!r}; known: {', '.join(METHODS)}")
    if len(x) < 5:
        return pca_2d(x, seed)
    return PROJECTORS[method](x, seed=seed, **params)


def place_by_neighbours(query: np.ndarray, x, xy: np.ndarray, k: int = 10) -> np.ndarray:
    """Place new points on an existing map without refitting it.

    query [Q, D]; x: the catalogue's latent means [N, D] or a `LatentIndex` over them (the
    app's cached one: every feature finds neighbours with it); xy [N, 2] their map
    positions -> [Q, 2]: the inverse-distance weighted mean of the k nearest catalogue items'
    positions. xy may have any width (the 3-D view passes [N, 3]).
    """
    from explorer.latent.index import LatentIndex

    index = x if isinstance(x, LatentIndex) else LatentIndex(x, method="exact")
    q = np.atleast_2d(np.asarray(query, np.float32))
    idx, dist = index.query(q, k=min(k, len(index)))
    w = 1.0 / (dist.astype(np.float64) + 1e-6)
    w /= w.sum(1, keepdims=True)
    return (w[:, :, None] * xy[idx]).sum(1).astype(np.float32)


def affine_fit(x: np.ndarray, coords: np.ndarray, rows: int = 20_000,
               tol: float = 1e-4) -> tuple[np.ndarray, np.ndarray] | None:
    """(A [D, k], c [k]) with coords ~= x @ A + c, fitted by least squares on the first `rows`
    items: a linear map (PCA) places new latents exactly with it. None when coords are not an
    affine function of x (largest residual above tol x the coordinates' spread), e.g. UMAP."""
    x = np.asarray(x, np.float64)[:rows]
    y = np.asarray(coords, np.float64)[:rows]
    if len(x) <= x.shape[1] + 1:
        return None
    design = np.hstack([x, np.ones((len(x), 1))])
    sol, *_ = np.linalg.lstsq(design, y, rcond=None)
    spread = float(np.ptp(y, axis=0).max()) or 1.0
    if np.abs(design @ sol - y).max() > tol * spread:
        return None
    return sol[:-1].astype(np.float32), sol[-1].astype(np.float32)


# ---------------------------------------------------------------------------- large catalogues
class Projector:
    """A 2-D (or `dims`-D) projection fitted on a sample, applied to any batch:
    `transform(x [B, D]) -> [B, dims]`."""

    def __init__(self, method: str, sample: np.ndarray, seed: int = 0, dims: int = 2,
                 **params: Any):
        self.method, self.dims = method, int(dims)
        s = np.asarray(sample, np.float32)
        if method == "pca":
            self.mean = s.mean(0)
            _, _, vt = np.linalg.svd(s - self.mean, full_matrices=False)
            comp = vt[:self.dims].T                                           # [D, <=dims]
            comp = np.pad(comp, ((0, 0), (0, self.dims - comp.shape[1])))
            self.components = np.ascontiguousarray(comp, np.float32)          # [D, dims]
        elif method == "umap":
            import umap
            n_neighbors = max(2, min(int(params.get("n_neighbors", 15)), len(s) - 1))
            self.reducer = umap.UMAP(n_components=self.dims, n_neighbors=n_neighbors,
                                     min_dist=float(params.get("min_dist", 0.1)),
                                     random_state=seed, n_jobs=1).fit(s)
        else:
            raise ValueError(f"{method!r} cannot project new items; use pca or umap")

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32)
        if self.method == "pca":
            out = (x - self.mean) @ self.components
        else:
            out = self.reducer.transform(x)
        return np.asarray(out, np.float32)


def project_large(x: np.ndarray, method: str, sample: int = 50_000, batch: int = 100_000,
                  seed: int = 0, progress: bool = True, dims: int = 2,
                  **params: Any) -> np.ndarray:
    """Project x [N, D] -> [N, dims] (2 or 3) for catalogues too big to fit at once: fit on a seeded
    random sample of `sample` items, then transform every item in batches of `batch` (a tqdm
    bar per batch). Each batch is independent: the loop is what a distributed engine maps over
    (docs/DEPLOY.md)."""
    n = len(x)
    rng = np.random.default_rng(seed)
    fit_on = np.sort(rng.choice(n, size=min(n, sample), replace=False))
    if progress:
        print(f"fitting {method}{' (3-D)' if dims == 3 else ''} on {len(fit_on):,} of {n:,} "
              "items …", flush=True)
    proj = Projector(method, np.asarray(x)[fit_on], seed=seed, dims=dims, **params)
    out = np.empty((n, dims), np.float32)
    starts = range(0, n, batch)
    if progress:
        from tqdm import tqdm
        starts = tqdm(starts, desc=f"{method} transform", unit="batch",
                      total=-(-n // batch))
    for s in starts:
        out[s:s + batch] = proj.transform(np.asarray(x[s:s + batch]))
    return out
