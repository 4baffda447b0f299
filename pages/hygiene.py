"""Catalogue hygiene: near-duplicate photos, labels their look-alikes disagree with, and the
catalogue's clusters with names."""
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from explorer.app import cache, cache_map, cache_hygiene

from explorer.latent import cluster_summary, clusters

from explorer.latent import hygiene
from explorer.store.annotations import AnnotationStoreError
from explorer.render.pictures import sharp
from explorer.app.widgets import current_bundle, esc, item_label, session_user

b = current_bundle()
md = b.metadata
st.title(":material/cleaning_services: Catalogue hygiene")
st.caption("What no map shows at a glance: the same photo under two SKUs, labels that the "
           "products' look-alikes disagree with, and what the catalogue's clusters hold.")
if len(b) < 3:
    st.info(f"This catalogue holds {len(b)} product(s); hygiene checks need at least 3.")
    st.stop()


try:
    store = cache.annotation_store(b)
except AnnotationStoreError as e:
    store = None
    st.warning(f"Tags and decisions cannot be saved: {esc(e)}")


def thumbs(indices, captions=None, width: int = 128, cols: int = 6) -> None:
    """Product pictures at whole-pixel scale in a grid, each with its (escaped) caption."""
    idx = [int(i) for i in indices]
    for start in range(0, len(idx), cols):
        grid = st.columns(cols)
        for j, i in enumerate(idx[start:start + cols]):
            with grid[j]:
                st.image(sharp(b.images[i], width))
                if captions is not None:
                    st.caption(esc(captions[start + j]))


