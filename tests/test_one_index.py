"""One neighbour index: k-NN accuracy, map placement, clustering and cluster centres all find
their neighbours with explorer.latent.index.LatentIndex, and agree with it (and with brute
force in float64, ties by index)."""
import numpy as np
import pytest

from explorer.latent.cluster_summary import selection_summary
from explorer.latent.clusters import central_items, hdbscan, subsample
from explorer.latent.index import LatentIndex
from explorer.latent.projection import place_by_neighbours
from explorer.metrics.knn import neighbours


def tied(n=400, d=6, seed=0):
    """Points on a coarse grid, with exact duplicates: many tied distances."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(size=(n, d)), 1).astype(np.float32)
    x[20:30] = x[3]
    return x


def brute(x, q, k):
    d2 = ((q[:, None, :].astype(np.float64) - x[None].astype(np.float64)) ** 2).sum(-1)
    return np.array([np.lexsort((np.arange(len(x)), row))[:k] for row in d2])


@pytest.mark.parametrize("k", [1, 5, 40])
def test_batch_queries_equal_single_queries_and_brute_force(k):
    x = tied()
    q = np.concatenate([x[:60], np.round(np.random.default_rng(1).normal(size=(60, 6)), 1)])
    index = LatentIndex(x, method="exact")
    for exclude in (None, np.arange(0, len(x), 4)):
        bi, bd = index.query(q, k=k, exclude=exclude)
        for j in range(len(q)):
            si, sd = index.query(q[j], k=k, exclude=exclude)
            np.testing.assert_array_equal(bi[j], si[0])
            np.testing.assert_array_equal(bd[j], sd[0])
    np.testing.assert_array_equal(index.query(q, k=k)[0], brute(x, q.astype(np.float32), k))


def test_knn_metric_uses_the_index():
    x = tied()
    q = x[::7] + np.float32(0.05)
    got = neighbours(x, q, k=5)
    np.testing.assert_array_equal(got, LatentIndex(x, method="exact").query(q, k=5)[0])
    np.testing.assert_array_equal(got, brute(x, q, 5))
    assert neighbours(x[:3], q, k=5).shape == (len(q), 3)   # k capped at the training items


def test_map_placement_uses_the_index():
    x = tied()
    xy = np.random.default_rng(2).normal(size=(len(x), 2)).astype(np.float32)
    q = x[:10] + np.float32(0.03)
    idx, dist = LatentIndex(x, method="exact").query(q, k=10)
    w = 1.0 / (dist.astype(np.float64) + 1e-6)
    expect = ((w / w.sum(1, keepdims=True))[:, :, None] * xy[idx]).sum(1)
    got = place_by_neighbours(q, x, xy, k=10)
    np.testing.assert_allclose(got, expect, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got, place_by_neighbours(q, LatentIndex(x), xy, k=10))


def test_clusters_use_the_index():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(c, 0.3, (300, 4)) for c in (0, 5, 10)]).astype(np.float32)
    labels = hdbscan(x, min_cluster_size=30, sample=200, seed=0)
    idx = subsample(len(x), 200, 0)
    nearest = LatentIndex(x[idx], method="exact").query(x, k=1)[0][:, 0]
    np.testing.assert_array_equal(labels, labels[idx][nearest])
    central = central_items(x, labels, per_cluster=5)
    for c, got in central.items():
        members = np.flatnonzero(labels == c)
        near = LatentIndex(x[members], method="exact").query(x[members].mean(0), k=5)[0][0]
        np.testing.assert_array_equal(got, members[near])
    import pandas as pd
    md = pd.DataFrame({"sku": [f"S{i}" for i in range(len(x))]})
    summary = selection_summary(md, x, labels == 0, n_central=4)
    np.testing.assert_array_equal(summary.central, central[0][:4])
    assert len(selection_summary(md, x, labels == 0, n_central=0).central) == 0
