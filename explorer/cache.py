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
def _index(path: str, stamp: float, weights_key: tuple | None, ignore_key: tuple | None = None):
    from explorer.search import LatentIndex
    b = _load_bundle(path, stamp)
    weights = None if weights_key is None else np.asarray(weights_key, np.float32)
    ignore = None if ignore_key is None else np.asarray(ignore_key, np.float32)
    return LatentIndex(b.mu, weights=weights, ignore_directions=ignore)


def get_index(bundle: Bundle, weights: np.ndarray | None = None,
              ignore_directions: np.ndarray | None = None):
    """The nearest-neighbour index over the bundle's latent means, optionally with some
    dimensions weighted (0 = ignored) and some latent directions (attribute directions from
    the lab, [M, D]) projected out of the distance."""
    key = None if weights is None else tuple(float(w) for w in weights)
    ignore = (None if ignore_directions is None or np.size(ignore_directions) == 0 else
              tuple(tuple(float(v) for v in row) for row in np.atleast_2d(ignore_directions)))
    return _index(str(bundle.path.resolve()), _stamp(bundle.path.resolve()), key, ignore)


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


# ---------------------------------------------------------------------------- catalogue map
@st.cache_data(max_entries=16, show_spinner=False)
def _projection(path: str, stamp: float, key: str, method: str, params: tuple,
                seed: int) -> np.ndarray:
    from explorer.projection import project
    b = _load_bundle(path, stamp)
    return project(method, b.mu, seed=seed, **dict(params))


def projection(bundle: Bundle, method: str, params: dict | None = None,
               seed: int = 0) -> np.ndarray:
    """The [N, 2] map: the bundle's cached projection when params is empty and the bundle
    has one, else computed with these parameters (cached by bundle key + parameters)."""
    if not params and method in bundle.projections:
        return bundle.projections[method]
    p = bundle.path.resolve()
    return _projection(str(p), _stamp(p), bundle.key, method,
                       tuple(sorted((params or {}).items())), int(seed))


@st.cache_data(max_entries=32, show_spinner=False)
def _kmeans(path: str, stamp: float, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from explorer.clusters import kmeans
    return kmeans(_load_bundle(path, stamp).mu, k, seed=seed)


def kmeans_clusters(bundle: Bundle, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """k-means on the latent means -> (labels [N], centres [k, D]), largest cluster 0."""
    p = bundle.path.resolve()
    return _kmeans(str(p), _stamp(p), int(k), int(seed))


@st.cache_data(max_entries=8, show_spinner=False)
def _suggested_k(path: str, stamp: float, seed: int) -> tuple[int, dict[int, float]]:
    from explorer.clusters import suggest_k
    return suggest_k(_load_bundle(path, stamp).mu, seed=seed)


def suggested_k(bundle: Bundle, seed: int = 0) -> tuple[int, dict[int, float]]:
    """(k, {k: BIC}): the k in 2..15 with the lowest Gaussian-mixture BIC on a 4,000-item
    sample of the latent means (lower is better; see explorer.clusters for why not the
    silhouette). About 10 s once per bundle."""
    p = bundle.path.resolve()
    return _suggested_k(str(p), _stamp(p), int(seed))


@st.cache_data(max_entries=32, show_spinner=False)
def _cluster_names(path: str, stamp: float, labels: np.ndarray) -> dict[int, str]:
    from explorer.clusters import cluster_names
    return cluster_names(_load_bundle(path, stamp).metadata, labels)


def cluster_names(bundle: Bundle, labels: np.ndarray) -> dict[int, str]:
    """{cluster label: name from its most distinctive metadata values}, e.g. "boot · Alpen",
    for labels [N] (k-means or HDBSCAN, -1 = "noise"); cached per bundle and labelling.
    Names are catalogue text: pass them through widgets.esc before Markdown."""
    p = bundle.path.resolve()
    return _cluster_names(str(p), _stamp(p), np.asarray(labels, np.int64))


@st.cache_data(max_entries=16, show_spinner=False)
def _hdbscan(path: str, stamp: float, min_cluster_size: int, seed: int) -> np.ndarray:
    from explorer.clusters import hdbscan
    return hdbscan(_load_bundle(path, stamp).mu, min_cluster_size=min_cluster_size, seed=seed)


def hdbscan_clusters(bundle: Bundle, min_cluster_size: int, seed: int = 0) -> np.ndarray:
    """HDBSCAN labels [N] on the latent means (-1 = noise), largest cluster 0."""
    p = bundle.path.resolve()
    return _hdbscan(str(p), _stamp(p), int(min_cluster_size), int(seed))


@st.cache_resource(max_entries=16, show_spinner=False)
def _annotation_store(db_path: str, fingerprint: str, _bundle: Bundle):
    from explorer.annotations import AnnotationStore
    return AnnotationStore.for_bundle(_bundle, path=db_path)


def annotation_store(bundle: Bundle):
    """The shared AnnotationStore of the bundle's catalogue (one object per database file
    and catalogue; the path follows $KICKSPACE_ANNOTATIONS_DB / $KICKSPACE_DATA_DIR at each
    call). Raises AnnotationStoreError if the database cannot be opened."""
    from explorer.annotations import default_db_path
    db = default_db_path(bundle.path, bundle.fingerprint).expanduser().absolute()
    return _annotation_store(str(db), bundle.fingerprint, bundle)


__all__ = ["BundleError", "CHECKPOINTS", "DEFAULT_BUNDLE", "available_bundles", "get_bundle",
           "get_index", "dimension_order", "kl_per_dim", "encode_upload", "projection",
           "kmeans_clusters", "suggested_k", "cluster_names", "hdbscan_clusters",
           "annotation_store"]
