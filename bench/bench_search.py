"""Similarity search latency: explorer.latent.index.LatentIndex, exact and approximate.

    python -m bench.bench_search [--sizes 30000,1000000] [--dims 16,32] [--queries 300]
                                 [--approx-size 1000000] [--no-approx] [--build-threads 1]
                                 [--compare]

(run from the repository root, so that the explorer package is importable.)

Gaussian random vectors (seed 0), float32. For each dimension and size it times k=10 queries
one at a time (fresh random query vectors, not items of the index) and prints the median and
95th percentile latency. At --approx-size it also builds the approximate (HNSW) index and
prints its build time, query latency and recall@10 against the exact answers.

--compare also runs the candidate libraries directly (hnswlib and faiss HNSW / IVF, whichever
are installed) over a sweep of their search settings: the figures behind the library choice in
explorer/latent/index.py. It takes several minutes per dimension at 1,000,000 items.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from explorer.latent.index import HnswParams, LatentIndex, hnswlib_available


def _ints(text: str) -> list[int]:
    return [int(t) for t in text.split(",") if t]


def latency_ms(fn, queries: np.ndarray) -> tuple[float, float, list]:
    """Median and p95 in ms of fn(q) over single queries; also the results."""
    fn(queries[0])  # warm-up
    times, results = [], []
    for q in queries:
        t = time.perf_counter()
        results.append(fn(q))
        times.append(time.perf_counter() - t)
    ms = np.array(times) * 1e3
    return float(np.median(ms)), float(np.percentile(ms, 95)), results


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of the true k nearest found, rows of [Q, k] index arrays."""
    return float(np.mean([len(set(f.tolist()) & set(t.tolist())) / len(t)
                          for f, t in zip(found, truth)]))


