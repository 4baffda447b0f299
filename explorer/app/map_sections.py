"""The catalogue map page's sections below the map, as functions the page calls: the
selection (summary, tag and untag), clusters (named, selectable, taggable), tags (rename,
delete, undo, export, import), and metadata histograms that cross-filter the map.

The page (pages/catalogue_map.py) owns the map and the URL; these only read and write
st.session_state keys the page documents ("pick": the selection, "flash": the last action's
message). Every catalogue, tag or user string is shown through widgets.esc or as dataframe
cells (plain text).
"""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import streamlit as st

from explorer.app import cache, cache_map

from explorer.render import map_selection, mapview
from explorer.store.annotations import TAG_KINDS, AnnotationStoreError
from explorer.latent.clusters import NOISE, central_items, cluster_sizes
from explorer.render.pictures import png_bytes
from explorer.render.sheets import image_grid
from explorer.app.widgets import esc, product_grid, session_user

PER_PAGE = 30
ss = st.session_state


# ---------------------------------------------------------------------------- messages
def flash(kind: str, text: str, where: str) -> None:
    """Remember a message for the next run, shown in section `where` and as a toast."""
    ss["flash"] = (kind, text, where)


def show_flash(where: str) -> None:
    if ss.get("flash", (None, None, None))[2] == where:
        kind, text, _ = ss.pop("flash")
        getattr(st, kind)(esc(text))
        st.toast(esc(text), icon=":material/check:" if kind == "success" else
                 ":material/error:")


def pick(label: str, indices, definition: dict | None = None) -> None:
    """Make `indices` the selection; `definition` (JSON-able: how to find it again, e.g. a
    box) goes into the URL so that a reload or a shared link restores it."""
    ss["pick"] = {"label": label, "indices": [int(i) for i in indices], "def": definition}
    ss["sel_page"] = 1


def skus(md: pd.DataFrame, indices) -> list[str]:
    return md["sku"].astype(str).to_numpy()[np.asarray(indices, np.int64)].tolist()


# ---------------------------------------------------------------------------- tagging
def tag_indices(store, md, tag: str, indices, what: str, where: str) -> None:
    try:
        n = store.add_tag(tag, skus(md, indices), user=session_user())
        flash("success", f"Tagged {n:,} of {len(indices):,} {what} with '{tag.strip()}'"
              + ("" if n == len(indices) else " (the others had it already)"), where)
    except (ValueError, AnnotationStoreError) as e:
        flash("error", f"Nothing was tagged: {e}", where)


def _on_untag(store, md, indices) -> None:
    tag = ss.get("sel_tag", "")
    try:
        n = store.remove_tag(tag, skus(md, indices), user=session_user())
        flash("success", f"Removed '{tag.strip()}' from {n:,} of the selected products",
              "selection")
    except (ValueError, AnnotationStoreError) as e:
        flash("error", f"Nothing was removed: {e}", "selection")


def _on_clear() -> None:
    ss.pop("pick", None)
    st.query_params.pop("sel", None)


