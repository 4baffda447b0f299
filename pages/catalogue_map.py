"""Catalogue map: the whole catalogue on one map, clusters, and bulk tagging.

The map is a 2-D projection (UMAP, t-SNE or PCA) of the latent means; select products with a
click, a box or a lasso, look at them page by page, and tag them (or a whole cluster) at once.
Tags live in the annotations database (explorer.annotations), never in the catalogue.
"""
import hashlib
import os
import time

import numpy as np
import pandas as pd
import streamlit as st

from explorer import cache, mapview
from explorer.annotations import UNTAGGED, AnnotationStoreError
from explorer.clusters import NOISE, central_items, cluster_sizes
from explorer.sheets import image_grid, to_png_bytes
from explorer.widgets import current_bundle, esc, product_grid

b = current_bundle()
md = b.metadata
N = len(b)
ss = st.session_state
PER_PAGE = 30
# Beyond MAX_POINTS visible products the map draws a seeded sample; beyond DENSITY_ABOVE it
# shades the density of all of them under the sample (both overridable for big servers).
MAX_POINTS = int(os.environ.get("KICKSPACE_MAP_MAX_POINTS", mapview.MAX_POINTS))
DENSITY_ABOVE = int(os.environ.get("KICKSPACE_MAP_DENSITY_ABOVE", mapview.DENSITY_ABOVE))
METHODS = ["umap", "tsne", "pca"]
LABEL = {"umap": "UMAP", "tsne": "t-SNE", "pca": "PCA"}
DEFAULTS = {"umap": {"n_neighbors": 15, "min_dist": 0.1}, "tsne": {"perplexity": 30.0},
            "pca": {}}

if ss.get("map_bundle") != b.key:          # another bundle: forget selections made on the last
    ss["map_bundle"] = b.key
    for k in ("pick", "map_sig", "flash", "import_done"):
        ss.pop(k, None)

st.title(":material/map: Catalogue map")
st.caption("Every product of the catalogue placed by its visual factors: neighbours look "
           "alike. Click a point or drag a box or lasso (toolbar, top right of the map) to "
           "select products, then tag them. Clusters group products on the latent factors "
           "themselves, not on the 2-D map.")

try:
    store = cache.annotation_store(b)
    store_error = None
except (AnnotationStoreError, OSError, ValueError) as e:
    store, store_error = None, str(e)
READ_ONLY = store is not None and store.read_only   # tags shown, every tag write disabled


def _flash(kind: str, text: str, where: str) -> None:
    """Remember a message for the next run, shown in section `where` (next to the button
    that caused it) and as a toast."""
    ss["flash"] = (kind, text, where)


def _show_flash(where: str) -> None:
    if ss.get("flash", (None, None, None))[2] == where:
        kind, text, _ = ss.pop("flash")
        getattr(st, kind)(esc(text))
        st.toast(esc(text), icon=":material/check:" if kind == "success" else
                 ":material/error:")


def _skus(indices) -> list[str]:
    return md["sku"].astype(str).to_numpy()[np.asarray(indices, np.int64)].tolist()


def _pick(label: str, indices) -> None:
    """Make `indices` the selection (call before the selection grid, or as a callback)."""
    ss["pick"] = {"label": label, "indices": [int(i) for i in indices]}
    ss["sel_page"] = 1


@st.cache_data(max_entries=8, show_spinner="Drawing the image map …")
def _image_map(path: str, key: str, xy: np.ndarray, items: np.ndarray, layout: str,
               thumb: int) -> tuple[bytes, int, int]:
    """The image map of catalogue items `items` at map positions xy [N, 2] -> (JPEG, w, h)."""
    bb = cache.get_bundle(path)
    imgs = bb.images.get(items)
    if layout == "grid":
        cells, rows, cols = mapview.snap_to_grid(xy[items])
        img = mapview.grid_image(imgs, cells, rows, cols, thumb=thumb)
    else:
        side = int(min(4000, max(800, np.sqrt(len(items)) * thumb * 1.3)))
        img = mapview.scatter_image(imgs, xy[items], size=side, thumb=thumb)
    return mapview.to_jpeg(img), img.width, img.height


