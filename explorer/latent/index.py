"""Similarity search in the latent space: "find sneakers that look like this one".

``LatentIndex(vectors)`` answers k-nearest-neighbour queries over the catalogue's latent means
(float32 [N, D]) under the Euclidean distance, optionally reshaped by

- ``weights`` [D]: a per-dimension weight on the squared distance (0 ignores a dimension, e.g.
  "same shape, any colour" by giving the colour dimensions weight 0), and
- ``ignore_directions`` [M, D]: directions of the raw latent space (an attribute direction from
  the lab) projected out of both the database and the query, so that items differing only along
  them are at distance 0.

Both are applied as one linear map: x -> sqrt(w) * (P x), with P the orthogonal projection that
removes the span of the directions; the distance is ||sqrt(w) * P (x - q)||. The index stores the
vectors in a factored form of that metric (an eigendecomposition of its Gram matrix, dropping
null directions), so zeroed dimensions and projected-out directions also make search faster.
``index.view(weights=..., ignore_directions=...)`` builds such a reshaped index from the same raw
vectors (one [N, D] x [D, r] product and, for the approximate method, a new graph).

Two methods:

``exact``
    Squared norms of the database are precomputed once; a query batch costs one BLAS product
    (||x||^2 - 2 X q). Rather than partitioning all N scores, the k-th lowest score of a strided
    sample of ~sqrt(kN) of them is a threshold that at least k items meet; one comparison pass
    keeps the few under it. Those (and anything tied with the k-th within float32 rounding) are
    re-scored directly in float64, so results are exact, an item's distance to itself is
    exactly 0 and ties are broken by index.
``approx``
    An HNSW graph from hnswlib (pin: ``hnswlib==0.8.0``), its candidates re-scored as above.
    Used by ``method="auto"`` from ``approx_threshold`` items (default 200,000). If hnswlib is
    not installed, ``approx`` falls back to exact search with a ``RuntimeWarning``. The build is
    seeded (``HnswParams.random_seed``) and, with ``build_threads=1`` (the default),
    deterministic. Graph settings depend on the (reshaped) dimension, see
    ``HnswParams.for_dim``. Nothing is written to disk.

Why hnswlib. Measured on the 2-core development machine while other jobs were running (load
3 to 27, so the figures are +-30 % at best), Gaussian float32 data (seed 0), 300 single k=10
queries on one thread, recall@10 against exact search, builds on 2 threads. The 1M rows use
M=16 for both dimensions (``python -m bench.bench_search --compare`` runs the same comparison
with the settings of ``HnswParams.for_dim``, i.e. M=32 at D=32):

    N x D      library and settings            build   first setting with recall >= 0.95
    1M x 16    hnswlib M=16 efC=100              208 s   ef=64: 0.967 in 0.14 ms
    1M x 16    faiss HNSWFlat M=16 efC=100       195 s   ef=48: 0.954 in 0.10 ms
    1M x 16    faiss IVFFlat nlist=4096          2.4 s   nprobe=96: 0.960 in 0.47 ms
    1M x 32    hnswlib M=16 efC=100              300 s   none (ef=200: 0.861 in 0.43 ms)
    1M x 32    faiss HNSWFlat M=16 efC=100       419 s   none (ef=200: 0.833 in 0.45 ms)
    1M x 32    faiss IVFFlat nlist=4096           19 s   none (nprobe=256: 0.882 in 1.3 ms)
    200k x 32  hnswlib M=16 efC=100               87 s   ef=300: 0.972 in 0.66 ms
    200k x 32  hnswlib M=32 efC=200              174 s   ef=100: 0.969 in 0.27 ms
    200k x 32  faiss HNSWFlat M=32 efC=200       194 s   ef=100: 0.969 in 0.24 ms

(the last two rows come from one run, queries interleaved; M=48 or efC=400 did no better.)
IVF builds in seconds and is the best choice at D <= 16, but at D = 32 it cannot reach 0.95
under 1 ms: it has to scan too many lists. The two HNSW implementations give the same recall
for the same graph; hnswlib built about 10 % faster, faiss answered about 12 % faster. hnswlib
is chosen as the one method for every D: it is light (3 MB, imports in milliseconds; faiss-cpu
is 66 MB and imports in ~1 s) and takes an explicit seed, with a reproducible single-thread
build. Its drawback: PyPI has no binary wheel of 0.8.0 for this platform, so pip compiles it
(a C++ compiler is needed, about a minute).

LatentIndex itself (``python -m bench.bench_search --ef 48,64,100,160,200 --build-threads 2``,
same machine and caveats; the re-scoring adds ~0.06 ms per query):

    D=16  N=30,000    exact   median  0.15 ms  p95  8.0 ms (p95: OpenBLAS waking its 2nd thread)
    D=16  N=1,000,000 exact   median 13.4 ms   p95 22.6 ms (8.8 ms measured earlier when quiet)
    D=16  N=1,000,000 approx  M=16 efC=100: build 258 s; ef=64 (default): recall 0.967 in
                              0.16 ms (p95 0.19); ef=100: 0.989 in 0.23 ms
    D=32  N=30,000    exact   median  0.45 ms  p95  8.2 ms
    D=32  N=1,000,000 exact   median 17.5 ms   p95 24.9 ms
    D=32  N=1,000,000 approx  M=32 efC=200: build 1885 s (load up to 27); ef=100: 0.917 in
                              0.77 ms; ef=160 (default): 0.961 in 1.14 ms; ef=200: 0.978 in
                              1.35 ms

So at 1M x 32 (Gaussian, the hardest case: real latent codes have lower intrinsic dimension)
recall 0.95 costs about 1 ms here, just over the 1 ms aim; exact search at 1M is 9-18 ms
depending on D and load, over the 10 ms aim under load.
"""
from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np

