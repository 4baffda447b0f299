"""Disentanglement lab: how much each latent factor is used, what it follows, how the model
scores against a PCA baseline and other bundles, and attribute directions that become sliders."""
from __future__ import annotations

import dataclasses
import html
import json
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from explorer.app import cache, cache_names
from explorer.bundle.core import Bundle
from explorer.latent.directions import (METHODS, Direction, class_label, delete_direction,
                                 fit_direction, fit_probes, leakage, load_directions,
                                 save_direction, slider_key)
from explorer.evaluation.evaluate import evaluate_bundle, evaluation_table
from explorer.metrics.association import (FACTOR_PREFIX, column_kinds, dimension_associations,
                                          suggest_names)
from explorer.metrics.information import KL_THRESHOLD, VARIANCE_THRESHOLD, variance_of_means
from explorer.latent.naming import dim_label, load_names, save_names
from explorer.render.pictures import sharp
from explorer.store.annotations import AnnotationStoreError
from explorer.app.widgets import anchor_picker, current_bundle, esc, session_user

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


def _plain(text) -> str:
    """Catalogue text for a plotly label (plotly renders a subset of HTML)."""
    return html.escape(str(text), quote=False)


def _stamp(bundle: Bundle) -> float:
    try:
        return (bundle.path / "bundle.json").stat().st_mtime
    except OSError:
        return 0.0


# ---------------------------------------------------------------------------- cached work
@st.cache_data(max_entries=16, show_spinner="Scoring every factor against the metadata …")
def _associations(path: str, key: str, stamp: float) -> tuple[pd.DataFrame, dict, list[str]]:
    bb = cache.get_bundle(path)
    df = dimension_associations(bb.mu, bb.metadata)
    return df, dict(df.attrs.get("kinds", {})), suggest_names(bb.mu, bb.metadata)


@st.cache_data(max_entries=32, show_spinner=False)
def _evaluation(path: str, key: str, stamp: float, seed: int, max_items: int,
                _status=None) -> dict:
    """evaluate_bundle, cached by the bundle's weights + settings. `_status` (not hashed) is
    an st.status whose label follows the progress; a label update is not replayed from the
    cache, so it is safe inside a cached function."""
    def say(msg: str) -> None:
        if _status is not None:
            _status.update(label=esc(msg.replace(path, Path(path).name)))
    return evaluate_bundle(cache.get_bundle(path), seed=seed, max_items=max_items,
                           progress=say)


@st.cache_data(max_entries=64, show_spinner="Fitting the direction …")
def _fit_column(path: str, key: str, stamp: float, column: str, positive: str, method: str
                ) -> Direction:
    bb = cache.get_bundle(path)
    return fit_direction(bb.mu, bb.metadata[column], positive, method=method)


@st.cache_data(max_entries=64, show_spinner="Fitting the direction …")
def _fit_tag(path: str, key: str, stamp: float, tag: str, skus: tuple[str, ...], method: str
             ) -> Direction:
    bb = cache.get_bundle(path)
    wanted = set(skus)
    labels = pd.Series([s in wanted for s in bb.metadata["sku"].astype(str)])
    d = fit_direction(bb.mu, labels, True, method=method, name=f"tag: {tag}")
    return dataclasses.replace(d, positive=f"tagged {tag}", negative="untagged")


@st.cache_resource(max_entries=8, show_spinner="Fitting one probe per attribute …")
def _probes(path: str, key: str, stamp: float, columns: tuple[str, ...]):
    bb = cache.get_bundle(path)
    return fit_probes(bb.mu, bb.metadata, list(columns))


@st.cache_data(max_entries=64, show_spinner=False)
def _leakage(path: str, key: str, stamp: float, direction_json: str,
             columns: tuple[str, ...]) -> pd.DataFrame:
    bb = cache.get_bundle(path)
    d = Direction.from_dict(json.loads(direction_json))
    return leakage(d, bb.mu, bb.metadata, list(columns), include_target=True,
                   probes=_probes(path, key, stamp, tuple(sorted(columns))))


def categorical_columns(bundle: Bundle) -> list[str]:
    """Categorical metadata columns, without factor_X when a plain X column says the same."""
    kinds = column_kinds(bundle.metadata)
    present = set(map(str, bundle.metadata.columns))
    return [c for c, k in kinds.items() if k == "categorical"
            and not (c.startswith(FACTOR_PREFIX) and c[len(FACTOR_PREFIX):] in present)]


