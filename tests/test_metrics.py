"""Known-answer tests for explorer.metrics (the disentanglement_lib way): an identity code scores
near 1, a constant or an independent random code near 0, a rotated code in between."""
import numpy as np
import pandas as pd
import pytest

from explorer.metrics import (active_units, active_units_variance, count_active, dci,
                              dimension_associations, dimension_order, discretize_factors,
                              explicitness, is_deterministic, kl_per_dim, knn_accuracies,
                              knn_accuracy, label_columns, majority_baseline, mig, modularity,
                              sap, suggest_names, variance_of_means)

N = 1000


@pytest.fixture(scope="module")
def factors() -> np.ndarray:
    """[N, 4]: two categorical factors (4 and 5 classes) and two continuous ones in [0, 1]."""
    rng = np.random.default_rng(0)
    return np.stack([rng.integers(0, 4, N), rng.integers(0, 5, N), rng.random(N),
                     rng.random(N)], axis=1).astype(float)


@pytest.fixture(scope="module")
def codes(factors) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    z = (factors - factors.mean(0)) / factors.std(0)
    q = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    return {
        "identity": factors + 1e-3 * rng.normal(size=factors.shape),
        "constant": np.zeros((N, 4)),
        "random": rng.normal(size=(N, 4)),
        "rotated": z @ q,
    }


def all_scores(c: np.ndarray, f: np.ndarray, seed: int = 0) -> dict[str, float]:
    d = dci(c, f, random_state=seed)
    return {"mig": mig(c, f)["mig"], "sap": sap(c, f, random_state=seed)["sap"],
            "dci_d": d["disentanglement"], "dci_c": d["completeness"],
            "dci_i": d["informativeness"], "modularity": modularity(c, f)["modularity"]}


# ---------------------------------------------------------------------------- disentanglement
def test_identity_scores_near_one(codes, factors):
    s = all_scores(codes["identity"], factors)
    assert s["mig"] > 0.85
    assert s["sap"] > 0.6           # accuracy gaps for the classes, R² gaps (~1) for the rest
    assert s["dci_d"] > 0.9 and s["dci_c"] > 0.9
    assert s["dci_i"] > 0.85
    assert s["modularity"] > 0.95


def test_constant_scores_zero(codes, factors):
    s = all_scores(codes["constant"], factors)
    assert s["mig"] == pytest.approx(0.0, abs=1e-9)
    assert s["sap"] == pytest.approx(0.0, abs=1e-9)
    assert s["dci_d"] == 0.0 and s["dci_c"] == 0.0
    assert s["modularity"] == 0.0   # no dimension carries information


def test_random_independent_code_scores_near_zero(codes, factors):
    s = all_scores(codes["random"], factors)
    assert s["mig"] < 0.05
    assert s["sap"] < 0.05
    assert s["dci_d"] < 0.15 and s["dci_c"] < 0.15
    assert s["dci_i"] < 0.4         # chance level: 1/4, 1/5, 1/20, 1/20


def test_rotated_code_scores_below_identity(codes, factors):
    ident, rot = all_scores(codes["identity"], factors), all_scores(codes["rotated"], factors)
    for key in ("mig", "sap", "dci_d", "dci_c", "modularity"):
        assert rot[key] < ident[key] - 0.1, key
    assert rot["dci_i"] > 0.3       # still informative, just entangled


def test_shapes_and_per_factor_entries(codes, factors):
    c = codes["identity"][:, :3]    # 3 dims, 4 factors
    m = mig(c, factors)
    assert len(m["per_factor"]) == 4
    s = sap(c, factors, random_state=0)
    assert len(s["per_factor"]) == 4 and np.array(s["scores"]).shape == (3, 4)
    d = dci(c, factors, random_state=0)
    assert np.array(d["importance"]).shape == (3, 4)
    assert np.allclose(np.array(d["importance"]).sum(0), 1.0)
    assert len(d["per_dim_disentanglement"]) == 3
    assert len(modularity(c, factors)["per_dim"]) == 3


def test_random_state_int_or_generator_is_repeatable(codes, factors):
    c = codes["rotated"]
    assert dci(c, factors, random_state=3) == dci(c, factors, random_state=3)
    a = sap(c, factors, random_state=np.random.default_rng(5))
    b = sap(c, factors, random_state=np.random.default_rng(5))
    assert a == b


def test_factor_with_one_value_is_left_out(codes, factors):
    f = np.column_stack([factors, np.ones(N)])
    c = np.column_stack([codes["identity"], np.zeros(N)])
    m = mig(c, f)
    assert np.isnan(m["per_factor"][4]) and m["mig"] > 0.85
    assert dci(c, f, random_state=0)["completeness"] > 0.9


