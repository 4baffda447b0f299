"""The catalogue map's missing projections, computed on demand: a bundle trained under a time
limit may have skipped its UMAP or t-SNE map (`train` says so and points here). The map page
offers a button that computes the map with a progress bar and saves it into the bundle
(explorer.bundle.projections.store_projection, checksummed in bundle.json), so every later
visit, session and link has it.

The work runs in a thread of its own that also saves the map, so a visitor who leaves the page
loses nothing; one computation per bundle and method at a time across sessions; a bundle folder
that cannot be written gets the error and the command line that does the same."""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import streamlit as st

from explorer.training.budget import projection_seconds

if TYPE_CHECKING:
    from explorer.bundle.core import Bundle

LABEL = {"umap": "UMAP", "tsne": "t-SNE", "pca": "PCA"}
_RUNNING: dict[tuple[str, str], float] = {}     # (bundle path, method) -> start time
_LOCK = threading.Lock()


def first_available(bundle: Bundle, methods: list[str]) -> str:
    """The first of `methods` the bundle has a stored map for (PCA is always at hand)."""
    return next((m for m in methods if m in bundle.projections or m == "pca"), "pca")


def _compute(path, mu, method: str, key: tuple[str, str], out: dict) -> None:
    """Compute and save the map (in its own thread: a visitor who leaves the page, which stops
    the script, does not lose minutes of work), then free the (bundle, method) slot."""
    try:
        from explorer.bundle.projections import store_projection
        from explorer.latent.projection import project
        t = time.perf_counter()
        xy = project(method, mu, seed=0)
        try:
            store_projection(path, method, xy, time.perf_counter() - t, len(mu), 0)
        except OSError as e:
            out["error"] = (f"computed, but it could not be saved in {path} "
                            f"({e.strerror or e}); is the bundle folder read-only?")
    except Exception as e:  # noqa: BLE001 (shown to the user, with its type)
        out["error"] = f"{type(e).__name__}: {e}"
    finally:
        with _LOCK:
            _RUNNING.pop(key, None)


def offer(bundle: Bundle, method: str) -> None:
    """Say that the bundle has no `method` map (PCA is shown) and offer to compute it."""
    n = len(bundle)
    est = projection_seconds(method, n)
    cli = f"`python -m explorer project {bundle.path} --method {method}`"
    st.info(f"This bundle has no {LABEL[method]} map (training skipped it, or it was never "
            f"asked for); PCA is shown. Computing it takes up to about {est:.0f} s for {n:,} "
            f"products on a 2-core CPU, and it is saved in the bundle for every later visit"
            + f" (or run {cli}).")
    key = (str(bundle.path.resolve()), method)
    with _LOCK:
        running = _RUNNING.get(key)
    if running is not None:
        st.caption(f"The {LABEL[method]} map is being computed ({time.time() - running:.0f} s "
                   f"so far, started from this or another session); reload the page when it "
                   f"is done.")
        return
    if not st.button(f"Compute the {LABEL[method]} map now", key=f"compute_{method}",
                     icon=":material/scatter_plot:"):
        return
    with _LOCK:
        if key in _RUNNING:
            return
        _RUNNING[key] = time.time()
    out: dict = {}
    worker = threading.Thread(target=_compute, args=(bundle.path, bundle.mu, method, key, out),
                              daemon=True, name=f"kickspace-{method}-map")
    t0 = time.perf_counter()
    worker.start()
    bar = st.progress(0.0, text=f"Computing the {LABEL[method]} map …")
    while worker.is_alive():
        worker.join(0.5)
        took = time.perf_counter() - t0
        bar.progress(min(took / max(est, 1e-6), 0.99),
                     text=f"Computing the {LABEL[method]} map of {n:,} products: "
                          f"{took:.0f} s of about {est:.0f} s")
    bar.empty()
    if "error" in out:
        st.error(f"The {LABEL[method]} map: {out['error']} Run {cli} where the bundle can be "
                 f"written.")
        return
    st.rerun()        # the bundle is reloaded (bundle.json changed) with its new map
