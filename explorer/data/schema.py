"""What kind of column is this? The one place that decides it for every feature.

Each metadata column has exactly one kind (``kind_of``):

identifier
    its name says it names items: ``sku``, ``name``, ``file``, ``url``, ``*_id``, ... (ID_NAMES)
empty / constant
    no value, or fewer than two distinct values
categorical
    booleans; text with 2..MAX_CATEGORIES distinct values that is not near-unique; whole
    numbers with at most MAX_INT_CATEGORIES distinct values (codes, years, sizes)
numeric
    any other numbers (price; a continuous ``factor_*``)
free text
    text with more than MAX_CATEGORIES values, or near-unique (NEAR_UNIQUE of the items have
    their own value, once there are NEAR_UNIQUE_MIN_ITEMS items): descriptions, product names

Ground-truth factors of the procedural catalogue are the columns named FACTOR_PREFIX + name;
they have a kind like any column, but the map's filters, the imputation list and product cards
leave them out (a plain column usually says the same in words).

What each feature uses:

=====================  =====================================================================
map filters            filter_columns: categorical (a value list) and numeric (a range), no
                       identifiers, no factors
k-NN labels            label_columns: categorical, factors included
imputation             imputable_columns: the map's filter columns (categorical vote or
                       numeric mean, as impute_kind says)
associations, probes   categorical_columns / kinds: categorical and numeric
map colouring          colour_columns: categorical or numeric, factors included; the map gives
                       its own colour to the PALETTE_CATEGORIES commonest values (a display
                       limit only: the rest share "(other)")
product cards          card_detail_columns: all but the header's columns and factors
=====================  =====================================================================

So a column is a map filter exactly when it is (outside factors) a k-NN label or numeric, and
exactly when it can be imputed.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

FACTOR_PREFIX = "factor_"        # ground-truth factor columns of the procedural catalogue
ID_NAMES = frozenset({"sku", "id", "name", "file", "filename", "path", "image", "image_path",
                      "url", "link", "product_id", "item_id", "index"})
CARD_HEADER_COLUMNS = ("sku", "name", "brand", "price", "file")  # a card's title and caption

MAX_CATEGORIES = 200       # text with more distinct values is free text, not a category
MAX_INT_CATEGORIES = 20    # whole numbers with at most this many distinct values are categories
NEAR_UNIQUE = 0.9          # text with this share of distinct values per item names items ...
NEAR_UNIQUE_MIN_ITEMS = 20  # ... once a column has this many values
MISSING = "(missing)"       # how a missing value reads wherever values are counted or shown
PALETTE_CATEGORIES = 20    # display: values the map colours on their own, the rest "(other)"

IDENTIFIER, EMPTY, CONSTANT = "identifier", "empty", "constant"
CATEGORICAL, NUMERIC, FREE_TEXT = "categorical", "numeric", "free text"


# ---------------------------------------------------------------------------- names
def is_factor(column) -> bool:
    return str(column).startswith(FACTOR_PREFIX)


def display_name(column) -> str:
    """A factor column without its prefix (factor_silhouette -> silhouette); others as they are."""
    c = str(column)
    return c[len(FACTOR_PREFIX):] if is_factor(c) else c


def is_identifier(column) -> bool:
    low = str(column).lower()
    return low in ID_NAMES or low.endswith("_id")


def shadowed_factor(column, columns: Iterable) -> bool:
    """factor_X when a plain X column is also there (same information, readable values)."""
    return is_factor(column) and display_name(column) in set(map(str, columns))


def factor_columns(metadata) -> list[str]:
    """Every factor column of a table (or of a list of column names), in order."""
    cols = metadata.columns if isinstance(metadata, pd.DataFrame) else metadata
    return [str(c) for c in cols if is_factor(c)]


def ground_truth_factors(metadata: pd.DataFrame) -> list[str]:
    """Numeric factor columns without missing values that vary: the factors of variation the
    disentanglement metrics score (a factor held at one value carries nothing to
    disentangle and would only add zeros to every average)."""
    return [c for c in metadata.columns if is_factor(c)
            and pd.api.types.is_numeric_dtype(metadata[c]) and metadata[c].notna().all()
            and metadata[c].nunique() > 1]


def card_detail_columns(columns: Iterable) -> list:
    """The columns a product card lists under "details": not in its header, not factors."""
    return [c for c in columns if str(c) not in CARD_HEADER_COLUMNS and not is_factor(c)]


# ---------------------------------------------------------------------------- kinds
def classify(values: pd.Series, column=None) -> tuple[str, str]:
    """(kind, why) for a column's values; column (its name) decides "identifier" first.
    why is "" for categorical columns and a short reason otherwise."""
    if column is not None and is_identifier(column):
        return IDENTIFIER, "an identifier"
    s = values.dropna()
    n, k = len(s), int(s.nunique())
    if n == 0:
        return EMPTY, "empty"
    if k < 2:
        return CONSTANT, "constant (one value)"
    if pd.api.types.is_bool_dtype(s):
        return CATEGORICAL, ""
    if pd.api.types.is_numeric_dtype(s):
        v = s.to_numpy(dtype=np.float64)
        whole = bool(np.all(np.mod(v, 1) == 0))
        if whole and k <= MAX_INT_CATEGORIES:
            return CATEGORICAL, ""
        if column is not None and is_factor(column):
            return NUMERIC, "a continuous factor (see MIG, SAP, DCI)"
        return NUMERIC, "numeric (a quantity, not a category)"
    if n >= NEAR_UNIQUE_MIN_ITEMS and k >= NEAR_UNIQUE * n:
        return FREE_TEXT, f"unique per item ({k:,} values for {n:,} items)"
    if k > MAX_CATEGORIES:
        return FREE_TEXT, f"free text ({k:,} values, over the {MAX_CATEGORIES}-category cap)"
    return CATEGORICAL, ""


def kind_of(values: pd.Series, column=None) -> str:
    return classify(values, column)[0]


def kinds(metadata: pd.DataFrame, columns: Iterable | None = None) -> dict:
    """{column: "categorical" | "numeric"} for the columns worth analysing. Named columns are
    taken whatever their name (no identifier rule); a name that is not a column: KeyError."""
    named = columns is not None
    cols = list(metadata.columns) if columns is None else list(columns)
    out = {}
    for col in cols:
        if col not in metadata.columns:
            raise KeyError(f"no column {col!r} in the metadata")
        kind = kind_of(metadata[col], None if named else col)
        if kind in (CATEGORICAL, NUMERIC):
            out[col] = kind
    return out


def categorical_columns(metadata: pd.DataFrame, shadowed: bool = False) -> list:
    """Categorical columns; factor_X left out when a plain X exists unless shadowed=True."""
    cols = [c for c, k in kinds(metadata).items() if k == CATEGORICAL]
    return cols if shadowed else [c for c in cols if not shadowed_factor(c, metadata.columns)]


def filter_columns(metadata: pd.DataFrame) -> tuple[list, list]:
    """(categorical, numeric) columns the map can filter on: no identifiers, no factors."""
    cats, nums = [], []
    for c, k in kinds(metadata).items():
        if not is_factor(c):
            (cats if k == CATEGORICAL else nums).append(c)
    return cats, nums


def label_columns(metadata: pd.DataFrame) -> list:
    """The columns a k-NN vote scores by default: every categorical one, factors included."""
    return [c for c, k in kinds(metadata).items() if k == CATEGORICAL]


def imputable_columns(metadata: pd.DataFrame) -> list:
    """The columns whose missing values can be filled in: the map's filter columns."""
    cats, nums = filter_columns(metadata)
    return [c for c in metadata.columns if c in set(cats) | set(nums)]


def colour_columns(metadata: pd.DataFrame) -> list:
    """The columns the map can colour by: categorical or numeric, factors included."""
    return list(kinds(metadata))


def impute_kind(values: pd.Series) -> str:
    """"numeric" or "categorical": how a column's missing values are predicted (a weighted
    mean or a weighted vote). Only numbers that are not categorical are numeric."""
    return NUMERIC if kind_of(values) == NUMERIC else CATEGORICAL
