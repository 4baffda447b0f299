"""Fill in missing catalogue attributes from the nearest products in the latent space.

An item's missing value is predicted from the k nearest items (Euclidean distance between
latent means, `explorer.latent.index.LatentIndex`) that have a known value, each neighbour weighted
by 1 / (distance + eps):

categorical columns
    The prediction is the value with the largest total weight (ties: the first in sorted
    order); its **confidence** is that weight's share of the total, in [0, 1].
numeric columns
    The prediction is the weighted mean of the neighbours' values. The neighbours' weighted
    standard deviation is reported as ``spread``, and the **confidence** is
    ``1 - min(1, spread / std)``, where std is the standard deviation of all known values of
    the column: 1 when the neighbours agree, 0 when they are as scattered as the whole column.

Rows with confidence below ``min_confidence`` are flagged ``needs_review``.

A column is numeric when `explorer.data.schema` calls it numeric (numbers that are not
whole or have more than ``schema.MAX_INT_CATEGORIES`` distinct values); anything else (strings,
bools, small integer codes such as ``factor_silhouette``) is categorical. Which columns the app
offers is ``schema.imputable_columns``. Pass ``kind=`` to decide yourself.

``holdout_accuracy`` measures this on known values: it hides a random fraction, imputes them
from the rest and compares with the majority-class baseline (numeric: the median).
"""
from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from explorer.data import schema
from explorer.latent.index import LatentIndex

Kind = Literal["auto", "categorical", "numeric"]

_EPS = 1e-9


def column_kind(values: pd.Series) -> str:
    """"numeric" or "categorical" for a column (see the module docstring)."""
    return schema.impute_kind(values)


def _neighbour_weights(codes_known: np.ndarray, codes_query: np.ndarray,
                       k: int) -> tuple[np.ndarray, np.ndarray]:
    """For each query row, its k nearest known rows (positions) and their weights [Q, k]."""
    index = LatentIndex(codes_known, method="auto")
    nbr, dist = index.query(codes_query, k=k)
    return nbr, 1.0 / (dist.astype(np.float64) + _EPS)


def _predict(codes_known: np.ndarray, known: np.ndarray, codes_query: np.ndarray, k: int,
             kind: str, scale: float) -> dict[str, np.ndarray]:
    """Predictions, confidences (and numeric spreads) for codes_query [Q, D]."""
    q = len(codes_query)
    if len(known) == 0 or q == 0:
        return {"predicted": np.full(q, np.nan, object), "confidence": np.zeros(q),
                "spread": np.full(q, np.nan)}
    nbr, w = _neighbour_weights(codes_known, codes_query, min(k, len(known)))
    wsum = w.sum(axis=1)
    if kind == "numeric":
        v = known.astype(np.float64)[nbr]
        mean = (w * v).sum(axis=1) / wsum
        spread = np.sqrt((w * (v - mean[:, None]) ** 2).sum(axis=1) / wsum)
        conf = 1.0 - np.minimum(1.0, spread / scale) if scale > 0 else np.ones(q)
        return {"predicted": mean, "confidence": conf, "spread": spread}
    classes, codes = np.unique(known.astype(str) if known.dtype == object else known,
                               return_inverse=True)
    votes = np.zeros((q, len(classes)))
    np.add.at(votes, (np.repeat(np.arange(q), nbr.shape[1]), codes[nbr].ravel()), w.ravel())
    best = votes.argmax(axis=1)  # argmax takes the first of equal totals: sorted order
    classes_obj = np.asarray(known)[np.unique(codes, return_index=True)[1]]
    return {"predicted": classes_obj[best],
            "confidence": np.clip(votes[np.arange(q), best] / wsum, 0.0, 1.0),
            "spread": np.full(q, np.nan)}


def _check(codes: np.ndarray, values: pd.Series, k: int, kind: str) -> tuple[np.ndarray, str]:
    c = np.asarray(codes, np.float32)
    if c.ndim != 2:
        raise ValueError(f"codes must be [N, D], got shape {c.shape}")
    if len(values) != len(c):
        raise ValueError(f"{len(values)} values for {len(c)} codes")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if kind not in ("auto", "categorical", "numeric"):
        raise ValueError(f"kind must be 'auto', 'categorical' or 'numeric', got {kind!r}")
    kind = column_kind(values) if kind == "auto" else kind
    if kind == "numeric" and not pd.api.types.is_numeric_dtype(values):
        raise ValueError(f"column {values.name!r} is not numeric")
    return c, kind


