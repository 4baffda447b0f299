"""Sneaker arithmetic: add and subtract sneakers in latent space."""
import streamlit as st

from explorer import cache
from explorer.latent import analogy, combine
from explorer.pictures import equation_picture, png_bytes, sharp
from explorer.widgets import anchor_picker, current_bundle, product_grid

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
        st.image(sharp(anc.image, 96))
        anchors.append(anc)

if mode == "A + B":
    w1, w2 = st.columns(2)
    wa = w1.slider("weight of A", -1.0, 2.0, 0.5, 0.05, key="wa", bind="query-params")
    wb = w2.slider("weight of B", -1.0, 2.0, 0.5, 0.05, key="wb", bind="query-params")
    z = combine([anchors[0].z, anchors[1].z], [wa, wb])
    terms = [("", anchors[0].image, f"{wa:g} × A"), ("+", anchors[1].image, f"{wb:g} × B")]
else:
    z = analogy(anchors[0].z, anchors[1].z, anchors[2].z)
    terms = [("", anchors[0].image, "A"), ("−", anchors[1].image, "B"),
             ("+", anchors[2].image, "C")]

result = b.decode(z[None])[0]
pic = equation_picture(terms, result)
st.image(pic)   # its own size: text and pixels stay sharp
st.download_button("Download the equation (PNG)", png_bytes(pic), file_name="equation.png",
                   mime="image/png")

st.subheader("Closest real products to the result")
idx, dist = cache.get_index(b).query(z, k=5)
product_grid(b, idx[0], dist[0], cols=5, width=120)
