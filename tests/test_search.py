import numpy as np
import pandas as pd
import pytest

import explorer.latent.index as search
from explorer.latent.index import HnswParams, LatentIndex, metric_map, nearest_products
from tests.conftest import require_system


@pytest.fixture
def hnswlib_present():
    # hnswlib is pinned in requirements.txt: under CI=true a missing one fails instead
    require_system(search.hnswlib_available(), "the hnswlib Python package",
                   "pip install hnswlib==0.8.0")


def _data(n=600, d=8, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def _brute(x, q, k):
    """Reference: float64 distances, sorted by (distance, index)."""
    d = np.sqrt(((q[:, None, :].astype(np.float64) - x[None].astype(np.float64)) ** 2).sum(-1))
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(d, order, 1)


def test_exact_nearest_is_itself():
    x = _data()
    idx, dist = LatentIndex(x, method="exact").query(x, k=3)
    assert np.array_equal(idx[:, 0], np.arange(len(x)))
    assert np.all(dist[:, 0] == 0)


def test_approx_nearest_is_itself(hnswlib_present):
    x = _data(2000)
    index = LatentIndex(x, method="approx")
    assert index.method == "approx"
    idx, dist = index.query(x[:300], k=3)
    assert np.array_equal(idx[:, 0], np.arange(300))
    assert np.all(dist[:, 0] == 0)


def test_exact_matches_brute_force_sorted_with_ties_by_index():
    x = _data(300)
    x = np.concatenate([x, x[:50], x[:50]])  # exact duplicates: ties
    q = np.concatenate([x[:20], _data(20, seed=1)])
    idx, dist = LatentIndex(x, method="exact").query(q, k=7)
    ref_i, ref_d = _brute(x, q, 7)
    assert idx.dtype == np.int64 and dist.dtype == np.float32
    assert np.array_equal(idx, ref_i)
    np.testing.assert_allclose(dist, ref_d, atol=1e-5)
    assert np.all(np.diff(dist, axis=1) >= 0)
    # item 3 has copies at 303 and 353: all at distance 0, in index order
    assert idx[3, :3].tolist() == [3, 303, 353]


def test_query_shapes_and_k():
    x = _data(50, 4)
    index = LatentIndex(x)
    i1, d1 = index.query(x[7], k=5)
    assert i1.shape == (1, 5) and d1.shape == (1, 5)
    iq, dq = index.query(x[:8], k=5)
    assert iq.shape == (8, 5) and dq.shape == (8, 5)
    assert np.array_equal(iq[7], i1[0]) and np.array_equal(dq[7], d1[0])
    ib, _ = index.query(x[:1], k=500)  # capped at N
    assert ib.shape == (1, 50) and sorted(ib[0]) == list(range(50))
    with pytest.raises(ValueError):
        index.query(np.zeros(5, np.float32))
    with pytest.raises(ValueError):
        index.query(x[0], k=0)


def test_exclude():
    x = _data(200, 4)
    index = LatentIndex(x)
    plain, _ = index.query(x[10], k=5)
    idx, dist = index.query(x[10], k=5, exclude=np.array([10, plain[0, 1]]))
    assert 10 not in idx[0] and plain[0, 1] not in idx[0]
    assert idx[0].tolist() == [i for i in index.query(x[10], k=7)[0][0]
                               if i not in (10, plain[0, 1])][:5]
    assert np.all(np.diff(dist) >= 0)
    everything_but_3 = np.setdiff1d(np.arange(200), [3])
    idx, _ = index.query(x[0], k=10, exclude=everything_but_3)
    assert idx.tolist() == [[3]]


def test_approx_exclude_and_determinism(hnswlib_present):
    x = _data(3000, 8)
    a, b = LatentIndex(x, method="approx"), LatentIndex(x, method="approx")
    q = _data(50, 8, seed=3)
    ia, da = a.query(q, k=10, exclude=[int(a.query(q[0], k=1)[0][0, 0])])
    ib, db = b.query(q, k=10, exclude=[int(a.query(q[0], k=1)[0][0, 0])])
    assert np.array_equal(ia, ib) and np.array_equal(da, db)
    assert a.query(q[0], k=1)[0][0, 0] not in ia[0]
    assert np.all(np.diff(da, axis=1) >= 0)


def test_nearest_products():
    x = _data(100, 4)
    rows = nearest_products(LatentIndex(x), x[5], k=4, exclude=[5])
    assert len(rows) == 4 and all(isinstance(i, int) and isinstance(d, float) for i, d in rows)
    assert 5 not in [i for i, _ in rows]
    table = pd.DataFrame(rows, columns=["index", "distance"])
    assert table["distance"].is_monotonic_increasing


def _shape_colour_data():
    """dims 0-1: shape, 2-3: colour. Item 1 = item 0's shape in another colour; item 2 = a
    slightly different shape in item 0's colour."""
    rng = np.random.default_rng(0)
    x = np.concatenate([
        np.array([[0, 0, 0, 0], [0, 0, 4, 4], [0.5, 0.5, 0, 0]], np.float32),
        (rng.standard_normal((100, 4)) * 3 + 8).astype(np.float32),
    ])
    return x


def test_weights_zero_ignores_colour():
    x = _shape_colour_data()
    plain = LatentIndex(x)
    idx, _ = plain.query(x[0], k=2, exclude=[0])
    assert idx[0, 0] == 2  # colour counts: the same-colour item is nearer
    shape_only = plain.view(weights=np.array([1, 1, 0, 0], np.float32))
    idx, dist = shape_only.query(x[0], k=2, exclude=[0])
    assert idx[0, 0] == 1 and dist[0, 0] == pytest.approx(0.0, abs=1e-6)
    assert dist[0, 1] == pytest.approx(np.sqrt(0.5), rel=1e-5)  # item 2: shape distance only
    # weights scale squared distances per dimension
    w = np.array([4, 1, 1, 1], np.float32)
    i, d = LatentIndex(x, weights=w).query(x[0], k=len(x))
    ref = np.sqrt((w * (x - x[0]) ** 2).sum(1))
    np.testing.assert_allclose(d[0], ref[i[0]], rtol=1e-5, atol=1e-6)
    assert shape_only.vectors is plain.vectors  # a view of the same raw vectors


def test_ignore_direction_projects_out():
    rng = np.random.default_rng(1)
    base = rng.standard_normal((40, 6)).astype(np.float32)
    v = rng.standard_normal(6).astype(np.float32)
    moved = base + np.float32(3.0) * v  # item 40 + i differs from item i only along v
    x = np.concatenate([base, moved])
    index = LatentIndex(x, ignore_directions=v[None] * 5)  # the direction's scale is irrelevant
    idx, dist = index.query(base[:10], k=2)
    for i in range(10):
        assert set(idx[i]) == {i, 40 + i}
        assert dist[i, 1] == pytest.approx(0.0, abs=1e-5)
    # distances equal those of the projected vectors
    u = v / np.linalg.norm(v)
    p = x - np.outer(x @ u, u)
    i, d = index.query(x[3], k=len(x))
    np.testing.assert_allclose(d[0], np.linalg.norm(p - p[3], axis=1)[i[0]], atol=1e-5)
    # without it, the moved copy is far away
    assert LatentIndex(x).query(base[0], k=2)[0][0, 1] != 40


def test_metric_map_shapes_and_errors():
    assert metric_map(4) is None
    assert metric_map(4, weights=np.array([1, 1, 0, 0])).shape == (4, 2)
    assert metric_map(4, ignore_directions=np.eye(4)[:1]).shape == (4, 3)
    with pytest.raises(ValueError):
        metric_map(4, weights=np.zeros(4))
    with pytest.raises(ValueError):
        metric_map(4, weights=np.array([1, -1, 1, 1]))
    with pytest.raises(ValueError):
        metric_map(4, ignore_directions=np.ones((1, 3)))


def test_approx_recall(hnswlib_present):
    x = _data(20_000, 16, seed=2)
    q = _data(200, 16, seed=4)
    exact_i, _ = LatentIndex(x, method="exact").query(q, k=10)
    approx = LatentIndex(x, method="auto", approx_threshold=10_000)
    assert approx.method == "approx"
    approx_i, approx_d = approx.query(q, k=10)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx_i, exact_i)])
    assert recall >= 0.9, recall
    assert np.all(np.diff(approx_d, axis=1) >= 0)