def _scale(known: np.ndarray, kind: str) -> float:
    return float(np.std(known.astype(np.float64))) if kind == "numeric" and len(known) else 0.0


def impute_column(codes: np.ndarray, values: pd.Series, k: int = 10,
                  min_confidence: float = 0.6, kind: Kind = "auto") -> pd.DataFrame:
    """Predict every missing (NaN) value of a column from its k nearest known items.

    codes: float [N, D] latent means; values: a Series of N values, row i = item i.
    Returns one row per missing item: ``index`` (position, 0..N-1), ``predicted``,
    ``confidence`` in [0, 1], ``needs_review`` (confidence < min_confidence) and, for numeric
    columns, ``spread`` (the neighbours' weighted standard deviation). No known value at all:
    predicted is NaN and confidence 0.
    """
    c, kind = _check(codes, values, k, kind)
    missing = values.isna().to_numpy()
    known_pos = np.flatnonzero(~missing)
    miss_pos = np.flatnonzero(missing)
    known = values.to_numpy()[known_pos]
    res = _predict(c[known_pos], known, c[miss_pos], k, kind, _scale(known, kind))
    out = pd.DataFrame({"index": miss_pos.astype(np.int64),
                        "predicted": pd.Series(res["predicted"], dtype=(
                            np.float64 if kind == "numeric" else object)),
                        "confidence": res["confidence"].astype(np.float64)})
    out["needs_review"] = out["confidence"] < min_confidence
    if kind == "numeric":
        out["spread"] = res["spread"]
    return out


def can_hold_out(values: pd.Series, frac: float = 0.2) -> bool:
    """Whether `holdout_accuracy` can hide `frac` of the known values and keep some to learn
    from (a column with two known values cannot be measured at 20%)."""
    n_known = int(values.notna().sum())
    n_hidden = int(round(frac * n_known))
    return 1 <= n_hidden < n_known


def holdout_accuracy(codes: np.ndarray, values: pd.Series, frac: float = 0.2, k: int = 10,
                     random_state: int = 0, min_confidence: float = 0.6,
                     kind: Kind = "auto") -> dict[str, Any]:
    """Hide `frac` of the known values, impute them from the rest, and score the guesses.

    Categorical: ``accuracy``, ``baseline`` (accuracy of always answering the most common
    known value), ``coverage`` (share of hidden items with confidence >= min_confidence) and
    ``accuracy_confident`` (accuracy on those; NaN when none). Numeric: ``mae``,
    ``baseline_mae`` (always answering the median), ``coverage`` and ``mae_confident``.
    Also ``kind``, ``n_train``, ``n_hidden``, ``k``, ``min_confidence``.
    """
    c, kind = _check(codes, values, k, kind)
    if not 0.0 < frac < 1.0:
        raise ValueError(f"frac must be in (0, 1), got {frac}")
    known_pos = np.flatnonzero(values.notna().to_numpy())
    n_hidden = int(round(frac * len(known_pos)))
    if n_hidden < 1 or n_hidden >= len(known_pos):
        raise ValueError(f"{len(known_pos)} known values are too few to hide {frac:.0%} of them")
    rng = np.random.default_rng(random_state)
    perm = rng.permutation(known_pos)
    hidden, train = np.sort(perm[:n_hidden]), np.sort(perm[n_hidden:])
    vals = values.to_numpy()
    res = _predict(c[train], vals[train], c[hidden], k, kind, _scale(vals[train], kind))
    truth = vals[hidden]
    confident = res["confidence"] >= min_confidence
    out: dict[str, Any] = {"kind": kind, "n_train": len(train), "n_hidden": n_hidden, "k": k,
                           "min_confidence": min_confidence,
                           "coverage": float(confident.mean())}
    if kind == "numeric":
        err = np.abs(res["predicted"].astype(np.float64) - truth.astype(np.float64))
        out["mae"] = float(err.mean())
        out["baseline_mae"] = float(np.abs(truth.astype(np.float64)
                                           - np.median(vals[train].astype(np.float64))).mean())
        out["mae_confident"] = float(err[confident].mean()) if confident.any() else float("nan")
        return out
    correct = res["predicted"] == truth
    majority = pd.Series(vals[train]).value_counts().index[0]
    out["accuracy"] = float(correct.mean())
    out["baseline"] = float((truth == majority).mean())
    out["accuracy_confident"] = (float(correct[confident].mean()) if confident.any()
                                 else float("nan"))
    return out
