"""The catalogue map's 3-D view (issue 17): a "View: 2-D / 3-D" choice in the sidebar, bound
to the URL (`dims`), and the rotatable plotly Scatter3d shown in place of the 2-D map.

Coordinates: the bundle's stored 3-D map of the chosen projection (`python -m explorer
project BUNDLE --method umap --dims 3`), else 3-D PCA of the latent means
(explorer.app.cache_map.projection_3d). The 3-D view draws a seeded sample of at most
KICKSPACE_MAP_3D_MAX_POINTS of the filtered products, coloured like the 2-D map, with the
selection (made on the 2-D map, or by search, cluster or tag) and the search matches on top.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from explorer.app import cache_map
from explorer.render import mapview
from explorer.render.map3d import figure_3d

if TYPE_CHECKING:
    from explorer.app.mapcomponent import Colours
    from explorer.bundle.core import Bundle

VIEWS = ["2-D", "3-D"]
NAME_SAMPLE_UP_TO = 3_000       # hover names for every drawn point only up to this many
LABEL = {"umap": "UMAP", "tsne": "t-SNE", "pca": "PCA"}


def max_points() -> int:
    """The 3-D view's cap on drawn points (a browser rotates ~20,000 smoothly)."""
    return int(os.environ.get("KICKSPACE_MAP_3D_MAX_POINTS", 20_000))


def view_choice() -> bool:
    """The sidebar's "View" radio (call inside `with st.sidebar`); True for 3-D."""
    return st.radio("View", VIEWS, key="dims", bind="query-params", horizontal=True,
                    help="3-D: a rotatable view of a sample of the catalogue (drag to turn, "
                         "scroll to zoom); select on the 2-D map") == "3-D"


def _names(bundle: Bundle):
    md = bundle.metadata
    col = "name" if "name" in md.columns else "sku"

    def names(idx: np.ndarray) -> list[str]:
        part = md.iloc[np.asarray(idx, np.int64)]
        text = part[col].astype(str).str.slice(0, 48)
        if col != "sku" and "sku" in part.columns:
            text = text + " · " + part["sku"].astype(str)
        return text.tolist()
    return names


def show(bundle: Bundle, method: str, visible: np.ndarray, colours: Colours,
         pick: dict | None, matches: np.ndarray, height: int = 560) -> None:
    """Draw the 3-D view of the visible products (catalogue indices passing the filters);
    pick: the page's selection record ({"indices": ...}) or None; matches: search hits."""
    xyz, shown = cache_map.projection_3d(bundle, method)
    plan = mapview.plan_points(visible, max_points(), 10 ** 12)
    mask = np.zeros(len(bundle), bool)
    mask[visible] = True
    selected = np.asarray(pick["indices"], np.int64) if pick else np.zeros(0, np.int64)
    selected = selected[(selected >= 0) & (selected < len(mask))]
    selected = selected[mask[selected]]                 # the filtered ones only
    fig = figure_3d(xyz, plan.drawn, colours.codes, colours.palette, kind=colours.kind,
                    legend=colours.legend, title=colours.title, value_range=colours.range,
                    selected=selected, matches=matches, names=_names(bundle),
                    name_sample=len(plan.drawn) <= NAME_SAMPLE_UP_TO, height=height)
    st.plotly_chart(fig, key="map3d", config={"displaylogo": False, "scrollZoom": True})
    n = len(visible)
    drawn = (f"all {n:,} products are drawn" if len(plan.drawn) == n else
             f"a seeded sample of {len(plan.drawn):,} of the {n:,} products is drawn")
    note = "" if shown == method else (
        f" This bundle has no 3-D {LABEL.get(method, method)}; `python -m explorer project "
        f"BUNDLE --method {method if method != 'tsne' else 'umap'} --dims 3` adds one.")
    ringed = f"; {min(len(selected), 5_000):,} selected ringed in red" if len(selected) else ""
    st.caption(f"3-D {LABEL.get(shown, shown)} map: {drawn}{ringed}. Drag to turn, scroll to "
               f"zoom; select on the 2-D map (View: 2-D).{note}")
