"""Streamlit caches of the catalogue hygiene page's derived data: every product's nearest
neighbours, pixel digests, near-duplicate groups, the "unlike the catalogue" reference and the
label audit. Keyed on the bundle's path + bundle.json's mtime (explorer.app.cache.ident); the
slow arrays are also kept in the data folder (explorer.app.cache.data_file)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from explorer.app import cache

if TYPE_CHECKING:
    from explorer.bundle.core import Bundle

NEIGHBOURS_K = 10
RECON_SAMPLE = 2000      # products whose reconstruction error makes the unlike reference
NN_SAMPLE = 30_000       # products whose nearest-other distance does (all, up to this many)


def _nk(path: str, stamp: float) -> int:
    """Neighbours per product: 10, or all the others in a catalogue of 10 or fewer."""
    return max(1, min(NEIGHBOURS_K, len(cache.load(path, stamp)) - 1))


@st.cache_resource(max_entries=4, show_spinner="Finding every product's nearest neighbours "
                                                "(once per bundle) …")
def _neighbours(path: str, stamp: float, k: int) -> tuple[np.ndarray, np.ndarray]:
    from explorer.latent.hygiene import neighbour_table, stored_arrays
    b = cache.load(path, stamp)
    index = cache.get_index(b)

    def compute():
        nbr, dist = neighbour_table(index, k=k)
        return {"neighbours": nbr, "distances": dist}
    got = stored_arrays(cache.data_file(b, "neighbours"), compute, {"k": k, "n": len(b)})
    return cache.frozen(got["neighbours"]), cache.frozen(got["distances"])


def neighbour_table(bundle: Bundle) -> tuple[np.ndarray, np.ndarray]:
    """Every product's 10 nearest other products in latent space: (indices int64 [N, 10],
    distances float32 [N, 10]; fewer columns in a catalogue of 10 or fewer), nearest first;
    computed once per bundle (~15 s for 30,000) and kept in the data folder. Read-only."""
    path, stamp = cache.ident(bundle)
    return _neighbours(path, stamp, _nk(path, stamp))


@st.cache_resource(max_entries=4, show_spinner="Hashing every product photo (once per bundle) …")
def _digests(path: str, stamp: float) -> np.ndarray:
    from explorer.latent.hygiene import pixel_digests, stored_arrays
    b = cache.load(path, stamp)
    got = stored_arrays(cache.data_file(b, "digests"), lambda: {"digests": pixel_digests(b.images)},
                        {"n": len(b)})
    return cache.frozen(got["digests"])


@st.cache_data(max_entries=16, show_spinner="Grouping near-duplicate photos …")
def _duplicates(path: str, stamp: float, max_rmse: float, radius_factor: float):
    from explorer.latent.hygiene import near_duplicates
    b = cache.load(path, stamp)
    nbr, dist = _neighbours(path, stamp, _nk(path, stamp))
    radius = radius_factor * float(np.median(dist[:, 0]))
    return near_duplicates(b.images, nbr, dist, digests=_digests(path, stamp),
                           latent_radius=radius, max_rmse=max_rmse)


def duplicate_groups(bundle: Bundle, max_rmse: float = 8.0, radius_factor: float = 0.4):
    """explorer.latent.hygiene.near_duplicates on the bundle: [DuplicateGroup], largest first."""
    return _duplicates(*cache.ident(bundle), float(max_rmse), float(radius_factor))


@st.cache_resource(max_entries=4, show_spinner="Measuring how well the model reconstructs the "
                                                "catalogue (once per bundle) …")
def _unlike_reference(path: str, stamp: float, sample: int, nn_sample: int):
    from explorer.latent.hygiene import stored_arrays
    from explorer.latent.unlike import (nearest_other_distances, reconstruction_errors,
                                        reference_sample, unlike_reference)
    import torch
    b = cache.load(path, stamp)

    def compute():
        idx = reference_sample(len(b), sample, seed=0)
        with torch.inference_mode():
            err = reconstruction_errors(b.encode, b.decode, b.images.get(idx))
        rows = reference_sample(len(b), nn_sample, seed=1)
        return {"recon_errors": err, "nn_distances": nearest_other_distances(b.mu, rows)}
    got = stored_arrays(cache.data_file(b, "unlike"), compute,
                        {"sample": sample, "nn_sample": nn_sample, "n": len(b)})
    return unlike_reference(got["recon_errors"], got["nn_distances"])


def unlike_reference(bundle: Bundle):
    """The catalogue's own distributions for explorer.latent.unlike.unlike_score: reconstruction
    errors of a 2,000-product sample and the nearest-other distance of every product (of a
    30,000 sample in a larger catalogue). Once per bundle (~6 s for the demo's 30,000,
    bench/bench_unlike.py; ~10 s in a busy server), kept in the data folder."""
    return _unlike_reference(*cache.ident(bundle), RECON_SAMPLE, NN_SAMPLE)


def unlike_score(bundle: Bundle, image: np.ndarray, z: np.ndarray):
    """How unlike the catalogue one photo is: an explorer.latent.unlike.UnlikeScore (percentiles
    of its reconstruction error and nearest-product distance, `flagged` above the 99th,
    `message()` to show). image: uint8 [S, S, 3] as encode_upload returns it; z: its latent
    mean [D]. For the map: draw the photo's star in a warning colour when flagged."""
    import torch

    from explorer.latent.unlike import reconstruction_errors
    from explorer.latent.unlike import unlike_score as score
    ref = unlike_reference(bundle)
    with torch.inference_mode():
        err = reconstruction_errors(bundle.encode, bundle.decode, np.asarray(image)[None])[0]
    _, dist = cache.get_index(bundle).query(np.asarray(z, np.float32), k=1)
    return score(ref, err, float(dist[0, 0]))


@st.cache_data(max_entries=32, show_spinner="Comparing labels with visual neighbours …")
def _label_audit(path: str, stamp: float, column: str, min_share: float):
    from explorer.latent.hygiene import label_audit
    nbr, _ = _neighbours(path, stamp, _nk(path, stamp))
    return label_audit(cache.load(path, stamp).metadata[column], nbr, min_share=min_share)


def label_audit(bundle: Bundle, column: str, min_share: float = 0.7):
    """explorer.latent.hygiene.label_audit of one metadata column against the 10 nearest
    neighbours (catalogue labels; decisions stored since are not applied here)."""
    return _label_audit(*cache.ident(bundle), column, float(min_share))
