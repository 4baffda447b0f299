"""Attribute directions: a line through the latent space along which an attribute changes.

A direction is fitted from items that have an attribute ("boot", "sole colour: white", or a tag
from the annotation store) and items that do not:

- ``"logreg"``: the normal of a (class-balanced) logistic-regression boundary between the two
  groups of codes;
- ``"mean-diff"``: the difference between the two groups' mean codes.

Either way the direction is a unit vector [D] pointing from the negative group to the positive
one. Its `scale` is the standard deviation of the catalogue's codes projected on it, so moving an
item by ``amount * scale * vector`` with amount in -3..3 spans the catalogue's natural spread.

What else changes along a direction (leakage probes) is measured in explorer.latent.leakage.

Directions are saved per model weights in the annotations database beside the tags
(explorer.store.latent; as JSON rows, never pickled, never inside the weights). The
<bundle>/directions.json and <KICKSPACE_DATA_DIR or ./data>/directions-<weights sha>.json files
of older versions are copied in on first use (`_fallback` names the second).
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


METHODS = ("logreg", "mean-diff")
MIN_PER_CLASS = 3            # items needed on each side to fit a direction
MAX_NAME_LEN = 80
MAX_DIRECTIONS = 64          # saved per bundle; more in a file are ignored
MAX_FILE_BYTES = 4 << 20     # a directions file larger than this is ignored


# ---------------------------------------------------------------------------- the direction
@dataclass
class Direction:
    """A unit vector [D] in latent space along which an attribute grows.

    accuracy: of the positive-vs-negative classifier on a held-out split (balanced_accuracy
    too, since an attribute is often rare); scale: std of the catalogue's projection on the
    vector; gap: (mean projection of the positives - of the negatives) / scale, how many
    slider units separate the two groups."""

    vector: np.ndarray
    name: str
    method: str
    accuracy: float
    scale: float
    positive: str
    negative: str
    column: str | None = None
    balanced_accuracy: float = float("nan")
    gap: float = float("nan")
    n_positive: int = 0
    n_negative: int = 0
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return slugify(self.name)

    @property
    def step(self) -> np.ndarray:
        """The latent offset of one slider unit: vector * scale [D]."""
        return (np.asarray(self.vector, np.float64) * self.scale).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "slug": self.slug, "method": self.method,
                "column": self.column, "positive": self.positive, "negative": self.negative,
                "accuracy": _finite_or_none(self.accuracy),
                "balanced_accuracy": _finite_or_none(self.balanced_accuracy),
                "scale": float(self.scale), "gap": _finite_or_none(self.gap),
                "n_positive": int(self.n_positive), "n_negative": int(self.n_negative),
                "vector": [float(v) for v in np.asarray(self.vector, np.float64)]}

    @classmethod
    def from_dict(cls, data: Any, latent_dim: int | None = None) -> "Direction":
        """Validate and rebuild; ValueError for anything malformed."""
        if not isinstance(data, dict):
            raise ValueError("a direction must be a JSON object")
        name = data.get("name")
        if not isinstance(name, str) or not name.strip() or not slugify(name):
            raise ValueError("a direction needs a non-empty name")
        vec = data.get("vector")
        if not isinstance(vec, list) or not vec or len(vec) > 4096 or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in vec):
            raise ValueError("vector must be a list of numbers")
        v = np.asarray(vec, np.float64)
        norm = float(np.linalg.norm(v))
        if not np.all(np.isfinite(v)) or norm < 1e-12:
            raise ValueError("vector must be finite and non-zero")
        if latent_dim is not None and len(v) != latent_dim:
            raise ValueError(f"vector has {len(v)} values, the bundle has {latent_dim} latents")
        scale = data.get("scale")
        if (not isinstance(scale, (int, float)) or isinstance(scale, bool)
                or not math.isfinite(scale) or not 0 < scale < 1e6):
            raise ValueError("scale must be a positive number")
        method = data.get("method")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}")
        column = data.get("column")
        return cls(vector=(v / norm).astype(np.float32), name=_clean_text(name),
                   method=method, accuracy=_num(data.get("accuracy")), scale=float(scale),
                   positive=_clean_text(data.get("positive", "")),
                   negative=_clean_text(data.get("negative", "")),
                   column=_clean_text(column) if isinstance(column, str) else None,
                   balanced_accuracy=_num(data.get("balanced_accuracy")),
                   gap=_num(data.get("gap")), n_positive=_int(data.get("n_positive")),
                   n_negative=_int(data.get("n_negative")))


def _finite_or_none(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(float(x)) else None


def _num(x: Any) -> float:
    if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x):
        return float(x)
    return float("nan")


def _int(x: Any) -> int:
    return int(x) if isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 10**12 else 0


def _clean_text(x: Any) -> str:
    text = "".join(ch for ch in str(x) if ch.isprintable())
    return text.strip()[:MAX_NAME_LEN]


def slugify(name: str) -> str:
    """A URL- and widget-key-safe id: "Sole colour: white" -> "sole_colour_white"."""
    s = re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")
    return s[:40].strip("_")


def class_label(value: Any) -> str:
    """A class value as the text directions and probes use: 3.0 -> "3", True -> "True"."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def binary_target(labels: Any, positive_class: Any) -> tuple[np.ndarray, np.ndarray, str, str]:
    """(y [N] bool, known [N] bool, positive name, negative name) from labels [N].

    Items with a missing label are not known (left out of the fit). Labels are compared as
    text, so positive_class "1" matches the integer 1."""
    s = pd.Series(labels).reset_index(drop=True)
    known = s.notna().to_numpy()
    text = np.array([class_label(v) for v in s], dtype=object)
    pos = class_label(positive_class)
    y = (text == pos) & known
    if not y.any():
        raise ValueError(f"no item has the class {pos!r}")
    others = sorted(set(text[known & ~y]))
    if not others:
        raise ValueError(f"every labelled item has the class {pos!r}: nothing to contrast")
    negative = others[0] if len(others) == 1 else f"not {pos}"
    return y, known, pos, negative