@st.cache_resource(max_entries=4, show_spinner=False)
def _columns(path: str, key: str) -> dict:
    """What the map can colour and filter by, per bundle: colour options, and for the
    filters each categorical column's values and each numeric column's (lo, hi, step)."""
    meta = cache.get_bundle(path).metadata
    cats, nums = mapview.filterable_columns(meta)
    values = {}
    for c in cats:
        opts = sorted(meta[c].dropna().astype(str).unique().tolist())
        values[c] = opts + ([mapview.MISSING] if meta[c].isna().any() else [])
    ranges = {}
    for c in nums:
        v = pd.to_numeric(meta[c], errors="coerce")
        ranges[c] = (float(v.min()), float(v.max()),
                     1.0 if (v.dropna() % 1 == 0).all() else None)
    return {"colour": mapview.colour_options(meta), "values": values, "ranges": ranges}


@st.cache_resource(max_entries=4, show_spinner=False)
def _hover(path: str, key: str) -> np.ndarray:
    """Every product's hover text (escaped), per bundle; read-only."""
    return mapview.hover_texts(cache.get_bundle(path).metadata)


@st.cache_resource(max_entries=6, show_spinner="Drawing the map …")
def _figure(path: str, key: str, figure_key: tuple, _xy: np.ndarray, _plan, _colouring_fn,
            _visible: np.ndarray) -> mapview.MapFigure:
    """The scatter figure, rebuilt only when figure_key (projection, filters, colours, tags,
    thresholds) changes; shared read-only between sessions like the other resources."""
    meta = cache.get_bundle(path).metadata
    return mapview.scatter_figure(_xy, _plan, _colouring_fn(), meta, visible=_visible,
                                  hover=_hover(path, key))


# ---------------------------------------------------------------------------- actions
# Every button acts in its on_click callback: a callback runs exactly once, before the
# script, so an action is never lost or repeated when the script reruns.
def _request_recompute(method_: str) -> None:
    params = ({"n_neighbors": int(ss["p_nn"]), "min_dist": float(ss["p_md"])}
              if method_ == "umap" else {"perplexity": float(ss["p_px"])})
    ss["recompute"] = (method_, params, int(ss.get("p_seed", 0)))


def _tag_indices(tag: str, indices, what: str, where: str) -> None:
    try:
        n = store.add_tag(tag, _skus(indices))
        _flash("success", f"Tagged {n:,} of {len(indices):,} {what} with '{tag.strip()}'"
               + ("" if n == len(indices) else " (the others had it already)"), where)
    except (ValueError, AnnotationStoreError) as e:
        _flash("error", f"Nothing was tagged: {e}", where)


def _on_tag_selection(indices) -> None:
    _tag_indices(ss.get("sel_tag", ""), indices, "selected products", "selection")


def _on_untag_selection(indices) -> None:
    tag = ss.get("sel_tag", "")
    try:
        n = store.remove_tag(tag, _skus(indices))
        _flash("success", f"Removed '{tag.strip()}' from {n:,} of the selected products",
               "selection")
    except (ValueError, AnnotationStoreError) as e:
        _flash("error", f"Nothing was removed: {e}", "selection")


def _on_tag_cluster(labels_: np.ndarray) -> None:
    which = ss.get("tag_cluster")
    members = np.flatnonzero(labels_ == which) if isinstance(which, (int, np.integer)) else []
    if not len(members):
        _flash("error", f"Nothing was tagged: pick a cluster first (got {which!r})", "clusters")
        return
    _tag_indices(ss.get("cluster_tag", ""), members, f"products in cluster {which}",
                 "clusters")


