"""Streamlit cache wrappers: the one module that ties explorer/ to Streamlit's caches.

Resources (model, index) are shared by every session, loaded once per bundle and never
mutated; derived arrays are cached by bundle path + bundle.json's modification time, so a
re-trained bundle at the same path is picked up.

Importing this module is cheap (no torch, no pandas): a fresh server paints its first page
while ``preload`` loads the default bundle on a background thread; the first ``get_bundle``
waits for that load instead of starting another. Once a bundle (and torch) is in memory the
heap is frozen (``gc.freeze``): Streamlit runs a full garbage collection after every rerun,
and a frozen object is never traversed again (``settle_heap`` freezes again after a page
imports more modules).
"""
from __future__ import annotations

import gc
import os
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from explorer.bundle import meta as bundle_meta

if TYPE_CHECKING:
    from explorer.bundle.core import Bundle

REPO = Path(__file__).resolve().parents[2]
CHECKPOINTS = Path(os.environ.get("KICKSPACE_CHECKPOINTS", REPO / "checkpoints"))
DEFAULT_BUNDLE = CHECKPOINTS / "demo"


def __getattr__(name: str):
    if name == "BundleError":   # loaded with explorer.bundle.core (torch) only when it is needed
        from explorer.bundle.core import BundleError
        return BundleError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _stamp(path: Path) -> float:
    try:
        return (path / "bundle.json").stat().st_mtime
    except FileNotFoundError:
        return 0.0


# ---------------------------------------------------------------------------- loading
_LOCK = threading.Lock()
_LOADS: dict[tuple[str, float], Future] = {}   # loads started by preload, not yet taken
_PRELOADED: set[tuple[str, float]] = set()
_LOADED: set[tuple[str, float]] = set()        # bundles read into memory by this process
_POOL: ThreadPoolExecutor | None = None
_FROZEN_MODULES = 0


def _read_bundle(path: str) -> Bundle:
    import torch

    from explorer.bundle.core import load_bundle
    # One decode is ~1 ms on one thread but slower with several threads in Streamlit's
    # script threads; many sessions run side by side, so each inference uses one thread.
    torch.set_num_threads(int(os.environ.get("KICKSPACE_TORCH_THREADS", "1")))
    b = load_bundle(path)
    freeze_heap()
    with _LOCK:
        _LOADED.add((path, _stamp(Path(path))))
    return b


def freeze_heap() -> None:
    """Collect once, then move every object alive now (modules, the bundles) into the
    permanent generation, so the full collection Streamlit runs after each rerun skips them.
    Process-wide and safe with several sessions: frozen objects are still freed by reference
    counting; only a cycle that was alive at the freeze and dies later is never collected (a
    bounded one-off). KICKSPACE_GC_FREEZE=0 turns it off (to measure the difference)."""
    global _FROZEN_MODULES
    if os.environ.get("KICKSPACE_GC_FREEZE", "1") == "0":
        return
    with _LOCK:
        _FROZEN_MODULES = len(sys.modules)
    gc.collect()
    gc.freeze()


def settle_heap() -> None:
    """Freeze again when a page imported more modules since the last freeze (plotly, umap,
    sklearn are imported by the pages that use them); nothing to do otherwise. Called by
    app.py at the end of every run: a length check, no collection, in the usual case."""
    if _FROZEN_MODULES and len(sys.modules) > _FROZEN_MODULES + 20:
        freeze_heap()


def _start(path: str, stamp: float) -> Future:
    global _POOL
    with _LOCK:
        fut = _LOADS.get((path, stamp))
        if fut is None:
            if _POOL is None:
                _POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bundle-load")
            fut = _LOADS[(path, stamp)] = _POOL.submit(_read_bundle, path)
        return fut


