"""The catalogue map's 3-D view (issue 17): a "View: 2-D / 3-D" choice in the sidebar, bound
to the URL (`dims`), and a rotatable 3-D scatter shown in place of the 2-D map.

Coordinates: the bundle's stored 3-D map of the chosen projection (`python -m explorer
project BUNDLE --method umap --dims 3`), else 3-D PCA of the latent means
(explorer.app.cache_map.projection_3d). The view draws a seeded sample of at most
KICKSPACE_MAP_3D_MAX_POINTS of the filtered products, coloured like the 2-D map, with the
selection (ringed), the search matches, an uploaded photo and an interpolation path
(explorer.app.map_layers.overlays_3d) on top.

It is a Streamlit component (map_frontend/map3d.html + map3d.js on the vendored plotly.js
gl3d bundle) rather than st.plotly_chart, because Streamlit 1.67's plotly chart cannot report a
click on a Scatter3d point (its click handler passes on only points with an `id` and a
`parent`, the hierarchical charts'; 3-D scenes never emit plotly_selected). The component
draws the traces of explorer.render.map3d (one per colour, the highlights, the overlays) from
a binary buffer (int32 ids, uint16 x, y, z, uint8 colour codes), reports a click on a product,
a click on empty space and a box or a lasso drawn in its Box or Lasso mode (with the camera, so
that Python selects every filtered product drawn inside it: screen_selection) (its value:
the 2-D map's, explorer.app.mapcomponent.parse_value) and shows the 2-D map's hover tooltip
(the product's picture and name, from the same thumbnail shards). "Select around" below it
selects the products nearest a search match or the photo.
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from plotly.utils import PlotlyJSONEncoder

from explorer.app import cache_map, map_layers, map_link, map_sections, mapcomponent
from explorer.data.imagestore import COLS, PER_SHARD
from explorer.render import mapview
from explorer.render.map3d import (MAX_HIGHLIGHT, frame_3d, highlight_traces, in_screen_box,
                                   in_screen_polygon, layout_3d, nearest, overlay_trace,
                                   pack_xyz, point_size, sample_traces)

if TYPE_CHECKING:
    from explorer.app.mapcomponent import Colours
    from explorer.bundle.core import Bundle

VIEWS = ["2-D", "3-D"]
ANCHORS = 200                   # search matches offered to "Select around", at most
LABEL = {"umap": "UMAP", "tsne": "t-SNE", "pca": "PCA"}


def max_points() -> int:
    """The 3-D view's cap on drawn points (a browser rotates ~20,000 smoothly)."""
    return int(os.environ.get("KICKSPACE_MAP_3D_MAX_POINTS", 20_000))


def view_choice() -> bool:
    """The sidebar's "View" radio (call inside `with st.sidebar`); True for 3-D."""
    return st.radio("View", VIEWS, key="dims", bind="query-params", horizontal=True,
                    help="3-D: a rotatable view of a sample of the catalogue (drag to turn, "
                         "scroll to zoom, hover for the picture); click a product to select "
                         "it, pick Box or Lasso and drag to select many, or select around a search "
                         "match or a photo below the 3-D view") == "3-D"


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


def _packed(xyz: np.ndarray, frame, groups: list, codes: np.ndarray
            ) -> tuple[bytes, list[dict]]:
    """[(indices, spec)] -> one buffer (pack_xyz of every group's points, in order, then their
    uint8 colour codes) and the specs with each group's size; a numeric colour array (the
    colour codes) is sent as "@codes"."""
    idx = np.concatenate([g for g, _ in groups]) if groups else np.zeros(0, np.int64)
    specs = []
    for g, spec in groups:
        spec = dict(spec, marker=dict(spec["marker"]))
        if isinstance(spec["marker"].get("color"), np.ndarray):
            spec["marker"]["color"] = "@codes"
        specs.append(dict(n=int(len(g)), spec=spec))
    return pack_xyz(xyz, idx, frame) + np.asarray(codes, np.uint8)[idx].tobytes(), specs


def _component():
    global _declared
    if _declared is None:
        import streamlit.components.v1 as components
        # the 2-D map's folder: its index.html sends this frame on to map3d.html
        _declared = components.declare_component("kickspace_map3d",
                                                 path=str(mapcomponent.FRONTEND))
    return _declared


