"""Mutual information gap (Chen et al. 2018).

For each ground-truth factor v_k, MIG is the gap between the two code dimensions that carry the
most information about it, as a fraction of the factor's entropy::

    MIG_k = (I(z_(1); v_k) - I(z_(2); v_k)) / H(v_k)        MIG = mean over factors

Mutual information is estimated from histograms, as in disentanglement_lib: each code
dimension is cut into ``num_bins`` equal-width bins over its range; each factor column is
treated as discrete when it has at most ``num_bins`` distinct values (integer codes, labels)
and otherwise cut into ``num_bins`` quantile bins (equal-frequency). Values are in nats. The
helpers live in metrics/utils.py; `mig_from_mi` is the metric on a given information matrix.
"""
from __future__ import annotations

import numpy as np

from explorer.metrics.utils import (NUM_BINS, check_inputs, discretize_factors,
                                    discretize_uniform, entropies, mutual_info_matrix)


# ---------------------------------------------------------------------------- the metric
def mig(codes: np.ndarray, factors: np.ndarray, num_bins: int = NUM_BINS) -> dict:
    """Mutual information gap of codes [N, D] (latent means) for factors [N, K].

    Deterministic (no random state). Returns {"mig": float, "per_factor": [K floats]}; a
    factor with a single value has no entropy to explain: its entry is NaN and it is left out
    of the mean. Fewer than two code dimensions: the second-best information is taken as 0.
    """
    c, f = check_inputs(codes, factors)
    v = discretize_factors(f, num_bins)
    m = mutual_info_matrix(discretize_uniform(c, num_bins), v)     # [D, K]
    score, per = mig_from_mi(m, entropies(v))
    return {"mig": score, "per_factor": [float(x) for x in per]}


def mig_from_mi(mi: np.ndarray, entropy: np.ndarray) -> tuple[float, np.ndarray]:
    """(MIG, per-factor gaps [K]) from the information matrix I(z_i; v_k) [D, K] and the
    factors' entropies H(v_k) [K]. A factor without entropy is NaN and left out of the mean
    (0 when none is left); with one dimension the second-best information is 0."""
    m = np.asarray(mi, dtype=np.float64)
    h = np.asarray(entropy, dtype=np.float64)
    top = np.sort(m, axis=0)[::-1]
    second = top[1] if len(top) > 1 else np.zeros(m.shape[1])
    per = np.full(m.shape[1], np.nan)
    ok = h > 1e-12
    per[ok] = (top[0, ok] - second[ok]) / h[ok]
    return (float(np.mean(per[ok])) if ok.any() else 0.0), per
