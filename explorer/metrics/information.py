"""How much each latent dimension is used: KL to the prior, active units, variance of means.

For a VAE, a dimension whose posterior stays at the prior N(0, 1) for every item carries no
information (posterior collapse). Two standard measures:

- the mean KL(q(z_d | x) || N(0, 1)) per dimension over items, in nats; a dimension is active
  when it exceeds 0.1 nats;
- the "active units" of Burda et al. (2016): the variance over items of the posterior mean,
  Var_x E[z_d | x]; a dimension is active when it exceeds 0.01. This one also works for
  deterministic codes (WAE), whose log-variance is a constant placeholder (about -9.21) that
  makes the KL meaningless.

`dimension_order` sorts dimensions by how much they are used; the app's factor sliders show
dimensions in that order.
"""
from __future__ import annotations

import numpy as np

KL_THRESHOLD = 0.1
VARIANCE_THRESHOLD = 0.01


def _as_2d(x: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must be [N, D], got shape {a.shape}")
    return a


def kl_per_dim(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """Mean KL(N(mu, exp(logvar)) || N(0, 1)) over items, per dimension: [N, D] x2 -> [D]."""
    m, lv = _as_2d(mu, "mu"), _as_2d(logvar, "logvar")
    if m.shape != lv.shape:
        raise ValueError(f"mu {m.shape} and logvar {lv.shape} differ in shape")
    if len(m) == 0:
        return np.zeros(m.shape[1])
    return (0.5 * (m ** 2 + np.exp(lv) - 1.0 - lv)).mean(0)


def variance_of_means(mu: np.ndarray) -> np.ndarray:
    """Variance over items of each dimension of the posterior mean: [N, D] -> [D]."""
    m = _as_2d(mu, "mu")
    return m.var(0) if len(m) else np.zeros(m.shape[1])


def is_deterministic(logvar: np.ndarray | None) -> bool:
    """True when the codes are points: no log-variance, or one constant value for every item
    and dimension (the WAE placeholder, log 1e-4 ~ -9.21)."""
    if logvar is None:
        return True
    lv = np.asarray(logvar)
    return lv.size == 0 or float(np.ptp(lv)) < 1e-6


def active_units(mu: np.ndarray, logvar: np.ndarray, threshold: float = KL_THRESHOLD) -> int:
    """Number of dimensions whose mean KL to the prior exceeds threshold (nats)."""
    return int((kl_per_dim(mu, logvar) > threshold).sum())


def active_dims(kl: np.ndarray, order=None, deterministic: bool = False) -> list[int]:
    """The dimensions (in `order`, default 0..D-1) whose mean KL kl [D] exceeds KL_THRESHOLD,
    the rule active_units counts by; every dimension for deterministic codes (their KL means
    nothing). The factor sliders and the lab's edit sliders show these first."""
    k = np.asarray(kl, np.float64)
    dims = range(len(k)) if order is None else order
    return [int(d) for d in dims if deterministic or k[d] > KL_THRESHOLD]


def active_units_variance(mu: np.ndarray, threshold: float = VARIANCE_THRESHOLD) -> int:
    """Number of dimensions whose posterior mean varies over items by more than threshold
    (Burda et al. 2016); meaningful for deterministic codes too."""
    return int((variance_of_means(mu) > threshold).sum())


def count_active(mu: np.ndarray, logvar: np.ndarray | None) -> int:
    """Active dimensions by the measure that fits the model: the KL rule for stochastic
    codes, the variance-of-means rule for deterministic ones."""
    if is_deterministic(logvar):
        return active_units_variance(mu)
    return active_units(mu, logvar)


def dimension_order(mu: np.ndarray, logvar: np.ndarray | None) -> np.ndarray:
    """Dimension indices [D], most used first: by mean KL descending, or, for deterministic
    codes (logvar None or constant), by variance of the means descending. Ties keep index
    order."""
    score = variance_of_means(mu) if is_deterministic(logvar) else kl_per_dim(mu, logvar)
    return np.argsort(-score, kind="stable")
