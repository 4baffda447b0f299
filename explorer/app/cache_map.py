"""Streamlit caches of the catalogue map's derived data: projections (2-D and 3-D), k-means /
HDBSCAN clusters and their names, the suggested k, and the map page's per-bundle tables (filter
columns, search text, thumbnail-shard texts, packed points). Projections and clusters key on
the bundle's path + bundle.json's mtime (explorer.app.cache.ident); the page tables on the
path + Bundle.key."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import streamlit as st

from explorer.app import cache, mapcomponent
from explorer.data.imagestore import PER_SHARD, shard_name
from explorer.render import mapview

if TYPE_CHECKING:
    from explorer.bundle.core import Bundle

@st.cache_data(max_entries=16, show_spinner=False)
def _projection(path: str, stamp: float, key: str, method: str, params: tuple,
                seed: int) -> np.ndarray:
    from explorer.latent.projection import project
    b = cache.load(path, stamp)
    return project(method, b.mu, seed=seed, **dict(params))


def projection(bundle: Bundle, method: str, params: dict | None = None,
               seed: int = 0) -> np.ndarray:
    """The [N, 2] map: the bundle's cached projection when params is empty and the bundle
    has one, else computed with these parameters (cached by bundle key + parameters)."""
    if not params and method in bundle.projections:
        return bundle.projections[method]
    return _projection(*cache.ident(bundle), bundle.key, method,
                       tuple(sorted((params or {}).items())), int(seed))


def backdrop(bundle: Bundle, method: str, width: int = 720, height: int = 400):
    """The catalogue's dots on the stored `method` map as a picture's backdrop
    (explorer.render.path_map), drawn once per bundle and size and kept in Bundle.extras."""
    from explorer.render.path_map import backdrop as draw
    key = ("map_backdrop", method, width, height)
    got = bundle.extras.get(key)
    if got is None:
        got = bundle.extras[key] = draw(bundle.projections[method], width, height)
    return got


@st.cache_data(max_entries=4, show_spinner=False)
def _pca_3d(path: str, stamp: float, key: str) -> np.ndarray:
    from explorer.latent.projection import pca_3d
    return pca_3d(cache.load(path, stamp).mu)


def projection_3d(bundle: Bundle, method: str) -> tuple[np.ndarray, str]:
    """(xyz [N, 3], the method shown) for the map's 3-D view: the bundle's stored 3-D map of
    `method` (`python -m explorer project --dims 3`); for UMAP / t-SNE without one, its stored
    3-D UMAP (so the view defaults to it); else 3-D PCA of the latent means (computed once per
    bundle, well under a second for 30,000 items)."""
    if method in bundle.projections_3d:
        return bundle.projections_3d[method], method
    if method != "pca" and "umap" in bundle.projections_3d:
        return bundle.projections_3d["umap"], "umap"
    if "pca" in bundle.projections_3d:
        return bundle.projections_3d["pca"], "pca"
    return _pca_3d(*cache.ident(bundle), bundle.key), "pca"


@st.cache_data(max_entries=32, show_spinner=False)
def _kmeans(path: str, stamp: float, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from explorer.latent.clusters import kmeans
    return kmeans(cache.load(path, stamp).mu, k, seed=seed)


def kmeans_clusters(bundle: Bundle, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """k-means on the latent means -> (labels [N], centres [k, D]), largest cluster 0."""
    return _kmeans(*cache.ident(bundle), int(k), int(seed))


@st.cache_data(max_entries=8, show_spinner=False)
def _suggested_k(path: str, stamp: float, seed: int) -> tuple[int, dict[int, float]]:
    from explorer.latent.clusters import BIC_INITS, BIC_SAMPLE, best_k, bic_scores
    from explorer.latent.hygiene import stored_arrays
    b = cache.load(path, stamp)

    def compute():
        bic = bic_scores(b.mu, range(2, 16), seed=seed)
        return {"k": np.array(list(bic), np.int64), "bic": np.array(list(bic.values()))}
    got = stored_arrays(cache.data_file(b, f"bic-{seed}"), compute,
                        {"ks": [2, 15], "sample": BIC_SAMPLE, "n": len(b), "inits": BIC_INITS})
    bic = {int(k): float(v) for k, v in zip(got["k"], got["bic"])}
    return best_k(bic), bic


def suggested_k(bundle: Bundle, seed: int = 0) -> tuple[int, dict[int, float]]:
    """(k, {k: BIC}): the k in 2..15 with the lowest Gaussian-mixture BIC on a 4,000-item
    sample of the latent means (lower is better; see explorer.latent.clusters for why not the
    silhouette). 5-30 s once per bundle (by machine load), then kept in the data folder."""
    return _suggested_k(*cache.ident(bundle), int(seed))


@st.cache_data(max_entries=32, show_spinner=False)
def _cluster_names(path: str, stamp: float, labels: np.ndarray) -> dict[int, str]:
    from explorer.latent.cluster_summary import cluster_names
    return cluster_names(cache.load(path, stamp).metadata, labels)


def cluster_names(bundle: Bundle, labels: np.ndarray) -> dict[int, str]:
    """{cluster label: name from its most distinctive metadata values}, e.g. "boot · Alpen",
    for labels [N] (k-means or HDBSCAN, -1 = "noise"); cached per bundle and labelling.
    Names are catalogue text: pass them through widgets.esc before Markdown."""
    return _cluster_names(*cache.ident(bundle), np.asarray(labels, np.int64))


@st.cache_data(max_entries=16, show_spinner=False)
def _hdbscan(path: str, stamp: float, min_cluster_size: int, seed: int) -> np.ndarray:
    from explorer.latent.clusters import hdbscan
    return hdbscan(cache.load(path, stamp).mu, min_cluster_size=min_cluster_size, seed=seed)


def hdbscan_clusters(bundle: Bundle, min_cluster_size: int, seed: int = 0) -> np.ndarray:
    """HDBSCAN labels [N] on the latent means (-1 = noise), largest cluster 0."""
    return _hdbscan(*cache.ident(bundle), int(min_cluster_size), int(seed))


# ---------------------------------------------------------------------------- the map page's tables
@st.cache_resource(max_entries=4, show_spinner=False)
def _columns(path: str, key: str) -> dict:
    """Colour options, each categorical filter column's values and each numeric one's range."""
    meta = cache.get_bundle(path, model=False).metadata
    cats, nums = mapview.filterable_columns(meta)
    values = {}
    for c in cats:
        opts = sorted(meta[c].dropna().astype(str).unique().tolist())
        values[c] = opts + ([mapview.MISSING] if meta[c].isna().any() else [])
    ranges = {}
    for c in nums:
        try:
            ranges[c] = mapview.numeric_range(meta[c])
        except (AttributeError, ValueError):
            v = pd.to_numeric(meta[c], errors="coerce")
            ranges[c] = (float(v.min()), float(v.max()), None)
    return {"colour": mapview.colour_options(meta), "values": values, "ranges": ranges}


@st.cache_resource(max_entries=4, show_spinner=False)
def _search_text(path: str, key: str) -> pd.Series:
    """name · sku · brand per product, lower case, for the search box; read-only."""
    meta = cache.get_bundle(path, model=False).metadata
    cols = [c for c in ("name", "sku", "brand", "file") if c in meta.columns]
    text = meta[cols[0]].astype(str)
    for c in cols[1:]:
        text = text + " \x1f " + meta[c].astype(str)
    return text.str.lower()


@st.cache_data(max_entries=64, show_spinner=False)
def _shard_texts(path: str, key: str, shard: int) -> bytes:
    meta = cache.get_bundle(path, model=False).metadata
    return mapcomponent.shard_texts(meta, shard, PER_SHARD)


@st.cache_resource(max_entries=8, show_spinner=False)
def _packed(path: str, key: str, pkey: tuple, _xy, _drawn, _codes) -> mapcomponent.PackedPoints:
    return mapcomponent.pack_points(_xy, _drawn, _codes)


def map_columns(bundle: Bundle) -> dict:
    """{"colour": colour options, "values": {column: filter values}, "ranges": {column:
    (lo, hi, step)}} for the map's sidebar and filters; shared, read-only."""
    return _columns(str(bundle.path), bundle.key)


