"""k-nearest-neighbour accuracy of attributes from embeddings.

If similar products sit close together in latent space, an item's attribute (brand,
silhouette, class, a ground-truth factor ...) can be guessed from its neighbours' values: the
accuracy of a k-NN vote (Euclidean distance, k = 5) from a training split onto a held-out split
measures that. Compare it with the majority-class baseline (always guess the most common
training value).
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from explorer.data import schema


def _labels(values) -> np.ndarray:
    """Labels as a 1-D array; non-numeric ones as strings (mixed types compare safely)."""
    a = np.asarray(values).reshape(-1)
    if a.dtype.kind in "biuf":
        return a
    return np.array([None if _missing(v) else str(v) for v in a], dtype=object)


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v))


def _present(a: np.ndarray) -> np.ndarray:
    if a.dtype.kind == "f":
        return ~np.isnan(a)
    if a.dtype.kind == "O":
        return np.array([v is not None for v in a], bool)
    return np.ones(len(a), bool)


def neighbours(train_codes: np.ndarray, test_codes: np.ndarray, k: int = 5) -> np.ndarray:
    """Indices [M, k'] of each test item's k' = min(k, N) nearest training items, nearest
    first (Euclidean; ties by index): the app's exact `LatentIndex`, so evaluation, search
    and imputation find the same neighbours."""
    from explorer.latent.index import LatentIndex

    tr = np.asarray(train_codes, dtype=np.float64)
    te = np.asarray(test_codes, dtype=np.float64)
    if tr.ndim != 2 or te.ndim != 2 or tr.shape[1] != te.shape[1]:
        raise ValueError(f"codes must be [N, D] and [M, D], got {tr.shape} and {te.shape}")
    if len(tr) == 0:
        raise ValueError("no training items")
    k = max(1, min(int(k), len(tr)))
    if len(te) == 0:
        return np.zeros((0, k), np.int64)
    return LatentIndex(tr, method="exact").query(te, k=k)[0]


def _vote(nbr_labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Majority vote over each row of integer labels [M, k]; a tie goes to the class of the
    nearest neighbour among the tied ones."""
    m, k = nbr_labels.shape
    counts = np.zeros((m, n_classes))
    rank_bonus = (k - np.arange(k)) / (k + 1) / (k * 10.0)  # < 1 in total: only breaks ties
    np.add.at(counts, (np.repeat(np.arange(m), k), nbr_labels.reshape(-1)),
              np.tile(1.0 + rank_bonus, m))
    return counts.argmax(1)


def _accuracy_from_neighbours(nbrs: np.ndarray, y_train: np.ndarray, y_test: np.ndarray
                              ) -> float:
    classes, codes = np.unique(np.concatenate([y_train, y_test]), return_inverse=True)
    c_tr, c_te = codes[:len(y_train)], codes[len(y_train):]
    pred = _vote(c_tr[nbrs], len(classes))
    return float(np.mean(pred == c_te)) if len(c_te) else float("nan")


def knn_hits(train_codes: np.ndarray, test_codes: np.ndarray, train_labels, test_labels,
             k: int = 5) -> np.ndarray:
    """Per test item, whether the k-NN vote guessed its label: [M] floats, 1.0 / 0.0, NaN for
    an item without a label (training items without one do not vote); knn_accuracy is their
    mean. For paired comparisons of two embeddings on the same items."""
    y_tr, y_te = _labels(train_labels), _labels(test_labels)
    p_tr, p_te = _present(y_tr), _present(y_te)
    out = np.full(len(y_te), np.nan)
    if not p_tr.any() or not p_te.any():
        return out
    nbrs = neighbours(np.asarray(train_codes)[p_tr], np.asarray(test_codes)[p_te], k)
    classes, codes = np.unique(np.concatenate([y_tr[p_tr], y_te[p_te]]), return_inverse=True)
    c_tr, c_te = codes[:int(p_tr.sum())], codes[int(p_tr.sum()):]
    out[p_te] = (_vote(c_tr[nbrs], len(classes)) == c_te).astype(float)
    return out


def knn_accuracy(train_codes: np.ndarray, train_labels, test_codes: np.ndarray, test_labels,
                 k: int = 5) -> float:
    """Accuracy of a k-NN vote predicting test_labels [M] from train_codes [N, D] with
    train_labels [N] at test_codes [M, D]. Items with a missing label are left out (training
    items as voters, test items from the score). NaN when no test item has a label."""
    res = knn_accuracies(train_codes, test_codes, pd.DataFrame({"y": _labels(train_labels)}),
                         pd.DataFrame({"y": _labels(test_labels)}), k=k)
    return res["y"]["knn"]


def majority_baseline(train_labels, test_labels) -> float:
    """Accuracy of always guessing the most common training label (missing labels skipped)."""
    y_tr, y_te = _labels(train_labels), _labels(test_labels)
    y_tr, y_te = y_tr[_present(y_tr)], y_te[_present(y_te)]
    if len(y_te) == 0 or len(y_tr) == 0:
        return float("nan")
    values, counts = np.unique(y_tr, return_counts=True)
    return float(np.mean(y_te == values[counts.argmax()]))


def score_columns(metadata: pd.DataFrame, columns: Iterable[str] | None = None,
                  min_classes: int = 2, max_classes: int | None = None
                  ) -> tuple[list[str], dict[str, str]]:
    """The attribute columns a k-NN vote can score, and why each other column is not scored.

    columns: the caller's choice, scored whatever their type (numbers as classes); a name
    that is not a column raises KeyError naming the columns there are. Default: every column
    `explorer.data.schema` calls categorical (text, boolean, whole numbers with few values,
    ``factor_*`` codes), the map's filters and imputation use the same rule, with
    min_classes.. classes (max_classes: None = no cap beyond the schema's). Returns (columns
    to score, {skipped column: reason}), the reasons being the schema's: an identifier,
    unique per item, free text, constant, empty, numeric, a continuous factor; or fewer
    than min_classes / more than max_classes classes.
    """
    if columns is not None:
        cols = [str(c) for c in columns]
        missing = [c for c in cols if c not in metadata.columns]
        if missing:
            raise KeyError(f"no column {', '.join(map(repr, missing))} in the metadata; its "
                           f"columns: {', '.join(map(str, metadata.columns))}")
        return cols, {}
    out: list[str] = []
    skipped: dict[str, str] = {}
    for col in metadata.columns:
        name = str(col)
        kind, why = schema.classify(metadata[col], name)
        if kind != schema.CATEGORICAL:
            skipped[name] = why
            continue
        k = int(metadata[col].nunique())
        if k < min_classes:
            skipped[name] = f"fewer than {min_classes} values"
        elif max_classes is not None and k > max_classes:
            skipped[name] = f"{k:,} classes, over the cap of {max_classes}"
        else:
            out.append(name)
    return out, skipped


def label_columns(metadata: pd.DataFrame, min_classes: int = 2, max_classes: int | None = None,
                  skip: Iterable[str] = ()) -> list[str]:
    """The columns score_columns scores by default, less those named in skip."""
    skip_l = {s.lower() for s in skip}
    cols, _ = score_columns(metadata, min_classes=min_classes, max_classes=max_classes)
    return [c for c in cols if c.lower() not in skip_l]


def knn_accuracies(train_codes: np.ndarray, test_codes: np.ndarray,
                   train_labels: pd.DataFrame, test_labels: pd.DataFrame, k: int = 5,
                   columns: Iterable[str] | None = None) -> dict[str, dict]:
    """k-NN accuracy for many attribute columns at once (the neighbours are found once).

    train_labels / test_labels: tables with rows aligned to train_codes [N, D] / test_codes
    [M, D]. columns: default label_columns(train_labels). Returns {column: {"knn": accuracy,
    "majority": majority-class baseline, "classes": distinct training values, "n_test": test
    items with a label}}.
    """
    cols = list(columns) if columns is not None else label_columns(train_labels)
    tr_codes = np.asarray(train_codes, dtype=np.float64)
    te_codes = np.asarray(test_codes, dtype=np.float64)
    if len(train_labels) != len(tr_codes) or len(test_labels) != len(te_codes):
        raise ValueError("label tables must have one row per code")
    shared = None
    out: dict[str, dict] = {}
    for col in cols:
        y_tr = _labels(train_labels[col].to_numpy())
        y_te = _labels(test_labels[col].to_numpy())
        p_tr, p_te = _present(y_tr), _present(y_te)
        base = majority_baseline(y_tr, y_te)
        n_classes = int(len(np.unique(y_tr[p_tr]))) if p_tr.any() else 0
        if not p_tr.any() or not p_te.any():
            out[col] = {"knn": float("nan"), "majority": base, "classes": n_classes,
                        "n_test": int(p_te.sum())}
            continue
        if p_tr.all():
            if shared is None:
                shared = neighbours(tr_codes, te_codes, k)
            nbrs = shared[p_te]
            ytr = y_tr
        else:
            nbrs = neighbours(tr_codes[p_tr], te_codes[p_te], k)
            ytr = y_tr[p_tr]
        acc = _accuracy_from_neighbours(nbrs, ytr, y_te[p_te])
        out[col] = {"knn": acc, "majority": base, "classes": n_classes,
                    "n_test": int(p_te.sum())}
    return out
