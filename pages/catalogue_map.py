"""Catalogue map: the whole catalogue on one WebGL map (explorer.app.mapcomponent), with search,
cross-filtering histograms, a selection you can tag, clusters and tags.

Click a product to select it; Box or Lasso (the map's toolbar) selects many; hover shows the
product's picture; zoom in and pictures replace the points. The projection, colours, filters,
search, view and selection live in the URL, so a reload or a shared link shows the same map.
Tags live in the annotations database (explorer.store.annotations), never in the catalogue.
"""
import os

import numpy as np
import pandas as pd
import streamlit as st

from explorer.app import (cache, cache_map, map3d, map_compute, map_layers, map_link,
                          map_sections, mapcomponent)

from explorer.render import mapview
from explorer.store.annotations import UNTAGGED, AnnotationStoreError
from explorer.data.imagestore import COLS, PER_SHARD
from explorer.app.live_decoder import browser_session
from explorer.app.widgets import current_bundle, esc

b = current_bundle(model=False)   # the 2-D map needs no model: it draws while torch loads
md = b.metadata
N = len(b)
ss = st.session_state
qp = st.query_params
# Beyond MAX_POINTS visible products the map draws a seeded sample (a box or lasso still
# selects every product inside it).
MAX_POINTS = int(os.environ.get("KICKSPACE_MAP_MAX_POINTS", 2_000_000))
METHODS = ["umap", "tsne", "pca"]
LABEL = {"umap": "UMAP", "tsne": "t-SNE", "pca": "PCA"}

if ss.get("map_bundle") != b.key:          # another bundle: forget selections made on the last
    ss["map_bundle"] = b.key
    for k in ("pick", "map_seq", "flash", "import_done", "map_need", "map_view0"):
        ss.pop(k, None)

if mapcomponent.has_shown(ss.get("map")):  # this session's map has been on screen once
    ss["map_drawn"] = True

st.title(":material/map: Catalogue map")
st.caption("Every product placed by its visual factors: neighbours look alike. Click a "
           "product to select it, or pick Box or Lasso above the map and drag; hover for the "
           "picture; zoom in (wheel or pinch) and pictures replace the points.")

try:
    store = cache.annotation_store(b)
    store_error = None
except (AnnotationStoreError, OSError, ValueError) as e:
    store, store_error = None, str(e)
READ_ONLY = store is not None and store.read_only   # tags shown, every tag write disabled


# ---------------------------------------------------------------------------- sidebar
with st.sidebar:
    st.markdown("### :material/map: Map")
    # options are the labels themselves: a bound widget puts the shown label in the URL
    method = {v: k for k, v in LABEL.items()}[st.radio(
        "Projection", [LABEL[m] for m in METHODS], key="proj", bind="query-params",
        index=METHODS.index(map_compute.first_available(b, METHODS)), horizontal=True,
        help="UMAP and t-SNE keep neighbours together; PCA keeps the two directions of "
             "largest variance (global shape, less detail). One the bundle lacks can be "
             "computed here.")]
    view_3d = map3d.view_choice()          # "View: 2-D / 3-D" (URL key `dims`)
    columns = cache_map.map_columns(b)
    colour_choices = mapview.colour_choices(columns["colour"])
    colour_label = st.selectbox("Colour by", list(colour_choices), key="colour",
                                bind="query-params",
                                format_func=lambda c: "nothing" if c == "none" else c)
    colour_by, colour_column = colour_choices[colour_label]
    # A browser's first visit draws the 2-D map first: controls left at their defaults and
    # the panels under the map follow once the component says it has drawn (one more run)
    early = not view_3d and browser_session() and not ss.get("map_drawn")
if not early or map_layers.in_use(b):   # overlays and panels may encode or decode: wait for
    current_bundle()                    # the model here (or show why it cannot load)
with st.sidebar:                        # contours, an uploaded photo, an interpolation path
    layers = map_layers.sidebar(b) if not early or map_layers.in_use(b) else map_layers.Choice()

shown = method if (method in b.projections or method == "pca") else "pca"
if shown != method:
    map_compute.offer(b, method)          # says PCA is shown; a button computes and saves it
xy = cache_map.projection(b, shown)

