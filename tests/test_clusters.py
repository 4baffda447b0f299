"""explorer.clusters against known answers: planted blobs, central products."""
from __future__ import annotations

import numpy as np
import pytest

from explorer.clusters import (NOISE, central_items, cluster_sizes, hdbscan, kmeans,
                               relabel_by_size, silhouette_scores, subsample, suggest_k)


def blobs(k: int = 4, per: int = 150, dim: int = 8, spread: float = 0.3, seed: int = 0):
    """k well-separated Gaussian blobs in `dim` dimensions -> (x [k*per, dim], true labels)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (k, dim))
    centres *= 10 / np.linalg.norm(centres, axis=1, keepdims=True)   # far apart on a sphere
    labels = np.repeat(np.arange(k), per)
    x = centres[labels] + rng.normal(0, spread, (k * per, dim))
    perm = rng.permutation(len(x))
    return x[perm].astype(np.float32), labels[perm]


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """True if labellings a and b group the items identically (up to renaming)."""
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def test_kmeans_finds_planted_clusters():
    x, truth = blobs(k=4)
    labels, centres = kmeans(x, 4, seed=0)
    assert labels.shape == (len(x),) and centres.shape == (4, x.shape[1])
    assert same_partition(labels, truth)
    # each centre is the mean of its members
    for c in range(4):
        np.testing.assert_allclose(centres[c], x[labels == c].mean(0), atol=1e-3)


def test_kmeans_labels_largest_first_and_seeded():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0, 0.2, (30, 3)), rng.normal(8, 0.2, (90, 3)),
                        rng.normal(-8, 0.2, (60, 3))]).astype(np.float32)
    labels, _ = kmeans(x, 3, seed=3)
    assert cluster_sizes(labels) == {0: 90, 1: 60, 2: 30}
    again, _ = kmeans(x, 3, seed=3)
    np.testing.assert_array_equal(labels, again)


def test_kmeans_rejects_bad_k():
    x, _ = blobs(k=2, per=5)
    with pytest.raises(ValueError):
        kmeans(x, 0)
    with pytest.raises(ValueError):
        kmeans(x, 11)


def test_minibatch_kmeans_on_a_large_catalogue():
    x, truth = blobs(k=3, per=7_000, dim=4)
    labels, centres = kmeans(x, 3, seed=0)
    assert same_partition(labels, truth)


def test_suggested_k_on_four_blobs_is_four():
    x, _ = blobs(k=4, per=200)
    k, scores = suggest_k(x, seed=0)
    assert k == 4
    assert set(scores) == set(range(2, 16))
    assert scores[4] == max(scores.values())


def test_silhouette_uses_a_subsample():
    x, _ = blobs(k=3, per=2_000)
    scores = silhouette_scores(x, ks=[2, 3], sample=500, seed=0)
    assert max(scores, key=scores.get) == 3


def test_hdbscan_labels_blobs_and_noise():
    x, truth = blobs(k=3, per=120, spread=0.2)
    outliers = np.random.default_rng(5).uniform(-30, 30, (5, x.shape[1])).astype(np.float32)
    labels = hdbscan(np.concatenate([x, outliers]), min_cluster_size=20)
    assert labels.shape == (len(x) + 5,)
    assert same_partition(labels[:len(x)], truth)
    assert (labels[len(x):] == NOISE).all()


def test_hdbscan_on_a_subsample_labels_everything():
    x, truth = blobs(k=3, per=1_000, spread=0.2)
    labels = hdbscan(x, min_cluster_size=60, sample=600, seed=0)
    assert labels.shape == (len(x),)
    assert set(labels.tolist()) == {0, 1, 2}
    assert same_partition(labels, truth)


def test_central_items_are_the_nearest_to_the_centre():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (300, 5)).astype(np.float32)
    labels = rng.integers(0, 3, 300)
    labels[:4] = NOISE
    got = central_items(x, labels, per_cluster=6)
    assert set(got) == {0, 1, 2}
    for c, idx in got.items():
        members = np.flatnonzero(labels == c)
        centre = x[members].mean(0)
        d = np.linalg.norm(x[members] - centre, axis=1)
        expect = members[np.argsort(d)[:6]]
        np.testing.assert_array_equal(idx, expect)
        assert (labels[idx] == c).all()


def test_central_items_with_given_centres():
    x = np.array([[0, 0], [1, 0], [2, 0], [10, 0], [11, 0]], np.float32)
    labels = np.array([0, 0, 0, 1, 1])
    got = central_items(x, labels, per_cluster=2, centres=np.array([[2.1, 0], [10, 0]]))
    assert got[0].tolist() == [2, 1] and got[1].tolist() == [3, 4]


def test_relabel_by_size_and_subsample():
    assert relabel_by_size(np.array([5, 5, -1, 7, 7, 7])).tolist() == [1, 1, -1, 0, 0, 0]
    s = subsample(100, 10, seed=1)
    assert len(s) == 10 and (np.diff(s) > 0).all()
    np.testing.assert_array_equal(s, subsample(100, 10, seed=1))
    assert subsample(5, 10).tolist() == [0, 1, 2, 3, 4]
