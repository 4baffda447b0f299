"""What the disentanglement metrics share: input checks, the random split, discretising codes
and factors, and plug-in entropies and mutual information (all in nats).

Codes are cut into ``num_bins`` equal-width bins over their range (disentanglement_lib's
histogram discretiser). A factor column is a class label when it has at most ``num_bins``
distinct values (integer codes, labels) and is otherwise cut into ``num_bins`` quantile
(equal-frequency) bins. MIG, SAP, DCI, modularity/explicitness and the association scores all
use these; metrics/__init__.py lists the metrics.
"""
from __future__ import annotations

import numpy as np

NUM_BINS = 20


# ---------------------------------------------------------------------------- checks
def check_inputs(codes: np.ndarray, factors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate codes [N, D] and factors [N, K] (finite, same N, N >= 2); return float arrays."""
    c = np.asarray(codes, dtype=np.float64)
    f = np.asarray(factors, dtype=np.float64)
    if c.ndim == 1:
        c = c[:, None]
    if f.ndim == 1:
        f = f[:, None]
    if c.ndim != 2 or f.ndim != 2:
        raise ValueError(f"codes must be [N, D] and factors [N, K], got {c.shape} and {f.shape}")
    if len(c) != len(f):
        raise ValueError(f"codes have {len(c)} rows but factors have {len(f)}")
    if len(c) < 2:
        raise ValueError(f"need at least 2 items, got {len(c)}")
    if not (np.isfinite(c).all() and np.isfinite(f).all()):
        raise ValueError("codes and factors must be finite (no NaN or inf)")
    return c, f


def as_generator(random_state: int | np.random.Generator | None) -> np.random.Generator:
    """An int seed or a Generator -> a Generator (a Generator is used as is)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(random_state)


def train_test_split(n: int, test_fraction: float, random_state
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Random split of range(n) into (train_idx, test_idx), each non-empty when n >= 2."""
    rng = as_generator(random_state)
    perm = rng.permutation(n)
    n_test = int(np.clip(round(n * test_fraction), 1, n - 1))
    return perm[n_test:], perm[:n_test]


# ---------------------------------------------------------------------------- discretising
def discretize_uniform(x: np.ndarray, num_bins: int = NUM_BINS) -> np.ndarray:
    """Equal-width bins over the range of each column: [N, D] float -> [N, D] int in 0..bins-1.

    A constant column falls into bin 0."""
    x = np.asarray(x, dtype=np.float64)
    x2 = x[:, None] if x.ndim == 1 else x
    lo, hi = x2.min(0), x2.max(0)
    width = np.where(hi > lo, hi - lo, 1.0)
    out = np.floor((x2 - lo) / width * num_bins).astype(np.int64)
    out = np.clip(out, 0, num_bins - 1)
    return out[:, 0] if x.ndim == 1 else out


def discretize_column(x: np.ndarray, num_bins: int = NUM_BINS) -> np.ndarray:
    """One factor column [N] -> integer codes 0..C-1.

    At most num_bins distinct values: each value is its own class (categorical factor).
    More: num_bins quantile (equal-frequency) bins; ties keep equal values together, so a
    column with heavy ties may get fewer bins."""
    x = np.asarray(x, dtype=np.float64)
    values, inverse = np.unique(x, return_inverse=True)
    if len(values) <= num_bins:
        return inverse.astype(np.int64)
    edges = np.quantile(x, np.linspace(0.0, 1.0, num_bins + 1)[1:-1])
    binned = np.searchsorted(edges, x, side="right")
    return np.unique(binned, return_inverse=True)[1].astype(np.int64)


def is_discrete_column(x: np.ndarray, num_bins: int = NUM_BINS) -> bool:
    """True when a factor column has at most num_bins distinct values."""
    return len(np.unique(np.asarray(x))) <= num_bins


def discretize_factors(factors: np.ndarray, num_bins: int = NUM_BINS) -> np.ndarray:
    """Factors [N, K] -> integer classes [N, K] (see discretize_column)."""
    f = np.asarray(factors, dtype=np.float64)
    f = f[:, None] if f.ndim == 1 else f
    if f.shape[1] == 0:
        return np.zeros(f.shape, np.int64)
    return np.stack([discretize_column(f[:, k], num_bins) for k in range(f.shape[1])], axis=1)


# ---------------------------------------------------------------------------- information
def entropies(labels: np.ndarray) -> np.ndarray:
    """Entropy in nats of each column of integer labels [N, K] -> [K]."""
    lab = np.asarray(labels)
    lab = lab[:, None] if lab.ndim == 1 else lab
    out = np.zeros(lab.shape[1])
    for k in range(lab.shape[1]):
        p = np.bincount(lab[:, k]) / len(lab)
        p = p[p > 0]
        out[k] = float(-(p * np.log(p)).sum())
    return out


def mutual_info_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mutual information in nats between every column of integer labels a [N, D] and b [N, K]
    -> [D, K] (plug-in estimate from the joint histogram)."""
    a = np.asarray(a)
    b = np.asarray(b)
    a = a[:, None] if a.ndim == 1 else a
    b = b[:, None] if b.ndim == 1 else b
    n = len(a)
    out = np.zeros((a.shape[1], b.shape[1]))
    h_a = entropies(a)
    h_b = entropies(b)
    for j in range(b.shape[1]):
        bj = b[:, j]
        nb = int(bj.max()) + 1
        for i in range(a.shape[1]):
            joint = np.bincount(a[:, i] * nb + bj) / n
            joint = joint[joint > 0]
            h_ab = float(-(joint * np.log(joint)).sum())
            out[i, j] = max(h_a[i] + h_b[j] - h_ab, 0.0)
    return out
