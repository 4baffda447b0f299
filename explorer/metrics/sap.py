"""Separated attribute predictability (Kumar et al. 2018), with disentanglement_lib's predictors.

A score matrix S [D, K] says how well each single code dimension predicts each factor; SAP is
the gap between the best and the second-best dimension, averaged over factors::

    SAP = mean_k ( S_(1)k - S_(2)k )

Each entry comes from one dimension alone, as in disentanglement_lib's ``_compute_score_matrix``:
- discrete factors: the test accuracy of a linear SVM on that one dimension
  (scikit-learn's ``LinearSVC(C=0.01, class_weight="balanced")``, one-vs-rest, on the raw code
  values, trained on the training split and scored on the held-out one). A single linear
  function per class can pick out the classes at either end of the dimension's range better
  than those in the middle, so a code that orders five classes along one axis scores well
  below 1: that is the reference's metric, kept as it is;
- continuous factors: R^2 of a linear regression of the factor on the dimension (the squared
  correlation) over the training split.

Two differences from the reference, both about input rather than the metric: the reference
takes one switch for all factors (all discrete or all continuous), here each factor is discrete
when it has at most ``num_bins`` distinct values (integer codes, labels) and continuous
otherwise; and the SVMs train on at most ``max_train`` items of the training split (the
reference samples 10,000 training and 5,000 test points). A constant dimension scores what a
classifier without input scores (or R^2 = 0), so an all-constant code has every gap 0.
Cost: one SVM per (dimension, discrete factor) pair: 3.2 s of CPU for 10,000 items, 16
dimensions and 12 discrete factors of 2-20 classes (192 SVMs on 5,000 training items each).
"""
from __future__ import annotations

import warnings

import numpy as np

from explorer.metrics.utils import (NUM_BINS, as_generator, check_inputs, discretize_column,
                                    is_discrete_column, train_test_split)

SVM_C = 0.01   # disentanglement_lib's regularisation for the SAP classifiers


def _svm_accuracy(code_tr: np.ndarray, y_tr: np.ndarray, code_te: np.ndarray,
                  y_te: np.ndarray) -> float:
    """Test accuracy of a linear SVM on one dimension (the reference's classifier)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    classes = np.unique(y_tr)
    if len(classes) < 2:   # nothing to learn: every input predicts the one class seen
        return float(np.mean(y_te == classes[0]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LinearSVC(C=SVM_C, class_weight="balanced")
        model.fit(code_tr[:, None], y_tr)
    return float(np.mean(model.predict(code_te[:, None]) == y_te))


def _r2(x: np.ndarray, y: np.ndarray) -> float:
    sx, sy = x.std(), y.std()
    if sx < 1e-12 or sy < 1e-12:
        return 0.0
    r = float(np.mean((x - x.mean()) * (y - y.mean())) / (sx * sy))
    return r * r


def sap_scores(codes: np.ndarray, factors: np.ndarray, random_state,
               num_bins: int = NUM_BINS, test_fraction: float = 0.3,
               max_train: int = 5000) -> np.ndarray:
    """The score matrix S [D, K] (see the module docstring)."""
    c, f = check_inputs(codes, factors)
    rng = as_generator(random_state)
    tr, te = train_test_split(len(c), test_fraction, rng)
    if len(tr) > max_train:
        tr = rng.choice(tr, max_train, replace=False)
    d, k = c.shape[1], f.shape[1]
    s = np.zeros((d, k))
    for j in range(k):
        if is_discrete_column(f[:, j], num_bins):
            y = discretize_column(f[:, j], num_bins)
            for i in range(d):
                s[i, j] = _svm_accuracy(c[tr, i], y[tr], c[te, i], y[te])
        else:
            for i in range(d):
                s[i, j] = _r2(c[tr, i], f[tr, j])
    return s


def sap_from_scores(scores: np.ndarray) -> tuple[float, np.ndarray]:
    """(SAP, per-factor gaps [K]) from a score matrix [D, K]; with a single dimension the
    second-best score is 0."""
    s = np.asarray(scores, dtype=np.float64)
    top = np.sort(s, axis=0)[::-1]
    second = top[1] if len(top) > 1 else np.zeros(s.shape[1])
    gaps = top[0] - second if len(top) else np.zeros(s.shape[1])
    return (float(gaps.mean()) if gaps.size else 0.0), gaps


def sap(codes: np.ndarray, factors: np.ndarray, random_state, num_bins: int = NUM_BINS,
        test_fraction: float = 0.3, max_train: int = 5000) -> dict:
    """SAP of codes [N, D] (latent means) for factors [N, K].

    random_state (int or np.random.Generator) draws the train/test split and the training
    subsample. Returns {"sap": float, "per_factor": [K gaps], "scores": [[D x K]]}.
    """
    s = sap_scores(codes, factors, random_state, num_bins, test_fraction, max_train)
    score, gaps = sap_from_scores(s)
    return {"sap": score, "per_factor": [float(g) for g in gaps],
            "scores": [[float(v) for v in row] for row in s]}
