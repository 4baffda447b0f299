"""Sneaker arithmetic: add and subtract sneakers in latent space."""
import numpy as np
import streamlit as st

from explorer.latent.ops import analogy, combine
from explorer.app.live_decoder import Control, browser_session, live_sliders
from explorer.render.pictures import equation_picture, png_bytes, sharp
from explorer.app.widgets import anchor_picker, closest_strip, crisp_image, current_bundle

b = current_bundle()
st.title(":material/add_circle: Sneaker arithmetic")
st.caption("Add sneakers together, or take one away: A + B blends two products; "
           "A − B + C carries the difference between A and B over to C.")

mode = st.radio("Operation", ["A + B", "A − B + C"], horizontal=True, key="op",
                bind="query-params")
n = 2 if mode == "A + B" else 3
cols = st.columns(n)
anchors = []
for j, (col, key) in enumerate(zip(cols, "abc"[:n])):
    with col:
        anc = anchor_picker(b, key, default_index=(j * len(b)) // n, title=key.upper())
        crisp_image(sharp(anc.image, 128), alt=f"anchor {key.upper()}")   # x2^k, nearest
        anchors.append(anc)

WEIGHTS = [Control("weight of A", param="wa", min=-1.0, max=2.0, step=0.05, default=0.5),
           Control("weight of B", param="wb", min=-1.0, max=2.0, step=0.05, default=0.5)]


CLOSEST = "Closest real products to the result"


def _closest(z: np.ndarray) -> None:
    closest_strip(b, z, 5, CLOSEST)


@st.fragment
def result_panel() -> None:
    if mode == "A + B" and browser_session():
        # the blend follows the weights live; the equation picture, its download and the
        # closest products are made in the browser too, so a release costs the server nothing
        st.markdown("**Blend**", help="drag a weight: the picture follows at once")
        res = live_sliders(b, key="live_weights", base=np.zeros(b.latent_dim),
                           basis=[anchors[0].z, anchors[1].z], controls=WEIGHTS,
                           caption="0.5 × A + 0.5 × B is the midpoint", closest=5,
                           closest_title=CLOSEST,
                           equation=[("", anchors[0].image, "A", 0),     # (op, picture,
                                     ("+", anchors[1].image, "B", 1)])   # label, weight)
        if not res.closest_shown:   # the browser could not search the catalogue itself
            _closest(res.z)
        return
    if mode == "A + B":   # no browser (AppTest): st.slider, everything made on the server
        w1, w2 = st.columns(2)
        wa, wb = (col.slider(c.label, c.min, c.max, c.default, c.step, key=c.param,
                             bind="query-params") for col, c in zip((w1, w2), WEIGHTS))
        z = combine([anchors[0].z, anchors[1].z], [wa, wb])
        terms = [("", anchors[0].image, f"{wa:g} × A"), ("+", anchors[1].image, f"{wb:g} × B")]
    else:
        z = analogy(anchors[0].z, anchors[1].z, anchors[2].z)
        terms = [("", anchors[0].image, "A"), ("−", anchors[1].image, "B"),
                 ("+", anchors[2].image, "C")]
    pic = equation_picture(terms, b.decode(z[None])[0])
    st.image(pic)   # its own size: text and pixels stay sharp
    st.download_button("Download the equation (PNG)", png_bytes(pic), file_name="equation.png",
                       mime="image/png", on_click="ignore")
    _closest(z)


result_panel()
