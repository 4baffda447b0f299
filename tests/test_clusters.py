"""explorer.latent.clusters against known answers: planted blobs, central products."""
from __future__ import annotations

import numpy as np
import pytest

import pandas as pd

from explorer.latent.cluster_summary import cluster_names, distinctive_values, selection_summary
from explorer.latent.clusters import (NOISE, central_items, cluster_sizes, hdbscan, kmeans,
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
    assert scores[4] == min(scores.values())          # BIC: lower is better


def nested_blobs(seed: int = 0):
    """Six blobs in two far-apart families of three (like six silhouettes that split into
    low and high shoes): the silhouette score prefers the coarse split, k = 2."""
    rng = np.random.default_rng(seed)
    parts = []
    for family in (-12.0, 12.0):
        for j in range(3):
            centre = np.zeros(6)
            centre[0] = family
            centre[1 + j] = 4.0
            parts.append(centre + rng.normal(0, 0.6, (250, 6)))
    return np.concatenate(parts).astype(np.float32)


def test_suggested_k_finds_six_where_the_silhouette_says_two():
    x = nested_blobs()
    sil = silhouette_scores(x, ks=range(2, 10), sample=1_500, seed=0)
    assert max(sil, key=sil.get) == 2                 # the old criterion's answer
    k, bic = suggest_k(x, ks=range(2, 10), seed=0)
    assert k == 6, bic


def test_suggested_k_on_the_demo_bundle_is_not_a_coarse_split():
    from explorer.bundle.core import load_bundle
    b = load_bundle("checkpoints/demo", check_hashes=False)
    k, _ = suggest_k(b.mu, ks=range(2, 9), seed=0)
    assert 5 <= k <= 8                                # six silhouettes; k = 6 measured


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


def shoe_table(seed: int = 0):
    """300 products in three planted groups: 0 = boots in leather, 1 = runners (any
    material), 2 = a mix of everything; lace is 'none' exactly for the slip-ons."""
    rng = np.random.default_rng(seed)
    n = 300
    labels = np.repeat([0, 1, 2], 100)
    sil = np.where(labels == 0, "boot", np.where(labels == 1, "runner",
                   rng.choice(["boot", "runner", "slip-on", "mid"], n)))
    material = np.where(labels == 0, "leather", rng.choice(["leather", "canvas", "mesh",
                                                             "suede"], n))
    lace = np.where(sil == "slip-on", "none", rng.choice(["white", "black"], n))
    md = pd.DataFrame({"sku": [f"S{i}" for i in range(n)], "name": [f"shoe {i}" for i in range(n)],
                       "silhouette": sil, "material": material, "lace_colour": lace,
                       "sole_colour": rng.choice(["white", "black", "gum"], n),
                       "price": rng.uniform(50, 200, n).round(2),
                       "release_year": rng.integers(1985, 2025, n)})
    return md, labels


def test_cluster_names_from_distinctive_values():
    md, labels = shoe_table()
    names = cluster_names(md, labels)
    assert names[0] == "boot · leather"
    assert names[1].startswith("runner")
    assert names[2] == "mixed" or "boot" not in names[2]
    # a value shared by several columns is qualified; redundant columns are not repeated
    only_slip = np.where(md["silhouette"] == "slip-on", 0, 1)
    named = cluster_names(md, only_slip)
    assert named[0].startswith("slip-on"), named       # not "none" nor "lace_colour: none"
    assert "none" not in named[0]
    white = distinctive_values(md, (md["sole_colour"] == "white").to_numpy())
    assert white["label"].iloc[0] == "sole_colour: white"   # lace_colour has 'white' too


def test_cluster_names_are_unique_and_noise_is_named():
    md, labels = shoe_table()
    labels = labels.copy()
    labels[labels == 2] = 0          # two clusters of boots: 0 and 3
    labels[:50] = 3
    labels[-5:] = NOISE
    names = cluster_names(md, labels)
    assert names[NOISE] == "noise"
    assert len(set(names.values())) == len(names)
    assert names[3] == "boot · leather (2)" or names[0].endswith("(2)") or names[3] != names[0]
    with pytest.raises(ValueError, match="labels"):
        cluster_names(md, labels[:10])


def test_selection_summary_counts_and_central_products():
    md, labels = shoe_table()
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, (len(md), 4)).astype(np.float32)
    sel = labels == 0
    s = selection_summary(md, x, sel, n_central=5)
    assert s.size == 100 and s.name == "boot · leather"
    boots = s.counts["silhouette"]
    assert boots["value"].tolist() == ["boot"] and boots["count"].tolist() == [100]
    assert boots["share"].iloc[0] == 1.0
    assert boots["lift"].iloc[0] == pytest.approx(300 / (md["silhouette"] == "boot").sum())
    members = np.flatnonzero(sel)
    d = np.linalg.norm(x[members] - x[members].mean(0), axis=1)
    np.testing.assert_array_equal(s.central, members[np.argsort(d)[:5]])
    years = s.numeric.set_index("column").loc["release_year"]
    assert years["min"] == md["release_year"][sel].min()
    # indices work like a mask; an empty selection is empty, out-of-range indices are refused
    assert selection_summary(md, x, members).size == 100
    empty = selection_summary(md, x, np.zeros(len(md), bool))
    assert empty.size == 0 and len(empty.central) == 0 and empty.name == ""
    with pytest.raises(ValueError, match="selected indices"):
        selection_summary(md, x, [0, 300])
