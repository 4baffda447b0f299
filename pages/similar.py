"""Find similar: similar products, query by photo, "like this but …", and missing attributes."""
import numpy as np
import pandas as pd
import streamlit as st

from explorer.app import (cache, cache_hygiene, cache_latent, cache_map, cache_names,
                          map_layers)
from explorer.latent.directions import load_directions, move
from explorer.latent.ops import apply_offsets
from explorer.latent.naming import dim_label
from explorer.metrics.information import active_dims
from explorer.render.path_map import STAR_COLOUR, UNLIKE_COLOUR, place_picture
from explorer.render.pictures import sharp
from explorer.latent.projection import place_by_neighbours
from explorer.app.widgets import (anchor_picker, crisp_image, current_bundle, encode_uploaded,
                              esc, item_label, product_grid, session_user)

b = current_bundle()
names = cache_names.slider_names(b)   # saved names, else confirmed suggestions
order = cache.dimension_order(b)
# attribute directions saved in the lab: ignorable in "Similar", sliders in "Like this but"
directions = {d.slug: d for d in load_directions(b.path, b.key, b.latent_dim)}
st.title(":material/search: Find similar")
st.caption("The embeddings' everyday uses: products that look alike, search by a photo, "
           "\"this one, but …\", and filling in missing attributes.")

# "More like this" on any card lands here with the item to start from
if "similar_item" in st.session_state:
    item = int(st.session_state.pop("similar_item"))
    st.session_state["s__idx"] = item
    st.session_state["s__sel"] = item
    st.session_state["s__src"] = "Catalogue"
    st.query_params["s"] = str(b.metadata["sku"].iloc[item])

tab_similar, tab_photo, tab_but, tab_impute = st.tabs(
    ["Similar products", "Query by photo", "Like this but …", "Missing attributes"])


def _ignore_weights(ignored: list[int]) -> np.ndarray | None:
    if not ignored:
        return None
    w = np.ones(b.latent_dim, np.float32)
    w[ignored] = 0.0
    return w


def _show_map(points: np.ndarray, labels: list[str], flagged: bool = False) -> None:
    """Where the points fall on the catalogue map: one picture (the dots drawn once)."""
    if not b.projections:
        return
    method = next((m for m in ("umap", "tsne", "pca") if m in b.projections))
    pxy = place_by_neighbours(points, cache.get_index(b), b.projections[method], k=10)
    crisp_image(place_picture(cache_map.backdrop(b, method, 520, 320), pxy, labels,
                              UNLIKE_COLOUR if flagged else STAR_COLOUR),
                alt="the photo on the map")
    st.caption(f"Placed among its 10 nearest catalogue items on the {method.upper()} map "
               f"(the map is not refitted); every product is a grey dot.")
    st.page_link("pages/catalogue_map.py", label="See it on the Catalogue map",
                 icon=":material/map:", help="the map draws the photo's star on top of its "
                 "points, with zoom, hover and pictures")


# ---------------------------------------------------------------------------- similar
with tab_similar:
    left, right = st.columns([1, 3], gap="large")
    with left:
        anchor = anchor_picker(b, "s", default_index=0, title="Product", allow_upload=False)
        st.image(sharp(anchor.image, 160))
        k = st.slider("How many", 5, 50, 10, 5, key="sim_k")
        ignored = st.multiselect(
            "Ignore these factors", order, key="sim_ignore",
            format_func=lambda d: dim_label(d, names),
            help="leave out factors, e.g. the colour ones for 'same shape, any colour'")
        ignored_dirs = st.multiselect(
            "Ignore these attribute directions", list(directions), key="sim_ignore_dir",
            format_func=lambda s: directions[s].name,
            placeholder="none" if directions else "none saved yet (fit one in the lab)",
            disabled=not directions,
            help="directions fitted in the disentanglement lab ('sole colour: white', "
                 "'boot-ness'); the distance leaves out movement along them")
    with right:
        ignore_vecs = (np.stack([directions[s].vector for s in ignored_dirs])
                       if ignored_dirs else None)
        index = cache.get_index(b, _ignore_weights(ignored), ignore_vecs)
        exclude = None if anchor.index is None else np.array([anchor.index])
        idx, dist = index.query(anchor.z, k=k, exclude=exclude)
        what = ([f"{len(ignored)} factors"] if ignored else []) + [
            esc(directions[s].name) for s in ignored_dirs]
        st.markdown(f"**{len(idx[0])} most similar to {esc(anchor.label)}**"
                    + (f" · ignoring {', '.join(what)}" if what else ""))
        product_grid(b, idx[0], dist[0], cols=5, key="sim")