def test_approx_without_library_falls_back(monkeypatch):
    monkeypatch.setattr(search, "hnswlib_available", lambda: False)
    x = _data(100, 4)
    with pytest.warns(RuntimeWarning, match="hnswlib"):
        index = LatentIndex(x, method="approx")
    assert index.method == "exact"
    assert index.query(x[4], k=1)[0][0, 0] == 4


def test_small_auto_is_exact_and_bad_input():
    assert LatentIndex(_data(50, 4)).method == "exact"
    with pytest.raises(ValueError):
        LatentIndex(np.zeros((0, 4), np.float32))
    with pytest.raises(ValueError):
        LatentIndex(_data(5, 4), method="fast")
    with pytest.raises(ValueError):
        LatentIndex(_data(5, 4)).query(np.zeros(4), exclude=[7])
    assert HnswParams().random_seed == 0


def test_approx_concurrent_queries(hnswlib_present):
    from concurrent.futures import ThreadPoolExecutor
    x = _data(3000, 8)
    index = LatentIndex(x, method="approx")
    want = [index.query(x[i], k=5, exclude=np.arange(i % 3 * 100))[0] for i in range(40)]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda i: index.query(x[i], k=5, exclude=np.arange(i % 3 * 100))[0],
                            range(40)))
    assert all(np.array_equal(a, b) for a, b in zip(want, got))
