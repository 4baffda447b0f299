"""Model card: what the loaded bundle is (settings, catalogue, metrics, training curves)."""
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from explorer.app import cache_pictures
from explorer.app.widgets import crisp_image, current_bundle, esc
from explorer.data.schema import is_factor
from explorer.training.chroma import short_why

b = current_bundle()
info = b.info
cat = info["catalogue"]
st.title(":material/description: Model card")
st.caption("What the loaded bundle is: the model and how it was trained, the catalogue it "
           "learned from, and how well it reconstructs products it never saw.")

m1, m2, m3, m4 = st.columns(4)
m1.metric("Model", b.kind)
m2.metric("Latent factors", b.latent_dim)
m3.metric("Products", f"{len(b):,}")
val = info.get("metrics", {}).get("val", {})
m4.metric("Validation PSNR", f"{val['psnr']:.1f} dB" if "psnr" in val else "–")

left, right = st.columns([1, 1])
with left:
    st.subheader("Model")
    # what was trained, how long and under what limit first; the model's settings after
    rows = [("kind", b.kind)]
    tc = info["train_config"]
    mt = info.get("metrics", {})
    if "train_seconds" in mt:
        where = str(mt.get("device", "?"))     # newer bundles: "cpu x1" (every place it ran)
        if " x" not in where:
            where += f" x{mt.get('world_size', 1)}"
        rows.append(("training time", f"{mt['train_seconds'] / 60:.1f} min on {where}"
                     + (f", {mt['steps']:,} steps" if isinstance(mt.get("steps"), int) else "")))
    budget = mt.get("budget") if isinstance(mt.get("budget"), dict) else {}
    limit = budget.get("time_limit")
    if isinstance(limit, (int, float)) and not isinstance(limit, bool) and limit > 0:
        rows.append(("time limit", f"{limit:.0f} s for the whole command"
                     + (", stopped early" if mt.get("stopped_early") else "")))
    lc = mt.get("linear_chroma")              # the colour weight of the PCA start, and why
    if isinstance(lc, dict) and isinstance(lc.get("chosen"), (int, float)):
        by = lc.get("mean_knn_by_weight") if isinstance(lc.get("mean_knn_by_weight"), dict) else {}
        chosen = f"{lc['chosen']:g}"
        rows.append(("colour weight of the PCA start", chosen + (
            f" (k-NN {by[chosen]:.3f} vs plain {by['1']:.3f})"   # fits the column
            if isinstance(by.get(chosen), float) and isinstance(by.get("1"), float)
            else f" ({short_why(lc.get('why'))})")))
    rows += [(f"train.{k}", str(tc[k])) for k in ("epochs", "batch_size", "lr", "seed")
             if k in tc]
    if tc.get("linear_fade"):     # linear_path then says the paths exist, not that they act
        rows.append(("linear paths faded out", f"{tc.get('linear_fade_start', 0):.0%} → "
                     f"{tc['linear_fade']:.0%} of the run"))
    rows += [(k, str(v)) for k, v in info["model_config"].items()]
    st.dataframe(pd.DataFrame(rows, columns=["setting", "value"]), hide_index=True,
                 width="stretch", height=min(38 * (len(rows) + 1), 420))
with right:
    st.subheader("Catalogue")
    src = cat.get("source", {}) or {}
    st.markdown(f"**{esc(cat.get('name'))}** · {cat['count']:,} images at {cat['size']} px  \n"
                f"source: {esc(src.get('kind', 'folder'))} "
                f"{esc(', '.join(f'{k}={v}' for k, v in src.items() if k != 'kind'))}  \n"
                f"fingerprint {esc(cat['fingerprint'])}")
    st.markdown("metadata: " + ", ".join(esc(c) for c in cat.get("columns", [])
                                         if not is_factor(c)))
    if cat.get("factor_columns"):
        st.caption(f"{len(cat['factor_columns'])} ground-truth factor columns "
                   f"(used by the disentanglement lab)")

if b.history:
    st.subheader("Training")
    hist = b.history
    ep = [h["epoch"] for h in hist]
    c1, c2 = st.columns(2)
    with c1:
        fig = go.Figure()
        fig.add_scatter(x=ep, y=[h["train"]["loss"] for h in hist], name="train loss")
        if "val" in hist[0]:
            fig.add_scatter(x=ep, y=[h["val"]["loss"] for h in hist], name="validation loss")
        fig.update_layout(height=300, margin=dict(l=10, r=10, t=30, b=10), title="loss",
                          xaxis_title="epoch",
                          legend=dict(orientation="h", yanchor="top", y=-0.3, x=0))
        st.plotly_chart(fig, width="stretch")
    with c2:
        if "val" in hist[0]:
            fig = go.Figure()
            fig.add_scatter(x=ep, y=[h["val"]["psnr"] for h in hist], name="val PSNR (dB)")
            kl_key = "kl" if "kl" in hist[0]["val"] else None
            if kl_key:
                fig.add_scatter(x=ep, y=[h["val"][kl_key] for h in hist],
                                name="val KL (nats)", yaxis="y2")
            # legends below the plot: beside it they cover the right-hand KL axis
            fig.update_layout(height=300, margin=dict(l=10, r=10, t=30, b=10),
                              title="reconstruction and KL", xaxis_title="epoch",
                              yaxis=dict(title="PSNR (dB)"),
                              yaxis2=dict(overlaying="y", side="right", title="KL (nats)"),
                              legend=dict(orientation="h", yanchor="top", y=-0.3, x=0))
            st.plotly_chart(fig, width="stretch")


st.subheader("Held-out originals and reconstructions")
st.caption("Products the model never trained on, and what it makes of them.")
crisp_image(cache_pictures.reconstruction_sheet(b))   # its own size: never smeared
