"""Streamlit caches of fits on the latent means: the lab's factor/metadata associations,
evaluations, attribute directions and their leakage probes, and the imputation hold-out
measure of the find-similar page. Each keys on the bundle's path, Bundle.key and bundle.json's
modification time, so a re-trained bundle at the same path is fitted again."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from explorer.app import cache

if TYPE_CHECKING:
    from explorer.bundle.core import Bundle
    from explorer.latent.directions import Direction


def _id(bundle: Bundle) -> tuple[str, str, float]:
    path, stamp = cache.ident(bundle)
    return path, bundle.key, stamp


# ---------------------------------------------------------------------------- lab: factors
@st.cache_data(max_entries=16, show_spinner="Scoring every factor against the metadata …")
def _associations(path: str, key: str, stamp: float) -> tuple[pd.DataFrame, dict, list[str]]:
    from explorer.metrics.association import dimension_associations, suggest_names
    bb = cache.get_bundle(path)
    df = dimension_associations(bb.mu, bb.metadata)
    return df, dict(df.attrs.get("kinds", {})), suggest_names(bb.mu, bb.metadata)


def associations(bundle: Bundle) -> tuple[pd.DataFrame, dict, list[str]]:
    """(score per latent dimension x metadata column, {column: kind}, suggested name per
    dimension): explorer.metrics.association on the whole catalogue."""
    return _associations(*_id(bundle))


@st.cache_data(max_entries=32, show_spinner=False)
def _evaluation(path: str, key: str, stamp: float, seed: int, max_items: int,
                _status=None) -> dict:
    """`_status` (not hashed) is an st.status whose label follows the progress; a label update
    is not replayed from the cache, so it is safe inside a cached function."""
    from explorer.app.widgets import esc
    from explorer.evaluation.evaluate import evaluate_bundle

    def say(msg: str) -> None:
        if _status is not None:
            _status.update(label=esc(msg.replace(path, Path(path).name)))
    return evaluate_bundle(cache.get_bundle(path), seed=seed, max_items=max_items,
                           progress=say)


def evaluation(bundle: Bundle, seed: int, max_items: int, status=None) -> dict:
    """explorer.evaluation.evaluate_bundle, cached by the bundle's weights + settings; status
    (an st.status, optional) shows the progress."""
    return _evaluation(*_id(bundle), int(seed), int(max_items), _status=status)


# ---------------------------------------------------------------------------- lab: directions
@st.cache_data(max_entries=64, show_spinner="Fitting the direction …")
def _fit_column(path: str, key: str, stamp: float, column: str, positive: str, method: str
                ) -> Direction:
    from explorer.latent.directions import fit_direction
    bb = cache.get_bundle(path)
    return fit_direction(bb.mu, bb.metadata[column], positive, method=method)


def column_direction(bundle: Bundle, column: str, positive: str, method: str) -> Direction:
    """The direction from items without `positive` in `column` to items with it."""
    return _fit_column(*_id(bundle), column, str(positive), method)


@st.cache_data(max_entries=64, show_spinner="Fitting the direction …")
def _fit_tag(path: str, key: str, stamp: float, tag: str, skus: tuple[str, ...], method: str
             ) -> Direction:
    from explorer.latent.directions import fit_direction
    bb = cache.get_bundle(path)
    wanted = set(skus)
    labels = pd.Series([s in wanted for s in bb.metadata["sku"].astype(str)])
    d = fit_direction(bb.mu, labels, True, method=method, name=f"tag: {tag}")
    return dataclasses.replace(d, positive=f"tagged {tag}", negative="untagged")


def tag_direction(bundle: Bundle, tag: str, skus, method: str) -> Direction:
    """The direction from untagged products to the products with this tag (their skus)."""
    return _fit_tag(*_id(bundle), tag, tuple(skus), method)


@st.cache_resource(max_entries=8, show_spinner="Fitting one probe per attribute …")
def _probes(path: str, key: str, stamp: float, columns: tuple[str, ...]):
    from explorer.latent.leakage import fit_probes
    bb = cache.get_bundle(path)
    return fit_probes(bb.mu, bb.metadata, list(columns))


@st.cache_data(max_entries=64, show_spinner=False)
def _leakage(path: str, key: str, stamp: float, direction_json: str,
             columns: tuple[str, ...]) -> pd.DataFrame:
    from explorer.latent.directions import Direction
    from explorer.latent.leakage import leakage
    bb = cache.get_bundle(path)
    d = Direction.from_dict(json.loads(direction_json))
    return leakage(d, bb.mu, bb.metadata, list(columns), include_target=True,
                   probes=_probes(path, key, stamp, tuple(sorted(columns))))


def leakage(bundle: Bundle, direction: Direction, columns) -> pd.DataFrame:
    """explorer.latent.leakage.leakage of the direction on these categorical columns (one
    probe per column, fitted once per bundle and column set)."""
    return _leakage(*_id(bundle), json.dumps(direction.to_dict()), tuple(columns))


# ---------------------------------------------------------------------------- imputation
@st.cache_data(max_entries=16, show_spinner="Measuring on hidden values …")
def _holdout(path: str, key: str, stamp: float, column: str, conf: float) -> dict:
    from explorer.latent.impute import holdout_accuracy
    bb = cache.get_bundle(path)
    return holdout_accuracy(bb.mu, bb.metadata[column], frac=0.2, k=10,
                            random_state=0, min_confidence=conf)


def holdout_accuracy(bundle: Bundle, column: str, min_confidence: float) -> dict:
    """explorer.latent.impute.holdout_accuracy on 20% hidden values of column (k=10)."""
    return _holdout(*_id(bundle), column, float(min_confidence))