Method = Literal["exact", "approx", "auto"]

APPROX_THRESHOLD = 200_000
# Queries scored together in one BLAS product are capped at this many scores (float32, 64 MB).
_MAX_SCORES = 1 << 24
_EPS32 = float(np.finfo(np.float32).eps)
_SPARE = 8   # a batch query keeps this many candidates beyond k per row


def hnswlib_available() -> bool:
    try:
        import hnswlib  # noqa: F401
    except ImportError:
        return False
    return True


def metric_map(dim: int, weights: np.ndarray | None = None,
               ignore_directions: np.ndarray | None = None) -> np.ndarray | None:
    """The [D, r] matrix B with ||(x - q) B|| = ||sqrt(w) * P (x - q)||, or None for identity.

    P removes the span of ignore_directions [M, D] (any scale, need not be orthogonal);
    weights [D] are non-negative. r is the rank of the resulting metric (null directions dropped).
    """
    if weights is None and (ignore_directions is None or np.size(ignore_directions) == 0):
        return None
    a = np.eye(dim)
    if ignore_directions is not None and np.size(ignore_directions):
        v = np.atleast_2d(np.asarray(ignore_directions, np.float64))
        if v.shape[1] != dim:
            raise ValueError(f"ignore_directions must be [M, {dim}], got {v.shape}")
        if not np.all(np.isfinite(v)):
            raise ValueError("ignore_directions must be finite")
        u, s, _ = np.linalg.svd(v.T, full_matrices=False)  # orthonormal basis of their span
        u = u[:, s > 1e-10 * max(s.max(initial=0.0), 1e-300)]
        a = a - u @ u.T
    if weights is not None:
        w = np.asarray(weights, np.float64).reshape(-1)
        if w.shape != (dim,):
            raise ValueError(f"weights must be [{dim}], got {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError("weights must be finite and non-negative")
        a = np.sqrt(w)[:, None] * a
    # distance^2 = d^T G d with G = A^T A = V diag(lam) V^T  ->  B = V sqrt(lam), nonzero lam only
    lam, vecs = np.linalg.eigh(a.T @ a)
    keep = lam > 1e-9 * max(lam.max(initial=0.0), 1e-300)
    if not keep.any():
        raise ValueError("weights and ignore_directions leave no dimension to compare")
    return (vecs[:, keep] * np.sqrt(lam[keep])).astype(np.float32)


@dataclass(frozen=True)
class HnswParams:
    """hnswlib settings. ``HnswParams.for_dim(d)`` gives defaults that reach recall@10 >= 0.95
    at 1,000,000 Gaussian items for d <= 16 (0.967, 0.16 ms) and d = 32 (0.961, 1.1 ms); see
    the module docstring.

    M: graph degree; ef_construction: build-time beam; ef_search: query-time beam (the index's
    ``ef_search`` attribute can be changed later); build_threads > 1 builds faster but in a
    scheduling-dependent order, so only build_threads=1 is reproducible.
    """

    M: int = 16
    ef_construction: int = 100
    ef_search: int = 64
    random_seed: int = 0
    build_threads: int = 1

    @classmethod
    def for_dim(cls, dim: int, **overrides) -> "HnswParams":
        if dim <= 16:
            return cls(**{"M": 16, "ef_construction": 100, "ef_search": 64, **overrides})
        return cls(**{"M": 32, "ef_construction": 200, "ef_search": 160, **overrides})


class LatentIndex:
    """k-NN over latent vectors [N, D] with optional weights / ignored directions.

    method: "exact", "approx" (HNSW) or "auto" (approx from approx_threshold items).
    The index keeps a reference to `vectors`; don't modify them afterwards.
    """

    def __init__(self, vectors: np.ndarray, weights: np.ndarray | None = None,
                 ignore_directions: np.ndarray | None = None, method: Method = "auto",
                 approx_threshold: int = APPROX_THRESHOLD, hnsw: HnswParams | None = None):
        x = np.asarray(vectors)
        if x.ndim != 2 or len(x) == 0 or x.shape[1] == 0:
            raise ValueError(f"vectors must be a non-empty [N, D] array, got shape {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("vectors must be finite")
        if method not in ("exact", "approx", "auto"):
            raise ValueError(f"method must be 'exact', 'approx' or 'auto', got {method!r}")
        self.vectors = np.ascontiguousarray(x, np.float32)
        self.weights = None if weights is None else np.asarray(weights, np.float32).copy()
        self.ignore_directions = (None if ignore_directions is None
                                  else np.atleast_2d(np.asarray(ignore_directions, np.float32)))
        self.requested_method = method
        self._explicit_hnsw = hnsw is not None
        self.approx_threshold = int(approx_threshold)
        self._map = metric_map(self.dim, weights, ignore_directions)
        self._data = self.vectors if self._map is None else np.ascontiguousarray(
            self.vectors @ self._map)
        self.hnsw_params = hnsw or HnswParams.for_dim(self._data.shape[1])
        self.ef_search = self.hnsw_params.ef_search
        self._sqnorms = np.einsum("ij,ij->i", self._data, self._data)
        self._max_sqnorm = float(self._sqnorms.max())
        want_approx = method == "approx" or (method == "auto" and len(x) >= self.approx_threshold)
        self._hnsw = None
        self._hnsw_lock = threading.Lock()  # ef is graph state: set it and query as one step
        if want_approx:
            if hnswlib_available():
                self._hnsw = self._build_hnsw()
            else:
                warnings.warn("hnswlib is not installed (pip install hnswlib==0.8.0); "
                              "using exact search", RuntimeWarning, stacklevel=2)
        self.method: str = "approx" if self._hnsw is not None else "exact"

    # ------------------------------------------------------------------ properties
    def __len__(self) -> int:
        return len(self.vectors)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def view(self, weights: np.ndarray | None = None,
             ignore_directions: np.ndarray | None = None,
             method: Method | None = None) -> "LatentIndex":
        """A new index over the same raw vectors with other weights / ignored directions."""
        return LatentIndex(self.vectors, weights=weights, ignore_directions=ignore_directions,
                           method=method or self.requested_method,
                           approx_threshold=self.approx_threshold,
                           hnsw=self.hnsw_params if self._explicit_hnsw else None)

    # ------------------------------------------------------------------ search
    def query(self, q: np.ndarray, k: int = 10,
              exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Nearest items to q ([D] or [Q, D] raw latent vectors).

        Returns (indices int64 [Q, k], distances float32 [Q, k]), Euclidean distances sorted
        ascending, ties broken by index; Q = 1 for a [D] query. Items listed in `exclude` are
        never returned. k is capped at the number of items left. The approximate index asks
        the graph for k + len(exclude) candidates; when that is over max(256, N / 100) the
        query is answered exactly instead.
        """
        qs = np.asarray(q, np.float32)
        if qs.ndim == 1:
            qs = qs[None, :]
        if qs.ndim != 2 or qs.shape[1] != self.dim:
            raise ValueError(f"query must be [{self.dim}] or [Q, {self.dim}], got {np.shape(q)}")
        if not np.all(np.isfinite(qs)):
            raise ValueError("query must be finite")
        if int(k) < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        excl = _as_exclude(exclude, len(self))
        k = min(int(k), len(self) - len(excl))
        if k <= 0 or len(qs) == 0:
            return np.zeros((len(qs), 0), np.int64), np.zeros((len(qs), 0), np.float32)
        qm = qs if self._map is None else qs @ self._map
        qm = np.ascontiguousarray(qm, np.float32)
        if self._hnsw is not None and k + len(excl) <= max(256, len(self) // 100):
            return self._query_hnsw(qm, k, excl)
        return self._query_exact(qm, k, excl)

    def _query_exact(self, qm: np.ndarray, k: int, excl: np.ndarray):
        n = len(self)
        out_i = np.empty((len(qm), k), np.int64)
        out_d = np.empty((len(qm), k), np.float32)
        step = max(1, _MAX_SCORES // n)
        for s in range(0, len(qm), step):
            block = qm[s:s + step]
            # ||x||^2 - 2 x.q: the query's own norm is the same for every item, so left out
            scores = (block * np.float32(-2.0)) @ self._data.T
            scores += self._sqnorms
            if len(excl):
                scores[:, excl] = np.inf
            # float32 error of ||x||^2 - 2 x.q is a few ulps of ||x||^2 + ||q||^2
            tols = 64 * _EPS32 * (np.einsum("ij,ij->i", block, block).astype(np.float64)
                                  + self._max_sqnorm)
            todo = range(len(block))
            if len(block) > 1:   # a batch (metrics, imputation, clustering): vectorised
                todo = self._batch_exact(block, scores, tols, k, out_i[s:s + step],
                                         out_d[s:s + step])
            for j in todo:
                cand = _candidates(scores[j], k, float(tols[j]))
                out_i[s + j], out_d[s + j] = self._rerank(block[j], cand, k)
        return out_i, out_d

    def _batch_exact(self, block: np.ndarray, scores: np.ndarray, tols: np.ndarray, k: int,
                     out_i: np.ndarray, out_d: np.ndarray) -> np.ndarray:
        """The k nearest for a block of queries at once (metrics, imputation, clustering),
        as the single-row way finds them. k = 1: the argmin, when nothing else scores within
        tol of it. Otherwise each row's k + _SPARE lowest scores are re-scored in float64; a
        row is answered when every item left out scores above its k-th score + tol (so the
        candidates hold all that _candidates would keep). Returns the rows not answered (ties
        at the margin), for the single-row way."""
        b, n = scores.shape
        if k == 1:   # the nearest only (clustering labels every item): one argmin per row
            j = scores.argmin(1)
            m = scores[np.arange(b), j].astype(np.float64)
            ok = np.isfinite(m) & ((scores <= (m + tols)[:, None]).sum(1) == 1)
            rows = np.flatnonzero(ok)
            diff = self._data[j[rows]].astype(np.float64) - block[rows].astype(np.float64)
            out_i[rows, 0] = j[rows]
            out_d[rows, 0] = np.sqrt(np.einsum("ij,ij->i", diff, diff)).astype(np.float32)
            return np.flatnonzero(~ok)
        kk = min(n, k + _SPARE)
        part = np.argpartition(scores, kk - 1, axis=1)[:, :kk] if kk < n else \
            np.broadcast_to(np.arange(n), scores.shape)
        ps = np.take_along_axis(scores, part, 1)
        kth = np.partition(ps, k - 1, axis=1)[:, k - 1].astype(np.float64)
        # every item left out scores >= the row's largest candidate score
        ok = np.isfinite(kth) & ((kk == n) | (ps.max(1) > kth + tols))
        rows = np.flatnonzero(ok)
        chunk = max(1, (1 << 22) // (kk * self._data.shape[1]))   # float64 [B, kk, D] <= 32 MB
        for a in range(0, len(rows), chunk):
            r = rows[a:a + chunk]
            cand = part[r]
            diff = self._data[cand].astype(np.float64) - block[r, None, :].astype(np.float64)
            d2 = np.einsum("bij,bij->bi", diff, diff)
            d2[~np.isfinite(ps[r])] = np.inf      # excluded items
            order = np.lexsort((cand, d2), axis=-1)[:, :k]
            out_i[r] = np.take_along_axis(cand, order, 1)
            out_d[r] = np.sqrt(np.take_along_axis(d2, order, 1)).astype(np.float32)
        return np.flatnonzero(~ok)

    def _query_hnsw(self, qm: np.ndarray, k: int, excl: np.ndarray):
        kk = k + len(excl)
        with self._hnsw_lock:
            self._hnsw.set_ef(max(int(self.ef_search), kk))
            labels, _ = self._hnsw.knn_query(qm, k=kk, num_threads=1)
        out_i = np.empty((len(qm), k), np.int64)
        out_d = np.empty((len(qm), k), np.float32)
        for j, cand in enumerate(labels.astype(np.int64)):
            if len(excl):
                cand = cand[~np.isin(cand, excl)]
            out_i[j], out_d[j] = self._rerank(qm[j], cand, k)
        return out_i, out_d

    def _rerank(self, qrow: np.ndarray, cand: np.ndarray, k: int):
        diff = self._data[cand].astype(np.float64) - qrow.astype(np.float64)
        d2 = np.einsum("ij,ij->i", diff, diff)
        order = np.lexsort((cand, d2))[:k]
        return cand[order], np.sqrt(d2[order]).astype(np.float32)

    def _build_hnsw(self):
        import hnswlib
        p = self.hnsw_params
        index = hnswlib.Index(space="l2", dim=self._data.shape[1])
        index.init_index(max_elements=len(self), M=p.M, ef_construction=p.ef_construction,
                         random_seed=p.random_seed)
        index.add_items(self._data, np.arange(len(self)), num_threads=p.build_threads)
        return index


def _as_exclude(exclude, n: int) -> np.ndarray:
    if exclude is None:
        return np.zeros(0, np.int64)
    e = np.unique(np.asarray(exclude, np.int64).reshape(-1))
    if len(e) and (e[0] < -n or e[-1] >= n):
        raise ValueError(f"exclude indices must be in [0, {n})")
    return np.unique(np.where(e < 0, e + n, e))


def _candidates(scores: np.ndarray, k: int, tol: float) -> np.ndarray:
    """Indices of the k lowest scores [N] plus every score within tol of the k-th.

    tol covers float32 rounding in ||x||^2 - 2 x.q, so the set holds the true k nearest and
    everything tied with them; the caller re-scores it exactly. Instead of partitioning all N
    scores, the k-th lowest of a strided sample of ~sqrt(kN) gives a threshold that at least
    k scores meet (the sample's own k lowest), and one comparison pass keeps ~sqrt(kN) of them.
    """
    n = len(scores)
    step = int(n // np.sqrt(k * n))
    cand, t = None, np.inf
    if step > 1:
        sample = scores[::step]
        if len(sample) >= k:
            t = float(np.partition(sample, k - 1)[k - 1])
            if np.isfinite(t):
                cand = np.flatnonzero(scores <= t)
    if cand is None:  # small N, or too many excluded (inf) scores for the sample
        cand = np.arange(n) if k >= n else np.argpartition(scores, k - 1)[:k]
        t = -np.inf
    sub = scores[cand]
    bound = float(np.partition(sub, k - 1)[k - 1]) + tol
    if bound > t:
        return np.flatnonzero(scores <= bound)
    return cand[sub <= bound]


def nearest_products(index: LatentIndex, query_vec: np.ndarray, k: int = 10,
                     exclude: np.ndarray | None = None) -> list[tuple[int, float]]:
    """The k items nearest one latent vector [D], as [(index, distance), ...] ascending.

    ``pd.DataFrame(nearest_products(...), columns=["index", "distance"])`` makes a table.
    """
    q = np.asarray(query_vec)
    if q.ndim != 1:
        raise ValueError(f"query_vec must be one vector [D], got shape {q.shape}")
    idx, dist = index.query(q, k=k, exclude=exclude)
    return [(int(i), float(d)) for i, d in zip(idx[0], dist[0])]