def preload(path: str | Path) -> None:
    """Start loading the bundle at path on a background thread (once per process and bundle
    version) and return at once; the page's get_bundle then waits for it."""
    p = Path(path).resolve()
    if not (p / "bundle.json").is_file():
        return
    key = (str(p), _stamp(p))
    with _LOCK:
        if key in _PRELOADED:
            return
        _PRELOADED.add(key)
    _start(*key)


def is_loaded(path: str | Path) -> bool:
    """True when this process has read this version of the bundle (get_bundle will not wait)."""
    p = Path(path).resolve()
    with _LOCK:
        return (str(p), _stamp(p)) in _LOADED


@st.cache_resource(show_spinner="Loading the bundle …", max_entries=4)
def _load_bundle(path: str, stamp: float) -> Bundle:
    fut = _start(path, stamp)
    try:
        return fut.result()
    finally:
        with _LOCK:
            if _LOADS.get((path, stamp)) is fut:
                del _LOADS[(path, stamp)]


def get_bundle(path: str | Path) -> Bundle:
    """The shared, read-only Bundle at path (BundleError if it is broken)."""
    p = Path(path).resolve()
    return _load_bundle(str(p), _stamp(p))


def bundle_summary(path: str | Path) -> dict | None:
    """What bundle.json says (kind, latent_dim, image_size, count, ...) without loading."""
    return bundle_meta.read_summary(path)


def preview_strip(path: str | Path) -> np.ndarray | None:
    """A row of sneakers from the bundle's gallery, without loading the bundle."""
    return bundle_meta.preview_strip(path)


def available_bundles() -> list[Path]:
    return bundle_meta.find_bundles(CHECKPOINTS)


@st.cache_resource(max_entries=8)
def _index(path: str, stamp: float, weights_key: tuple | None, ignore_key: tuple | None = None):
    from explorer.latent.index import LatentIndex
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
    from explorer.data.images import load_and_preprocess
    b = _load_bundle(path, stamp)
    img = load_and_preprocess(data, b.image_size)
    mu, _ = b.encode(img[None])
    return img, mu[0]