def _split(y: np.ndarray, test_fraction: float, rng: np.random.Generator
           ) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split of indices 0..N-1; at least one item of each class on each side."""
    train, test = [], []
    for cls in (False, True):
        idx = rng.permutation(np.flatnonzero(y == cls))
        k = min(max(1, int(round(test_fraction * len(idx)))), len(idx) - 1)
        test.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _unit_direction(x: np.ndarray, y: np.ndarray, method: str, seed: int
                    ) -> tuple[np.ndarray, Any]:
    """(unit vector [D], the fitted classifier or None) for codes x [n, D], y [n] bool."""
    if method == "mean-diff":
        v = x[y].mean(0) - x[~y].mean(0)
        clf = None
    elif method == "logreg":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        # fitted on standardised codes so that the regularisation does not depend on each
        # dimension's spread; the boundary's normal in code space is then coef / std
        clf = make_pipeline(StandardScaler(), LogisticRegression(
            C=1.0, class_weight="balanced", max_iter=2000, random_state=seed)).fit(x, y)
        scaler, lr = clf[0], clf[-1]
        v = lr.coef_[0].astype(np.float64) / np.asarray(scaler.scale_, np.float64)
    else:
        raise ValueError(f"unknown method {method!r}: one of {', '.join(METHODS)}")
    norm = float(np.linalg.norm(v))
    if not math.isfinite(norm) or norm == 0.0:
        raise ValueError("the two groups have the same mean code: no direction separates them")
    return v / norm, clf


def _threshold(p: np.ndarray, y: np.ndarray) -> float:
    """Midpoint between the two groups' mean projections (a balanced decision rule)."""
    return 0.5 * (float(p[y].mean()) + float(p[~y].mean()))