P, K, S = str(b.path), b.key, _stamp(b)
TABS = ["Information", "Factor names", "Metrics", "Attribute directions"]
tabs = st.tabs(TABS, key="section", bind="query-params")
tab_of = dict(zip(TABS, tabs))


def _is_open(tab) -> bool:
    return tab.open is not False   # None: no state tracking, every tab runs


# ---------------------------------------------------------------------------- 1. information
def information_section() -> None:
    var = variance_of_means(b.mu)
    labels = [_plain(dim_label(d, names)) for d in order]
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
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("Mean KL to the prior (nats)",
                                        "Variance of the posterior means"))
    on = "#1f6feb"
    off = "#b8c2cc"
    fig.add_bar(x=labels, y=[float(kl[d]) for d in order], row=1, col=1, name="mean KL",
                marker_color=[on if kl[d] > KL_THRESHOLD else off for d in order],
                hovertemplate="%{x}<br>%{y:.3f} nats<extra></extra>")
    fig.add_hline(y=KL_THRESHOLD, line_dash="dot", line_color="#d1242f", row=1, col=1,
                  annotation_text=f"active: {KL_THRESHOLD} nats",
                  annotation_position="top right")
    fig.add_bar(x=labels, y=[float(var[d]) for d in order], row=2, col=1,
                name="variance of means",
                marker_color=[on if var[d] > VARIANCE_THRESHOLD else off for d in order],
                hovertemplate="%{x}<br>%{y:.4f}<extra></extra>")
    fig.add_hline(y=VARIANCE_THRESHOLD, line_dash="dot", line_color="#d1242f", row=2, col=1)
    fig.update_layout(height=520, showlegend=False, bargap=0.25,
                      margin=dict(l=10, r=10, t=40, b=10))
    fig.update_xaxes(tickangle=-40, categoryorder="array", categoryarray=labels)
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
def _use_suggestions(suggested: list[str], saved: dict[int, str]) -> None:
    """Fill the editor with the suggestions; dimensions without one keep their name."""
    ss["lab_names_draft"] = {**saved, **{d: s for d, s in enumerate(suggested)
                                         if s not in ("inactive", "no clear attribute")}}
    ss.pop("names_editor", None)


def _discard_edits() -> None:
    ss.pop("lab_names_draft", None)
    ss.pop("names_editor", None)


def naming_section() -> None:
    assoc, kinds, suggested = _associations(P, K, S)
    if assoc.shape[1] == 0:
        st.info("The metadata has no attribute to compare the factors with.")
    else:
        show_factors = True
        if any(str(c).startswith(FACTOR_PREFIX) for c in assoc.columns):
            show_factors = st.toggle("Show ground-truth factor_ columns", value=True,
                                     key="lab_show_factors")
        cols = [c for c in assoc.columns
                if show_factors or not str(c).startswith(FACTOR_PREFIX)]
        z = assoc.loc[order, cols].to_numpy()
        fig = go.Figure(go.Heatmap(
            z=z, x=[_plain(c) for c in cols], y=[_plain(dim_label(d, names)) for d in order],
            zmin=0, zmax=1, colorscale="Blues", colorbar=dict(title="score"),
            hovertemplate="%{y} × %{x}: %{z:.2f}<extra></extra>"))
        fig.update_layout(height=max(320, 26 * len(order) + 140),
                          margin=dict(l=10, r=10, t=10, b=10))
        fig.update_yaxes(autorange="reversed")
        fig.update_xaxes(tickangle=-45)
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
        "suggested": [suggested[d] for d in order],
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
    c1.button("Use suggestions", on_click=_use_suggestions, args=(suggested, names),
              width="stretch", help="fill the name column with the suggested names")
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
    if draft is not None:
        st.caption(":material/edit: unsaved suggestions: press **Save names** to keep them.")


# ---------------------------------------------------------------------------- 3. metrics
def _mig_chart(results: list[dict]) -> None:
    fig = go.Figure()
    for res in results:
        for row in res["rows"]:
            per = (row.get("per_factor") or {}).get("mig")
            if not per:
                continue
            fig.add_bar(x=[_plain(str(f).removeprefix(FACTOR_PREFIX)) for f in per],
                        y=[float(v) if v is not None else None for v in per.values()],
                        name=_plain(f"{res['name']} · {row['model']}"))
    if not fig.data:
        return
    st.markdown("**MIG per ground-truth factor**")
    fig.update_layout(barmode="group", height=360, margin=dict(l=10, r=10, t=10, b=10),
                      yaxis_title="MIG", legend=dict(orientation="h", y=1.1))
    fig.update_xaxes(tickangle=-45)
    st.plotly_chart(fig, width="stretch", key="mig_chart",
                    alt="per-factor mutual information gap for each model")


