"""Streamlit cache wrappers: the one module that ties explorer/ to Streamlit's caches.

Resources (model, index) are shared by every session, loaded once per bundle and never
mutated; derived arrays are cached by bundle path + bundle.json's modification time, so a
re-trained bundle at the same path is picked up.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from explorer.bundle import Bundle, BundleError, find_bundles, load_bundle

REPO = Path(__file__).resolve().parents[1]
CHECKPOINTS = Path(os.environ.get("KICKSPACE_CHECKPOINTS", REPO / "checkpoints"))
DEFAULT_BUNDLE = CHECKPOINTS / "demo"

# One decode is ~1 ms on one thread but slower with several threads in Streamlit's script
# threads; many sessions run side by side, so each inference uses one thread.
torch.set_num_threads(int(os.environ.get("KICKSPACE_TORCH_THREADS", "1")))


def _stamp(path: Path) -> float:
    try:
        return (path / "bundle.json").stat().st_mtime
    except FileNotFoundError:
        return 0.0


@st.cache_resource(show_spinner="Loading the bundle …", max_entries=4)
def _load_bundle(path: str, stamp: float) -> Bundle:
    return load_bundle(path)


def get_bundle(path: str | Path) -> Bundle:
    """The shared, read-only Bundle at path (BundleError if it is broken)."""
    p = Path(path).resolve()
    return _load_bundle(str(p), _stamp(p))


def available_bundles() -> list[Path]:
    return find_bundles(CHECKPOINTS)


@st.cache_resource(max_entries=8)
def _index(path: str, stamp: float, weights_key: tuple | None):
    from explorer.search import LatentIndex
    b = _load_bundle(path, stamp)
    weights = None if weights_key is None else np.asarray(weights_key, np.float32)
    return LatentIndex(b.mu, weights=weights)


def get_index(bundle: Bundle, weights: np.ndarray | None = None):
    """The nearest-neighbour index over the bundle's latent means (optionally weighted)."""
    key = None if weights is None else tuple(float(w) for w in weights)
    return _index(str(bundle.path.resolve()), _stamp(bundle.path.resolve()), key)


@st.cache_data(max_entries=16, show_spinner=False)
def _dim_order(path: str, stamp: float) -> list[int]:
    from explorer.metrics.information import dimension_order
    b = _load_bundle(path, stamp)
    return [int(i) for i in dimension_order(b.mu, b.logvar)]


def dimension_order(bundle: Bundle) -> list[int]:
    """Latent dimensions, most informative first (mean KL over the catalogue)."""
    p = bundle.path.resolve()
    return _dim_order(str(p), _stamp(p))


@st.cache_data(max_entries=16, show_spinner=False)
def _kl_per_dim(path: str, stamp: float) -> np.ndarray:
    from explorer.metrics.information import kl_per_dim
    b = _load_bundle(path, stamp)
    return kl_per_dim(b.mu, b.logvar)


def kl_per_dim(bundle: Bundle) -> np.ndarray:
    p = bundle.path.resolve()
    return _kl_per_dim(str(p), _stamp(p))


@st.cache_data(max_entries=64, show_spinner=False)
def _encode_upload(path: str, stamp: float, data: bytes) -> tuple[np.ndarray, np.ndarray]:
    from explorer.images import load_and_preprocess
    b = _load_bundle(path, stamp)
    img = load_and_preprocess(data, b.image_size)
    mu, _ = b.encode(img[None])
    return img, mu[0]


def encode_upload(bundle: Bundle, data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Preprocess uploaded bytes exactly as ingest does and encode them -> (image, mu [D]).

    Raises explorer.images.ImageRejected with a message for a bad file. Nothing is written."""
    p = bundle.path.resolve()
    return _encode_upload(str(p), _stamp(p), data)


__all__ = ["BundleError", "CHECKPOINTS", "DEFAULT_BUNDLE", "available_bundles", "get_bundle",
           "get_index", "dimension_order", "kl_per_dim", "encode_upload"]