def _on_rename() -> None:
    old, new = ss.get("ren_old"), ss.get("ren_new", "")
    try:
        n = store.rename_tag(old, new)
        _flash("success", f"Renamed '{old}' to '{new.strip()}' on {n:,} products", "tags")
    except (ValueError, AnnotationStoreError) as e:
        _flash("error", f"Not renamed: {e}", "tags")


def _on_delete() -> None:
    old = ss.get("ren_old")
    try:
        n = store.delete_tag(old)
        _flash("success", f"Removed '{old}' from {n:,} products", "tags")
    except (ValueError, AnnotationStoreError) as e:
        _flash("error", f"Not deleted: {e}", "tags")


def _pick_tag(tag: str) -> None:
    wanted = set(store.skus_with(tag))
    _pick(f"tagged '{tag}'", np.flatnonzero(md["sku"].astype(str).isin(wanted)))


def _on_undo() -> None:
    try:
        text = store.undo_last()
        _flash("success", text[0].upper() + text[1:] if text else "Nothing to undo", "tags")
    except AnnotationStoreError as e:
        _flash("error", f"Undo failed: {e}", "tags")


# ---------------------------------------------------------------------------- sidebar
with st.sidebar:
    st.markdown("### :material/map: Map")
    # options are the labels themselves: a bound widget puts the shown label in the URL
    method = {v: k for k, v in LABEL.items()}[st.radio(
        "Projection", [LABEL[m] for m in METHODS], key="proj", bind="query-params",
        horizontal=True, help="UMAP and t-SNE keep neighbours together; PCA keeps the two "
                              "directions of largest variance (global shape, less detail)")]
    columns = _columns(str(b.path), b.key)
    colour_choices = mapview.colour_choices(columns["colour"])
    colour_label = st.selectbox("Colour by", list(colour_choices), key="colour",
                                bind="query-params",
                                format_func=lambda c: "nothing" if c == "none" else c)
    colour_by, colour_column = colour_choices[colour_label]
    view = st.radio("Show", ["points", "images"], key="view", horizontal=True,
                    bind="query-params", help="points: the interactive map; images: the "
                    "products' thumbnails laid out as on the map, as one zoomable picture")

    st.markdown("### :material/bubble_chart: Clusters")
    cl_method = st.radio("Method", ["k-means", "HDBSCAN"], key="cl_method", horizontal=True,
                         help="on the latent means (all factors), not on the 2-D map")
    if cl_method == "k-means":
        with st.spinner("Scoring k = 2 … 15 (silhouette) …"):
            k_suggested, k_scores = cache.suggested_k(b)
        k = st.slider("Number of clusters k", 2, 30, value=max(2, k_suggested), key="k")
        if k_scores:
            st.caption(f"Suggested k = {k_suggested} (best silhouette, "
                       f"{k_scores[k_suggested]:.2f}, on a 2,000-product sample)")
        with st.spinner(f"k-means with k = {k} …"):
            labels, centres = cache.kmeans_clusters(b, k)
        centre_of = {c: centres[c] for c in range(len(centres))}
        cluster_desc = f"k-means, k = {k}"
    else:
        mcs = st.slider("Minimum cluster size", 5, max(10, min(2000, N // 4)),
                        value=max(5, min(N // 80, 500)), key="mcs",
                        help="smaller finds more, smaller clusters; products that fit no "
                             "cluster are noise")
        with st.spinner("HDBSCAN …"):
            labels = cache.hdbscan_clusters(b, mcs)
        centre_of = None
        cluster_desc = f"HDBSCAN, minimum size {mcs}"

# ---------------------------------------------------------------------------- projection
params_key = f"map_params_{method}"
with st.expander(f":material/refresh: Recompute the {LABEL[method]} map with other "
                 f"parameters"):
    if method == "pca":
        st.caption("PCA has no parameters: its map is exact and is always up to date.")
    else:
        with st.form(f"recompute_{method}", border=False):
            if method == "umap":
                c1, c2 = st.columns(2)
                c1.slider("n_neighbors", 2, 200, 15, key="p_nn",
                          help="larger keeps more global structure")
                c2.slider("min_dist", 0.0, 0.99, 0.1, 0.01, key="p_md",
                          help="smaller packs similar products tighter")
            else:
                st.slider("perplexity", 5, 100, 30, key="p_px",
                          help="about how many neighbours each product pays attention to")
            st.number_input("seed", 0, 10**6, 0, key="p_seed")
            st.form_submit_button("Recompute", type="primary", on_click=_request_recompute,
                                  args=(method,))
        request = ss.get("recompute")
        if request and request[0] == method:
            _, new, seed = ss.pop("recompute")
            is_custom = new != DEFAULTS[method] or seed != 0 or method not in b.projections
            with st.status(f"Computing {LABEL[method]} for {N:,} products …",
                           expanded=True) as status:
                st.write("This takes about a minute per 10,000 products; the result is "
                         "cached for everyone using this bundle.")
                t0 = time.perf_counter()
                cache.projection(b, method, new if is_custom else None, seed)
                status.update(label=f"{LABEL[method]} computed in "
                                    f"{time.perf_counter() - t0:.1f} s", state="complete",
                              expanded=False)
            ss[params_key] = (new, seed) if is_custom else None
        if ss.get(params_key):
            p, s = ss[params_key]
            st.caption("Showing the recomputed map: " + ", ".join(
                f"{esc(k)} {v:g}" for k, v in p.items()) + f", seed {s}.")
            st.button("Back to the bundle's map", key="p_reset", on_click=ss.__setitem__,
                      args=(params_key, None))

custom = ss.get(params_key)
shown = method
if method not in b.projections and method != "pca" and not custom:
    st.info(f"This bundle has no precomputed {LABEL[method]} map; showing PCA. Compute "
            f"{LABEL[method]} with the expander above.")
    shown = "pca"
    xy = cache.projection(b, "pca")
else:
    with st.spinner(f"Computing the {LABEL[method]} map …"):
        xy = cache.projection(b, method, custom[0] if custom else None,
                              custom[1] if custom else 0)

# ---------------------------------------------------------------------------- filters
chosen: dict[str, list] = {}
ranges: dict[str, tuple[float, float]] = {}
tag_filter: list[str] = []
with st.expander(":material/filter_alt: Filters"):
    grid = st.columns(3)
    for j, (c, opts) in enumerate(columns["values"].items()):
        chosen[c] = grid[j % 3].multiselect(esc(c), opts, key=f"flt_{c}", placeholder="any")
    for j, (c, (lo, hi, step)) in enumerate(columns["ranges"].items(), start=len(chosen)):
        got = grid[j % 3].slider(esc(c), lo, hi, (lo, hi), step=step, key=f"rng_{c}")
        if got != (lo, hi):
            ranges[c] = got
    if store is not None:
        tag_names = store.tags()["tag"].tolist()
        if tag_names:
            tag_filter = st.multiselect("has any of these tags", tag_names, key="flt_tags",
                                        placeholder="any")
mask = mapview.filter_mask(md, chosen, ranges)
if tag_filter:
    with_tags = set().union(*(store.skus_with(t) for t in tag_filter))
    mask &= md["sku"].astype(str).isin(with_tags).to_numpy()
visible = np.flatnonzero(mask)

# ---------------------------------------------------------------------------- colours
def _make_colouring() -> mapview.Colouring:
    if colour_by == "cluster":
        return mapview.cluster_colouring(labels, title=cluster_desc)
    if colour_by == "tag" and store is not None:
        tag_labels = np.asarray(store.tag_column(md["sku"].astype(str).tolist()), object)
        counts = pd.Series(tag_labels[tag_labels != UNTAGGED]).value_counts()
        colouring = mapview.categorical_colouring(tag_labels, "tag",
                                                  order=counts.index.tolist() + [UNTAGGED])
        colouring.colours[UNTAGGED] = mapview.OTHER_COLOUR
        return colouring
    if colour_by == "column":
        return mapview.column_colouring(md, colour_column)
    return mapview.Colouring("none")


def _tag_version() -> tuple[str, int]:
    """Changes whenever any tag changes: the database and the id of its latest action."""
    if store is None:
        return "", 0
    h = store.history(limit=1)
    return str(store.path), int(h["id"].iloc[0]) if len(h) else 0


colour_key = (colour_by, colour_column, cluster_desc if colour_by == "cluster" else None,
              _tag_version() if colour_by == "tag" else None)

# ---------------------------------------------------------------------------- the map
if not len(visible):
    st.warning("No product passes the filters.")
elif view == "points":
    plan = mapview.plan_points(visible, MAX_POINTS, DENSITY_ABOVE)
    figure_key = (shown, str(custom), hashlib.sha1(visible.tobytes()).hexdigest(),
                  colour_key, MAX_POINTS, DENSITY_ABOVE)
    mf = _figure(str(b.path), b.key, figure_key, xy, plan, _make_colouring, visible)
    event = st.plotly_chart(mf.figure, key="map", on_select="rerun",
                            selection_mode=("points", "box", "lasso"),
                            config={"displaylogo": False},
                            alt=f"{LABEL[shown]} map of {len(visible):,} products")
    note = plan.describe()
    if plan.sampled:
        note += (". A box or lasso selects every product inside it, drawn or not; a click "
                 "selects the point under the mouse")
    st.caption(f"{LABEL[shown]} map: {note}. Hover for name, SKU and brand.")
    sel = event.selection if event is not None else {}
    points, boxes, lassos = sel.get("points", []), sel.get("box", []), sel.get("lasso", [])
    picked = mapview.selected_points(points, mf.trace_indices)
    if plan.sampled and (boxes or lassos):
        picked = np.union1d(picked, mapview.area_selection(xy, visible, boxes, lassos))
    if len(picked):
        sig = hashlib.sha1(shown.encode() + picked.tobytes()).hexdigest()
        if sig != ss.get("map_sig"):
            ss["map_sig"] = sig
            _pick("on the map", picked)
else:
    c1, c2, c3 = st.columns(3)
    layout = c1.radio("Layout", ["grid", "free"], horizontal=True, key="im_layout",
                      format_func={"grid": "snapped to a grid",
                                   "free": "at map positions"}.get)
    max_items = c2.select_slider("Products at most", [100, 400, 900, 1600, 2500], 900,
                                 key="im_max")
    thumb = c3.select_slider("Thumbnail size (px)", [24, 32, 48, 64], 48, key="im_thumb")

    sub = visible
    if len(visible) > max_items:
        sub = visible[mapview.representative_subset(xy[visible], max_items, seed=0)]
    jpeg, w, h = _image_map(str(b.path), b.key, xy, sub, layout, thumb)
    fig = mapview.image_figure(jpeg, size=(w, h))
    st.plotly_chart(fig, key="image_map", config={"scrollZoom": True, "displaylogo": False},
                    alt=f"image map of {len(sub):,} products")
    if len(sub) < len(visible):
        st.caption(f"Showing {len(sub):,} representative products of {len(visible):,}: the "
                   f"map is cut into equal squares and each occupied square shows the product "
                   f"nearest its centre. Scroll or drag to zoom, double-click to reset.")
    else:
        st.caption(f"All {len(sub):,} products. Scroll or drag to zoom, double-click to "
                   f"reset.")
    st.download_button("Download the image map (JPEG)", jpeg, file_name="image-map.jpg",
                       mime="image/jpeg")


# ---------------------------------------------------------------------------- selection
def selection_panel() -> None:
    st.subheader(":material/select_all: Selection")
    _show_flash("selection")
    pick = ss.get("pick")
    if not pick or not pick["indices"]:
        st.info("Nothing selected yet: click a point, or drag a box or lasso on the map, or "
                "pick a cluster below.")
        return
    idx = [i for i in pick["indices"] if 0 <= i < N]
    st.markdown(f"**{len(idx):,} products selected** {esc(pick['label'])}")
    if store is not None:
        c1, c2, c3, c4 = st.columns([3, 2, 2, 2], vertical_alignment="bottom")
        c1.text_input("Tag", key="sel_tag", placeholder="e.g. retro, needs new photo")
        c2.button("Tag selection", key="sel_add", disabled=READ_ONLY, type="primary",
                  width="stretch",
                  on_click=_on_tag_selection, args=(idx,))
        c3.button("Remove tag", key="sel_remove", disabled=READ_ONLY, width="stretch",
                  on_click=_on_untag_selection,
                  args=(idx,), help="remove this tag from the selected products")
        c4.button("Clear selection", key="sel_clear", width="stretch", on_click=ss.pop,
                  args=("pick", None))
    n_pages = max(1, -(-len(idx) // PER_PAGE))
    if ss.get("sel_page", 1) > n_pages:
        ss["sel_page"] = 1
    page = st.number_input(f"Page (of {n_pages:,}, {PER_PAGE} per page)", 1, n_pages,
                           key="sel_page") if n_pages > 1 else 1
    items, _ = mapview.page_of(idx, page, PER_PAGE)
    product_grid(b, items, cols=6, width=96)


selection_panel()

# ---------------------------------------------------------------------------- clusters
st.subheader(":material/bubble_chart: Clusters")
sizes = cluster_sizes(labels)
n_noise = sizes.pop(NOISE, 0)
st.caption(f"{cluster_desc}: {len(sizes)} clusters"
           + (f", {n_noise:,} products fit none (noise)" if n_noise else "")
           + ". Each row shows the products nearest the cluster's centre (in latent space).")


@st.cache_data(max_entries=16, show_spinner="Finding each cluster's most central products …")
def _cluster_strips(path: str, key: str, desc: str, labels_: np.ndarray,
                    centres_: tuple | None) -> dict[int, bytes]:
    """{cluster: PNG strip of its 8 most central products} (images read in catalogue order,
    so that each image shard is decoded once)."""
    bb = cache.get_bundle(path)
    central = central_items(bb.mu, labels_, per_cluster=8,
                            centres=None if centres_ is None else dict(centres_))
    wanted = np.unique(np.concatenate(list(central.values()))) if central else np.zeros(0, int)
    imgs = dict(zip(wanted.tolist(), bb.images.get(wanted)))
    return {c: to_png_bytes(image_grid(np.stack([imgs[int(i)] for i in idx]), cols=8, pad=2))
            for c, idx in central.items()}


strips = _cluster_strips(str(b.path), b.key, cluster_desc, labels,
                         None if centre_of is None else tuple(centre_of.items()))
listed = sorted(sizes)[:30]
for c in listed:
    c1, c2, c3 = st.columns([1.3, 6, 1.2], vertical_alignment="center")
    c1.markdown(f"**Cluster {c}**  \n{sizes[c]:,} products")
    c2.image(strips[c], width="content")
    c3.button("Select", key=f"pick_cluster_{c}", on_click=_pick,
              args=(f"in cluster {c} ({cluster_desc})", np.flatnonzero(labels == c)),
              width="stretch")
if len(sizes) > len(listed):
    st.caption(f"… and {len(sizes) - len(listed)} smaller clusters.")

if store is not None and sizes:
    with st.container(border=True):
        st.markdown("**Tag a whole cluster**")
        c1, c2, c3 = st.columns([2, 3, 2], vertical_alignment="bottom")
        # labels that do not change with k, so that the choice survives a new clustering
        c1.selectbox("Cluster", sorted(sizes), key="tag_cluster",
                     format_func=lambda c: f"cluster {c}")
        c2.text_input("Tag", key="cluster_tag", placeholder="e.g. chunky soles")
        c3.button("Tag cluster", key="cluster_add", disabled=READ_ONLY, type="primary",
                  width="stretch",
                  on_click=_on_tag_cluster, args=(labels,))
        _show_flash("clusters")

# ---------------------------------------------------------------------------- tags
st.subheader(":material/sell: Tags")
_show_flash("tags")
if store is None:
    st.error(f"The tag database cannot be opened, so tagging is off: {esc(store_error)}")
    st.stop()

if READ_ONLY:
    st.warning(f"The tag database {esc(store.path)} is read-only for this app: tags are "
               f"shown, but tagging, renaming, deleting and undo are off.")
tags = store.tags()
if tags.empty:
    st.caption("No tags yet: select products on the map or pick a cluster, then tag them.")
else:
    left, right = st.columns([2, 3])
    left.dataframe(tags, hide_index=True, width="stretch",
                   column_config={"last_changed": st.column_config.DatetimeColumn(
                       "last changed", format="YYYY-MM-DD HH:mm")})
    with right:
        c1, c2, c3 = st.columns([2, 2, 1.4], vertical_alignment="bottom")
        old = c1.selectbox("Tag", tags["tag"].tolist(), key="ren_old")
        c2.text_input("New name", key="ren_new")
        c3.button("Rename", key="ren_go", disabled=READ_ONLY, width="stretch",
                  on_click=_on_rename)
        d1, d2 = st.columns([4, 1.4], vertical_alignment="bottom")
        d1.caption(f"Remove '{esc(old)}' from every product that has it.")
        d2.button("Delete tag", key="del_go", disabled=READ_ONLY, width="stretch",
                  on_click=_on_delete)
        st.button("Select the products with this tag", key="tag_pick", on_click=_pick_tag,
                  args=(old,))

hist = store.history(limit=100)
last = hist[(hist["kind"] != "undo") & (~hist["undone"])].head(1)
u1, u2 = st.columns([1.4, 5], vertical_alignment="center")
u1.button(":material/undo: Undo last bulk action", key="undo", disabled=last.empty or READ_ONLY,
          on_click=_on_undo)
u2.caption("last: " + esc(last["description"].iloc[0]) if not last.empty else
           "Nothing to undo.")

e1, e2 = st.columns(2)
with e1:
    st.download_button(":material/download: Export all tags (CSV)", store.export_csv(),
                       file_name=f"tags-{b.fingerprint}.csv", mime="text/csv", key="export")
    st.caption("Columns sku, tag, changed_at, changed_by; opens safely in spreadsheets.")
with e2:
    up = st.file_uploader("Import tags from a CSV (columns sku and tag)", type=["csv"],
                          key="tag_import")
    if up is not None and ss.get("import_done", (None,))[0] != up.file_id:
        try:
            result = store.import_csv(up.getvalue())
            ss["import_done"] = (up.file_id, result.ok, result.summary())
        except (ValueError, AnnotationStoreError) as e:
            ss["import_done"] = (up.file_id, False, f"nothing imported: {e}")
        if ss["import_done"][1] and result.added:
            st.rerun()
    if up is not None and ss.get("import_done", (None,))[0] == up.file_id:
        _, ok, summary = ss["import_done"]
        (st.success if ok else st.error)(f"{esc(up.name)}: {esc(summary)}")

with st.expander("Where the tags are stored"):
    st.code(str(store.path), language=None)
    st.caption("One SQLite file per catalogue, shared by every bundle trained on it. Set "
               "KICKSPACE_ANNOTATIONS_DB (one file) or KICKSPACE_DATA_DIR (a folder) to move "
               "it. The catalogue itself is never changed.")
