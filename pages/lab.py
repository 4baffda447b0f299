"""Disentanglement lab: how much each latent factor is used, what it follows, how the model
scores against a PCA baseline and other bundles, and attribute directions that become sliders."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from explorer.app import cache, cache_latent, cache_names, lab_sections
from explorer.app.widgets import anchor_picker, current_bundle, esc, session_user
from explorer.latent.directions import (METHODS, class_label, load_directions, negative_mask,
                                        slider_key)
from explorer.latent.naming import dim_label, load_names, save_names
from explorer.data.schema import FACTOR_PREFIX
from explorer.metrics.information import KL_THRESHOLD, VARIANCE_THRESHOLD, variance_of_means
from explorer.render import lab_figures
from explorer.render.pictures import sharp
from explorer.store.annotations import AnnotationStoreError

b = current_bundle()
ss = st.session_state
st.title(":material/science: Disentanglement lab")
st.caption("For data scientists: which latent factors carry information, which metadata "
           "attribute each one follows, how the model scores on disentanglement metrics "
           "against a PCA baseline, and attribute directions that become sliders.")

if ss.get("lab__bundle") != b.key:  # another bundle: forget drafts made for the last one
    ss["lab__bundle"] = b.key
    for k in ("lab_names_draft", "names_editor", "lab_eval_request"):
        ss.pop(k, None)

order = cache.dimension_order(b)
kl = cache.kl_per_dim(b)
names = load_names(b.path, b.key)
deterministic = bool(b.model.deterministic)


TABS = ["Information", "Factor names", "Metrics", "Attribute directions"]
tabs = st.tabs(TABS, key="section", bind="query-params")
tab_of = dict(zip(TABS, tabs))


def _is_open(tab) -> bool:
    return tab.open is not False   # None: no state tracking, every tab runs


# ---------------------------------------------------------------------------- 1. information
def information_section() -> None:
    var = variance_of_means(b.mu)
    labels = [dim_label(d, names) for d in order]
    active_kl = int((kl > KL_THRESHOLD).sum())
    active_var = int((var > VARIANCE_THRESHOLD).sum())
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Latent factors", b.latent_dim)
    c2.metric("Active (KL)", "–" if deterministic else f"{active_kl} / {b.latent_dim}",
              help=f"mean KL to the prior above {KL_THRESHOLD} nats")
    c3.metric("Active (variance)", f"{active_var} / {b.latent_dim}",
              help=f"variance of the posterior means above {VARIANCE_THRESHOLD} "
                   "(Burda et al. 2016)")
    c4.metric("Total KL", "–" if deterministic else f"{float(kl.sum()):.1f} nats")
    if deterministic:
        st.info("This model's codes are deterministic (no posterior variance), so the KL to "
                "the prior means nothing here; factors are ordered by the variance of their "
                "means instead.")
    for line in lab_sections.posterior_floor_lines(b):
        st.warning(line)
    fig = lab_figures.information_figure(labels, order, kl, var)
    st.plotly_chart(fig, width="stretch", key="info_chart",
                    alt="bar charts of mean KL and variance of means per latent dimension")
    st.caption("Dimensions in the order of the factor sliders: most informative first. "
               "Blue bars are above the threshold (dotted line).")
    with st.expander("Numbers"):
        st.dataframe(pd.DataFrame({
            "dim": order, "name": [names.get(d, "") for d in order],
            "mean KL (nats)": [float(kl[d]) for d in order],
            "variance of means": [float(var[d]) for d in order],
            "active": [bool(var[d] > VARIANCE_THRESHOLD if deterministic
                            else kl[d] > KL_THRESHOLD) for d in order]}),
            hide_index=True, width="stretch")


# ---------------------------------------------------------------------------- 2. naming
def _discard_edits() -> None:
    ss.pop("lab_names_draft", None)
    ss.pop("names_editor", None)


def naming_section() -> None:
    assoc, kinds, suggested = cache_latent.associations(b)
    if assoc.shape[1] == 0:
        st.info("The metadata has no attribute to compare the factors with.")
    else:
        show_factors = True
        if any(str(c).startswith(FACTOR_PREFIX) for c in assoc.columns):
            show_factors = st.toggle("Show ground-truth factor_ columns", value=True,
                                     key="lab_show_factors")
        cols = [c for c in assoc.columns
                if show_factors or not str(c).startswith(FACTOR_PREFIX)]
        fig = lab_figures.association_figure(assoc.loc[order, cols].to_numpy(), cols,
                                             [dim_label(d, names) for d in order])
        st.plotly_chart(fig, width="stretch", key="assoc_chart",
                        alt="heat map of each latent dimension's association with each "
                            "metadata attribute")
        st.caption("Score in [0, 1]: normalised mutual information for categorical "
                   "attributes, |Spearman correlation| for numeric ones. Rows in slider "
                   "order.")

    st.subheader("Names")
    st.caption("Edit the **name** column and save: names are stored next to the bundle "
               "(never in its weights) and label the factor sliders.")
    draft = ss.get("lab_names_draft")
    current = draft if draft is not None else names
    best = []
    for d in order:
        if assoc.shape[1]:
            col = assoc.loc[d].idxmax()
            best.append(f"{col} ({assoc.loc[d, col]:.2f})")
        else:
            best.append("")
    checked = cache_names.checked_factor_names(b) or {}
    if not checked:
        st.caption(":material/hourglass_top: Checking the suggestions against decoded "
                   "traversals (once per model); reload in a minute.")
    score = variance_of_means(b.mu) if deterministic else kl
    table = pd.DataFrame({
        "dim": order,
        ("variance" if deterministic else "KL"): [float(score[d]) for d in order],
        "best attribute": best,
        "suggested": [(checked[d].suggestion or "–") if d in checked else suggested[d]
                      for d in order],
        # the suggestion is applied to the sliders only when the decoded pictures confirm it
        "pictures": [("✓ " if checked[d].confirmed else "✗ ") + checked[d].evidence
                     if d in checked else "" for d in order],
        "what changes": [checked[d].description if d in checked else "" for d in order],
        "name": [current.get(d, "") for d in order]})
    edited = st.data_editor(
        table, key="names_editor", hide_index=True, width="stretch", num_rows="fixed",
        disabled=[c for c in table.columns if c != "name"],
        column_config={
            "dim": st.column_config.NumberColumn("dim", width="small"),
            "KL": st.column_config.NumberColumn("KL (nats)", format="%.2f", width="small"),
            "variance": st.column_config.NumberColumn(format="%.3f", width="small"),
            "name": st.column_config.TextColumn("name", max_chars=80, width="medium")})
    c1, c2, c3 = st.columns(3)
    c1.button("Use suggestions", on_click=lab_sections.use_suggestions, args=(names, checked),
              width="stretch", help="fill the name column with the suggestions that the "
                                    "decoded pictures confirmed (✓)")
    c2.button("Discard edits", on_click=_discard_edits, width="stretch")
    if c3.button("Save names", type="primary", width="stretch"):
        new = {int(r.dim): (r.name.strip() if isinstance(r.name, str) else "")
               for r in edited.itertuples(index=False)}
        # only what this session changed: names another session saved meanwhile stay
        changed = {d: v for d, v in new.items() if v != names.get(d, "")}
        try:
            where = save_names(b.path, b.key, changed, user=session_user())
        except (OSError, ValueError, AnnotationStoreError) as e:
            st.error(f"Could not save the names: {esc(e)}")
        else:
            ss["lab_flash"] = f"Saved {len(changed)} changed names to {where}."
            _discard_edits()
            st.rerun()
    if "lab_names_note" in ss:
        st.info(esc(ss.pop("lab_names_note")), icon=":material/rule:")
    if draft is not None:
        st.caption(":material/edit: unsaved suggestions: press **Save names** to keep them.")


# ---------------------------------------------------------------------------- 4. directions
def directions_section() -> None:
    st.caption("A direction is a line through the latent space from items without an "
               "attribute to items with it. Fit one, check what else it changes (leakage), "
               "and save it as a slider.")
    columns = lab_sections.categorical_columns(b)
    left, right = st.columns([2, 3], gap="large")
    direction = None
    with left:
        source = st.radio("Attribute from", ["Metadata column", "Tag"], horizontal=True,
                          key="lab_dir_source")
        method = st.radio("Method", METHODS, horizontal=True, key="lab_dir_method",
                          format_func={"logreg": "logistic regression",
                                       "mean-diff": "difference of means"}.get,
                          help="logistic regression: the normal of the boundary between the "
                               "groups; difference of means: from one group's mean code to "
                               "the other's")
        try:
            if source == "Metadata column":
                if not columns:
                    st.info("The metadata has no categorical column.")
                    return
                column = st.selectbox("Column", columns, key="lab_dir_column",
                                      index=columns.index("silhouette")
                                      if "silhouette" in columns else 0)
                counts = b.metadata[column].dropna().map(class_label).value_counts()
                cls = st.selectbox("Class", list(counts.index), key="lab_dir_class",
                                   format_func=lambda c: f"{c} ({counts[c]:,})")
                direction = cache_latent.column_direction(b, column, str(cls), method)
            else:
                from explorer.store.annotations import AnnotationStore, default_db_path
                if not default_db_path(b.path, b.fingerprint).is_file():
                    st.info("No tags yet for this catalogue: tag products on the catalogue "
                            "map first.")
                    return
                store = AnnotationStore.for_bundle(b)
                tags = store.tags()
                if tags.empty:
                    st.info("No tags yet for this catalogue.")
                    return
                counts = dict(zip(tags["tag"], tags["count"]))
                tag = st.selectbox("Tag", list(counts), key="lab_dir_tag",
                                   format_func=lambda t: f"{t} ({counts[t]:,})")
                skus = tuple(store.skus_with(tag))
                direction = cache_latent.tag_direction(b, tag, skus, method)
        except ValueError as e:
            st.warning(f"No direction: {esc(e)}")
            return
        m1, m2 = st.columns(2)
        m1.metric("Accuracy", f"{direction.accuracy:.1%}",
                  help="positive vs negative on a held-out quarter of the items")
        m2.metric("Balanced", f"{direction.balanced_accuracy:.1%}",
                  help="balanced accuracy on the held-out items: the mean of the accuracies "
                       "on each side, fair when the class is rare")
        st.caption(f"{direction.n_positive:,} {esc(direction.positive)} vs "
                   f"{direction.n_negative:,} {esc(direction.negative)}; the groups are "
                   f"{direction.gap:.1f} slider units apart; one unit = "
                   f"{direction.scale:.3g} along the direction.")
        name_key = f"lab_dir_name_{direction.slug}_{direction.method}"  # follows the choice
        st.text_input("Slider name", value=direction.name, key=name_key, max_chars=80)
        st.button("Save as slider", type="primary", icon=":material/add:",
                  on_click=lab_sections.save_direction, args=(b, direction, name_key),
                  width="stretch")
        if "lab_flash_error" in ss:
            st.error(esc(ss.pop("lab_flash_error")))

    with right:
        negatives = np.flatnonzero(negative_mask(direction, b.metadata))
        st.markdown("**Moving an item along the direction**")
        anchor = anchor_picker(b, "lab_a", default_index=int(negatives[0])
                               if len(negatives) else 0, title="Anchor", allow_upload=False)
        values, imgs = lab_sections.direction_strip(b, direction, anchor.z)
        for col, v, img in zip(st.columns(len(values), gap="small"), values, imgs):
            col.image(sharp(img, 128), caption=f"{v:+.0f}",
                      alt=f"anchor moved {v:+.0f} units along the direction")
        st.caption(f"← {esc(direction.negative)} · {esc(direction.positive)} →")

    st.subheader("Leakage")
    st.caption("A probe per attribute reads the attribute off the codes; held-out items are "
               "moved −3…+3 units along the direction. **max change** is the largest mean "
               "change of any class's predicted probability: high for the target, low for "
               "attributes the direction should leave alone.")
    leak_cols = tuple(c for c in columns if c != direction.column)
    if direction.column in columns:
        leak_cols = (direction.column,) + leak_cols
    if not leak_cols:
        st.info("No categorical attribute to probe.")
    else:
        df = cache_latent.leakage(b, direction, leak_cols)
        lab_sections.leakage_panel(df)

    saved = load_directions(b.path, b.key, b.latent_dim)
    st.subheader("Saved sliders")
    if not saved:
        st.caption("None yet: they appear on the factor sliders page once saved.")
        return
    for d in saved:
        c1, c2 = st.columns([6, 1], vertical_alignment="center")
        c1.markdown(f"**{esc(d.name)}** · {esc(d.method)} · held-out accuracy "
                    f"{d.accuracy:.1%} · slider `{slider_key(d)}`")
        c2.button("Delete", key=f"lab_del_{d.slug}", on_click=lab_sections.delete_direction,
                  args=(b, d.slug), icon=":material/delete:")
    st.page_link("pages/sliders.py", label="Open the factor sliders", icon=":material/tune:")


def metrics_section() -> None:
    lab_sections.metrics_section(b)


for label, section in zip(TABS, (information_section, naming_section, metrics_section,
                                 directions_section)):
    tab = tab_of[label]
    if _is_open(tab):
        with tab:
            if "lab_flash" in ss:   # what the last button saved
                st.success(esc(ss.pop("lab_flash")), icon=":material/check:")
            section()