def test_discretize_factors_keeps_classes_and_bins_continuous(factors):
    d = discretize_factors(factors, num_bins=20)
    assert d.dtype.kind == "i"
    assert len(np.unique(d[:, 0])) == 4 and len(np.unique(d[:, 1])) == 5
    counts = np.bincount(d[:, 2])
    assert len(counts) == 20 and counts.min() >= 45   # equal-frequency bins


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="rows"):
        mig(np.zeros((10, 2)), np.zeros((9, 2)))
    with pytest.raises(ValueError, match="finite"):
        sap(np.full((10, 2), np.nan), np.zeros((10, 2)), random_state=0)


def test_explicitness_identity_beats_random():
    rng = np.random.default_rng(0)
    f = rng.integers(0, 3, (400, 2)).astype(float)
    ident = explicitness(f + 0.01 * rng.normal(size=f.shape), f, random_state=0)
    rand = explicitness(rng.normal(size=f.shape), f, random_state=0)
    assert ident["explicitness"] > 0.9 > 0.65 > rand["explicitness"]
    assert len(ident["per_factor"]) == 2


# ---------------------------------------------------------------------------- information
def test_kl_per_dim_known_values():
    mu = np.array([[0.0, 1.0, 0.0], [0.0, -1.0, 0.0]])
    logvar = np.array([[0.0, 0.0, np.log(0.25)], [0.0, 0.0, np.log(0.25)]])
    kl = kl_per_dim(mu, logvar)
    expected_third = 0.5 * (0.25 - 1.0 - np.log(0.25))
    assert np.allclose(kl, [0.0, 0.5, expected_third])
    assert active_units(mu, logvar) == 2
    assert active_units(mu, logvar, threshold=0.6) == 0


def test_dimension_order_by_kl_and_by_variance_for_deterministic_codes():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(500, 4)) * np.array([0.01, 2.0, 0.5, 1.0])
    logvar = np.log(np.full((500, 4), 0.5)) * np.array([0.0, 1.0, 1.0, 1.0])
    assert list(dimension_order(mu, logvar)) == [1, 3, 2, 0]
    assert not is_deterministic(logvar)
    wae_logvar = np.full((500, 4), -9.21)
    assert is_deterministic(wae_logvar) and is_deterministic(None)
    assert list(dimension_order(mu, wae_logvar)) == [1, 3, 2, 0]
    assert np.allclose(variance_of_means(mu), mu.var(0))
    assert active_units_variance(mu) == 3
    assert count_active(mu, wae_logvar) == 3     # the KL rule would count all four
    assert active_units(mu, wae_logvar) == 4


def test_dimension_order_breaks_ties_by_index():
    mu = np.zeros((10, 3))
    assert list(dimension_order(mu, np.zeros((10, 3)))) == [0, 1, 2]


# ---------------------------------------------------------------------------- k-NN
def test_knn_recovers_labels_of_clustered_codes():
    rng = np.random.default_rng(0)
    labels = np.array(["low", "mid", "high"])[rng.integers(0, 3, 300)]
    centre = {"low": 0.0, "mid": 5.0, "high": 10.0}
    codes = np.array([[centre[v], 0.0] for v in labels]) + 0.3 * rng.normal(size=(300, 2))
    acc = knn_accuracy(codes[:200], labels[:200], codes[200:], labels[200:], k=5)
    assert acc == 1.0
    assert knn_accuracy(codes[:200], labels[:200], codes[:200], labels[:200], k=1) == 1.0
    shuffled = rng.permutation(labels)
    assert knn_accuracy(codes[:200], shuffled[:200], codes[200:], shuffled[200:]) < 0.6
    base = majority_baseline(labels[:200], labels[200:])
    assert 0.2 < base < 0.5


def test_knn_many_columns_skips_missing_labels():
    rng = np.random.default_rng(0)
    n = 120
    colour = rng.integers(0, 2, n)
    codes = np.column_stack([colour * 4.0, rng.normal(size=n)]) + 0.1 * rng.normal(size=(n, 2))
    md = pd.DataFrame({"sku": [f"S{i}" for i in range(n)],
                       "colour": np.array(["red", "blue"])[colour],
                       "factor_colour": colour,
                       "price": rng.random(n) * 100,
                       "shop": np.where(rng.random(n) < 0.2, None, "a")})
    md.loc[rng.random(n) < 0.3, "shop"] = "b"
    md.loc[5, "colour"] = None
    assert label_columns(md) == ["colour", "factor_colour", "shop"]
    res = knn_accuracies(codes[:80], codes[80:], md.iloc[:80], md.iloc[80:])
    assert res["colour"]["knn"] == 1.0 and res["factor_colour"]["knn"] == 1.0
    assert res["colour"]["classes"] == 2 and res["colour"]["n_test"] == 40
    assert 0.0 <= res["shop"]["knn"] <= 1.0
    assert 0.0 < res["colour"]["majority"] < 1.0


