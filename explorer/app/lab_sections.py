"""The disentanglement lab's Streamlit glue beyond the page's layout: the metrics tab (evaluate
this bundle and others beside a PCA baseline) and the attribute-direction actions (save,
delete, the anchor strip). Figures come from explorer.render.lab_figures, fits from
explorer.app.cache_latent."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from explorer.app import cache, cache_latent
from explorer.app.widgets import esc, session_user
from explorer.data import schema
from explorer.render.lab_figures import leakage_figure, mig_figure

if TYPE_CHECKING:
    from explorer.bundle.core import Bundle
    from explorer.latent.directions import Direction


def categorical_columns(bundle: Bundle) -> list[str]:
    """Categorical metadata columns, without factor_X when a plain X column says the same."""
    return schema.categorical_columns(bundle.metadata)


def posterior_floor_lines(b: Bundle) -> list[str]:
    """The Information tab's warning when most of the bundle's stored posterior log-variances
    sit on the encoder's floor: its KL and KL-active counts then measure the floor (about
    5.5 nats a dimension at -12), not information (explorer.evaluation.evaluate)."""
    if b.model.deterministic:
        return []
    from explorer.evaluation.evaluate import posterior_floor
    from explorer.evaluation.report import posterior_report
    p = posterior_floor(np.asarray(b.logvar), b.model.cfg.logvar_floor)
    return posterior_report([{"name": b.path.name, "latent_dim": b.latent_dim,
                              "posterior": p}])


# ---------------------------------------------------------------------------- metrics tab
def metrics_section(b: Bundle) -> None:
    """Evaluate the bundle (and any chosen others) on request; table, notes and MIG chart."""
    from explorer.evaluation.report import evaluation_table, posterior_report
    ss = st.session_state
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
            results.append(cache_latent.evaluation(cache.get_bundle(path), 0, items,
                                                   status=status))
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
               "dimensions fitted on the same training split"
               + ("; 'PCA, colour xC' is the model's own start, the PCA with colour weighted "
                  "C times that its linear paths began from (what training added is the "
                  "difference)" if any(str(row["model"]).startswith("PCA, colour")
                                       for r in results for row in r["rows"]) else "") + ".")
    majority = results[0]["rows"][0].get("knn_majority") or {}
    if majority:
        st.caption("k-NN (k=5, train → validation split); majority-class baseline: "
                   + ", ".join(f"{esc(c)} {v:.3f}" for c, v in majority.items()
                               if v is not None))
    for line in posterior_report(results):
        st.caption(":material/info: " + esc(line))
    if not any(r.get("factor_columns") for r in results):
        st.caption("No ground-truth factor_ columns in this catalogue: MIG, SAP, DCI and "
                   "modularity need them.")
    fig = mig_figure(results)
    if fig is not None:
        st.markdown("**MIG per ground-truth factor**")
        st.plotly_chart(fig, width="stretch", key="mig_chart",
                        alt="per-factor mutual information gap for each model")


# ---------------------------------------------------------------------------- directions tab
def direction_strip(b: Bundle, direction: Direction, z: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(values -3..+3, decoded pictures [7, S, S, 3]) of z moved along the direction."""
    values = np.linspace(-3, 3, 7)
    zs = z[None, :] + values[:, None] * direction.step[None, :]
    return values, b.decode(zs.astype(np.float32))


def save_direction(b: Bundle, direction: Direction, name_key: str) -> None:
    """Button callback: save the direction under the name typed in st.session_state[name_key];
    the outcome goes to lab_flash / lab_flash_error for the next run to show."""
    from explorer.latent.directions import load_directions
    from explorer.latent.directions import save_direction as store_direction
    from explorer.store.annotations import AnnotationStoreError
    ss = st.session_state
    name = str(ss.get(name_key) or "").strip() or direction.name
    d = dataclasses.replace(direction, name=name[:80])
    if not d.slug:
        ss["lab_flash_error"] = "The slider name needs at least one letter or digit."
        return
    replaced = any(x.slug == d.slug for x in load_directions(b.path, b.key))
    try:
        where = store_direction(b.path, b.key, d, user=session_user())
    except (OSError, ValueError, AnnotationStoreError) as e:
        ss["lab_flash_error"] = f"Could not save the direction: {e}"
        return
    ss["lab_flash"] = (f"{'Replaced' if replaced else 'Saved'} “{d.name}” in {where}: it is a "
                       "slider on the factor sliders page.")


def delete_direction(b: Bundle, slug: str) -> None:
    """Button callback: delete the saved direction with this slug."""
    from explorer.latent.directions import delete_direction as remove
    remove(b.path, b.key, slug, user=session_user())


def leakage_panel(df) -> None:
    """The leakage chart beside its table (df: explorer.latent.leakage.leakage's result)."""
    c1, c2 = st.columns([1, 1], gap="large")
    with c1:
        st.plotly_chart(leakage_figure(df), width="stretch", key="leak_chart",
                        alt="bar chart of how much each attribute's probe changes")
    with c2:
        shown = df[["attribute", "max_change", "toward", "probe_accuracy", "majority"]].copy()
        shown.attrs = {}
        shown["attribute"] = [f"{a} (target)" if t else a
                              for a, t in zip(df["attribute"], df["target"])]
        st.dataframe(shown, hide_index=True, width="stretch", key="leak_table", column_config={
            "max_change": st.column_config.ProgressColumn(
                "max change", min_value=0.0, max_value=1.0, format="%.2f"),
            "probe_accuracy": st.column_config.NumberColumn("probe acc.", format="%.2f"),
            "majority": st.column_config.NumberColumn(format="%.2f"),
            "toward": st.column_config.TextColumn("toward", help="class gaining most at +3")})


# ---------------------------------------------------------------------------- names tab
def use_suggestions(saved: dict[int, str], checked) -> None:
    """The "Use suggestions" button: fill the names editor with the suggestions that the
    decoded pictures confirmed (explorer.latent.naming.confirmed_suggestions, the rule the
    sliders follow) and say how many were skipped and why."""
    from explorer.latent.naming import confirmed_suggestions
    ss = st.session_state
    if not checked:
        ss["lab_names_note"] = ("The suggestions are still being checked against decoded "
                                "pictures: nothing filled in yet; try again in a minute.")
        return
    draft, skipped = confirmed_suggestions(saved, checked)
    ss["lab_names_draft"] = draft
    ss.pop("names_editor", None)
    n = sum(1 for f in checked.values() if f.confirmed and f.suggestion)
    note = f"Filled in {n} suggestion{'s' * (n != 1)} confirmed by the decoded pictures."
    if skipped:
        note += (f" Skipped {len(skipped)} that the pictures did not confirm (moving the "
                 "factor changes something else), so they stay as they were: "
                 + "; ".join(f"dim {d}: {why}" for d, why in skipped.items()) + ".")
    ss["lab_names_note"] = note