def encode_upload(bundle: Bundle, data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Preprocess uploaded bytes exactly as ingest does and encode them -> (image, mu [D]).

    Raises explorer.data.images.ImageRejected with a message for a bad file. Nothing is written."""
    p = bundle.path.resolve()
    return _encode_upload(str(p), _stamp(p), data)


# ---------------------------------------------------------------------------- catalogue map
@st.cache_data(max_entries=16, show_spinner=False)
def _projection(path: str, stamp: float, key: str, method: str, params: tuple,
                seed: int) -> np.ndarray:
    from explorer.latent.projection import project
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
    from explorer.latent.clusters import kmeans
    return kmeans(_load_bundle(path, stamp).mu, k, seed=seed)


def kmeans_clusters(bundle: Bundle, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """k-means on the latent means -> (labels [N], centres [k, D]), largest cluster 0."""
    p = bundle.path.resolve()
    return _kmeans(str(p), _stamp(p), int(k), int(seed))


@st.cache_data(max_entries=8, show_spinner=False)
def _suggested_k(path: str, stamp: float, seed: int) -> tuple[int, dict[int, float]]:
    from explorer.latent.clusters import BIC_SAMPLE, best_k, bic_scores
    from explorer.latent.hygiene import stored_arrays
    b = _load_bundle(path, stamp)

    def compute():
        bic = bic_scores(b.mu, range(2, 16), seed=seed)
        return {"k": np.array(list(bic), np.int64), "bic": np.array(list(bic.values()))}
    got = stored_arrays(_data_file(b, f"bic-{seed}"), compute,
                        {"ks": [2, 15], "sample": BIC_SAMPLE, "n": len(b)})
    bic = {int(k): float(v) for k, v in zip(got["k"], got["bic"])}
    return best_k(bic), bic


def suggested_k(bundle: Bundle, seed: int = 0) -> tuple[int, dict[int, float]]:
    """(k, {k: BIC}): the k in 2..15 with the lowest Gaussian-mixture BIC on a 4,000-item
    sample of the latent means (lower is better; see explorer.latent.clusters for why not the
    silhouette). 10-60 s once per bundle (by machine load), then kept in the data folder."""
    p = bundle.path.resolve()
    return _suggested_k(str(p), _stamp(p), int(seed))


@st.cache_data(max_entries=32, show_spinner=False)
def _cluster_names(path: str, stamp: float, labels: np.ndarray) -> dict[int, str]:
    from explorer.latent.clusters import cluster_names
    return cluster_names(_load_bundle(path, stamp).metadata, labels)


def cluster_names(bundle: Bundle, labels: np.ndarray) -> dict[int, str]:
    """{cluster label: name from its most distinctive metadata values}, e.g. "boot · Alpen",
    for labels [N] (k-means or HDBSCAN, -1 = "noise"); cached per bundle and labelling.
    Names are catalogue text: pass them through widgets.esc before Markdown."""
    p = bundle.path.resolve()
    return _cluster_names(str(p), _stamp(p), np.asarray(labels, np.int64))


@st.cache_data(max_entries=16, show_spinner=False)
def _hdbscan(path: str, stamp: float, min_cluster_size: int, seed: int) -> np.ndarray:
    from explorer.latent.clusters import hdbscan
    return hdbscan(_load_bundle(path, stamp).mu, min_cluster_size=min_cluster_size, seed=seed)


def hdbscan_clusters(bundle: Bundle, min_cluster_size: int, seed: int = 0) -> np.ndarray:
    """HDBSCAN labels [N] on the latent means (-1 = noise), largest cluster 0."""
    p = bundle.path.resolve()
    return _hdbscan(str(p), _stamp(p), int(min_cluster_size), int(seed))


@st.cache_resource(max_entries=16, show_spinner=False)
def _annotation_store(db_path: str, fingerprint: str, _bundle: Bundle):
    from explorer.store.annotations import AnnotationStore
    return AnnotationStore.for_bundle(_bundle, path=db_path)


def annotation_store(bundle: Bundle):
    """The shared AnnotationStore of the bundle's catalogue (one object per database file
    and catalogue; the path follows $KICKSPACE_ANNOTATIONS_DB / $KICKSPACE_DATA_DIR at each
    call). Raises AnnotationStoreError if the database cannot be opened."""
    from explorer.store.annotations import default_db_path
    db = default_db_path(bundle.path, bundle.fingerprint).expanduser().absolute()
    return _annotation_store(str(db), bundle.fingerprint, bundle)


# ---------------------------------------------------------------------------- catalogue hygiene
NEIGHBOURS_K = 10
RECON_SAMPLE = 2000


def _data_file(bundle: Bundle, what: str) -> Path:
    """Where a bundle's derived arrays are kept between server runs: beside the annotations
    ($KICKSPACE_DATA_DIR, else ./data), named by weights and catalogue."""
    folder = Path(os.environ.get("KICKSPACE_DATA_DIR", "").strip() or "data").expanduser()
    return folder / f"hygiene-{bundle.key}-{bundle.fingerprint}-{what}.npz"


def _nk(path: str, stamp: float) -> int:
    """Neighbours per product: 10, or all the others in a catalogue of 10 or fewer."""
    return max(1, min(NEIGHBOURS_K, len(_load_bundle(path, stamp)) - 1))


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@st.cache_resource(max_entries=4, show_spinner="Finding every product's nearest neighbours "
                                                "(once per bundle) …")
def _neighbours(path: str, stamp: float, k: int) -> tuple[np.ndarray, np.ndarray]:
    from explorer.latent.hygiene import neighbour_table, stored_arrays
    b = _load_bundle(path, stamp)
    index = _index(path, stamp, None)

    def compute():
        nbr, dist = neighbour_table(index, k=k)
        return {"neighbours": nbr, "distances": dist}
    got = stored_arrays(_data_file(b, "neighbours"), compute, {"k": k, "n": len(b)})
    return _frozen(got["neighbours"]), _frozen(got["distances"])


def neighbour_table(bundle: Bundle) -> tuple[np.ndarray, np.ndarray]:
    """Every product's 10 nearest other products in latent space: (indices int64 [N, 10],
    distances float32 [N, 10]; fewer columns in a catalogue of 10 or fewer), nearest first; computed once per bundle (~15 s for 30,000)
    and kept in the data folder. Read-only."""
    p = bundle.path.resolve()
    return _neighbours(str(p), _stamp(p), _nk(str(p), _stamp(p)))


@st.cache_resource(max_entries=4, show_spinner="Hashing every product photo (once per bundle) …")
def _digests(path: str, stamp: float) -> np.ndarray:
    from explorer.latent.hygiene import pixel_digests, stored_arrays
    b = _load_bundle(path, stamp)
    got = stored_arrays(_data_file(b, "digests"), lambda: {"digests": pixel_digests(b.images)},
                        {"n": len(b)})
    return _frozen(got["digests"])


@st.cache_data(max_entries=16, show_spinner="Grouping near-duplicate photos …")
def _duplicates(path: str, stamp: float, max_rmse: float, radius_factor: float):
    from explorer.latent.hygiene import near_duplicates
    b = _load_bundle(path, stamp)
    nbr, dist = _neighbours(path, stamp, _nk(path, stamp))
    radius = radius_factor * float(np.median(dist[:, 0]))
    return near_duplicates(b.images, nbr, dist, digests=_digests(path, stamp),
                           latent_radius=radius, max_rmse=max_rmse)


def duplicate_groups(bundle: Bundle, max_rmse: float = 8.0, radius_factor: float = 0.4):
    """explorer.latent.hygiene.near_duplicates on the bundle: [DuplicateGroup], largest first."""
    p = bundle.path.resolve()
    return _duplicates(str(p), _stamp(p), float(max_rmse), float(radius_factor))


@st.cache_resource(max_entries=4, show_spinner="Measuring how well the model reconstructs the "
                                                "catalogue (once per bundle) …")
def _unlike_reference(path: str, stamp: float, sample: int):
    from explorer.latent.hygiene import (reconstruction_errors, reference_sample, stored_arrays,
                                  unlike_reference)
    import torch
    b = _load_bundle(path, stamp)

    def compute():
        idx = reference_sample(len(b), sample, seed=0)
        with torch.inference_mode():
            err = reconstruction_errors(b.encode, b.decode, b.images.get(idx))
        return {"recon_errors": err}
    got = stored_arrays(_data_file(b, "recon"), compute, {"sample": sample, "n": len(b)})
    _, dist = _neighbours(path, stamp, _nk(path, stamp))
    return unlike_reference(got["recon_errors"], dist[:, 0])


def unlike_reference(bundle: Bundle):
    """The catalogue's own distributions for explorer.latent.hygiene.unlike_score: reconstruction
    errors of a 2,000-product sample and every product's nearest-other distance. Once per
    bundle (~25 s with the neighbour table), kept in the data folder."""
    p = bundle.path.resolve()
    return _unlike_reference(str(p), _stamp(p), RECON_SAMPLE)


def unlike_score(bundle: Bundle, image: np.ndarray, z: np.ndarray):
    """How unlike the catalogue one photo is: an explorer.latent.hygiene.UnlikeScore (percentiles
    of its reconstruction error and nearest-product distance, `flagged` above the 99th,
    `message()` to show). image: uint8 [S, S, 3] as encode_upload returns it; z: its latent
    mean [D]. For the map: draw the photo's star in a warning colour when flagged."""
    import torch

    from explorer.latent.hygiene import reconstruction_errors
    from explorer.latent.hygiene import unlike_score as score
    ref = unlike_reference(bundle)
    with torch.inference_mode():
        err = reconstruction_errors(bundle.encode, bundle.decode, np.asarray(image)[None])[0]
    _, dist = get_index(bundle).query(np.asarray(z, np.float32), k=1)
    return score(ref, err, float(dist[0, 0]))