def pager(n: int, per_page: int, key: str) -> slice:
    pages = max(1, -(-n // per_page))
    page = st.number_input(f"Page (of {pages})", 1, pages, 1, key=key) if pages > 1 else 1
    return slice((page - 1) * per_page, page * per_page)


# one section at a time: each computes over the whole catalogue on its first visit
SECTIONS = {"duplicates": ":material/content_copy: Near duplicates",
            "audit": ":material/rule: Label audit", "clusters": ":material/bubble_chart: Clusters"}
if st.session_state.get("hy_section") not in SECTIONS:     # first visit: ?section= decides
    wanted = st.query_params.get("section")
    st.session_state["hy_section"] = wanted if wanted in SECTIONS else "duplicates"
section = st.segmented_control("Section", list(SECTIONS), format_func=SECTIONS.get,
                               key="hy_section", label_visibility="collapsed") or "duplicates"
st.query_params["section"] = section

# ---------------------------------------------------------------------------- duplicates
if section == "duplicates":
    c1, c2 = st.columns(2)
    max_rmse = c1.slider("Largest pixel difference (RMSE, 0–255)", 0.0, 20.0,
                         hygiene.DEFAULT_MAX_RMSE, 0.5, key="dup_rmse",
                         help="a photo re-saved as JPEG differs by about 5; two different "
                              "products in the demo catalogue by 11 or more")
    radius = c2.slider("Latent radius (× median nearest-neighbour distance)", 0.1, 1.0,
                       hygiene.DEFAULT_RADIUS_FACTOR, 0.05, key="dup_radius",
                       help="only products this close in latent space are compared pixel "
                            "by pixel; identical photos are always found")
    groups = cache_hygiene.duplicate_groups(b, max_rmse, radius)
    n_items = sum(len(g) for g in groups)
    n_same = sum(g.kind == "identical" for g in groups)
    if not groups:
        st.success(f"No duplicate photos among {len(b):,} products at these settings.")
    else:
        st.markdown(f"**{len(groups):,} groups** holding {n_items:,} products: {n_same:,} "
                    f"of identical photos, {len(groups) - n_same:,} of near-identical ones.")
        tag = st.text_input("Tag", "duplicate", key="dup_tag", max_chars=100,
                            help="stored in the annotations database, shown on the map")
        user = session_user()
        tagged = store.tags_for(md["sku"].iloc[np.concatenate([g.members for g in groups])]
                                .astype(str)) if store is not None else {}
        if store is not None and st.button(f"Tag every product in the {len(groups)} groups",
                                           key="dup_tag_all"):
            skus = md["sku"].iloc[np.concatenate([g.members for g in groups])].astype(str)
            try:
                st.toast(f"tagged {store.add_tag(tag, skus.tolist(), user=user)} products")
                st.rerun()
            except ValueError as e:
                st.error(esc(e))
        for gi, g in list(enumerate(groups))[pager(len(groups), 10, "dup_page")]:
            skus = md["sku"].iloc[g.members].astype(str).tolist()
            with st.container(border=True):
                how = ("identical photos" if g.kind == "identical" else
                       f"near-identical · pixel RMSE ≤ {g.max_rmse:.1f} · latent ≤ "
                       f"{g.max_latent:.2f}")
                st.markdown(f"**Group {gi + 1}** · {len(g)} products · {how}")
                thumbs(g.members[:12], [f"{item_label(b, i)}"
                                        + (f" [{', '.join(tagged.get(s, []))}]"
                                           if tagged.get(s) else "")
                                        for i, s in zip(g.members[:12], skus)])
                if store is not None:
                    a, r = st.columns([1, 5])
                    if a.button("Tag group", key=f"dup_add_{gi}"):
                        try:
                            st.toast(f"tagged {store.add_tag(tag, skus, user=user)} products")
                            st.rerun()
                        except ValueError as e:
                            st.error(esc(e))
                    if r.button("Untag group", key=f"dup_rm_{gi}"):
                        try:
                            st.toast(f"untagged {store.remove_tag(tag, skus, user=user)}")
                            st.rerun()
                        except ValueError as e:
                            st.error(esc(e))

# ---------------------------------------------------------------------------- label audit
elif section == "audit":
    columns = cluster_summary.describing_columns(md)
    if not columns:
        st.info("This catalogue has no categorical column to audit.")
    else:
        c1, c2 = st.columns(2)
        default = columns.index("silhouette") if "silhouette" in columns else 0
        col = c1.selectbox("Attribute", columns, index=default, key="audit_col")
        min_share = c2.slider("Neighbours that must agree", 0.5, 1.0, 0.7, 0.05,
                              key="audit_share", help="of the 10 most similar products")
        audit = cache_hygiene.label_audit(b, col, min_share)
        decided = hygiene.audited(store, col) if store is not None else {}
        audit = audit.assign(sku=md["sku"].iloc[audit["index"]].astype(str).to_numpy())
        open_rows = audit[~audit["sku"].isin(decided)]
        st.markdown(f"**{len(open_rows):,} products** whose {esc(col)} disagrees with at "
                    f"least {min_share:.0%} of their 10 visual neighbours, most confident "
                    f"first; {len(decided):,} already decided.")
        st.caption("Keep: the label is right (the product leaves this list). Fix: set it to "
                   "the neighbours' majority. Both are stored in the annotations database "
                   "beside the catalogue, which is never rewritten; undo takes back this "
                   "session's last decision.")
        nbr, _ = cache_hygiene.neighbour_table(b)
        user = session_user()
        for _, row in open_rows.iloc[pager(len(open_rows), 10, "audit_page")].iterrows():
            i = int(row["index"])
            with st.container(border=True):
                left, mid, right = st.columns([1, 4, 1], vertical_alignment="center")
                with left:
                    thumbs([i], cols=1)
                with mid:
                    st.markdown(f"{esc(item_label(b, i))}  \nlabelled **{esc(row['label'])}**"
                                f"; {row['confidence']:.0%} of its neighbours say "
                                f"**{esc(row['majority'])}**")
                    thumbs(nbr[i, :8], [str(md[col].iloc[j]) for j in nbr[i, :8]], width=64,
                           cols=8)
                if store is not None:
                    if right.button("Keep", key=f"keep_{i}", help="the label is right"):
                        hygiene.audit_keep(store, row["sku"], col, row["label"], user=user)
                        st.rerun()
                    if right.button(f"Fix → {esc(row['majority'])}", key=f"fix_{i}"):
                        hygiene.audit_fix(store, row["sku"], col, row["majority"],
                                          confidence=float(row["confidence"]), user=user)
                        st.rerun()
        if store is not None:
            if st.button("Undo my last audit decision", key="audit_undo"):
                st.toast(esc(hygiene.audit_undo(store, user=user)
                             or "no audit decision of yours to undo"))
                st.rerun()
            if decided:
                with st.expander(f"{len(decided)} decided"):
                    st.dataframe(store.attributes(col), hide_index=True, width="stretch")

# ---------------------------------------------------------------------------- clusters
else:
    with st.spinner("Choosing k (Gaussian-mixture BIC, k = 2 … 15) …"):
        k_best, bic = cache_map.suggested_k(b)
    c1, c2 = st.columns([1, 2])
    k = c1.slider("Number of clusters k", 2, 30, max(2, k_best), key="hy_k")
    if bic:
        c1.caption(f"Suggested k = {k_best}: the lowest BIC of a Gaussian mixture on a "
                   f"4,000-product sample (lower is better; the silhouette score falls "
                   f"with k here and would always say 2).")
        ks = list(bic)
        fig = go.Figure(go.Scatter(x=ks, y=[bic[k] for k in ks], mode="lines+markers",
                                   marker=dict(size=[12 if k == k_best else 6 for k in ks],
                                               color=["#e4572e" if k == k_best else "#4c78a8"
                                                      for k in ks])))
        fig.update_layout(height=200, margin=dict(l=0, r=0, t=10, b=0),
                          xaxis=dict(title="k", dtick=1), yaxis=dict(title="BIC"))
        c2.plotly_chart(fig, width="stretch", key="hy_bic")
    labels, _ = cache_map.kmeans_clusters(b, k)
    names = cache_map.cluster_names(b, labels)
    sizes = clusters.cluster_sizes(labels)
    central = clusters.central_items(b.mu, labels, per_cluster=8)
    st.dataframe(pd.DataFrame({"cluster": list(names), "name": list(names.values()),
                               "products": [sizes[c] for c in names]}),
                 hide_index=True, width="stretch")
    pick = st.selectbox("Summary of", list(names), key="hy_cluster",
                        format_func=lambda c: f"cluster {c}: {names[c]} ({sizes[c]:,})")
    summary = cluster_summary.selection_summary(md, b.mu, labels == pick)
    st.markdown(f"**{summary.size:,} products · {esc(summary.name)}** — the most central:")
    thumbs(summary.central, [item_label(b, i) for i in summary.central], cols=8)
    shown = [c for c in summary.counts if len(summary.counts[c])][:9]
    grid = st.columns(3)
    for j, c in enumerate(shown):
        with grid[j % 3]:
            st.markdown(f"**{esc(c)}**")
            st.dataframe(summary.counts[c], hide_index=True, width="stretch", height=220,
                         column_config={"share": st.column_config.NumberColumn(format="percent"),
                                        "lift": st.column_config.NumberColumn(format="%.1f×")})
    if len(summary.numeric):
        st.dataframe(summary.numeric, hide_index=True, width="stretch")
