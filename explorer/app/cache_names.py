"""Checked factor names for the app: suggestions from the metadata, confirmed by decoding each
factor's traversal (explorer.latent.naming), computed once per model on a background thread and
stored beside the bundle; plus the names the sliders show."""
from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from explorer.app import cache

if TYPE_CHECKING:
    from explorer.bundle.core import Bundle

_NAME_POOL: ThreadPoolExecutor | None = None
_NAME_JOBS: dict[str, Future] = {}
_JOBS_LOCK = threading.Lock()
NAME_SAMPLE = 4000   # items the metadata suggestions are computed on


def _check_names(path: str, stamp: float) -> None:
    from explorer.metrics.association import suggest_names
    from explorer.latent.naming import save_checked
    from explorer.latent.naming_check import checked_names
    b = cache.load(path, stamp)
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
    with _JOBS_LOCK:
        job = _NAME_JOBS.get(bundle.key)
        if job is None:   # once per model and process (a failed check is not retried)
            if _NAME_POOL is None:
                _NAME_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="names")
            _NAME_JOBS[bundle.key] = _NAME_POOL.submit(_check_names, *cache.ident(bundle))
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