@st.cache_data(max_entries=32, show_spinner="Comparing labels with visual neighbours …")
def _label_audit(path: str, stamp: float, column: str, min_share: float):
    from explorer.latent.hygiene import label_audit
    nbr, _ = _neighbours(path, stamp, _nk(path, stamp))
    return label_audit(_load_bundle(path, stamp).metadata[column], nbr, min_share=min_share)


def label_audit(bundle: Bundle, column: str, min_share: float = 0.7):
    """explorer.latent.hygiene.label_audit of one metadata column against the 10 nearest
    neighbours (catalogue labels; decisions stored since are not applied here)."""
    p = bundle.path.resolve()
    return _label_audit(str(p), _stamp(p), column, float(min_share))


# ---------------------------------------------------------------------------- factor names
_NAME_POOL: ThreadPoolExecutor | None = None
_NAME_JOBS: dict[str, Future] = {}
NAME_SAMPLE = 4000   # items the metadata suggestions are computed on


def _check_names(path: str, stamp: float) -> None:
    from explorer.metrics.association import suggest_names
    from explorer.latent.naming import checked_names, save_checked
    b = _load_bundle(path, stamp)
    rng = np.random.default_rng(0)
    sub = np.sort(rng.choice(len(b), size=min(NAME_SAMPLE, len(b)), replace=False))
    suggestions = suggest_names(b.mu[sub], b.metadata.iloc[sub].reset_index(drop=True))
    save_checked(b.path, b.key, checked_names(b.decode, b.mu, b.metadata, suggestions))