def fit_direction(codes: np.ndarray, labels: Any, positive_class: Any = True,
                  method: str = "logreg", random_state: int = 0, *, name: str | None = None,
                  test_fraction: float = 0.25) -> Direction:
    """Fit the direction of `positive_class` vs every other labelled item.

    codes [N, D] (latent means), labels [N] (bool, categorical array or Series; missing
    labels are left out). The held-out accuracy is measured on a stratified test_fraction of
    the items with a classifier fitted on the rest (logreg: its own predictions; mean-diff:
    the projection thresholded halfway between the training groups' means); the returned
    vector is then refitted on every labelled item. Raises ValueError when either side has
    fewer than MIN_PER_CLASS items.
    """
    x_all = np.asarray(codes, np.float64)
    if x_all.ndim != 2:
        raise ValueError(f"codes must be [N, D], got shape {x_all.shape}")
    if len(labels) != len(x_all):
        raise ValueError(f"{len(x_all)} codes but {len(labels)} labels")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: one of {', '.join(METHODS)}")
    y_all, known, pos, neg = binary_target(labels, positive_class)
    x, y = x_all[known], y_all[known]
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if min(n_pos, n_neg) < MIN_PER_CLASS:
        raise ValueError(f"need at least {MIN_PER_CLASS} items on each side, got {n_pos} "
                         f"{pos!r} and {n_neg} {neg!r}")
    rng = np.random.default_rng([int(random_state), 1729])
    train, test = _split(y, test_fraction, rng)
    v, clf = _unit_direction(x[train], y[train], method, int(random_state))
    if clf is not None:
        pred = clf.predict(x[test]).astype(bool)
    else:
        p_train = x[train] @ v
        pred = (x[test] @ v) > _threshold(p_train, y[train])
    truth = y[test]
    accuracy = float((pred == truth).mean())
    balanced = float(0.5 * ((pred[truth]).mean() + (~pred[~truth]).mean()))

    vector, _ = _unit_direction(x, y, method, int(random_state))
    proj_all = x_all @ vector
    scale = float(proj_all.std())
    if not math.isfinite(scale) or scale <= 0.0:
        scale = 1.0
    proj = x @ vector
    gap = float((proj[y].mean() - proj[~y].mean()) / scale)
    column = getattr(labels, "name", None)
    column = str(column) if column is not None else None
    if name is None:
        name = f"{column}: {pos}" if column else pos
    return Direction(vector=vector.astype(np.float32), name=_clean_text(name) or pos,
                     method=method, accuracy=accuracy, scale=scale, positive=pos,
                     negative=neg, column=column, balanced_accuracy=balanced, gap=gap,
                     n_positive=n_pos, n_negative=n_neg)


def move(codes: np.ndarray, direction: Direction, amount: float) -> np.ndarray:
    """codes [N, D] (or [D]) moved by amount slider units along direction."""
    return (np.asarray(codes, np.float64) + float(amount) * direction.step).astype(np.float32)


def negative_mask(direction: Direction, metadata: pd.DataFrame) -> np.ndarray:
    """[N] bool: the catalogue items on the direction's negative side (a known value other than
    its positive class); every item for a direction fitted on a tag."""
    if direction.column and direction.column in metadata.columns:
        values = metadata[direction.column]
        return (values.notna() & (values.map(class_label) != direction.positive)).to_numpy()
    return np.ones(len(metadata), bool)


# ---------------------------------------------------------------------------- saving
def _fallback(bundle_key: str) -> Path:
    return (Path(os.environ.get("KICKSPACE_DATA_DIR", "data"))
            / f"directions-{slugify(bundle_key) or 'bundle'}.json")


def load_directions(bundle_path: str | os.PathLike, bundle_key: str,
                    latent_dim: int | None = None) -> list[Direction]:
    """The directions saved for this bundle's weights, in the order saved; [] when none.
    Entries that do not validate (with latent_dim: a vector of another length) are left
    out. They live in the annotations database (explorer.store.latent)."""
    from explorer.store.latent import for_bundle
    return for_bundle(bundle_path, bundle_key).directions(latent_dim)


def save_direction(bundle_path: str | os.PathLike, bundle_key: str, direction: Direction,
                   user: str = "") -> Path:
    """Add (or replace, by name) a direction in one transaction; returns the database."""
    from explorer.store.latent import for_bundle
    store = for_bundle(bundle_path, bundle_key)
    store.save_direction(direction, user=user)
    return store.store.path


def delete_direction(bundle_path: str | os.PathLike, bundle_key: str, slug: str,
                     user: str = "") -> bool:
    """Remove the direction with this slug; False when there was none."""
    from explorer.store.latent import for_bundle
    return for_bundle(bundle_path, bundle_key).delete_direction(slug, user=user)


def slider_key(direction: Direction) -> str:
    """The factor-sliders page's widget (and URL) key for this direction."""
    return f"dir_{direction.slug}"


__all__ = ["Direction", "METHODS", "binary_target", "class_label", "delete_direction",
           "fit_direction", "load_directions", "move", "negative_mask", "save_direction",
           "slider_key", "slugify"]