# ---------------------------------------------------------------------------- photo
with tab_photo:
    from explorer.data.images import MAX_UPLOAD_BYTES
    up = st.file_uploader("A sneaker photo (JPEG, PNG, WebP, GIF, BMP or TIFF)",
                          type=["jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"],
                          key="photo_up",
                          help=f"up to {MAX_UPLOAD_BYTES // 2**20} MiB; it is preprocessed "
                               f"like the catalogue and never stored")
    if up is None:
        st.info("Upload a photo to see its reconstruction, its closest products and where it "
                "falls on the catalogue map. Nothing is written to disk.")
    elif (got := encode_uploaded(b, up)) is not None:
        img, z = got
        with st.spinner("Comparing with the catalogue …"):
            unlike = cache_hygiene.unlike_score(b, img, z)
        map_layers.remember_photo(b, z, up.name, unlike, source="similar")  # starred on the map
        if unlike.flagged:
            st.warning(esc(unlike.message()), icon=":material/warning:")
        c1, c2, c3 = st.columns([1, 1, 3])
        with c1:      # x2^k by nearest neighbour at their own size: never smeared
            crisp_image(sharp(img, 160), caption="as the model sees it")
        with c2:
            crisp_image(sharp(b.decode(z[None])[0], 160), caption="reconstruction")
        c1.metric("Unlike score", f"{unlike.percentile:.1f}",
                  help="a percentile (0-100) against the catalogue's own products: the higher "
                       "of the photo's reconstruction error and its distance to the nearest "
                       "product; above 99 the photo is flagged as unlike this catalogue")
        if not unlike.flagged:
            c2.caption(esc(unlike.message()))
        with c3:
            _show_map(z[None], ["your photo (unlike)" if unlike.flagged else "your photo"],
                      flagged=unlike.flagged)
        idx, dist = cache.get_index(b).query(z, k=10)
        st.markdown("**Closest products**")
        product_grid(b, idx[0], dist[0], cols=5, key="photo")

# ---------------------------------------------------------------------------- like this but
with tab_but:
    st.caption("Take a product (or a photo), move some factors, and search the real catalogue "
               "for the products closest to the edited vector: \"this one, but as a high-top\".")
    left, right = st.columns([1, 2], gap="large")
    with left:
        base = anchor_picker(b, "lb", default_index=0, title="Start from")
        kl = cache.kl_per_dim(b)
        shown = active_dims(kl, order, b.model.deterministic)[:8]
        offsets = {d: st.slider(esc(dim_label(d, names)), -3.0, 3.0, 0.0, 0.1, key=f"lb_d{d}")
                   for d in shown}
        saved = list(directions.values())
        if saved:
            st.caption("Attribute sliders (fitted in the disentanglement lab)")
        amounts = {d.slug: st.slider(esc(d.name), -3.0, 3.0, 0.0, 0.1, key=f"lb_dir_{d.slug}",
                                     help=f"{esc(d.positive)} vs {esc(d.negative)}")
                   for d in saved}
    z_edit = apply_offsets(base.z, offsets)
    for d in saved:
        if amounts[d.slug]:
            z_edit = move(z_edit, d, amounts[d.slug])
    with right:
        c1, c2 = st.columns(2)
        with c1:
            crisp_image(sharp(base.image, 160), caption="start")
        with c2:
            crisp_image(sharp(b.decode(z_edit[None])[0], 160), caption="edited")
        exclude = None if base.index is None else np.array([base.index])
        idx, dist = cache.get_index(b).query(z_edit, k=10, exclude=exclude)
        st.markdown("**Real products closest to the edit**")
        product_grid(b, idx[0], dist[0], cols=5, key="lb")