# ---------------------------------------------------------------------------- filters
chosen: dict[str, list] = {}
ranges: dict[str, tuple[float, float]] = {}
tag_filter: list[str] = []
with st.expander(":material/filter_alt: Filters", expanded=any(k.startswith(("flt_", "rng_"))
                                                                for k in qp)):
    if early and not any(k.startswith(("flt_", "rng_")) for k in qp):
        st.caption("The filters appear as soon as the map is drawn.")
    else:
        grid = st.columns(3)
        for j, (c, opts) in enumerate(columns["values"].items()):
            chosen[c] = grid[j % 3].multiselect(esc(c), opts, key=f"flt_{c}",
                                                placeholder="any", bind="query-params")
        for j, (c, (lo, hi, step)) in enumerate(columns["ranges"].items(), start=len(chosen)):
            got = grid[j % 3].slider(esc(c), lo, hi, (lo, hi), step=step, key=f"rng_{c}",
                                     bind="query-params")
            if tuple(got) != (lo, hi):
                ranges[c] = got
        if store is not None:
            tag_names = store.tags()["tag"].tolist()
            if tag_names:
                tag_filter = st.multiselect("has any of these tags", tag_names, key="flt_tags",
                                            placeholder="any")
masks = {"__all__": mapview.filter_mask(md, chosen, ranges)}
if tag_filter:
    with_tags = set().union(*(store.skus_with(t) for t in tag_filter))
    masks["__all__"] &= md["sku"].astype(str).isin(with_tags).to_numpy()
visible = np.flatnonzero(masks["__all__"])

# ---------------------------------------------------------------------------- search
q = st.text_input("Search by name, SKU or brand", key="q", bind="query-params",
                  placeholder="e.g. Driftwood, KS-000123, high-top",
                  help="matching products are ringed on the map")
matches = np.zeros(0, np.int64)
if q.strip():
    hit = cache_map.search_text(b).str.contains(q.strip().lower(), regex=False)
    matches = np.flatnonzero(hit.to_numpy() & masks["__all__"])
    s1, s2 = st.columns([3, 1.3], vertical_alignment="center")
    s1.caption(f"{len(matches):,} product{'s match' if len(matches) != 1 else ' matches'} "
               f"'{esc(q.strip())}'"
               + (" (among the filtered ones)" if len(visible) < N else ""))
    if len(matches):
        s2.button("Select the match" if len(matches) == 1 else
                  f"Select the {len(matches):,} matches", key="pick_search",
                  on_click=map_sections.pick, args=(f"matching '{q.strip()}'", matches,
                                                   {"kind": "search", "q": q.strip()}))


# ---------------------------------------------------------------------------- the selection
map_link.restore(b, xy, visible, store)


def _colours(labels_fn) -> mapcomponent.Colours:
    if colour_by == "cluster":
        labels, _, desc = labels_fn()
        colouring = mapview.cluster_colouring(labels, title=desc)
        names = map_sections.cluster_name_map(b, labels)
        if names:                                    # legend: "cluster 3 · boot · leather"
            colouring.categories = [
                f"{c} · {names[int(c.split()[1])]}" if c.startswith("cluster ") and
                int(c.split()[1]) in names else c for c in colouring.categories]
            old = [c.split(" · ")[0] for c in colouring.categories]
            colouring.colours = {new: colouring.colours.get(o, mapview.OTHER_COLOUR)
                                 for new, o in zip(colouring.categories, old)}
            lookup = dict(zip(old, colouring.categories))
            colouring.labels = np.array([lookup.get(v, v) for v in colouring.labels], object)
    elif colour_by == "tag" and store is not None:
        tag_labels = np.asarray(store.tag_column(md["sku"].astype(str).tolist()), object)
        counts = pd.Series(tag_labels[tag_labels != UNTAGGED]).value_counts()
        colouring = mapview.categorical_colouring(tag_labels, "tag",
                                                  order=counts.index.tolist() + [UNTAGGED])
        colouring.colours[UNTAGGED] = mapview.OTHER_COLOUR
    elif colour_by == "column":
        colouring = mapview.column_colouring(md, colour_column)
    else:
        colouring = mapview.Colouring("none")
    return mapcomponent.colour_codes(colouring, N)


_clusters: list = []


def _labels():
    """Clusters, computed once per run and only when something needs them."""
    if not _clusters:
        _clusters.append(map_sections.cluster_controls(b))
    return _clusters[0]


# ---------------------------------------------------------------------------- the map
if not len(visible):
    st.warning("No product passes the filters.")