def metrics_section() -> None:
    st.caption("Reconstruction, KL, k-NN accuracy of metadata attributes and, when the "
               "catalogue has ground-truth factor_ columns, MIG, SAP, DCI and modularity; "
               "each model next to a PCA baseline with as many components.")
    found = {str(p.resolve()): p.name for p in cache.available_bundles()}
    here = str(b.path.resolve())
    others = [p for p in found if p != here]
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    with c1:
        compare = st.multiselect("Compare with", others, format_func=lambda p: found[p],
                                 key="lab_compare",
                                 placeholder="other bundles under checkpoints/",
                                 disabled=not others)
    with c2:
        max_items = st.selectbox("Items (at most)", [1000, 2000, 5000, 10000], index=3,
                                 key="lab_max_items",
                                 help="items used by the metrics and the k-NN")
    request = [here] + list(compare)
    if st.button("Evaluate", type="primary", icon=":material/play_arrow:"):
        ss["lab_eval_request"] = (request, int(max_items))
    req = ss.get("lab_eval_request")
    if not req:
        st.info("Press **Evaluate** to score this bundle (about ten seconds for a few "
                "thousand items; results are kept).")
        return
    paths, items = req
    results, failed = [], []
    status = st.status(f"Evaluating {len(paths)} bundle(s) …", expanded=False)
    bar = st.progress(0.0)
    for i, path in enumerate(paths):
        name = Path(path).name
        bar.progress(i / len(paths), text=f"{esc(name)} ({i + 1}/{len(paths)})")
        try:
            bb = cache.get_bundle(path)
            results.append(_evaluation(str(bb.path), bb.key, _stamp(bb), 0, items,
                                       _status=status))
        except (cache.BundleError, OSError, ValueError) as e:
            failed.append(f"{name}: {e}")
    bar.empty()
    total = sum(r["seconds"] for r in results)
    status.update(label=f"Evaluated {len(results)} bundle(s) ({total:.0f} s of compute, "
                        "cached)", state="error" if failed else "complete")
    with status:
        for r in results:
            st.write(f"{esc(r['name'])}: {r['n_items']:,} items, {r['seconds']:.1f} s")
        for f in failed:
            st.error(esc(f))
    if sorted(paths) != sorted(request) or items != max_items:
        st.caption(":material/info: the selection changed: press **Evaluate** to update.")
    if not results:
        return
    table = evaluation_table(results)
    fmt = {c: st.column_config.NumberColumn(format="%.3f") for c in table.columns
           if c not in ("bundle", "model", "dims", "active", "KL", "MSE", "PSNR")}
    fmt.update({"KL": st.column_config.NumberColumn(format="%.1f"),
                "MSE": st.column_config.NumberColumn(format="%.5f"),
                "PSNR": st.column_config.NumberColumn(format="%.2f")})
    st.dataframe(table, hide_index=True, width="stretch", column_config=fmt,
                 key="metrics_table")
    st.caption("MSE, PSNR and colour on the validation split, decoded from the latent means; "
               "colour = colour fidelity of the reconstructions (1: every hue kept, 0: all "
               "grey, blank for a greyscale catalogue). PCA rows: the same number of "
               "dimensions fitted on the same training split.")
    majority = results[0]["rows"][0].get("knn_majority") or {}
    if majority:
        st.caption("k-NN (k=5, train → validation split); majority-class baseline: "
                   + ", ".join(f"{esc(c)} {v:.3f}" for c, v in majority.items()
                               if v is not None))
    if not any(r.get("factor_columns") for r in results):
        st.caption("No ground-truth factor_ columns in this catalogue: MIG, SAP, DCI and "
                   "modularity need them.")
    _mig_chart(results)


