"""Home: sneakers at once, the model to touch, the model learning, and a picture per tool."""
import numpy as np
import streamlit as st

from explorer.app import cache, cache_names, cache_pictures
from explorer.render.landing import hero_latent
from explorer.app.live_decoder import Control, browser_session, live_sliders
from explorer.latent.naming import SUGGESTED, dim_label
from explorer.render.pictures import sharp
from explorer.render.sheets import PAGE_WIDTH, row_labelled_grid
from explorer.app.widgets import crisp_image, current_bundle, esc, item_label

# the heading paints before the bundle (and torch) are in memory: first paint < 3 s
st.title(":material/steps: KickSpace")
st.markdown("**Every sneaker in the catalogue as a handful of visual factors**, learned from "
            "the photos alone. Move a factor and the sneaker changes; blend two sneakers and "
            "walk between them.")
slot = st.empty()
_path = st.session_state.get("bundle_path", str(cache.DEFAULT_BUNDLE))
if not cache.is_loaded(_path):
    with slot.container():
        _preview = cache.preview_strip(_path)
        if _preview is not None:
            crisp_image(sharp(_preview, 2 * _preview.shape[1]),
                        caption="Sneakers drawn by the model's decoder")
        st.info("Waking the model up: in a moment you can move these sneakers' factors.",
                icon=":material/hourglass_top:")
    cache.preload(_path)   # on a background thread, after the placeholder is on its way
try:
    cache.get_bundle(_path)   # wait for the load here, the preview still showing
except Exception:             # noqa: BLE001 -- current_bundle() below says what was wrong
    pass
slot.empty()                  # the preview goes either way: a broken bundle shows no sneakers
b = current_bundle()          # stops the page with the bundle's error

order = cache.dimension_order(b)
names = cache_names.slider_names(b)          # saved names, else confirmed suggestions
changes = cache_names.factor_descriptions(b)  # what visibly changes, from decoded pictures


featured = cache_pictures.featured(b)
unit = cache.factor_scale(b)                  # the factor moves in the catalogue's std


def _start_at_zero() -> None:
    """A new sneaker or factor starts the hero's sliders at 0; any other rerun keeps them (the
    live hero: its component keeps what was moved, as the server repeats the same start)."""
    st.session_state["hero_offset"] = 0.0
    st.session_state["hero_blend"] = 0.0


def _hero_choices(wide: bool = False) -> tuple[int, int, int]:
    """The sneaker, the next one (to blend into) and the factor picked above the hero; wide:
    the strip and the two pickers side by side."""
    c1, c2 = st.columns([3, 2]) if wide else (st.container(), st.container())
    with c1:
        crisp_image(cache_pictures.numbered_strip(b, featured))
        pick = st.segmented_control("Sneaker", list(range(len(featured))), default=0,
                                    format_func=lambda j: str(j + 1), key="hero_pick",
                                    on_change=_start_at_zero)
    pick = 0 if pick is None else int(pick)
    dims = order[:3]
    with c2:
        dim = st.segmented_control("Factor", dims, default=dims[0], key="hero_dim",
                                   on_change=_start_at_zero,
                                   format_func=lambda d: esc(dim_label(d, names).replace(
                                       f" ({SUGGESTED})", "")))
    return pick, (pick + 1) % len(featured), dims[0] if dim is None else int(dim)


def _help(dim: int) -> str:
    return (f"changes {changes[dim]}; " if dim in changes else "") + \
        "in standard deviations of the catalogue along it (−3 … +3), as the sliders page"


@st.fragment
def hero_live() -> None:
    """In a browser: the picture is decoded there while the sliders move (live_decoder).
    The picture and its sliders come first, the choices under them: on a phone (390x844)
    the sneaker and its control are both above the fold."""
    hero_box = st.container()
    pick, other, dim = _hero_choices(wide=True)
    za, zb = b.mu[featured[pick]], b.mu[featured[other]]
    basis = np.stack([np.eye(b.latent_dim, dtype=np.float32)[dim] * unit[dim], zb - za])
    controls = [Control(f"Move {dim_label(dim, names)}", help=_help(dim)),
                Control(f"Blend into sneaker {other + 1}", min=0.0, max=1.0, step=0.05,
                        help="walk the straight path between the two")]
    with hero_box:
        live_sliders(b, key=f"hero_live_{pick}_{dim}", base=za, basis=basis,
                     controls=controls, values=[0.0, 0.0], display=256,
                     caption=item_label(b, featured[pick]), notify=False)