_declared = None


def show(bundle: Bundle, method: str, visible: np.ndarray, colours: Colours,
         pick: dict | None, matches: np.ndarray, layers: map_layers.Choice | None = None,
         height: int = 560) -> bool:
    """Draw the 3-D view of the visible products (catalogue indices passing the filters);
    pick: the page's selection record ({"indices": ...}) or None; matches: search hits;
    layers: the sidebar's overlays (the photo and the path are drawn; contours are 2-D only).
    True when a click on a product, a box or a lasso made the selection, or a click on empty space
    cleared it (the page syncs the URL, reruns)."""
    xyz, shown = cache_map.projection_3d(bundle, method)
    plan = mapview.plan_points(visible, max_points(), 10 ** 12)
    mask = np.zeros(len(bundle), bool)
    mask[visible] = True
    selected = np.asarray(pick["indices"], np.int64) if pick else np.zeros(0, np.int64)
    selected = selected[(selected >= 0) & (selected < len(mask))]
    selected = selected[mask[selected]]                 # the filtered ones only
    overlays, placed = map_layers.overlays_3d(bundle, xyz, shown, layers) if layers else ([], "")
    lit = bool(len(selected) or len(matches))
    sample = sample_traces(plan.drawn, colours.codes, colours.palette, colours.kind,
                           colours.legend, colours.title, colours.range, lit)
    frame = frame_3d(xyz)                       # the whole map's: filtering moves nothing
    data, specs = _packed(xyz, frame, sample, colours.codes)
    hl, hl_specs = _packed(xyz, frame, highlight_traces(
        selected, matches, point_size(len(plan.drawn))), colours.codes)
    ss = st.session_state
    value = _component()(
        key="map3d", default=None, n=int(len(plan.drawn)),
        frame=[*map(float, frame[0]), float(frame[1])],
        n_selected=int(len(pick["indices"])) if pick else 0,   # a click on empty space clears
        data_key=hashlib.sha1(data).hexdigest()[:16],
        points_url=mapcomponent.media_url(data, "application/octet-stream", "points3d"),
        traces=specs, highlights=hl, hl_traces=hl_specs,
        hl_key=hashlib.sha1(hl).hexdigest()[:12],
        overlays=json.dumps([overlay_trace(o).to_plotly_json() for o in overlays],
                            cls=PlotlyJSONEncoder),
        layout=layout_3d(colours.title, height), height=int(height),
        thumbs={"size": bundle.images.size, "cols": COLS, "per_shard": PER_SHARD},
        shards={str(k): v for k, v in cache_map.shard_urls(bundle, ss.get("map_need", [])).items()})
    event, _, wanted = mapcomponent.parse_value(value)
    n_shards = -(-len(bundle) // PER_SHARD)
    wanted = [k for k in wanted if 0 <= k < n_shards]
    if wanted and wanted != ss.get("map_need"):
        ss["map_need"] = wanted
        st.rerun()
    n = len(visible)
    drawn = (f"all {n:,} products are drawn" if len(plan.drawn) == n else
             f"a seeded sample of {len(plan.drawn):,} of the {n:,} products is drawn")
    name = LABEL.get(shown, shown)
    stored = " (stored in the bundle)" if shown in bundle.projections_3d else ""
    note = ""
    if shown != method:
        note = (f" This bundle has no 3-D {LABEL.get(method, method)}; `python -m explorer "
                f"project BUNDLE --method umap --dims 3` adds a 3-D UMAP."
                if shown == "pca" else f" t-SNE has no 3-D map: this is the bundle's 3-D {name}.")
    n_ringed = min(len(selected), MAX_HIGHLIGHT)
    ringed = ("" if not len(selected) else f"; {n_ringed:,} selected ringed in red"
              if n_ringed == len(selected) else
              f"; {n_ringed:,} of the {len(selected):,} selected ringed in red (at most "
              f"{MAX_HIGHLIGHT:,} are drawn in 3-D; the 2-D map shows them all)")
    extra = "; ".join(filter(None, [placed, "density contours are drawn on the 2-D map only"
                                    if layers and layers.contours else ""]))
    st.caption(f"3-D {name} map{stored}: {drawn}{ringed}{'; ' + extra if extra else ''}. Drag "
               f"to turn, scroll to zoom, hover for the picture; click a product to select it "
               f"(empty space: clear the selection), pick Box or Lasso and drag to select every "
               f"filtered product in it (hold Shift to add to the selection, Alt to take away), "
               f"or select around a product below.{note}")
    _select_around(bundle, xyz, name, visible, matches, overlays)
    if event is not None and event.seq != ss.get("map3d_seq"):
        ss["map3d_seq"] = event.seq
        md = bundle.metadata
        if event.kind == "click" and event.index is not None and 0 <= event.index < len(mask) \
                and mask[event.index]:
            map_link.pick_step("by a click on the 3-D map", [event.index], None, event.op, md)
            return True
        if event.kind == "clear" and pick:             # a click on empty space
            ss.pop("pick", None)
            return True
        if event.kind in ("box3d", "lasso3d"):         # a box or a lasso drawn on the view
            d = {"kind": event.kind, "proj": shown, "clip": event.clip, "x": event.x,
                 "y": event.y}
            what = "a box" if event.kind == "box3d" else "a lasso"
            map_link.pick_step(f"in {what} on the 3-D {name} map",
                               screen_selection(bundle, d, visible), d, event.op, md)
            return True
    return False


def screen_selection(bundle: Bundle, d: dict, visible: np.ndarray) -> np.ndarray:
    """The visible products inside a box or a lasso drawn on the 3-D view, {"kind": "box3d"
    or "lasso3d", "proj", "clip", "x", "y"} (the component's event, kept in the URL's `sel`;
    a box's x, y are its corners, a lasso's its vertices), every filtered product and not
    only the drawn sample. ValueError, KeyError or TypeError when `d` is malformed."""
    xyz, _ = cache_map.projection_3d(bundle, str(d["proj"]))
    clip = [float(v) for v in d["clip"]]
    xs, ys = [float(v) for v in d["x"]], [float(v) for v in d["y"]]
    if not np.isfinite(clip + xs + ys).all():
        raise ValueError(f"the 3-D {d['kind']} has a number that is not finite")
    if d["kind"] == "lasso3d":
        return in_screen_polygon(xyz, visible, clip, xs, ys)
    return in_screen_box(xyz, visible, clip, xs, ys)


def _select_around(bundle: Bundle, xyz: np.ndarray, name: str, visible: np.ndarray,
                   matches: np.ndarray, overlays: list[dict]) -> None:
    """"Select around": the k products nearest a search match or the photo in this 3-D map
    become the selection (besides a click on a product, a box or a lasso on the view)."""
    anchors: dict[str, tuple[np.ndarray, str]] = {}
    photo = next((o for o in overlays if o["kind"] == "photo"), None)
    if photo is not None:
        anchors["photo"] = (np.asarray(photo["xyz"]).reshape(3), f"the photo {photo['label']}")
    shown = np.asarray(matches, np.int64)[:ANCHORS]
    for i, text in zip(shown, _names(bundle)(shown)):
        anchors[f"m{int(i)}"] = (xyz[int(i)], text)
    if not anchors:
        st.caption("To select in 3-D: search for a product above (name or SKU) or place a "
                   "photo; its nearest products in this 3-D map can then be selected here.")
        return
    c1, c2, c3 = st.columns([3, 1.2, 1], vertical_alignment="bottom")
    c1.selectbox("Select around", list(anchors), key="near3d_at",
                 format_func=lambda a: anchors[a][1],
                 help="a search match (the first 200) or the uploaded photo")
    c2.number_input("nearest products", 1, 2_000, 25, key="near3d_k",
                    help=f"among the filtered products, by distance in this 3-D {name} map")
    # the callback reads the anchor and k from the session state (this click's values)
    c3.button("Select them", key="near3d_go", icon=":material/ads_click:", on_click=_pick_near,
              args=(anchors, xyz, visible, name))


def _pick_near(anchors: dict, xyz: np.ndarray, visible: np.ndarray, name: str) -> None:
    ss = st.session_state
    centre, text = anchors.get(ss.get("near3d_at"), next(iter(anchors.values())))
    idx = nearest(xyz, visible, centre, int(ss.get("near3d_k", 25)))
    map_sections.pick(f"the {len(idx):,} nearest to {text} in 3-D {name}", idx)