# ---------------------------------------------------------------------------- imputation
with tab_impute:
    from explorer.store.annotations import ATTRIBUTE_KINDS, AnnotationStore  # noqa: F401
    from explorer.data.schema import imputable_columns
    from explorer.latent.impute import can_hold_out, impute_column

    md = b.metadata
    candidates = imputable_columns(md)   # the map's filter columns: one rule for both
    with_missing = [c for c in candidates if md[c].isna().any()]
    st.caption("A missing value is predicted by a vote of the nearest products in latent space, "
               "with a confidence; low-confidence predictions go to a review queue. Accepted "
               "values are stored in the annotations database beside the tags — the catalogue "
               "itself is never rewritten.")
    if not candidates:
        st.info("This catalogue has no attribute to impute.")
    else:
        col = st.selectbox("Attribute", with_missing + [c for c in candidates
                                                        if c not in with_missing],
                           key="imp_col",
                           format_func=lambda c: f"{c} ({int(md[c].isna().sum())} missing)")
        min_conf = st.slider("Review below confidence", 0.3, 0.95, 0.6, 0.05, key="imp_conf")
        h = (cache_latent.holdout_accuracy(b, col, min_conf) if can_hold_out(md[col], 0.2)
             else {"kind": None})
        if h["kind"] is None:
            st.info(f"Only {int(md[col].notna().sum())} products have a value for "
                    f"{esc(col)}: too few to measure how well missing values are filled in.")
        elif h["kind"] == "categorical":
            m1, m2, m3 = st.columns(3)
            m1.metric("Accuracy on hidden values", f"{h['accuracy']:.1%}",
                      f"{h['accuracy'] - h['baseline']:+.1%} vs majority class")
            m2.metric("Confident share", f"{h['coverage']:.1%}")
            if np.isfinite(h.get("accuracy_confident", np.nan)):
                m3.metric("Accuracy when confident", f"{h['accuracy_confident']:.1%}")
        else:
            m1, m2 = st.columns(2)
            m1.metric("Mean error on hidden values", f"{h['mae']:.3g}",
                      f"{h['mae'] - h['baseline_mae']:+.3g} vs the median", delta_color="inverse")
            m2.metric("Confident share", f"{h['coverage']:.1%}")
        if not md[col].isna().any():
            st.info(f"Every product has a value for {esc(col)}; the figures above hide 20% of "
                    f"them to show how well missing values would be filled in.")
        else:
            preds = impute_column(b.mu, md[col], k=10, min_confidence=min_conf)
            store = cache.annotation_store(b)
            accepted = store.attributes(col)
            done = set(accepted["sku"]) if len(accepted) else set()
            preds["sku"] = md["sku"].iloc[preds["index"]].to_numpy()
            preds = preds[~preds["sku"].isin(done)]
            confident = preds[~preds["needs_review"]]
            review = preds[preds["needs_review"]].sort_values("confidence")
            st.markdown(f"**{len(preds)} open predictions**: {len(confident)} confident, "
                        f"{len(review)} to review; {len(done)} already accepted.")
            if len(confident) and st.button(f"Accept the {len(confident)} confident values",
                                            key="imp_accept_all"):
                store.set_attributes(col, dict(zip(confident["sku"], confident["predicted"])),
                                     confidence=dict(zip(confident["sku"],
                                                         confident["confidence"])),
                                     user=session_user())
                st.rerun()
            if len(review):
                st.markdown("**Review queue** (lowest confidence first)")
                page = review.head(10)
                for _, row in page.iterrows():
                    c1, c2, c3 = st.columns([1, 3, 2], vertical_alignment="center")
                    c1.image(b.images[int(row["index"])], width=72)
                    c2.markdown(f"{esc(item_label(b, int(row['index'])))}  \n"
                                f"predicted **{esc(row['predicted'])}** · confidence "
                                f"{row['confidence']:.0%}")
                    if c3.button("Accept", key=f"imp_ok_{row['sku']}"):
                        store.set_attribute(row["sku"], col, row["predicted"],
                                            confidence=float(row["confidence"]),
                                            user=session_user())
                        st.rerun()
            if len(accepted):
                with st.expander(f"{len(accepted)} accepted values"):
                    st.dataframe(accepted, hide_index=True, width="stretch")
                mine = store.last_undoable(session_user(), ATTRIBUTE_KINDS)
                if st.button("Undo my last acceptance", key="imp_undo", disabled=mine is None,
                             help="only this session's own accepted values" if mine is None
                             else f"undo: {esc(mine)}"):
                    done = store.undo_last(session_user(), ATTRIBUTE_KINDS)
                    st.session_state["imp_undone"] = (done[0].upper() + done[1:] if done
                                                      else "Nothing to undo")
                    st.rerun()
            if "imp_undone" in st.session_state:   # what the last undo did, said once
                st.success(esc(st.session_state.pop("imp_undone")))
