"""Streamlit caches of the pages' picture sheets: the home page's featured sneakers, their strip
and the tool pictures, the factor sliders' traversal grid, and the model card's held-out
reconstructions. Each keys on the bundle's path + Bundle.key (weights and catalogue), so a
session never gets pictures of another bundle."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from explorer.app import cache

if TYPE_CHECKING:
    from explorer.bundle.core import Bundle


# ---------------------------------------------------------------------------- home
@st.cache_data(max_entries=8, show_spinner=False)
def _featured(path: str, key: str) -> list[int]:
    from explorer.render.landing import featured_items
    bb = cache.get_bundle(path)
    return featured_items(bb.mu, cache.dimension_order(bb))


def featured(bundle: Bundle) -> list[int]:
    """The home page's featured sneakers (explorer.render.landing.featured_items)."""
    return _featured(str(bundle.path), bundle.key)


@st.cache_data(max_entries=8, show_spinner=False)
def _strip(path: str, key: str, items: tuple) -> bytes:
    from explorer.render.pictures import png_bytes
    from explorer.render.sheets import image_grid
    bb = cache.get_bundle(path)
    return png_bytes(image_grid(bb.images.get(list(items)), cols=len(items),
                                   labels=[str(j + 1) for j in range(len(items))]))


def numbered_strip(bundle: Bundle, items) -> bytes:
    """PNG: these catalogue photos in a row, numbered 1, 2, ..."""
    return _strip(str(bundle.path), bundle.key, tuple(int(i) for i in items))


@st.cache_data(max_entries=8, show_spinner="Drawing the tools …")
def _tools(path: str, key: str, items: tuple, labels: tuple) -> dict[str, bytes]:
    from explorer.render.landing import tool_pictures
    from explorer.render.pictures import png_bytes
    bb = cache.get_bundle(path)
    order_ = cache.dimension_order(bb)
    idx, _ = cache.get_index(bb).query(bb.mu[items[1]], k=5)
    xy = next((bb.projections[m] for m in ("umap", "tsne", "pca") if m in bb.projections), None)
    pics = tool_pictures(bb.decode, bb.images, bb.mu, order_, list(items), idx[0], xy,
                         list(labels))
    return {k: png_bytes(v) for k, v in pics.items()}


def tool_pictures(bundle: Bundle, items, labels) -> dict[str, bytes]:
    """{tool: PNG} for the home page's tool cards (explorer.render.landing.tool_pictures)."""
    return _tools(str(bundle.path), bundle.key, tuple(int(i) for i in items), tuple(labels))


# ---------------------------------------------------------------------------- factor sliders
@st.cache_data(max_entries=32, show_spinner="Decoding the grid …")
def _grid_images(path: str, key: str, z_bytes: bytes, dims: tuple, n_cols: int) -> np.ndarray:
    from explorer.latent.ops import traversal
    bb = cache.get_bundle(path)
    z = np.frombuffer(z_bytes, np.float32)
    grid = traversal(z, list(dims), np.linspace(-3, 3, n_cols), scale=cache.factor_scale(bb))
    return bb.decode(grid.reshape(-1, grid.shape[-1])).reshape(len(dims), n_cols,
                                                                *bb.images[0].shape)


@st.cache_data(max_entries=32, show_spinner=False)
def _grid_png(path: str, key: str, z_bytes: bytes, dims: tuple, n_cols: int, labels: tuple,
              whole: bool) -> bytes:
    from explorer.render.pictures import png_bytes
    from explorer.render.sheets import row_labelled_grid, wrapped_grid
    imgs = _grid_images(path, key, z_bytes, dims, n_cols)
    cols = [f"{v:+.1f}" for v in np.linspace(-3, 3, n_cols)]
    if whole:
        return png_bytes(row_labelled_grid(imgs, list(labels), cols, scale=1))
    return png_bytes(wrapped_grid(imgs, list(labels), cols, max_scale=1))


def traversal_grid_png(bundle: Bundle, z: np.ndarray, dims, n_cols: int, labels,
                       whole: bool = False) -> bytes:
    """PNG: one row per latent dimension in dims, n_cols values from -3 to +3 around z, in
    the catalogue's standard deviations along each (cache.factor_scale). At the images' own
    size: no wider than the page, the columns continuing in a block below where they do not
    fit (a 128 px catalogue's 7 columns: 4 + 3), or with whole=True in one block (the
    download)."""
    return _grid_png(str(bundle.path), bundle.key, np.asarray(z, np.float32).tobytes(),
                     tuple(int(d) for d in dims), int(n_cols), tuple(labels), bool(whole))


# ---------------------------------------------------------------------------- model card
@st.cache_data(show_spinner=False, max_entries=8)
def _recon_sheet(path: str, key: str, n: int = 10):
    from explorer.data.splits import split_for
    from explorer.render.pictures import pixel_scale
    from explorer.render.sheets import wrapped_grid
    bb = cache.get_bundle(path)
    tc = bb.info["train_config"]
    # the split the model was trained with (duplicates grouped, stratified), as evaluate has it
    _, val_idx = split_for(tc, len(bb), bb.images, bb.metadata)
    pool = val_idx if len(val_idx) >= n else np.arange(len(bb))
    idx = np.random.default_rng(0).choice(pool, size=min(n, len(pool)), replace=False)
    orig = bb.images.get(idx)
    recon = bb.decode(bb.mu[idx])
    # at most as wide as the page (a 128 px catalogue's ten columns come in two blocks of five)
    return wrapped_grid(np.stack([orig, recon]), ["original", "reconstruction"],
                        max_scale=pixel_scale(bb.image_size, 96))


def reconstruction_sheet(bundle: Bundle, n: int = 10) -> np.ndarray:
    """Held-out originals over their reconstructions (n columns), as a picture."""
    return _recon_sheet(str(bundle.path), bundle.key, int(n))

def training_gallery(bundle):
    """The bundle's training gallery (decoded on first use, explorer.bundle.core), or None
    with a warning on the page when its pixels do not decode."""
    from explorer.bundle.checks import BundleError
    try:
        return bundle.gallery
    except BundleError as e:
        from explorer.app.widgets import esc
        st.warning(f"The training gallery could not be shown: {esc(e)}")
        return None
