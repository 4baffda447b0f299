"""Streamlit cache wrappers for loading: the bundle, its neighbour index, per-dimension
statistics, uploads and the annotation store. Derived data has its own modules beside this one:
cache_map (projections, clusters, the map page's columns), cache_hygiene (neighbour table,
duplicates, label audit), cache_names (checked factor names), cache_latent (lab and
imputation fits) and cache_pictures (the pages' picture sheets); all key on the bundle's path
plus bundle.json's modification time or on Bundle.key.

Resources (model, index) are shared by every session, loaded once per bundle and never
mutated; derived arrays are cached by bundle path + bundle.json's modification time, so a
re-trained bundle at the same path is picked up.

Importing this module is cheap (no torch, no pandas): a fresh server paints its first page
while ``preload`` loads the default bundle on a background thread; the first ``get_bundle``
waits for that load instead of starting another. The load comes in two steps: everything but
the model, without torch (~1 s for the demo), then the model on the same thread (torch
imported, ~2.5 s); ``get_bundle(path, model=False)`` (the catalogue map) waits only for the
first. Once a bundle (and torch) is in memory the
heap is frozen (``gc.freeze``): Streamlit runs a full garbage collection after every rerun,
and a frozen object is never traversed again (``settle_heap`` freezes again after a page
imports more modules). Importing it changes nothing in torch: the thread count is chosen by
``configure_torch_threads``, called once at the first bundle load (and logged).
"""
from __future__ import annotations

import gc
import logging
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
log = logging.getLogger("kickspace")


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
_LOADED: set[tuple[str, float]] = set()        # bundles (model included) in this process
_POOL: ThreadPoolExecutor | None = None
_FROZEN_MODULES = 0


_THREADS: int | None = None                      # what configure_torch_threads chose
_THREADS_LOCK = threading.Lock()                 # not _LOCK: is_loaded must not wait on torch


def configure_torch_threads() -> int:
    """Set torch's intra-op thread count for the app, once per process, and log the choice:
    $KICKSPACE_TORCH_THREADS, else 1. One decode is ~1 ms on one thread but slower with several
    threads in Streamlit's script threads; many sessions run side by side, so each inference
    uses one thread. Called by the first bundle load; later calls return the first choice."""
    global _THREADS
    with _THREADS_LOCK:
        if _THREADS is not None:
            return _THREADS
        raw = os.environ.get("KICKSPACE_TORCH_THREADS", "").strip() or "1"
        try:
            n = int(raw)
            if n < 1:
                raise ValueError
        except ValueError:
            raise ValueError(f"KICKSPACE_TORCH_THREADS must be a whole number >= 1, "
                             f"not {raw!r}") from None
        import torch
        before = torch.get_num_threads()
        torch.set_num_threads(n)
        _THREADS = n
    log.info("torch uses %d intra-op thread(s) per inference (was %d; "
             "KICKSPACE_TORCH_THREADS)", n, before)
    return n


def _read_bundle(path: str) -> Bundle:
    """Everything but the model (no torch), then the model queued on the loading thread."""
    from explorer.bundle.core import load_bundle
    b = load_bundle(path, lazy_model=True)
    freeze_heap()
    assert _POOL is not None                   # this runs on it
    _POOL.submit(_load_model, b, path)
    return b


def _load_model(b: Bundle, path: str, quiet: bool = True) -> None:
    """Build the bundle's model (on the loading thread, or in the first script that needs it
    first). A bad model's BundleError: logged when quiet (the loading thread; a page's
    get_bundle meets it again), else raised (get_bundle, for the page to show)."""
    configure_torch_threads()
    try:
        b.model
    except Exception as e:  # noqa: BLE001 - logged, and raised again where a page asks
        if not quiet:
            raise
        log.warning("the model of %s did not load: %s", path, e)
        return
    freeze_heap()
    with _LOCK:
        _LOADED.add((path, _stamp(Path(path))))


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


def get_bundle(path: str | Path, model: bool = True) -> Bundle:
    """The shared, read-only Bundle at path (BundleError if it is broken). model=False: do
    not wait for its model (still loading on the background thread; Bundle.model waits)."""
    p = Path(path).resolve()
    b = _load_bundle(str(p), _stamp(p))
    if model and not b.model_loaded:
        _load_model(b, str(p), quiet=False)    # a bad model's BundleError, for the page
    return b


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


@st.cache_data(max_entries=16, show_spinner=False)
def _factor_scale(path: str, stamp: float) -> np.ndarray:
    from explorer.latent.ops import factor_scale
    b = _load_bundle(path, stamp)
    return factor_scale(b.mu, None if b.model.deterministic else b.logvar)


def factor_scale(bundle: Bundle) -> np.ndarray:
    """One slider unit per latent dimension [D]: the catalogue's standard deviation along it
    (explorer.latent.ops.factor_scale)."""
    p = bundle.path.resolve()
    return _factor_scale(str(p), _stamp(p))


@st.cache_data(max_entries=64, show_spinner=False)
def _encode_upload(path: str, stamp: float, data: bytes) -> tuple[np.ndarray, np.ndarray]:
    from explorer.data.images import WHITE, load_and_preprocess
    b = _load_bundle(path, stamp)
    img = load_and_preprocess(data, b.image_size, catalogue_background(b.info) or WHITE)
    mu, _ = b.encode(img[None])
    return img, mu[0]


def catalogue_background(info: dict) -> tuple[int, int, int] | None:
    """The padding colour the bundle's catalogue was ingested with (`ingest --background`),
    from bundle.json, or None (white, the default, for catalogues that do not say)."""
    from explorer.data.images import parse_background
    bg = ((info.get("catalogue") or {}).get("source") or {}).get("background")
    try:
        return None if bg is None else parse_background(bg)
    except ValueError:
        return None


def encode_upload(bundle: Bundle, data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Preprocess uploaded bytes exactly as ingest does (padded with the catalogue's own
    background colour) and encode them -> (image, mu [D]).

    Raises explorer.data.images.ImageRejected with a message for a bad file. Nothing is written."""
    p = bundle.path.resolve()
    return _encode_upload(str(p), _stamp(p), data)


# ---------------------------------------------------------------------------- annotations
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


# ---------------------------------------------------------------- shared by the derived caches
def ident(bundle: Bundle) -> tuple[str, float]:
    """(resolved path, bundle.json's mtime): what the derived caches key on."""
    p = bundle.path.resolve()
    return str(p), _stamp(p)


def load(path: str, stamp: float) -> Bundle:
    """The cached bundle for an ident() pair (for the derived cache modules)."""
    return _load_bundle(path, stamp)


def data_file(bundle: Bundle, what: str) -> Path:
    """Where a bundle's derived arrays are kept between server runs: beside the annotations
    ($KICKSPACE_DATA_DIR, else ./data), named by weights and catalogue."""
    folder = Path(os.environ.get("KICKSPACE_DATA_DIR", "").strip() or "data").expanduser()
    return folder / f"hygiene-{bundle.key}-{bundle.fingerprint}-{what}.npz"


def frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


__all__ = ["BundleError", "CHECKPOINTS", "DEFAULT_BUNDLE", "available_bundles", "get_bundle",
           "preload", "is_loaded", "bundle_summary", "freeze_heap", "settle_heap",
           "configure_torch_threads", "get_index", "dimension_order", "kl_per_dim",
           "encode_upload", "annotation_store", "ident", "load", "data_file", "frozen"]
