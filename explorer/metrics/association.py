"""Which metadata attribute does each latent dimension follow? Scores and suggested names.

For real catalogues there are no ground-truth factors, only metadata (brand, silhouette, price,
...). Each (dimension, attribute) pair gets an association score in [0, 1]:

- categorical attributes (as `explorer.data.schema` decides: text and booleans with few
  values, whole numbers with at most 20 distinct values): normalised mutual information
  I(z_d; a) / H(a) -- the fraction of the attribute's entropy that the dimension explains --
  with the dimension cut into quantile bins (min(20, max(2, sqrt(N) / 2)) of them, fewer for
  small catalogues to limit the estimator's upward bias);
- numeric attributes: |Spearman rank correlation|.

`suggest_names` turns the best attribute of each dimension into a short label such as
``"silhouette: boot vs slip-on"`` (the categories with the lowest and the highest mean code
value) or ``"price ↑"`` (price rises with the dimension; ``↓`` falls).
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from explorer.data import schema
from explorer.data.schema import FACTOR_PREFIX  # noqa: F401  (re-exported for old imports)
from explorer.metrics.information import VARIANCE_THRESHOLD
from explorer.metrics.utils import discretize_column, entropies, mutual_info_matrix


def column_kinds(metadata: pd.DataFrame, columns: Iterable[str] | None = None
                 ) -> dict[str, str]:
    """{column: "categorical" | "numeric"} for the columns worth scoring: the kinds
    `explorer.data.schema` gives (identifiers, constant, empty and free-text columns left
    out). Explicitly named columns skip only the identifier rule."""
    return schema.kinds(metadata, columns)


def _code_bins(n: int) -> int:
    return int(np.clip(int(np.sqrt(n) / 2), 2, 20))


def _categorical_score(code: np.ndarray, labels: np.ndarray) -> float:
    """I(binned code; labels) / H(labels)."""
    y = np.unique(labels, return_inverse=True)[1].reshape(-1)
    h = entropies(y[:, None])[0]
    if h <= 1e-12 or np.ptp(code) <= 0:
        return 0.0
    z = discretize_column(code, _code_bins(len(code)))
    return float(np.clip(mutual_info_matrix(z[:, None], y[:, None])[0, 0] / h, 0.0, 1.0))


def _spearman(code: np.ndarray, values: np.ndarray) -> float:
    from scipy.stats import rankdata

    if np.ptp(code) <= 0 or np.ptp(values) <= 0:
        return 0.0
    a, b = rankdata(code), rankdata(values)
    r = np.corrcoef(a, b)[0, 1]
    return float(r) if np.isfinite(r) else 0.0


def _column_values(metadata: pd.DataFrame, col: str) -> tuple[np.ndarray, np.ndarray]:
    """(mask of rows with a value [N], the values as an array): text as str."""
    s = metadata[col]
    mask = s.notna().to_numpy()
    vals = s[mask]
    if pd.api.types.is_numeric_dtype(vals) and not pd.api.types.is_bool_dtype(vals):
        return mask, vals.to_numpy(dtype=np.float64)
    return mask, np.array([str(v) for v in vals], dtype=object)


def _check(codes: np.ndarray, metadata: pd.DataFrame) -> np.ndarray:
    c = np.asarray(codes, dtype=np.float64)
    if c.ndim != 2:
        raise ValueError(f"codes must be [N, D], got shape {c.shape}")
    if len(c) != len(metadata):
        raise ValueError(f"{len(c)} codes but {len(metadata)} metadata rows")
    return c


def _signed_scores(codes: np.ndarray, metadata: pd.DataFrame, kinds: dict[str, str]
                   ) -> dict[str, np.ndarray]:
    """{column: [D] scores}; numeric columns keep the sign of the correlation."""
    out = {}
    for col, kind in kinds.items():
        mask, vals = _column_values(metadata, col)
        sub = codes[mask]
        if len(sub) < 2:
            out[col] = np.zeros(codes.shape[1])
            continue
        if kind == "categorical":
            out[col] = np.array([_categorical_score(sub[:, d], vals)
                                 for d in range(codes.shape[1])])
        else:
            out[col] = np.array([_spearman(sub[:, d], vals) for d in range(codes.shape[1])])
    return out


def dimension_associations(codes: np.ndarray, metadata: pd.DataFrame,
                           columns: Iterable[str] | None = None) -> pd.DataFrame:
    """Association of each dimension of codes [N, D] with each metadata attribute.

    Returns a DataFrame [D, attributes] (index "dim" 0..D-1) of scores in [0, 1]: normalised
    mutual information for categorical attributes, |Spearman correlation| for numeric ones
    (see the module docstring). ``df.attrs["kinds"]`` maps each column to its kind.
    Rows with a missing value are left out of that column's score.
    """
    c = _check(codes, metadata)
    kinds = column_kinds(metadata, columns)
    scores = _signed_scores(c, metadata, kinds)
    df = pd.DataFrame({col: np.abs(v) for col, v in scores.items()},
                      index=pd.RangeIndex(c.shape[1], name="dim"))
    df.attrs["kinds"] = dict(kinds)
    return df


def _label(value) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


_display = schema.display_name


def suggest_names(codes: np.ndarray, metadata: pd.DataFrame,
                  columns: Iterable[str] | None = None, min_score: float = 0.05,
                  inactive_variance: float = VARIANCE_THRESHOLD) -> list[str]:
    """One short label per dimension of codes [N, D], from its best-matching attribute.

    - ``"inactive"``: the dimension's variance over items is below inactive_variance (on the
      prior's unit scale; 0.01 as in the active-units rule);
    - categorical: ``"silhouette: boot vs slip-on"``, the categories (with at least 1% of the
      items, when two such exist) whose mean code value is lowest and highest;
    - numeric: ``"price ↑"`` when the attribute rises with the dimension, ``"price ↓"`` when
      it falls;
    - ``"no clear attribute"`` when the best score is below min_score.

    Attributes are ranked by normalised mutual information (categorical) or squared rank
    correlation (numeric): both are a fraction explained, so they compare. A ``factor_X``
    column is left out when a plain ``X`` column exists (same information, readable values);
    otherwise it is named without the prefix.
    """
    c = _check(codes, metadata)
    kinds = column_kinds(metadata, columns)
    kinds = {col: k for col, k in kinds.items()
             if not schema.shadowed_factor(col, metadata.columns)}
    scores = _signed_scores(c, metadata, kinds)
    variance = c.var(0) if len(c) else np.zeros(c.shape[1])
    out = []
    for d in range(c.shape[1]):
        if variance[d] < inactive_variance:
            out.append("inactive")
            continue
        best, best_rank = None, -1.0
        for col, kind in kinds.items():
            s = scores[col][d]
            rank = s if kind == "categorical" else s * s
            if rank > best_rank:
                best, best_rank = col, rank
        if best is None or best_rank < min_score:
            out.append("no clear attribute")
            continue
        label = _display(str(best))
        if kinds[best] == "numeric":
            out.append(f"{label} {'↑' if scores[best][d] >= 0 else '↓'}")
            continue
        mask, vals = _column_values(metadata, best)
        frame = pd.DataFrame({"v": vals, "z": c[mask, d]})
        stats = frame.groupby("v")["z"].agg(["mean", "size"])
        big = stats[stats["size"] >= max(3, 0.01 * len(frame))]
        if len(big) >= 2:
            stats = big
        low, high = stats["mean"].idxmin(), stats["mean"].idxmax()
        out.append(f"{label}: {_label(low)} vs {_label(high)}")
    return out