def checked_factor_names(bundle: Bundle, start: bool = True):
    """{dim: explorer.latent.naming.FactorName} from the stored check of this bundle's weights, or
    None while it is being computed (started on a background thread when start: suggestions,
    decoded traversals, pixel readers; ~1 minute once per model, then stored)."""
    global _NAME_POOL
    from explorer.latent.naming import load_checked
    got = load_checked(bundle.path, bundle.key)
    if got is not None or not start:
        return got
    with _LOCK:
        job = _NAME_JOBS.get(bundle.key)
        if job is None:   # once per model and process (a failed check is not retried)
            if _NAME_POOL is None:
                _NAME_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="names")
            p = bundle.path.resolve()
            _NAME_JOBS[bundle.key] = _NAME_POOL.submit(_check_names, str(p), _stamp(p))
    return None


def slider_names(bundle: Bundle) -> dict[int, str]:
    """{dim: name} for factor labels (explorer.latent.naming.dim_label): names saved in the lab,
    else suggestions that decoding the factor's traversal confirmed, marked "(suggested)"."""
    from explorer.latent.naming import applied_names, load_names
    return applied_names(load_names(bundle.path, bundle.key), checked_factor_names(bundle))


def factor_descriptions(bundle: Bundle) -> dict[int, str]:
    """{dim: what visibly changes when it moves} ("colour of the upper"); {} until checked."""
    got = checked_factor_names(bundle) or {}
    return {d: f.description for d, f in got.items()}


__all__ = ["BundleError", "CHECKPOINTS", "DEFAULT_BUNDLE", "available_bundles", "get_bundle",
           "preload", "is_loaded", "bundle_summary", "freeze_heap", "settle_heap",
           "checked_factor_names", "slider_names", "factor_descriptions",
           "get_index", "dimension_order", "kl_per_dim", "encode_upload", "projection",
           "kmeans_clusters", "suggested_k", "cluster_names", "hdbscan_clusters",
           "annotation_store", "neighbour_table", "duplicate_groups", "unlike_reference",
           "unlike_score", "label_audit"]