# ---------------------------------------------------------------------------- associations
@pytest.fixture(scope="module")
def shoes():
    rng = np.random.default_rng(0)
    n = 600
    sil = np.array(["boot", "runner", "slip-on"])[rng.integers(0, 3, n)]
    level = {"boot": -2.0, "runner": 0.0, "slip-on": 2.0}
    price = rng.uniform(50, 200, n)
    codes = np.column_stack([
        [level[s] for s in sil] + 0.3 * rng.normal(size=n),     # dim 0: silhouette
        -(price - 125) / 40 + 0.2 * rng.normal(size=n),          # dim 1: price, falling
        np.full(n, 0.001),                                       # dim 2: inactive
        rng.normal(size=n),                                      # dim 3: noise
    ])
    md = pd.DataFrame({
        "sku": [f"KS-{i}" for i in range(n)], "name": [f"Shoe {i}" for i in range(n)],
        "silhouette": sil, "factor_silhouette": pd.Series(sil).map(
            {"boot": 0, "runner": 1, "slip-on": 2}).to_numpy(),
        "price": price, "note": [f"free text {i}" for i in range(n)], "shop": "one shop",
    })
    return codes, md


def test_dimension_associations_scores(shoes):
    codes, md = shoes
    df = dimension_associations(codes, md)
    assert list(df.columns) == ["silhouette", "factor_silhouette", "price"]
    assert list(df.index) == [0, 1, 2, 3]
    assert df.attrs["kinds"] == {"silhouette": "categorical",
                                 "factor_silhouette": "categorical", "price": "numeric"}
    assert ((df.values >= 0) & (df.values <= 1)).all()
    assert df.loc[0, "silhouette"] > 0.8 and df.loc[0, "price"] < 0.15
    assert df.loc[1, "price"] > 0.9 and df.loc[1, "silhouette"] < 0.1
    assert df.loc[2].max() == 0.0
    assert df.loc[3].max() < 0.1
    assert list(dimension_associations(codes, md, columns=["price"]).columns) == ["price"]


def test_suggest_names(shoes):
    codes, md = shoes
    assert suggest_names(codes, md) == ["silhouette: boot vs slip-on", "price ↓", "inactive",
                                        "no clear attribute"]
    flipped = codes * np.array([-1, -1, 1, 1])
    assert suggest_names(flipped, md)[:2] == ["silhouette: slip-on vs boot", "price ↑"]
    # a factor column without a readable twin is named without its prefix
    only_factor = md.drop(columns=["silhouette"])
    assert suggest_names(codes, only_factor)[0] == "silhouette: 0 vs 2"


# ---------------------------------------------------------------------------- colour fidelity
def test_colour_fidelity_known_answers():
    from explorer.metrics import colour_fidelity
    rng = np.random.default_rng(0)
    img = rng.uniform(0, 1, (8, 16, 16, 3))
    assert colour_fidelity(img, img) == pytest.approx(1.0)
    grey = np.repeat(img.mean(-1, keepdims=True), 3, -1)
    assert colour_fidelity(img, grey) == pytest.approx(0.0, abs=1e-12)   # hue lost
    halfway = (img + grey) / 2                                          # saturation halved
    assert colour_fidelity(img, halfway) == pytest.approx(0.75)
    swapped = img[..., [2, 0, 1]]                                       # wrong hues
    assert colour_fidelity(img, swapped) < 0
    # a greyscale catalogue has no colour to keep: n/a, not a perfect score
    assert np.isnan(colour_fidelity(grey, grey))
    with pytest.raises(ValueError, match="shapes differ"):
        colour_fidelity(img, img[:4])


# ---------------------------------------------------------------------------- matrix-level
# disentanglement_lib's known answers, on the matrices each metric is computed from:
# a diagonal code (one dimension per factor), a diagonal code with an empty dimension, the
# zero matrix, redundant codes (every factor in two dimensions), missed factors (more factors
# than dimensions), and one dimension carrying two factors.
DIAG = np.diag(5.0 * np.ones(5))
CASES = {
    "diagonal": DIAG,
    "empty_code": np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]),
    "zero": np.zeros((10, 10)),
    "redundant": np.vstack([DIAG, DIAG]),
    "missed_factors": DIAG[:2, :],
    "one_code_two_factors": np.hstack([DIAG, DIAG]),
}
LOG2_10 = np.log(2) / np.log(10)


