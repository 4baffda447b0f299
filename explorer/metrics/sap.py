"""Separated attribute predictability (Kumar et al. 2018).

A score matrix S [D, K] says how well each single code dimension predicts each factor; SAP is
the gap between the best and the second-best dimension, averaged over factors::

    SAP = mean_k ( S_(1)k - S_(2)k )

As in the paper and disentanglement_lib, the score depends on the factor's type:

- discrete factors (at most ``num_bins`` distinct values: integer codes, labels): the test
  accuracy of a one-dimensional threshold classifier. The dimension is cut at ``num_bins``
  quantiles of the training codes and each interval predicts the factor value most common in
  it on the training split (a decision stump with many thresholds);
- continuous factors: R² of a linear regression of the factor on the dimension, i.e. the squared
  Pearson correlation over all items.

A constant dimension scores the majority-class accuracy (or R² = 0), so a representation whose
dimensions are all constant or all uninformative has gaps near 0.
"""
from __future__ import annotations

import numpy as np

from explorer.metrics.mig import (NUM_BINS, check_inputs, discretize_column, is_discrete_column,
                                  train_test_split)


def _threshold_accuracy(code_tr: np.ndarray, y_tr: np.ndarray, code_te: np.ndarray,
                        y_te: np.ndarray, n_classes: int, num_bins: int) -> float:
    """Test accuracy of the interval-majority classifier on one dimension."""
    edges = np.unique(np.quantile(code_tr, np.linspace(0.0, 1.0, num_bins + 1)[1:-1]))
    b_tr = np.searchsorted(edges, code_tr, side="right")
    b_te = np.searchsorted(edges, code_te, side="right")
    n_b = len(edges) + 1
    table = np.bincount(b_tr * n_classes + y_tr, minlength=n_b * n_classes).reshape(n_b, n_classes)
    majority = int(np.bincount(y_tr, minlength=n_classes).argmax())
    pred = np.where(table.sum(1) > 0, table.argmax(1), majority)
    return float(np.mean(pred[b_te] == y_te))


def _r2(x: np.ndarray, y: np.ndarray) -> float:
    sx, sy = x.std(), y.std()
    if sx < 1e-12 or sy < 1e-12:
        return 0.0
    r = float(np.mean((x - x.mean()) * (y - y.mean())) / (sx * sy))
    return r * r


def sap_scores(codes: np.ndarray, factors: np.ndarray, random_state,
               num_bins: int = NUM_BINS, test_fraction: float = 0.3) -> np.ndarray:
    """The score matrix S [D, K] (see the module docstring)."""
    c, f = check_inputs(codes, factors)
    tr, te = train_test_split(len(c), test_fraction, random_state)
    d, k = c.shape[1], f.shape[1]
    s = np.zeros((d, k))
    for j in range(k):
        if is_discrete_column(f[:, j], num_bins):
            y = discretize_column(f[:, j], num_bins)
            n_classes = int(y.max()) + 1
            for i in range(d):
                s[i, j] = _threshold_accuracy(c[tr, i], y[tr], c[te, i], y[te], n_classes,
                                              num_bins)
        else:
            for i in range(d):
                s[i, j] = _r2(c[:, i], f[:, j])
    return s


def sap(codes: np.ndarray, factors: np.ndarray, random_state, num_bins: int = NUM_BINS,
        test_fraction: float = 0.3) -> dict:
    """SAP of codes [N, D] (latent means) for factors [N, K].

    random_state (int or np.random.Generator) draws the train/test split of the classifiers.
    Returns {"sap": float, "per_factor": [K gaps], "scores": [[D x K]]}. With a single code
    dimension the second-best score is taken as 0.
    """
    s = sap_scores(codes, factors, random_state, num_bins, test_fraction)
    top = np.sort(s, axis=0)[::-1]
    second = top[1] if len(top) > 1 else np.zeros(s.shape[1])
    gaps = top[0] - second
    return {"sap": float(gaps.mean()) if gaps.size else 0.0,
            "per_factor": [float(g) for g in gaps],
            "scores": [[float(v) for v in row] for row in s]}