def compare_libraries(x: np.ndarray, queries: np.ndarray, truth: np.ndarray, k: int,
                      threads: int) -> None:
    """hnswlib and faiss HNSW with the graph settings LatentIndex uses at this D, faiss IVF."""
    n, d = x.shape
    p = HnswParams.for_dim(d)
    efs = (32, 48, 64, 96, 128) if d <= 16 else (64, 100, 150, 200, 300)
    try:
        import hnswlib
    except ImportError:
        print("  hnswlib: not installed")
    else:
        index = hnswlib.Index(space="l2", dim=d)
        t = time.perf_counter()
        index.init_index(max_elements=n, M=p.M, ef_construction=p.ef_construction,
                         random_seed=0)
        index.add_items(x, np.arange(n), num_threads=threads)
        print(f"  hnswlib M={p.M} ef_construction={p.ef_construction}: build "
              f"{time.perf_counter() - t:.1f} s ({threads} thread(s))")
        for ef in efs:
            index.set_ef(ef)
            med, p95, res = latency_ms(lambda q: index.knn_query(q, k=k, num_threads=1)[0][0],
                                       queries)
            print(f"    ef={ef:<4d} recall@{k} {recall_at_k(np.array(res), truth):.3f}  "
                  f"median {med:.3f} ms  p95 {p95:.3f} ms")
        del index
    try:
        import faiss
    except ImportError:
        print("  faiss: not installed")
        return
    faiss.omp_set_num_threads(threads)
    index = faiss.IndexHNSWFlat(d, p.M)
    index.hnsw.efConstruction = p.ef_construction
    t = time.perf_counter()
    index.add(x)
    print(f"  faiss IndexHNSWFlat M={p.M} efConstruction={p.ef_construction}: build "
          f"{time.perf_counter() - t:.1f} s ({threads} thread(s))")
    faiss.omp_set_num_threads(1)
    for ef in efs:
        index.hnsw.efSearch = ef
        med, p95, res = latency_ms(lambda q: index.search(q[None], k)[1][0], queries)
        print(f"    efSearch={ef:<4d} recall@{k} {recall_at_k(np.array(res), truth):.3f}  "
              f"median {med:.3f} ms  p95 {p95:.3f} ms")
    del index
    faiss.omp_set_num_threads(threads)
    nlist = min(4096, max(16, n // 256))
    index = faiss.IndexIVFFlat(faiss.IndexFlatL2(d), d, nlist)
    index.cp.seed = 0
    sample = x[np.random.default_rng(1).choice(n, min(n, 50 * nlist), replace=False)]
    t = time.perf_counter()
    index.train(sample)
    index.add(x)
    print(f"  faiss IndexIVFFlat nlist={nlist} (trained on {len(sample)}): build "
          f"{time.perf_counter() - t:.1f} s ({threads} thread(s))")
    faiss.omp_set_num_threads(1)
    for nprobe in (32, 64, 128, 256):
        index.nprobe = nprobe
        med, p95, res = latency_ms(lambda q: index.search(q[None], k)[1][0], queries)
        print(f"    nprobe={nprobe:<4d} recall@{k} {recall_at_k(np.array(res), truth):.3f}  "
              f"median {med:.3f} ms  p95 {p95:.3f} ms")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="30000,1000000", help="exact index sizes (comma list)")
    ap.add_argument("--dims", default="16,32", help="latent dimensions (comma list)")
    ap.add_argument("--queries", type=int, default=300, help="single queries timed (>= 200)")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--approx-size", type=int, default=1_000_000,
                    help="size for the approximate index (0: none)")
    ap.add_argument("--no-approx", action="store_true", help="skip the approximate index")
    ap.add_argument("--build-threads", type=int, default=1,
                    help="threads for building the HNSW graph (1: deterministic)")
    ap.add_argument("--ef", default="",
                    help="ef_search values to sweep for the approximate index (comma list; "
                         "default: the index's own)")
    ap.add_argument("--compare", action="store_true",
                    help="also run hnswlib and faiss directly at --approx-size")
    args = ap.parse_args(argv)

    sizes = _ints(args.sizes)
    approx_n = 0 if args.no_approx else args.approx_size
    rng = np.random.default_rng(0)
    print(f"k={args.k}, {args.queries} single queries, Gaussian float32 data, seed 0")
    for d in _ints(args.dims):
        n_max = max(sizes + [approx_n])
        x = rng.standard_normal((n_max, d), dtype=np.float32)
        queries = rng.standard_normal((args.queries, d), dtype=np.float32)
        for n in sizes:
            index = LatentIndex(x[:n], method="exact")
            med, p95, _ = latency_ms(lambda q: index.query(q, k=args.k), queries)
            print(f"D={d:<3d} N={n:>9,d} exact : median {med:7.3f} ms  p95 {p95:7.3f} ms")
        if not approx_n:
            continue
        exact = LatentIndex(x[:approx_n], method="exact")
        truth = exact.query(queries, k=args.k)[0]
        del exact
        if args.compare:
            print(f"D={d} N={approx_n:,d}: libraries compared")
            compare_libraries(x[:approx_n], queries, truth, args.k, args.build_threads)
        if not hnswlib_available():
            print(f"D={d:<3d} N={approx_n:>9,d} approx: hnswlib not installed, skipped")
            continue
        params = HnswParams.for_dim(d, build_threads=args.build_threads)
        t = time.perf_counter()
        index = LatentIndex(x[:approx_n], method="approx", hnsw=params)
        build = time.perf_counter() - t
        print(f"D={d:<3d} N={approx_n:>9,d} approx: build {build:.1f} s (hnswlib M={params.M} "
              f"ef_construction={params.ef_construction}, {params.build_threads} thread(s))")
        for ef in _ints(args.ef) or [params.ef_search]:
            index.ef_search = ef
            med, p95, res = latency_ms(lambda q: index.query(q, k=args.k)[0][0], queries)
            rec = recall_at_k(np.array(res), truth)
            print(f"D={d:<3d} N={approx_n:>9,d} approx: median {med:7.3f} ms  p95 {p95:7.3f} ms"
                  f"  recall@{args.k} {rec:.3f}  (ef_search={ef})")
        del index
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
