"""What else changes along an attribute direction (explorer.latent.directions).

For each other categorical attribute `leakage` fits a logistic-regression probe on the codes
and reports how much the probe's predicted class probabilities move as held-out items are moved
along the direction. A clean direction moves its own attribute a lot and the others little.
"""
from __future__ import annotations

import warnings
import zlib
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import pandas as pd

from explorer.latent.directions import Direction, class_label, move

MAX_PROBE_ITEMS = 2000       # items a leakage probe is fitted on (and judged on)
MAX_PROBE_CLASSES = 12       # rarer classes of an attribute are pooled as "(other)"
OTHER = "(other)"

@dataclass
class Probe:
    """A classifier reading one categorical attribute off the codes, and the held-out items
    it is judged on (indices into the catalogue)."""

    attribute: str
    model: Any                 # sklearn pipeline: StandardScaler -> LogisticRegression
    test_index: np.ndarray     # [T] catalogue indices, not used for fitting
    test_labels: np.ndarray    # [T] their classes (text)
    accuracy: float            # on the held-out items
    majority: float            # always guessing the most common training class


def _probe_labels(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(known [N] bool, labels as text [n_known]) with the rarest classes pooled."""
    known = values.notna().to_numpy()
    text = pd.Series([class_label(v) for v in values[known]], dtype=object)
    counts = text.value_counts()
    if len(counts) > MAX_PROBE_CLASSES:
        keep = set(counts.index[:MAX_PROBE_CLASSES - 1])
        text = text.where(text.isin(keep), OTHER)
    return known, text.to_numpy(dtype=object)


def fit_probes(codes: np.ndarray, metadata: pd.DataFrame, columns: Iterable[str],
               random_state: int = 0, test_fraction: float = 0.25,
               max_items: int = MAX_PROBE_ITEMS) -> dict[str, Probe]:
    """One logistic-regression probe per categorical column (see `leakage`), fitted on at
    most max_items items of a random training split; a column with fewer than two classes
    (or fewer than 8 labelled items) gets none. They depend only on the codes, so a page can
    fit them once per bundle and reuse them for every direction."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x_all = np.asarray(codes, np.float64)
    if len(x_all) != len(metadata):
        raise ValueError(f"{len(x_all)} codes but {len(metadata)} metadata rows")
    probes: dict[str, Probe] = {}
    for col in columns:
        # each column's split depends on the seed and its name only, not on the other columns
        rng = np.random.default_rng([int(random_state), zlib.crc32(str(col).encode())])
        if col not in metadata.columns:
            raise KeyError(f"no column {col!r} in the metadata")
        known, labels = _probe_labels(metadata[col])
        index = np.flatnonzero(known)
        if len(np.unique(labels)) < 2 or len(index) < 8:
            continue
        order = rng.permutation(len(index))
        n_test = max(2, int(round(test_fraction * len(index))))
        test, train = order[:n_test][:max_items], order[n_test:][:max_items]
        if len(np.unique(labels[train])) < 2:
            continue
        model = make_pipeline(StandardScaler(),
                              LogisticRegression(max_iter=200, tol=1e-3, C=1.0))
        with warnings.catch_warnings():  # a probe that stops early is still a fair probe
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x_all[index[train]], labels[train])
        values, counts = np.unique(labels[train], return_counts=True)
        yt = labels[test]
        probes[str(col)] = Probe(
            attribute=str(col), model=model, test_index=index[test], test_labels=yt,
            accuracy=float((model.predict(x_all[index[test]]) == yt).mean()),
            majority=float((yt == values[np.argmax(counts)]).mean()))
    return probes


def leakage(direction: Direction, codes: np.ndarray, metadata: pd.DataFrame,
            columns: Iterable[str], steps: np.ndarray = np.linspace(-3, 3, 7),
            random_state: int = 0, *, include_target: bool = False,
            probes: dict[str, Probe] | None = None) -> pd.DataFrame:
    """How much moving items along `direction` changes what a probe reads off other attributes.

    For each categorical column (the direction's own column only with include_target): a
    logistic-regression probe (standardised codes -> class, `fit_probes`; pass `probes` to
    reuse fitted ones) is applied to held-out items moved by each of `steps` slider units along
    the direction, and its class probabilities are compared with those at 0. For step s and
    class c, change_c(s) = mean over items |p_c(s) - p_c(0)|.

    Returns one row per attribute, the target first, then largest leak first: attribute,
    target (bool), classes, probe_accuracy (held out, unmoved items), majority (accuracy of
    always guessing the most common class), max_change (max over steps and classes of
    change_c(s)), mean_change (mean over the non-zero steps of max_c change_c(s)),
    most_moved (the class with the largest change at the far ends), toward (the class gaining
    most probability at the largest positive step). df.attrs["curves"] is a long table
    attribute, step, change (max_c change_c(s)) for plotting.
    """
    x_all = np.asarray(codes, np.float64)
    if len(x_all) != len(metadata):
        raise ValueError(f"{len(x_all)} codes but {len(metadata)} metadata rows")
    steps = np.asarray(steps, np.float64)
    wanted = [str(c) for c in columns
              if include_target or direction.column is None or str(c) != direction.column]
    if probes is None:
        probes = fit_probes(x_all, metadata, wanted, random_state=random_state)
    rows, curves = [], []
    for col in wanted:
        probe = probes.get(col)
        if probe is None:
            continue
        xt = x_all[probe.test_index]
        base = probe.model.predict_proba(xt)
        classes = probe.model.classes_
        per_step = np.zeros((len(steps), base.shape[1]))
        signed_end = np.zeros(base.shape[1])
        for i, s in enumerate(steps):
            if s == 0:
                continue
            p = probe.model.predict_proba(move(xt, direction, s))
            per_step[i] = np.abs(p - base).mean(0)
            if s == steps.max():
                signed_end = (p - base).mean(0)
        step_change = per_step.max(1)
        nonzero = steps != 0
        ends = np.abs(steps) == np.abs(steps).max()
        rows.append({"attribute": col,
                     "target": direction.column is not None and col == direction.column,
                     "classes": int(len(classes)), "probe_accuracy": probe.accuracy,
                     "majority": probe.majority, "max_change": float(per_step.max()),
                     "mean_change": float(step_change[nonzero].mean()) if nonzero.any()
                     else 0.0,
                     "most_moved": str(classes[int(np.argmax(per_step[ends].max(0)))]),
                     "toward": str(classes[int(np.argmax(signed_end))])})
        curves += [{"attribute": col, "step": float(s), "change": float(c)}
                   for s, c in zip(steps, step_change)]
    cols = ["attribute", "target", "classes", "probe_accuracy", "majority", "max_change",
            "mean_change", "most_moved", "toward"]
    df = pd.DataFrame(rows, columns=cols)
    if len(df):
        df = df.sort_values(["target", "max_change"], ascending=[False, False],
                            kind="stable").reset_index(drop=True)
    df.attrs["curves"] = pd.DataFrame(curves, columns=["attribute", "step", "change"])
    return df


__all__ = ["Probe", "fit_probes", "leakage"]
