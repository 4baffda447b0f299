"""explorer.latent.hygiene: near duplicates, the label audit (with its database decisions), and the
"unlike this catalogue" score, on planted answers and on the demo bundle."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from explorer.latent import hygiene as h
from explorer.latent import unlike as u
from explorer.latent.index import LatentIndex


def jpeg(img: np.ndarray, quality: int = 75) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


def pixel_vectors(images: np.ndarray) -> np.ndarray:
    """A stand-in latent space: 8x8 grey thumbnails, so that near-identical photos are near."""
    grey = images.astype(np.float32).mean(3) / 255.0
    s = grey.shape[1] // 8
    return grey.reshape(len(grey), 8, s, 8, s).mean((2, 4)).reshape(len(grey), -1)


@pytest.fixture(scope="module")
def planted():
    """120 procedural sneakers with planted copies: 5 -> 50 (same pixels), 7 -> 60 (JPEG
    re-save), 9 -> 70 and 71 (same pixels, a group of three); 80 and 81 share a latent
    vector but not their pixels."""
    from explorer.data.synthetic import generate
    images = generate(120, size=32, seed=3, workers=1, progress=False).images.copy()
    images[50] = images[5]
    images[60] = jpeg(images[7])
    images[70] = images[9]
    images[71] = images[9]
    mu = pixel_vectors(images)
    mu[81] = mu[80]
    return images, mu


def test_neighbour_table_leaves_out_self_even_among_copies(planted):
    images, mu = planted
    nbr, dist = h.neighbour_table(LatentIndex(mu), k=3, batch=50)
    assert nbr.shape == dist.shape == (120, 3)
    assert not (nbr == np.arange(120)[:, None]).any()
    # item 70's copies (9 and 71) are at distance 0, whatever their index order
    assert set(nbr[70, :2].tolist()) == {9, 71} and dist[70, 0] == dist[70, 1] == 0
    # matches brute force elsewhere
    d = np.linalg.norm(mu[:, None] - mu[None], axis=2)
    np.fill_diagonal(d, np.inf)
    np.testing.assert_allclose(dist[:, 0], d.min(1), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="k must be"):
        h.neighbour_table(LatentIndex(mu), k=120)


def test_near_duplicates_finds_the_planted_groups(planted):
    images, mu = planted
    nbr, dist = h.neighbour_table(LatentIndex(mu), k=5)
    groups = h.near_duplicates(images, nbr, dist)
    got = {tuple(g.members.tolist()): g for g in groups}
    assert set(got) == {(9, 70, 71), (5, 50), (7, 60)}
    assert [len(g) for g in groups] == [3, 2, 2]                 # largest first
    assert got[(9, 70, 71)].kind == "identical" and got[(5, 50)].kind == "identical"
    near = got[(7, 60)]
    assert near.kind == "near" and 0 < near.max_rmse <= h.DEFAULT_MAX_RMSE
    # 80 and 81 sit on the same latent point, but their pixels differ: not duplicates
    assert not any(80 in g.members for g in groups)
    # a stricter pixel limit drops the JPEG copy but never the identical ones
    strict = h.near_duplicates(images, nbr, dist, max_rmse=0.5)
    assert {tuple(g.members.tolist()) for g in strict} == {(9, 70, 71), (5, 50)}


def test_near_duplicates_reads_an_image_store(planted, tmp_path):
    from explorer.data.imagestore import ImageStore, write_images
    images, mu = planted
    write_images(images, tmp_path)                               # lossless shards
    store = ImageStore(tmp_path, len(images), images.shape[1])
    np.testing.assert_array_equal(h.pixel_digests(store), h.pixel_digests(images))
    nbr, dist = h.neighbour_table(LatentIndex(mu), k=5)
    assert len(h.near_duplicates(store, nbr, dist)) == 3
    with pytest.raises(ValueError, match="same catalogue"):
        h.near_duplicates(images[:10], nbr, dist)


def three_families(seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0], [10, 0], [0, 10]], np.float32)
    truth = np.repeat(["boot", "runner", "slip-on"], 40)
    x = centres[np.repeat([0, 1, 2], 40)] + rng.normal(0, 1, (120, 2)).astype(np.float32)
    return x, truth


def test_label_audit_finds_planted_mislabels():
    x, truth = three_families()
    labels = truth.astype(object).copy()
    labels[[3, 45]] = "slip-on"          # a boot and a runner labelled as slip-ons
    labels[90] = "boot"
    labels[7] = None                     # a missing label is neither judged nor a voter
    nbr, _ = h.neighbour_table(LatentIndex(x), k=10)
    audit = h.label_audit(labels, nbr)
    assert set(audit["index"]) == {3, 45, 90}
    row = audit.set_index("index").loc[3]
    assert row["label"] == "slip-on" and row["majority"] == "boot"
    assert row["confidence"] >= 0.7 and row["agree"] == 0.0
    assert (np.diff(audit["confidence"]) <= 0).all()             # most confident first
    assert h.label_audit(truth, nbr).empty
    with pytest.raises(ValueError, match="labels"):
        h.label_audit(labels[:5], nbr)


def test_label_audit_needs_a_clear_majority():
    labels = np.array(["a", "b", "b", "c", "c"], dtype=object)
    nbr = np.array([[1, 2, 3, 4], [0, 2, 3, 4], [0, 1, 3, 4], [0, 1, 2, 4], [0, 1, 2, 3]])
    audit = h.label_audit(labels, nbr, min_share=0.5)
    assert 0 not in set(audit["index"])                          # item 0: b and c tie
    assert set(audit["index"]) == {1, 2, 3, 4}                   # b's see c's (2 of 4) ...
    assert h.label_audit(labels, nbr, min_share=0.6).empty       # ... not a clear majority


def test_audit_decisions_go_to_the_database_and_undo(tmp_path):
    from explorer.store.annotations import AnnotationStore
    store = AnnotationStore(tmp_path / "a.sqlite", "fp1", known_skus=["S1", "S2", "S3"])
    col = "silhouette"
    assert h.audit_fix(store, "S1", col, "boot", confidence=0.9, user="me") == 1
    assert h.audit_keep(store, "S2", col, "runner", user="me") == 1
    assert h.audited(store, col) == {"S1": "boot", "S2": "runner"}
    sources = store.attributes(col).set_index("sku")["source"]
    assert sources["S1"] == h.AUDIT_SOURCE_FIX and sources["S2"] == h.AUDIT_SOURCE_KEEP
    assert "S2" in h.audit_undo(store, user="me")
    assert h.audited(store, col) == {"S1": "boot"}
    # another user's undo does not touch my decisions; a tag is never undone by the audit
    assert h.audit_undo(store, user="someone else") is None
    store.add_tag("duplicate", ["S3"], user="me")
    undone = h.audit_undo(store, user="me")                  # the last audit decision ...
    assert "S1" in undone and h.audited(store, col) == {}
    assert store.skus_with("duplicate") == ["S3"]           # ... never the later tag
    assert h.audit_undo(store, user="me") is None


def test_unlike_score_percentiles_and_flag():
    ref = u.unlike_reference(np.linspace(0.001, 0.01, 100), np.linspace(1.0, 3.0, 1000))
    ok = u.unlike_score(ref, 0.005, 1.5)
    assert not ok.flagged and 40 <= ok.recon_percentile <= 50 and 20 <= ok.nn_percentile <= 30
    assert "Like the catalogue" in ok.message()
    far = u.unlike_score(ref, 0.005, 10.0)
    assert far.flagged and far.nn_percentile == 100.0 and far.percentile == 100.0
    assert "nearest product" in far.message() and len(far.reasons) == 1
    bad = u.unlike_score(ref, 0.5, 1.5)
    assert bad.flagged and "reconstructs it worse" in bad.message()
    with pytest.raises(ValueError, match="finite"):
        u.unlike_reference([np.nan], [1.0])


@pytest.fixture(scope="module")
def demo_reference():
    """The demo bundle and a reference measured on a sample of it (the app uses 2,000
    products for the errors and all 30,000 for the distances; 300 and 3,000 keep this fast)."""
    from explorer.bundle.core import load_bundle
    b = load_bundle("checkpoints/demo", check_hashes=False)
    index = LatentIndex(b.mu)
    sample = u.reference_sample(len(b), 3000, seed=1)
    idx, dist = index.query(b.mu[sample], k=2)
    nn = np.where(idx[:, 0] == sample, dist[:, 1], dist[:, 0])
    recon = u.reconstruction_errors(b.encode, b.decode,
                                    b.images.get(u.reference_sample(len(b), 300, seed=0)))
    return b, index, u.unlike_reference(recon, nn)


def scores(b, index, ref, images):
    mu, _ = b.encode(images)
    err = u.reconstruction_errors(b.encode, b.decode, images)
    _, d = index.query(mu, k=1)
    return [u.unlike_score(ref, e, float(di)) for e, di in zip(err, d[:, 0])]


def test_fashion_mnist_sandals_are_unlike_the_demo_catalogue(fashion_mnist_dir, demo_reference):
    from explorer.data.ingest import ingest_fashion_mnist
    b, index, ref = demo_reference
    sandals = ingest_fashion_mnist(fashion_mnist_dir, classes=["Sandal"], size=b.image_size,
                                   limit=30).images
    got = scores(b, index, ref, sandals)
    assert all(s.flagged for s in got), [round(s.percentile, 1) for s in got]


def test_new_demo_like_products_are_not_flagged(demo_reference):
    from explorer.data.synthetic import generate
    b, index, ref = demo_reference
    fresh = generate(40, size=b.image_size, seed=12345, workers=1, progress=False).images
    got = scores(b, index, ref, fresh)
    # at the 99th percentile of two scores, about 2 in 100 catalogue-like photos are flagged
    assert sum(s.flagged for s in got) <= 3, [round(s.percentile, 1) for s in got]
    assert np.median([s.percentile for s in got]) < 90


def test_stored_arrays_round_trip_and_recompute(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"a": np.arange(5)}
    f = tmp_path / "sub" / "x.npz"
    assert h.stored_arrays(f, compute, {"k": 1})["a"].tolist() == [0, 1, 2, 3, 4]
    assert h.stored_arrays(f, compute, {"k": 1})["a"].tolist() == [0, 1, 2, 3, 4]
    assert len(calls) == 1                                       # read back, not recomputed
    h.stored_arrays(f, compute, {"k": 2})                        # other parameters: recompute
    f.write_bytes(b"not an npz")                                 # corrupt: recompute
    h.stored_arrays(f, compute, {"k": 2})
    assert len(calls) == 3


def test_nearest_other_distances_match_the_neighbour_table():
    """Each product's distance to its nearest other product, as the neighbour table's first
    column gives it: exact duplicates at 0, never a product's distance to itself, a subset of
    rows, and blocks smaller than the catalogue."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(700, 8)).astype(np.float32)
    x[10] = x[20]                                          # an exact duplicate pair
    x[30] = x[40] + 1e-3                                   # and a near one
    _, dist = h.neighbour_table(LatentIndex(x, method="exact"), k=1)
    got = u.nearest_other_distances(x, max_scores=5000)    # blocks of 7 rows
    assert got.shape == (700,) and got[10] == 0.0 and got[20] == 0.0
    assert np.allclose(got, dist[:, 0], rtol=0, atol=1e-5)
    rows = np.array([3, 10, 30, 699])
    assert np.array_equal(u.nearest_other_distances(x, rows), got[rows])
    with pytest.raises(ValueError, match="N >= 2"):
        u.nearest_other_distances(x[:1])