@st.fragment
def hero() -> None:
    """Without a browser (AppTest): st.slider, decoded on the server on each change."""
    left, right = st.columns([2, 3], gap="large")
    with right:
        pick, other, dim = _hero_choices()
        offset = st.slider(f"Move {esc(dim_label(dim, names))}", -3.0, 3.0, 0.0, 0.1,
                           key="hero_offset", help=esc(_help(dim)))
        blend = st.slider(f"Blend into sneaker {other + 1}", 0.0, 1.0, 0.0, 0.05,
                          key="hero_blend", help="walk the straight path between the two")
    z = hero_latent(b.mu[featured[pick]], b.mu[featured[other]], blend, dim,
                    offset * float(unit[dim]))
    img = b.decode(z[None])[0]
    with left:
        crisp_image(sharp(img, 256), alt="decoded sneaker",
                    caption=esc(item_label(b, featured[pick])) +
                    (f", {offset:+.1f} on {esc(dim_label(dim, names))}" if offset else "") +
                    (f", {blend:.0%} of the way to sneaker {other + 1}" if blend else ""))


if browser_session():
    hero_live()
else:
    hero()

st.subheader("Try a tool")
pics = cache_pictures.tool_pictures(b, featured,
                                    [dim_label(d, names) for d in range(b.latent_dim)])
TOOLS = [("pages/sliders.py", "Factor sliders", ":material/tune:", "sliders",
          "Take one sneaker and move one factor at a time."),
         ("pages/interpolation.py", "Interpolation", ":material/swap_horiz:", "interpolation",
          "The path between two sneakers, with the closest real product at each step."),
         ("pages/arithmetic.py", "Sneaker arithmetic", ":material/add_circle:", "arithmetic",
          "A + B, or A − B + C: add and take away sneakers."),
         ("pages/catalogue_map.py", "Catalogue map", ":material/map:", "map",
          "The whole catalogue on one map; select and tag clusters."),
         ("pages/similar.py", "Find similar", ":material/search:", "similar",
          "Similar products, search by photo, “like this but …”."),
         ("pages/lab.py", "Disentanglement lab", ":material/science:", "lab",
          "How good the factors are, and what each one does.")]
for start in range(0, len(TOOLS), 3):
    for col, (page, title, icon, key, text) in zip(st.columns(3), TOOLS[start:start + 3]):
        with col:
            if key in pics:
                crisp_image(pics[key])
            st.page_link(page, label=title, icon=icon)
            st.caption(text)

gallery = cache_pictures.training_gallery(b)     # None (with a warning) if it cannot decode
if gallery is not None and gallery.ndim == 5 and len(gallery):
    st.subheader("The model learning to draw sneakers")
    from_pca = b.info.get("model_config", {}).get("linear_path") and not \
        b.info.get("train_config", {}).get("linear_fade")
    st.caption("The same random latent vectors decoded after each epoch of training: "
               + ("the model starts from PCA's blurred sneakers and sharpens them epoch by "
                  "epoch." if from_pca else
                  "the silhouette comes first, then shading, then colour."))
    n_ep = len(gallery)
    rows = sorted(set(np.linspace(0, n_ep - 1, min(n_ep, 6)).round().astype(int)))
    # up to 8 samples, as many as fit across the page at their own size (5 at 128 px)
    per_row = int(np.clip((PAGE_WIDTH - 70) // (gallery.shape[3] + 2), 3, 8))   # 70: labels
    crisp_image(row_labelled_grid(gallery[rows, :per_row], [f"epoch {r + 1}" for r in rows]))

st.page_link("pages/overview.py", label="Model card: settings, metrics and training curves",
             icon=":material/description:")