@pytest.mark.parametrize("case,want", [
    ("diagonal", 1.0), ("empty_code", 2 / 3), ("zero", 0.0), ("redundant", 1.0),
    ("missed_factors", 1.0), ("one_code_two_factors", 1 - 1 / 9)])
def test_modularity_known_answers(case, want):
    from explorer.metrics.modularity import modularity_from_mi
    score, per = modularity_from_mi(CASES[case])
    assert score == pytest.approx(want, abs=1e-12)
    assert len(per) == CASES[case].shape[0]


@pytest.mark.parametrize("case,want_d,want_c", [
    ("diagonal", 1.0, 1.0), ("empty_code", 1.0, 1.0), ("zero", 0.0, 0.0),
    ("redundant", 1.0, 1 - LOG2_10), ("missed_factors", 1.0, 1.0),
    ("one_code_two_factors", 1 - LOG2_10, 1.0)])
def test_dci_known_answers(case, want_d, want_c):
    from explorer.metrics.dci import scores_from_importance
    d, c, _, _ = scores_from_importance(CASES[case])
    assert d == pytest.approx(want_d, abs=1e-9)
    assert c == pytest.approx(want_c, abs=1e-9)


@pytest.mark.parametrize("case,want", [
    ("diagonal", 1.0), ("empty_code", 1.0), ("redundant", 0.0), ("one_code_two_factors", 1.0)])
def test_mig_known_answers(case, want):
    # information matrices whose factor entropies are the diagonal's values
    from explorer.metrics.mig import mig_from_mi
    m = CASES[case]
    score, per = mig_from_mi(m, m.max(0))
    assert score == pytest.approx(want, abs=1e-12)
    assert len(per) == m.shape[1]


def test_mig_known_value_and_factors_without_entropy():
    from explorer.metrics.mig import mig_from_mi
    m = np.array([[0.5, 0.1, 0.0], [0.2, 0.6, 0.0]])
    score, per = mig_from_mi(m, np.array([1.0, 1.2, 0.0]))
    # (0.5 - 0.2) / 1 = 0.3, (0.6 - 0.1) / 1.2 = 0.41667; the third factor has no entropy
    assert per[:2] == pytest.approx([0.3, 0.5 / 1.2]) and np.isnan(per[2])
    assert score == pytest.approx((0.3 + 0.5 / 1.2) / 2)
    one_dim, _ = mig_from_mi(m[:1], np.array([1.0, 1.0, 1.0]))   # second best taken as 0
    assert one_dim == pytest.approx((0.5 + 0.1 + 0.0) / 3)
    assert mig_from_mi(np.zeros((3, 2)), np.zeros(2))[0] == 0.0


def test_sap_known_answers_from_score_matrices():
    from explorer.metrics.sap import sap_from_scores
    assert sap_from_scores(np.eye(4))[0] == 1.0
    assert sap_from_scores(np.vstack([np.eye(3), np.eye(3)]))[0] == 0.0   # redundant
    assert sap_from_scores(np.zeros((4, 2)))[0] == 0.0
    score, gaps = sap_from_scores(np.array([[0.9, 0.2], [0.4, 0.7], [0.1, 0.65]]))
    assert gaps == pytest.approx([0.5, 0.05]) and score == pytest.approx(0.275)
    assert sap_from_scores(np.array([[0.8, 0.3]]))[0] == pytest.approx(0.55)   # one dim


def test_information_helpers_known_answers():
    # disentanglement_lib's utils known answers (with 0-based labels)
    from explorer.metrics.utils import discretize_uniform, entropies, mutual_info_matrix
    target = np.array([[0.1, 0.6], [0.2, 0.5], [0.3, 0.4], [0.4, 0.3], [0.5, 0.2], [0.6, 0.1]])
    binned = discretize_uniform(target, num_bins=3)
    assert binned.T.tolist() == [[0, 0, 1, 1, 2, 2], [2, 2, 1, 1, 0, 0]]
    assert entropies(binned) == pytest.approx([np.log(3), np.log(3)])
    xs = np.array([[0, 1, 0, 1], [0, 0, 1, 1]]).T
    ys = np.array([[0, 1, 0, 1], [1, 1, 0, 0]]).T
    assert mutual_info_matrix(xs, ys) == pytest.approx(np.array([[np.log(2), 0.0],
                                                                 [0.0, np.log(2)]]))