# ---------------------------------------------------------------------------- selection
def selection_panel(b, store, read_only: bool = False) -> None:
    """The selection: count, summary (i17a's selection_summary), tag / untag, paged grid."""
    md, n = b.metadata, len(b)
    st.subheader(":material/select_all: Selection")
    show_flash("selection")
    p = ss.get("pick")
    if not p or not p["indices"]:
        st.info("Nothing selected yet: click a product on the map, or pick Box or Lasso in "
                "the map's toolbar and drag, or pick a cluster below.")
        return
    idx = [i for i in p["indices"] if 0 <= i < n]
    st.markdown(f"**{len(idx):,} product{'' if len(idx) == 1 else 's'} selected** "
                f"{esc(p['label'])}")
    _summary(b, idx)
    if store is not None:
        c1, c2, c3, c4 = st.columns([3, 2, 2, 2], vertical_alignment="bottom")
        c1.text_input("Tag", key="sel_tag", placeholder="e.g. retro, needs new photo")
        c2.button("Tag selection", key="sel_add", type="primary", width="stretch",
                  disabled=read_only,
                  on_click=lambda: tag_indices(store, md, ss.get("sel_tag", ""), idx,
                                               "selected products", "selection"))
        c3.button("Remove tag", key="sel_remove", width="stretch", on_click=_on_untag,
                  disabled=read_only,
                  args=(store, md, idx), help="remove this tag from the selected products")
        c4.button("Clear selection", key="sel_clear", width="stretch", on_click=_on_clear)
    n_pages = max(1, -(-len(idx) // PER_PAGE))
    if ss.get("sel_page", 1) > n_pages:
        ss["sel_page"] = 1
    page = st.number_input(f"Page (of {n_pages:,}, {PER_PAGE} per page)", 1, n_pages,
                           key="sel_page") if n_pages > 1 else 1
    items, _ = map_selection.page_of(idx, page, PER_PAGE)
    product_grid(b, items, cols=6, width=96)


def _summary(b, idx: list[int]) -> None:
    try:
        from explorer.latent.cluster_summary import selection_summary
    except ImportError:                                 # before clusters.py has it
        return
    if len(idx) < 2:
        return
    s = selection_summary(b.metadata, b.mu, np.asarray(idx, np.int64), top_values=3)
    parts = []
    for col, table in list(s.counts.items())[:6]:
        if len(table):
            top = table.iloc[0]
            parts.append(f"{esc(col)}: {esc(top['value'])} ({top['share']:.0%})")
    st.caption(f"Mostly **{esc(s.name)}**. " + " · ".join(parts))


# ---------------------------------------------------------------------------- histograms
def histograms(md: pd.DataFrame, columns: dict, masks: dict[str, np.ndarray],
               selected: np.ndarray, chosen: dict, ranges_cols: list[str]) -> None:
    """One small bar chart per filter column: the products that pass every OTHER filter
    (the usual cross-filter), with the selection's share drawn over them. Clicking a bar
    (a category, or a range bin) sets that column's filter, which redraws the map."""
    import plotly.graph_objects as go

    shown = [c for c in ss.get("hist_cols", []) if c in columns["values"] or c in ranges_cols]
    with st.expander(":material/bar_chart: Histograms (click a bar to filter)",
                     expanded=bool(shown)):
        st.multiselect("Columns", list(columns["values"]) + ranges_cols, key="hist_cols",
                       bind="query-params", placeholder="pick columns to chart",
                       format_func=str)
        if not shown:
            return
        grid = st.columns(min(3, len(shown)))
        sel_mask = np.zeros(len(md), bool)
        sel_mask[np.asarray(selected, np.int64)] = True
        for j, c in enumerate(shown):
            others = masks.get(c, masks["__all__"])
            s = md[c]
            if c in ranges_cols:
                v = pd.to_numeric(s, errors="coerce").to_numpy(np.float64)
                ok = np.isfinite(v)
                edges = np.histogram_bin_edges(v[ok], bins=20) if ok.any() else np.arange(2.0)
                cnt = np.histogram(v[ok & others], edges)[0]
                cs = np.histogram(v[ok & others & sel_mask], edges)[0]
                labels = [f"{edges[i]:,.4g} – {edges[i + 1]:,.4g}" for i in range(len(cnt))]
            else:
                lab = s.astype(str).where(s.notna(), mapview.MISSING)
                vc = lab[others].value_counts().head(25)
                labels = vc.index.tolist()
                cnt = vc.to_numpy()
                cs = lab[others & sel_mask].value_counts().reindex(labels).fillna(0).to_numpy()
            fig = go.Figure()
            fig.add_bar(x=[str(x) for x in labels], y=cnt, name="filtered",
                        marker_color="#9DB7D5", hoverinfo="x+y")
            if sel_mask.any():
                fig.add_bar(x=[str(x) for x in labels], y=cs, name="selected",
                            marker_color="#D62728", hoverinfo="x+y")
            fig.update_layout(barmode="overlay", height=220, showlegend=False,
                              margin=dict(l=0, r=0, t=24, b=0), clickmode="event+select",
                              title=dict(text=c.replace("<", "&lt;"), font=dict(size=13)))
            fig.update_xaxes(type="category", tickangle=-40)
            with grid[j % len(grid)]:
                st.plotly_chart(fig, key=f"hist_{c}",
                                on_select=functools.partial(_on_bar, c, ranges_cols, columns),
                                selection_mode=("points",), config={"displayModeBar": False})


def _on_bar(column: str, ranges_cols: list[str], columns: dict) -> None:
    event = ss.get(f"hist_{column}")
    pts = (event or {}).get("selection", {}).get("points", []) if event else []
    if not pts:
        return
    label = str(pts[0].get("x"))
    if column in ranges_cols:
        lo_s, _, hi_s = label.partition(" – ")
        try:
            lo, hi = float(lo_s.replace(",", "")), float(hi_s.replace(",", ""))
        except ValueError:
            return
        lo0, hi0, step = columns["ranges"][column]
        if step == 1:
            lo, hi = int(np.floor(lo)), int(np.ceil(hi))
        ss[f"rng_{column}"] = (type(lo0)(max(lo, lo0)), type(hi0)(min(hi, hi0)))
    else:
        cur = list(ss.get(f"flt_{column}", []))
        ss[f"flt_{column}"] = [v for v in cur if v != label] if label in cur else cur + [label]


# ---------------------------------------------------------------------------- clusters
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
    return {c: png_bytes(image_grid(np.stack([imgs[int(i)] for i in idx]), cols=8, pad=2))
            for c, idx in central.items()}


def cluster_controls(b) -> tuple[np.ndarray, dict | None, str]:
    """The clustering controls (in the sidebar) -> (labels [N], centres or None, description).
    Computed only when called: the map does not wait for clusters unless coloured by them."""
    n = len(b)
    with st.sidebar:
        st.markdown("### :material/bubble_chart: Clusters")
        method = st.radio("Method", ["k-means", "HDBSCAN"], key="cl_method", horizontal=True,
                          help="on the latent means (all factors), not on the 2-D map")
        if method == "k-means":
            with st.spinner("Choosing k …"):
                k_suggested, _ = cache_map.suggested_k(b)
            k = st.slider("Number of clusters k", 2, 30, value=max(2, k_suggested), key="k")
            st.caption(f"Suggested k = {k_suggested}")
            with st.spinner(f"k-means with k = {k} …"):
                labels, centres = cache_map.kmeans_clusters(b, k)
            return labels, {c: centres[c] for c in range(len(centres))}, f"k-means, k = {k}"
        mcs = st.slider("Minimum cluster size", 5, max(10, min(2000, n // 4)),
                        value=max(5, min(n // 80, 500)), key="mcs",
                        help="smaller finds more, smaller clusters; products that fit no "
                             "cluster are noise")
        with st.spinner("HDBSCAN …"):
            labels = cache_map.hdbscan_clusters(b, mcs)
        return labels, None, f"HDBSCAN, minimum size {mcs}"


def cluster_name_map(b, labels: np.ndarray) -> dict[int, str]:
    try:
        return cache_map.cluster_names(b, labels)
    except AttributeError:                              # an older cache without names
        return {}


def clusters_section(b, store, labels: np.ndarray, centres: dict | None, desc: str,
                     read_only: bool = False) -> None:
    md = b.metadata
    st.subheader(":material/bubble_chart: Clusters")
    sizes = cluster_sizes(labels)
    n_noise = sizes.pop(NOISE, 0)
    names = cluster_name_map(b, labels)
    st.caption(f"{desc}: {len(sizes)} clusters"
               + (f", {n_noise:,} products fit none (noise)" if n_noise else "")
               + ". Each row shows the products nearest the cluster's centre (in latent "
                 "space); the name is its most distinctive metadata values.")
    strips = _cluster_strips(str(b.path), b.key, desc, labels,
                             None if centres is None else tuple(centres.items()))
    listed = sorted(sizes)[:30]
    for c in listed:
        c1, c2, c3 = st.columns([1.6, 6, 1.2], vertical_alignment="center")
        name = names.get(c, "")
        c1.markdown(f"**Cluster {c}**  \n{esc(name)}  \n{sizes[c]:,} products")
        c2.image(strips[c], width="content")
        c3.button("Select", key=f"pick_cluster_{c}", on_click=pick,
                  args=(f"in cluster {c} ({desc})", np.flatnonzero(labels == c)),
                  width="stretch")
    if len(sizes) > len(listed):
        st.caption(f"… and {len(sizes) - len(listed)} smaller clusters.")
    if store is not None and sizes:
        with st.container(border=True):
            st.markdown("**Tag a whole cluster**")
            c1, c2, c3 = st.columns([2, 3, 2], vertical_alignment="bottom")
            c1.selectbox("Cluster", sorted(sizes), key="tag_cluster",
                         format_func=lambda c: f"cluster {c}")
            c2.text_input("Tag", key="cluster_tag", placeholder="e.g. chunky soles")
            c3.button("Tag cluster", key="cluster_add", type="primary", width="stretch",
                      disabled=read_only,
                      on_click=_on_tag_cluster, args=(store, md, labels))
            show_flash("clusters")


def _on_tag_cluster(store, md, labels_: np.ndarray) -> None:
    which = ss.get("tag_cluster")
    members = np.flatnonzero(labels_ == which) if isinstance(which, (int, np.integer)) else []
    if not len(members):
        flash("error", f"Nothing was tagged: pick a cluster first (got {which!r})", "clusters")
        return
    tag_indices(store, md, ss.get("cluster_tag", ""), members,
                f"products in cluster {which}", "clusters")


# ---------------------------------------------------------------------------- tags
def tags_section(b, store, store_error: str | None, read_only: bool = False) -> None:
    md = b.metadata
    st.subheader(":material/sell: Tags")
    show_flash("tags")
    if store is None:
        st.error(f"The tag database cannot be opened, so tagging is off: {esc(store_error)}")
        return

    def on_rename() -> None:
        old, new = ss.get("ren_old"), ss.get("ren_new", "")
        try:
            n = store.rename_tag(old, new, user=session_user())
            flash("success", f"Renamed '{old}' to '{new.strip()}' on {n:,} products", "tags")
        except (ValueError, AnnotationStoreError) as e:
            flash("error", f"Not renamed: {e}", "tags")

    def on_delete() -> None:
        old = ss.get("ren_old")
        try:
            n = store.delete_tag(old, user=session_user())
            flash("success", f"Removed '{old}' from {n:,} products", "tags")
        except (ValueError, AnnotationStoreError) as e:
            flash("error", f"Not deleted: {e}", "tags")

    def on_pick_tag(tag: str) -> None:
        wanted = set(store.skus_with(tag))
        pick(f"tagged '{tag}'", np.flatnonzero(md["sku"].astype(str).isin(wanted)),
             {"kind": "tag", "tag": str(tag)})

    def on_undo() -> None:
        try:
            text = store.undo_last(session_user(), TAG_KINDS)   # this session's, tags only
            flash("success", text[0].upper() + text[1:] if text else "Nothing to undo", "tags")
        except AnnotationStoreError as e:
            flash("error", f"Undo failed: {e}", "tags")

    if read_only:
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
            c3.button("Rename", key="ren_go", width="stretch", on_click=on_rename,
                      disabled=read_only)
            d1, d2 = st.columns([4, 1.4], vertical_alignment="bottom")
            d1.caption(f"Remove '{esc(old)}' from every product that has it.")
            d2.button("Delete tag", key="del_go", width="stretch", on_click=on_delete,
                      disabled=read_only)
            st.button("Select the products with this tag", key="tag_pick",
                      on_click=on_pick_tag, args=(old,))

    last = store.last_undoable(session_user(), TAG_KINDS)   # this session's own tag actions
    u1, u2 = st.columns([1.4, 5], vertical_alignment="center")
    u1.button(":material/undo: Undo my last tag action", key="undo",
              disabled=last is None or read_only, on_click=on_undo)
    u2.caption("yours, last: " + esc(last) if last else "Nothing of yours to undo.")

    e1, e2 = st.columns(2)
    with e1:
        # made when clicked (Streamlit runs the callable then), not on every run of the page
        st.download_button(":material/download: Export all tags (CSV)", store.export_csv,
                           file_name=f"tags-{b.fingerprint}.csv", mime="text/csv",
                           key="export", on_click="ignore")   # no rerun to race the fetch
        st.caption("Columns sku, tag, changed_at, changed_by; opens safely in spreadsheets.")
    with e2:
        up = st.file_uploader("Import tags from a CSV (columns sku and tag)", type=["csv"],
                              key="tag_import")
        if up is not None and ss.get("import_done", (None,))[0] != up.file_id:
            result = None
            try:
                result = store.import_csv(up.getvalue(), user=session_user())
                ss["import_done"] = (up.file_id, result.ok, result.summary())
            except (ValueError, AnnotationStoreError) as e:
                ss["import_done"] = (up.file_id, False, f"nothing imported: {e}")
            if ss["import_done"][1] and result is not None and result.added:
                st.rerun()
        if up is not None and ss.get("import_done", (None,))[0] == up.file_id:
            _, ok, summary = ss["import_done"]
            (st.success if ok else st.error)(f"{esc(up.name)}: {esc(summary)}")

    with st.expander("Where the tags are stored"):
        st.text(str(store.path))          # plain text: st.code costs the page ~0.3 s of JS
        st.caption("One SQLite file per catalogue, shared by every bundle trained on it. Set "
                   "KICKSPACE_ANNOTATIONS_DB (one file) or KICKSPACE_DATA_DIR (a folder) to "
                   "move it. The catalogue itself is never changed.")


__all__ = ["flash", "show_flash", "pick", "skus", "tag_indices", "selection_panel",
           "histograms", "cluster_controls", "clusters_section", "tags_section"]
