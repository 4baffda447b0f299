"""Disentanglement, completeness and informativeness (Eastwood & Williams 2018).

For each factor a predictor is trained from all code dimensions; its feature importances make
column k of an importance matrix R [D, K] (each column sums to 1). Then::

    disentanglement  D = sum_i rho_i (1 - H_K(P_i.)),   P_ij = R_ij / sum_k R_ik,
                                                         rho_i = sum_k R_ik / sum R
    completeness     C = sum_k w_k (1 - H_D(Q_.k)),     Q_ik = R_ik / sum_i R_ik,
                                                         w_k = sum_i R_ik / sum R
    informativeness  I = mean over factors of the predictor's test accuracy

(H_K: entropy with logarithm base K.) D says whether each dimension captures at most one
factor, C whether each factor is captured by a single dimension.

The importance estimator: scikit-learn's ExtraTreesClassifier (10 trees, depth <= 8, every
feature considered at each split, so that an informative dimension always competes), with the
impurity-based (mean decrease in Gini) importances. The paper used lasso and random forests and
disentanglement_lib gradient-boosted trees; extremely randomised trees give comparable
importances at a fraction of the cost: on one core, about 0.5 s of CPU for 10,000 x 16 codes
and 5 factors, 2.5 s for 23 factors (the procedural catalogue), 4.7 s for 32 dimensions and 23
factors. Factors are discretised as in the other metrics (at most ``num_bins`` distinct values:
classes as given; otherwise ``num_bins`` quantile bins) and predicted as classes. The predictor
is trained on at most ``max_train`` items of the training split.
"""
from __future__ import annotations

import numpy as np

from explorer.metrics.utils import (NUM_BINS, as_generator, check_inputs, discretize_factors,
                                  train_test_split)


def importance_matrix(codes: np.ndarray, factors: np.ndarray, random_state,
                      num_bins: int = NUM_BINS, test_fraction: float = 0.3,
                      max_train: int = 5000, n_estimators: int = 10, max_depth: int = 8,
                      n_jobs: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(R [D, K], train accuracy [K], test accuracy [K]). A factor with one value, or codes
    that allow no split, give a zero column of R."""
    from sklearn.ensemble import ExtraTreesClassifier

    c, f = check_inputs(codes, factors)
    rng = as_generator(random_state)
    tr, te = train_test_split(len(c), test_fraction, rng)
    if len(tr) > max_train:
        tr = rng.choice(tr, max_train, replace=False)
    y = discretize_factors(f, num_bins)
    d, k = c.shape[1], y.shape[1]
    r = np.zeros((d, k))
    acc_tr, acc_te = np.ones(k), np.ones(k)
    for j in range(k):
        if len(np.unique(y[:, j])) < 2:
            continue
        model = ExtraTreesClassifier(n_estimators=n_estimators, max_depth=max_depth,
                                     max_features=None, n_jobs=n_jobs,
                                     random_state=int(rng.integers(2**31 - 1)))
        model.fit(c[tr], y[tr, j])
        imp = np.asarray(model.feature_importances_, dtype=np.float64)
        r[:, j] = imp / imp.sum() if imp.sum() > 0 else 0.0
        acc_tr[j] = model.score(c[tr], y[tr, j])
        acc_te[j] = model.score(c[te], y[te, j])
    return r, acc_tr, acc_te


def _one_minus_entropy(p: np.ndarray, base: int) -> np.ndarray:
    """1 - H_base of each row of p (rows summing to 1; a zero row gives 0)."""
    if base <= 1:
        return (p.sum(1) > 0).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(p > 0, np.log(p), 0.0)
    h = -(p * logs).sum(1) / np.log(base)
    return np.where(p.sum(1) > 0, 1.0 - h, 0.0)


def scores_from_importance(r: np.ndarray) -> tuple[float, float, np.ndarray, np.ndarray]:
    """(D, C, per-dimension disentanglement [D], per-factor completeness [K]) from R [D, K]."""
    r = np.asarray(r, dtype=np.float64)
    total = r.sum()
    if total <= 0:
        return 0.0, 0.0, np.zeros(r.shape[0]), np.zeros(r.shape[1])
    row, col = r.sum(1), r.sum(0)
    p = np.divide(r, row[:, None], out=np.zeros_like(r), where=row[:, None] > 0)
    q = np.divide(r, col[None, :], out=np.zeros_like(r), where=col[None, :] > 0)
    d_i = _one_minus_entropy(p, r.shape[1])
    c_k = _one_minus_entropy(q.T, r.shape[0])
    return float((row / total) @ d_i), float((col / total) @ c_k), d_i, c_k


def dci(codes: np.ndarray, factors: np.ndarray, random_state, num_bins: int = NUM_BINS,
        test_fraction: float = 0.3, max_train: int = 5000, n_estimators: int = 10,
        max_depth: int = 8, n_jobs: int = 1) -> dict:
    """DCI of codes [N, D] (latent means) for factors [N, K].

    random_state (int or np.random.Generator) draws the train/test split, the training
    subsample and the trees. Returns {"disentanglement", "completeness", "informativeness",
    "informativeness_train": floats, "per_dim_disentanglement": [D], "per_factor_completeness":
    [K], "per_factor_informativeness": [K], "importance": [[D x K]]}. Factors with a single
    value are left out of the informativeness mean (and have a zero importance column).
    """
    c, f = check_inputs(codes, factors)
    r, acc_tr, acc_te = importance_matrix(c, f, random_state, num_bins, test_fraction,
                                          max_train, n_estimators, max_depth, n_jobs)
    d, comp, d_i, c_k = scores_from_importance(r)
    varied = np.array([len(np.unique(f[:, j])) > 1 for j in range(f.shape[1])], bool)
    info = float(acc_te[varied].mean()) if varied.any() else 1.0
    info_tr = float(acc_tr[varied].mean()) if varied.any() else 1.0
    return {"disentanglement": d, "completeness": comp, "informativeness": info,
            "informativeness_train": info_tr,
            "per_dim_disentanglement": [float(x) for x in d_i],
            "per_factor_completeness": [float(x) for x in c_k],
            "per_factor_informativeness": [float(x) if v else float("nan")
                                           for x, v in zip(acc_te, varied)],
            "importance": [[float(x) for x in row] for row in r]}