# ---------------------------------------------------------------------------- 4. directions
def _strip(direction: Direction, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values = np.linspace(-3, 3, 7)
    zs = z[None, :] + values[:, None] * direction.step[None, :]
    return values, b.decode(zs.astype(np.float32))


def _save(direction: Direction, name_key: str) -> None:
    name = str(ss.get(name_key) or "").strip() or direction.name
    d = dataclasses.replace(direction, name=name[:80])
    if not d.slug:
        ss["lab_flash_error"] = "The slider name needs at least one letter or digit."
        return
    replaced = any(x.slug == d.slug for x in load_directions(b.path, b.key))
    try:
        where = save_direction(b.path, b.key, d, user=session_user())
    except (OSError, ValueError, AnnotationStoreError) as e:
        ss["lab_flash_error"] = f"Could not save the direction: {e}"
        return
    ss["lab_flash"] = (f"{'Replaced' if replaced else 'Saved'} “{d.name}” in {where}: it is a "
                       "slider on the factor sliders page.")


def _delete(slug: str) -> None:
    delete_direction(b.path, b.key, slug, user=session_user())


def directions_section() -> None:
    st.caption("A direction is a line through the latent space from items without an "
               "attribute to items with it. Fit one, check what else it changes (leakage), "
               "and save it as a slider.")
    columns = categorical_columns(b)
    left, right = st.columns([2, 3], gap="large")
    direction: Direction | None = None
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
                direction = _fit_column(P, K, S, column, str(cls), method)
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
                direction = _fit_tag(P, K, S, tag, skus, method)
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
                  on_click=_save, args=(direction, name_key), width="stretch")
        if "lab_flash_error" in ss:
            st.error(esc(ss.pop("lab_flash_error")))

    with right:
        negatives = np.flatnonzero(_negative_mask(direction))
        st.markdown("**Moving an item along the direction**")
        anchor = anchor_picker(b, "lab_a", default_index=int(negatives[0])
                               if len(negatives) else 0, title="Anchor", allow_upload=False)
        values, imgs = _strip(direction, anchor.z)
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
        df = _leakage(P, K, S, json.dumps(direction.to_dict()), leak_cols)
        c1, c2 = st.columns([1, 1], gap="large")
        with c1:
            fig = go.Figure(go.Bar(
                x=df["max_change"], y=[_plain(a) for a in df["attribute"]], orientation="h",
                marker_color=["#d1242f" if t else "#1f6feb" for t in df["target"]],
                hovertemplate="%{y}: %{x:.2f}<extra></extra>"))
            fig.update_layout(height=max(240, 24 * len(df) + 80), xaxis_title="max change",
                              xaxis_range=[0, 1], margin=dict(l=10, r=10, t=10, b=10))
            fig.update_yaxes(autorange="reversed")
            st.plotly_chart(fig, width="stretch", key="leak_chart",
                            alt="bar chart of how much each attribute's probe changes")
        with c2:
            shown = df[["attribute", "max_change", "toward", "probe_accuracy",
                        "majority"]].copy()
            shown.attrs = {}
            shown["attribute"] = [f"{a} (target)" if t else a
                                  for a, t in zip(df["attribute"], df["target"])]
            st.dataframe(shown, hide_index=True,
                         width="stretch", key="leak_table", column_config={
                             "max_change": st.column_config.ProgressColumn(
                                 "max change", min_value=0.0, max_value=1.0, format="%.2f"),
                             "probe_accuracy": st.column_config.NumberColumn(
                                 "probe acc.", format="%.2f"),
                             "majority": st.column_config.NumberColumn(format="%.2f"),
                             "toward": st.column_config.TextColumn(
                                 "toward", help="class gaining most at +3")})

    saved = load_directions(b.path, b.key, b.latent_dim)
    st.subheader("Saved sliders")
    if not saved:
        st.caption("None yet: they appear on the factor sliders page once saved.")
        return
    for d in saved:
        c1, c2 = st.columns([6, 1], vertical_alignment="center")
        c1.markdown(f"**{esc(d.name)}** · {esc(d.method)} · held-out accuracy "
                    f"{d.accuracy:.1%} · slider `{slider_key(d)}`")
        c2.button("Delete", key=f"lab_del_{d.slug}", on_click=_delete, args=(d.slug,),
                  icon=":material/delete:")
    st.page_link("pages/sliders.py", label="Open the factor sliders", icon=":material/tune:")


def _negative_mask(direction: Direction) -> np.ndarray:
    if direction.column and direction.column in b.metadata.columns:
        values = b.metadata[direction.column]
        return (values.notna() & (values.map(class_label) != direction.positive)).to_numpy()
    return np.ones(len(b), bool)


for label, section in zip(TABS, (information_section, naming_section, metrics_section,
                                 directions_section)):
    tab = tab_of[label]
    if _is_open(tab):
        with tab:
            if "lab_flash" in ss:   # what the last button saved
                st.success(esc(ss.pop("lab_flash")), icon=":material/check:")
            section()