# ---------------------------------------------------------------------------- on codes
@pytest.fixture(scope="module")
def grid_factors() -> np.ndarray:
    """[3000, 3] factors with 10 equally likely levels each (disentanglement_lib's identity
    observations data), so that a code can be the factors themselves."""
    return np.random.default_rng(0).integers(0, 10, (3000, 3)).astype(float)


def test_duplicated_latent_space_known_answers(grid_factors):
    # every factor in two identical dimensions: MIG and SAP see no gap, modularity and DCI
    # disentanglement stay high, DCI completeness halves its entropy: 1 - log 2 / log 6
    f = grid_factors
    twice = np.hstack([f, f])
    assert mig(twice, f)["mig"] == pytest.approx(0.0, abs=1e-12)
    assert sap(twice, f, random_state=0)["sap"] == pytest.approx(0.0, abs=1e-12)
    assert modularity(twice, f)["modularity"] > 0.9
    d = dci(twice, f, random_state=0)
    assert d["disentanglement"] > 0.9
    assert d["completeness"] == pytest.approx(1 - np.log(2) / np.log(6), abs=0.1)


def test_identity_and_per_item_permuted_codes(grid_factors):
    f = grid_factors
    # not exactly 1: the plug-in information between two independent 10-level columns is
    # about (10 - 1)^2 / (2 N) = 0.013 nats, not 0 (that is also the random code's floor)
    assert mig(f, f)["mig"] == pytest.approx(1.0, abs=0.01)
    assert modularity(f, f)["modularity"] == pytest.approx(1.0, abs=0.01)
    # the reference's "bad" code: each item's factor values in a random order, so every
    # dimension carries a little of every factor
    rng = np.random.default_rng(1)
    shuffled = np.array([rng.permutation(row) for row in f])
    assert modularity(shuffled, f)["modularity"] < 0.2
    d = dci(shuffled, f, random_state=0)
    assert d["disentanglement"] < 0.2 and d["completeness"] < 0.2
    assert mig(shuffled, f)["mig"] < 0.05


def test_continuous_sap_known_answers():
    # disentanglement_lib's SAP tests with continuous factors (R^2 scores): identity ~1,
    # a zero code 0, a duplicated code 0
    rng = np.random.default_rng(0)
    f = rng.random((3000, 3))
    assert sap(f, f, random_state=0)["sap"] == pytest.approx(1.0, abs=0.01)
    assert sap(np.zeros_like(f), f, random_state=0)["sap"] == 0.0
    assert sap(np.hstack([f, f]), f, random_state=0)["sap"] == pytest.approx(0.0, abs=1e-12)


def test_sap_uses_a_linear_svm_on_each_dimension():
    """Two balanced binary factors, each in its own dimension: the SVM reads its own factor
    (accuracy ~1) and guesses the other (~0.5), so SAP ~0.5. A factor whose class is a middle
    interval of the dimension is the reference's blind spot: one linear function per class
    cannot carve it out, where a histogram classifier would score ~1."""
    rng = np.random.default_rng(0)
    f = rng.integers(0, 2, (2000, 2)).astype(float)
    codes = f + 0.05 * rng.normal(size=f.shape)
    res = sap(codes, f, random_state=0)
    assert np.array(res["scores"]) == pytest.approx(np.array([[1.0, 0.5], [0.5, 1.0]]),
                                                    abs=0.05)
    assert res["sap"] == pytest.approx(0.5, abs=0.05)
    z = rng.uniform(-1, 1, (2000, 1))
    middle = (np.abs(z) < 0.5).astype(float)
    assert sap(z, middle, random_state=0)["scores"][0][0] < 0.8


def test_scores_ignore_the_order_bias_and_scale_of_dimensions(codes, factors):
    c = codes["rotated"]
    perm = [2, 0, 3, 1]
    moved = c[:, perm] * 2.0 + 3.0
    assert mig(moved, factors)["mig"] == pytest.approx(mig(c, factors)["mig"], abs=1e-9)
    assert modularity(moved, factors)["modularity"] == pytest.approx(
        modularity(c, factors)["modularity"], abs=1e-9)
    # SAP's SVMs see raw values (C = 0.01), so only the order is checked there
    a = np.array(sap(c, factors, random_state=0)["scores"])
    b = np.array(sap(c[:, perm], factors, random_state=0)["scores"])
    assert b == pytest.approx(a[perm])


def test_explicitness_known_answers():
    rng = np.random.default_rng(0)
    f = rng.integers(0, 2, (600, 1)).astype(float)
    assert explicitness(f + 0.01 * rng.normal(size=f.shape), f,
                        random_state=0)["explicitness"] == pytest.approx(1.0)
    assert explicitness(np.zeros((600, 2)), f, random_state=0)["explicitness"] == 0.5