elif view_3d:                              # the 3-D view in place of the 2-D map
    if map3d.show(b, method, visible, _colours(_labels), ss.get("pick"), matches, layers):
        map_link.sync(md)                        # a click in 3-D selected or cleared
        st.rerun()
else:
    plan = mapview.plan_points(visible, MAX_POINTS, 10 ** 12)
    colours = _colours(_labels)
    pkey = (shown, len(xy), plan.drawn.tobytes().__hash__(), colours.codes.tobytes().__hash__())
    packed = cache_map.packed_points(b, pkey, xy, plan.drawn, colours.codes)
    need = ss.setdefault("map_need", [])
    shard_urls = cache_map.shard_urls(b, need)
    if "map_view0" not in ss:                        # the view from the link, applied once
        ss["map_view0"] = qp.get("view", "")
    try:
        view0 = [float(v) for v in ss["map_view0"].split(",")][:3] if ss["map_view0"] else None
    except ValueError:
        view0 = None
    selected = np.asarray(ss["pick"]["indices"], np.int64) if ss.get("pick") else []
    value = mapcomponent.catalogue_map(
        packed, colours, n_total=N, selected=selected, matches=matches[:20_000],
        shards=shard_urls, thumbs={"size": b.images.size, "cols": COLS, "per_shard": PER_SHARD},
        view=view0 if view0 and len(view0) == 3 else None, view_key=ss["map_view0"],
        overlays=map_layers.overlays(b, xy, shown, visible, layers), height=560,
        report_shown=early, key="map")
    event, view, wanted = mapcomponent.parse_value(value)
    n_shards = -(-N // PER_SHARD)
    wanted = [k for k in wanted if 0 <= k < n_shards]
    if wanted and wanted != need:
        ss["map_need"] = wanted
        st.rerun()
    if view is not None:
        text = ",".join(f"{v:.6g}" for v in view)
        if qp.get("view") != text:
            qp["view"] = text
    if event is not None and event.seq != ss.get("map_seq") and "3d" not in event.kind:
        ss["map_seq"] = event.seq
        if event.kind == "clear":
            ss.pop("pick", None)
        else:
            picked = mapcomponent.event_selection(event, xy, visible)
            d = None if event.kind == "click" else \
                {"kind": event.kind, "x": event.x[:120], "y": event.y[:120]}
            label = {"click": "by a click", "box": "in a box",
                     "lasso": "in a lasso"}[event.kind] + " on the map"
            map_link.pick_step(label, picked, d, event.op, md)
        map_link.sync(md)
        st.rerun()
    note = "; ".join(filter(None, [plan.describe(), map_layers.caption(layers)]))
    st.caption(f"{LABEL[shown]} map: {note}. Hold Shift while you click, box or lasso to add to "
               f"the selection, Alt to take away; click empty space to clear it.")

map_link.sync(md)
if early and len(visible):   # (the component's report is read at the top of the next run)
    # as tall as the panels to come: the page scrolls from the start, so no scroll bar
    # appears (narrowing the map under a drag already begun) when they arrive
    with st.container(height=900, border=False):
        st.caption(":material/hourglass_top: The histograms, the selection, the clusters and "
                   "the tags follow as soon as the map is drawn.")
        st.button("Show them now", key="map_rest", on_click=lambda: ss.update(map_drawn=True))
    st.stop()
elif early:                                # nothing drawn, nothing to wait for
    ss["map_drawn"] = True
    st.rerun()
selected_now = np.asarray(ss["pick"]["indices"], np.int64) if ss.get("pick") else \
    np.zeros(0, np.int64)

# cross-filter masks: each column's histogram counts the products passing the other filters
for c in list(columns["values"]) + list(columns["ranges"]):
    if c in ss.get("hist_cols", []):
        others_c = {k: v for k, v in chosen.items() if k != c}
        others_r = {k: v for k, v in ranges.items() if k != c}
        masks[c] = mapview.filter_mask(md, others_c, others_r)
map_sections.histograms(md, columns, masks, selected_now, chosen, list(columns["ranges"]))
map_sections.selection_panel(b, store, READ_ONLY)
labels, centres, desc = _labels()
map_sections.clusters_section(b, store, labels, centres, desc, READ_ONLY)
map_sections.tags_section(b, store, store_error, READ_ONLY)
