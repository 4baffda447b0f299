"""Factor sliders: move one latent factor at a time around an anchor sneaker."""
import numpy as np
import streamlit as st

from explorer import cache
from explorer.directions import load_directions, slider_key
from explorer.latent import apply_offsets, traversal
from explorer.naming import dim_label, load_names
from explorer.pictures import sharp
from explorer.sheets import row_labelled_grid, to_png_bytes
from explorer.widgets import anchor_picker, current_bundle, esc, product_grid

b = current_bundle()
st.title(":material/tune: Factor sliders")
st.caption("Take one sneaker and move one latent factor at a time. Sliders are ordered by how "
           "much information each factor carries (mean KL over the catalogue); the range is "
           "−3 to +3 around the anchor, on the prior's scale.")

order = cache.dimension_order(b)
kl = cache.kl_per_dim(b)
names = load_names(b.path, b.key)
directions = load_directions(b.path, b.key, b.latent_dim)  # saved in the disentanglement lab
ACTIVE = 0.1  # nats: below this a dimension carries next to nothing
SLIDER_KEYS = [f"d{d}" for d in range(b.latent_dim)] + [slider_key(x) for x in directions]

with st.sidebar:
    anchor = anchor_picker(b, "a", default_index=0, title="Anchor sneaker")
    st.image(sharp(anchor.image, 128), caption=esc(anchor.label))


def _reset(keys) -> None:
    for k in keys:
        st.session_state[k] = 0.0


@st.fragment
def slider_panel() -> None:
    left, right = st.columns([3, 2], gap="large")
    offsets: dict[int, float] = {}
    with right:
        st.button("Reset all", on_click=_reset, args=(SLIDER_KEYS,), width="stretch")
        active = [d for d in order if kl[d] >= ACTIVE or b.model.deterministic]
        quiet = [d for d in order if d not in active]

        def _slider(d: int) -> None:
            c1, c2 = st.columns([6, 1], vertical_alignment="bottom")
            with c1:
                offsets[d] = st.slider(
                    esc(dim_label(d, names)), -3.0, 3.0, 0.0, 0.1, key=f"d{d}",
                    bind="query-params",
                    help=f"mean KL {kl[d]:.2f} nats over the catalogue")
            with c2:
                st.button("↺", key=f"reset_d{d}", on_click=_reset, args=([f"d{d}"],),
                          help=f"reset {dim_label(d, names)}")
        for d in active:
            _slider(d)
        if quiet:
            with st.expander(f"{len(quiet)} near-inactive factors (KL < {ACTIVE} nats)"):
                for d in quiet:
                    _slider(d)
        amounts: list[tuple] = []
        if directions:
            st.markdown("**Attribute directions**",
                        help="fitted and saved in the Disentanglement lab; one unit is one "
                             "standard deviation of the catalogue along the direction")
        for x in directions:
            key = slider_key(x)
            c1, c2 = st.columns([6, 1], vertical_alignment="bottom")
            with c1:
                amount = st.slider(
                    esc(x.name), -3.0, 3.0, 0.0, 0.1, key=key, bind="query-params",
                    help=f"{x.method}: {esc(x.negative)} → {esc(x.positive)}, held-out "
                         f"accuracy {x.accuracy:.0%}")
            with c2:
                st.button("↺", key=f"reset_{key}", on_click=_reset, args=([key],),
                          help=f"reset {esc(x.name)}")
            if amount:
                amounts.append((x, amount))
    z = apply_offsets(anchor.z, offsets,
                      directions=[(x.vector * x.scale, amount) for x, amount in amounts])
    img = b.decode(z[None])[0]
    with left:
        st.image(sharp(img, 384), caption="decoded", output_format="PNG", alt="decoded sneaker")
        moved = [f"{esc(dim_label(d, names))} {v:+.1f}" for d, v in offsets.items() if v]
        moved += [f"{esc(x.name)} {v:+.1f}" for x, v in amounts]
        st.caption("moved: " + (", ".join(moved) or "nothing yet"))
        st.markdown("**Closest real products**")
        idx, dist = cache.get_index(b).query(z, k=3)
        product_grid(b, idx[0], dist[0], cols=3, width=110)


slider_panel()

st.divider()
st.subheader("Traversal grid")
st.caption("One row per factor, columns from −3 to +3 around the anchor.")
n_rows = st.slider("Factors to show", 1, b.latent_dim, min(b.latent_dim, 10), key="grid_rows")
cols = st.select_slider("Columns", options=[5, 7, 9, 11], value=7, key="grid_cols")


@st.cache_data(max_entries=32, show_spinner="Decoding the grid …")
def _grid_png(path: str, key: str, z_bytes: bytes, dims: tuple, n_cols: int, labels: tuple):
    bb = cache.get_bundle(path)
    z = np.frombuffer(z_bytes, np.float32)
    values = np.linspace(-3, 3, n_cols)
    grid = traversal(z, list(dims), values)
    imgs = bb.decode(grid.reshape(-1, grid.shape[-1])).reshape(len(dims), n_cols,
                                                                *bb.images[0].shape)
    sheet = row_labelled_grid(imgs, list(labels), [f"{v:+.1f}" for v in values], scale=1)
    return to_png_bytes(sheet)


dims = tuple(order[:n_rows])
png = _grid_png(str(b.path), b.key, np.asarray(anchor.z, np.float32).tobytes(), dims, cols,
                tuple(dim_label(d, names) for d in dims))
st.image(png)   # its own size: never smeared
st.download_button("Download traversal grid (PNG)", png, file_name="traversal.png",
                   mime="image/png")
