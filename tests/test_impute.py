import numpy as np
import pandas as pd
import pytest

from explorer.latent.impute import column_kind, holdout_accuracy, impute_column


def _clusters(n=1200, d=8, n_clusters=6, seed=0):
    """Codes in well-separated clusters; the label follows the cluster, with unequal sizes."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, d)) * 4
    sizes = rng.dirichlet(np.ones(n_clusters) * 3) * 0.5 + 0.5 / n_clusters
    cluster = rng.choice(n_clusters, size=n, p=sizes / sizes.sum())
    codes = (centres[cluster] + rng.standard_normal((n, d))).astype(np.float32)
    return codes, cluster, rng


def test_categorical_imputation_beats_majority():
    codes, cluster, rng = _clusters()
    names = np.array(["runner", "boot", "slip-on", "high-top", "sandal", "court"])
    values = pd.Series(names[cluster], name="silhouette")
    missing = rng.random(len(values)) < 0.2
    values[missing] = np.nan
    out = impute_column(codes, values, k=10)
    assert list(out.columns) == ["index", "predicted", "confidence", "needs_review"]
    assert out["index"].tolist() == np.flatnonzero(missing).tolist()
    accuracy = (out["predicted"].to_numpy() == names[cluster[missing]]).mean()
    baseline = (names[cluster[missing]] == values.value_counts().index[0]).mean()
    assert accuracy > 0.95 and accuracy > baseline + 0.5
    assert out["confidence"].between(0, 1).all()
    assert (out["needs_review"] == (out["confidence"] < 0.6)).all()


def test_holdout_accuracy_categorical():
    codes, cluster, _ = _clusters(seed=1)
    values = pd.Series(np.array(list("ABCDEF"))[cluster])
    res = holdout_accuracy(codes, values, frac=0.25, k=10, random_state=0)
    assert res["kind"] == "categorical"
    assert res["n_hidden"] == 300 and res["n_train"] == 900
    assert res["accuracy"] > res["baseline"] + 0.5
    assert 0 <= res["coverage"] <= 1 and res["accuracy_confident"] >= res["accuracy"] - 1e-9
    assert res == holdout_accuracy(codes, values, frac=0.25, k=10, random_state=0)


def test_labels_that_ignore_the_codes_get_low_confidence():
    codes, _, rng = _clusters(seed=2)
    values = pd.Series(rng.choice(["a", "b", "c", "d"], len(codes)))
    res = holdout_accuracy(codes, values, frac=0.2, min_confidence=0.6)
    assert res["accuracy"] < 0.45  # no better than chance, roughly
    assert res["coverage"] < 0.3  # and mostly flagged for review


def test_numeric_imputation_error_small():
    codes, cluster, rng = _clusters(seed=3)
    price = pd.Series(60.0 + 25.0 * cluster + rng.normal(0, 1.0, len(codes)), name="price")
    truth = price.copy()
    price[rng.random(len(price)) < 0.15] = np.nan
    assert column_kind(price) == "numeric"
    out = impute_column(codes, price, k=10)
    assert {"spread", "confidence", "needs_review"} <= set(out.columns)
    err = np.abs(out["predicted"].to_numpy() - truth.to_numpy()[out["index"]])
    assert err.mean() < 2.0 and err.mean() < truth.std() / 10
    assert out["confidence"].between(0, 1).all() and out["confidence"].mean() > 0.8
    res = holdout_accuracy(codes, truth, frac=0.2)
    assert res["kind"] == "numeric" and res["mae"] < res["baseline_mae"] / 10


def test_column_kind_and_edge_cases():
    codes = np.random.default_rng(0).standard_normal((30, 3)).astype(np.float32)
    assert column_kind(pd.Series(np.arange(30) % 4)) == "categorical"  # small integer codes
    assert column_kind(pd.Series([True, False] * 15)) == "categorical"
    assert column_kind(pd.Series(np.linspace(0, 1, 30))) == "numeric"
    full = pd.Series(["x"] * 30)
    assert impute_column(codes, full).empty
    none_known = pd.Series([np.nan] * 30, dtype=object)
    out = impute_column(codes, none_known)
    assert len(out) == 30 and (out["confidence"] == 0).all() and out["needs_review"].all()
    with pytest.raises(ValueError):
        impute_column(codes, full[:10])
    with pytest.raises(ValueError):
        holdout_accuracy(codes, full, frac=1.5)
    one_known = pd.Series([np.nan] * 29 + ["x"], dtype=object)
    out = impute_column(codes, one_known, k=10)  # k larger than the known values
    assert (out["predicted"] == "x").all() and (out["confidence"] == 1).all()
