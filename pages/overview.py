"""Overview: the model card of the loaded bundle."""
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from explorer import cache
from explorer.sheets import image_grid, row_labelled_grid
from explorer.train import split_indices
from explorer.widgets import current_bundle, esc

b = current_bundle()
info = b.info
cat = info["catalogue"]
st.title(":material/steps: KickSpace")
st.caption("Explore the visual latent space of a product catalogue: a model learned, without "
           "labels, a short vector of visual factors for every product photo.")

m1, m2, m3, m4 = st.columns(4)
m1.metric("Model", b.kind)
m2.metric("Latent factors", b.latent_dim)
m3.metric("Products", f"{len(b):,}")
val = info.get("metrics", {}).get("val", {})
m4.metric("Validation PSNR", f"{val['psnr']:.1f} dB" if "psnr" in val else "–")

left, right = st.columns([1, 1])
with left:
    st.subheader("Model")
    rows = [("kind", b.kind)] + [(k, str(v)) for k, v in info["model_config"].items()]
    tc = info["train_config"]
    rows += [(f"train.{k}", str(tc[k])) for k in ("epochs", "batch_size", "lr", "seed")
             if k in tc]
    mt = info.get("metrics", {})
    if "train_seconds" in mt:
        rows.append(("training time", f"{mt['train_seconds'] / 60:.1f} min on "
                                      f"{mt.get('device', '?')} x{mt.get('world_size', 1)}"))
    st.dataframe(pd.DataFrame(rows, columns=["setting", "value"]), hide_index=True,
                 width="stretch", height=min(38 * (len(rows) + 1), 420))
with right:
    st.subheader("Catalogue")
    src = cat.get("source", {}) or {}
    st.markdown(f"**{esc(cat.get('name'))}** · {cat['count']:,} images at {cat['size']} px  \n"
                f"source: {esc(src.get('kind', 'folder'))} "
                f"{esc(', '.join(f'{k}={v}' for k, v in src.items() if k != 'kind'))}  \n"
                f"fingerprint `{cat['fingerprint']}`")
    st.markdown("metadata: " + ", ".join(esc(c) for c in cat.get("columns", [])
                                         if not c.startswith("factor_")))
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

g1, g2 = st.columns(2)
with g1:
    if b.gallery.ndim == 5 and len(b.gallery):
        st.subheader("Fixed latents across epochs")
        st.caption("The same 16 random latent vectors decoded after each epoch: the model "
                   "learns the silhouette first, then shading, then colour.")
        n_ep = len(b.gallery)
        pick = sorted(set(np.linspace(0, n_ep - 1, min(n_ep, 8)).round().astype(int)))
        grid = row_labelled_grid(b.gallery[pick, :10], [f"epoch {p + 1}" for p in pick],
                                 scale=1)
        st.image(grid, width="stretch")


@st.cache_data(show_spinner=False, max_entries=8)
def _recon_sheet(path: str, key: str, n: int = 10):
    bb = cache.get_bundle(path)
    tc = bb.info["train_config"]
    _, val_idx = split_indices(len(bb), tc.get("val_fraction", 0.1), tc.get("seed", 0),
                               tc.get("max_val", 5000))
    pool = val_idx if len(val_idx) >= n else np.arange(len(bb))
    idx = np.random.default_rng(0).choice(pool, size=min(n, len(pool)), replace=False)
    orig = bb.images.get(idx)
    recon = bb.decode(bb.mu[idx])
    return row_labelled_grid(np.stack([orig, recon]), ["original", "reconstruction"], scale=1)


with g2:
    st.subheader("Held-out originals and reconstructions")
    st.caption("Products the model never trained on, and what it makes of them.")
    st.image(_recon_sheet(str(b.path), b.key), width="stretch")

st.subheader("How to use")
st.markdown("""
- **Factor sliders**: pick a sneaker, move one latent factor at a time and watch the decoded
  image change; download the traversal grid (one row per factor). The URL keeps the view.
- **Interpolation**: two anchor sneakers, the path between them decoded step by step, with the
  closest real product at each step and the path drawn on the catalogue map.
- **Sneaker arithmetic**: A + B, or A − B + C; the result and its closest real products.
- **Catalogue map**: the whole catalogue as a map; select clusters and tag them in bulk.
- **Find similar**: similar products, query by photo, "like this but …", missing attributes.
- **Disentanglement lab**: how good the factors are, their names, attribute directions.
""")