def search_text(bundle: Bundle) -> pd.Series:
    """name · sku · brand (· file) per product, lower case, for the map's search box."""
    return _search_text(str(bundle.path), bundle.key)


def shard_texts(bundle: Bundle, shard: int) -> bytes:
    """The JSON of one thumbnail shard's hover texts (explorer.app.mapcomponent.shard_texts)."""
    return _shard_texts(str(bundle.path), bundle.key, int(shard))


def packed_points(bundle: Bundle, pkey: tuple, xy, drawn, codes) -> mapcomponent.PackedPoints:
    """mapcomponent.pack_points for these points, cached per bundle and pkey (the caller's
    hashable summary of xy, drawn and codes)."""
    return _packed(str(bundle.path), bundle.key, pkey, xy, drawn, codes)


def shard_urls(bundle: Bundle, need) -> dict[int, dict[str, str]]:
    """{shard id: {"img": url, "meta": url}} of the wanted thumbnail shards that exist: what the
    map components fetch a hover's picture and texts from (the 2-D and the 3-D map)."""
    out = {}
    for k in need:
        path = bundle.images.folder / shard_name(int(k))
        if path.is_file():
            out[int(k)] = {"img": mapcomponent.media_url(str(path), "image/webp", f"s{k}"),
                           "meta": mapcomponent.media_url(shard_texts(bundle, int(k)),
                                                          "application/json", f"m{k}")}
    return out
