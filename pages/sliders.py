"""Factor sliders: move one latent factor at a time around an anchor sneaker.

In a browser the picture is decoded there while a slider moves (explorer.app.live_decoder), and
the closest real products are found there on release: a release costs the server nothing. Without a
browser (AppTest) the same page runs on st.slider and server-side decoding.
"""
import numpy as np
import streamlit as st

from explorer.app import cache, cache_names, cache_pictures
from explorer.latent.directions import load_directions, slider_key
from explorer.app.live_decoder import Control, browser_session, combine_basis, live_sliders
from explorer.latent.naming import dim_label
from explorer.metrics.information import active_dims
from explorer.render.pictures import sharp
from explorer.app.widgets import anchor_picker, closest_strip, current_bundle, esc

b = current_bundle()
st.title(":material/tune: Factor sliders")
st.caption("Take one sneaker and move one latent factor at a time. Sliders are ordered by how "
           "much information each factor carries (mean KL over the catalogue); the range is "
           "−3 to +3 standard deviations of the catalogue along the factor, around the anchor.")

order = cache.dimension_order(b)
kl = cache.kl_per_dim(b)
unit = cache.factor_scale(b)                 # one slider step of 1: the catalogue's spread
names = cache_names.slider_names(b)          # saved names, else confirmed suggestions
changes = cache_names.factor_descriptions(b)  # what visibly changes, from decoded pictures
directions = load_directions(b.path, b.key, b.latent_dim)  # saved in the disentanglement lab
active = active_dims(kl, order, b.model.deterministic)   # mean KL over KL_THRESHOLD nats
dims = active + [d for d in order if d not in active]
CONTROLS = [Control(dim_label(d, names), param=f"d{d}",
                    help=("" if d in active else "near-inactive: ")
                    + (f"changes {changes[d]}; " if d in changes else "")
                    + f"mean KL {kl[d]:.2f} nats over the catalogue; one unit is one standard "
                    f"deviation of the catalogue along it ({unit[d]:.2f} on the latent's scale)")
            for d in dims]
CONTROLS += [Control(x.name, param=slider_key(x),
                     help=f"{x.method}: {x.negative} → {x.positive}, held-out accuracy "
                          f"{x.accuracy:.0%}; one unit is one standard deviation of the "
                          f"catalogue along the direction (fitted in the Disentanglement lab)")
             for x in directions]
BASIS = np.concatenate([np.eye(b.latent_dim, dtype=np.float32)[dims] * unit[dims, None],
                        np.asarray([x.vector * x.scale for x in directions], np.float32)
                        .reshape(-1, b.latent_dim)])

with st.sidebar:
    anchor = anchor_picker(b, "a", default_index=0, title="Anchor sneaker")
    st.image(sharp(anchor.image, 128), caption=esc(anchor.label))


def _closest(z: np.ndarray) -> None:
    closest_strip(b, z, 3, "Closest real products")


@st.fragment
def live_panel() -> None:
    res = live_sliders(b, key="live_sliders", base=anchor.z, basis=BASIS, controls=CONTROLS,
                       closest=3)
    if not res.closest_shown:   # the browser could not search the catalogue itself
        _closest(res.z)


def _reset() -> None:
    for c in CONTROLS:
        st.session_state[c.param] = 0.0


@st.fragment
def server_panel() -> None:
    left, right = st.columns([3, 2], gap="large")
    with right:
        st.button("Reset all", on_click=_reset, width="stretch")
        values = [st.slider(esc(c.label), -3.0, 3.0, 0.0, 0.1, key=c.param,
                            bind="query-params", help=esc(c.help)) for c in CONTROLS]
    z = combine_basis(anchor.z, BASIS, values)
    with left:
        st.image(sharp(b.decode(z[None])[0], 384), caption="decoded", output_format="PNG")
        moved = [f"{esc(c.label)} {v:+.1f}" for c, v in zip(CONTROLS, values) if v]
        st.caption("moved: " + (", ".join(moved) or "nothing yet"))
        _closest(z)


if browser_session():
    live_panel()
else:
    server_panel()

st.divider()
st.subheader("Traversal grid")
st.caption("One row per factor, columns from −3 to +3 standard deviations of the catalogue "
           "around the anchor, as the sliders.")
n_rows = st.slider("Factors to show", 1, b.latent_dim, min(b.latent_dim, 10), key="grid_rows")
cols = st.select_slider("Columns", options=[5, 7, 9, 11], value=7, key="grid_cols")


grid_dims = tuple(order[:n_rows])
grid_labels = [dim_label(d, names) for d in grid_dims]
# its own size, never smeared: columns that do not fit the page continue below
st.image(cache_pictures.traversal_grid_png(b, anchor.z, grid_dims, cols, grid_labels))
st.download_button("Download traversal grid (PNG)",       # the whole grid in one block
                   lambda: cache_pictures.traversal_grid_png(b, anchor.z, grid_dims, cols,
                                                             grid_labels, whole=True),
                   file_name="traversal.png", mime="image/png", on_click="ignore")
