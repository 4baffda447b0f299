"""Interpolation: the path between two anchor sneakers, decoded step by step."""
import numpy as np
import streamlit as st

from explorer.app import cache, cache_map, map_layers
from explorer.latent.ops import change_points, interpolate
from explorer.app.live_decoder import PATH_CONTROL, browser_session, live_path, point_on_path
from explorer.render.path_map import path_picture
from explorer.render.pictures import gif_bytes, png_bytes, sharp
from explorer.latent.projection import place_by_neighbours
from explorer.render.sheets import wrapped_grid
from explorer.app.widgets import (anchor_picker, closest_strip, crisp_image, current_bundle, esc,
                                  item_label)

b = current_bundle()
st.title(":material/swap_horiz: Interpolation")
st.caption("Two anchor sneakers and the path between them in latent space, decoded step by "
           "step, with the closest real product at each step.")

ca, cb = st.columns(2)
with ca:
    a = anchor_picker(b, "a", default_index=0, title="Start")
    crisp_image(sharp(a.image, 128), alt="start anchor")   # x2^k, nearest neighbour
with cb:
    bb = anchor_picker(b, "b", default_index=min(len(b) - 1, len(b) // 2), title="End")
    crisp_image(sharp(bb.image, 128), alt="end anchor")


@st.fragment
def walk(steps: int, method: str) -> None:
    """A scrubber along the path, decoded live; the closest products follow on release
    (found in the browser, so that a release costs the server nothing)."""
    st.subheader("Walk the path")
    if browser_session():   # the browser shows the closest products too (else the server)
        res = live_path(b, key="live_walk", a=a.z, b=bb.z, method=method, steps=steps,
                        closest=3, closest_title="Closest real products here")
        if res.closest_shown:
            return
        z = res.z
    else:
        c = PATH_CONTROL
        t = st.slider(c.label.capitalize(), c.min, c.max, c.default, c.step, key=c.param,
                      bind="query-params", help=c.help)
        z = point_on_path(a.z, bb.z, t, method)
        st.image(sharp(b.decode(z[None])[0], 256), caption="decoded")
    closest_strip(b, z, 3, "Closest real products here")


@st.fragment   # a change of steps or path reruns this part only: the anchors above stay
def along_the_path() -> None:
    c1, c2 = st.columns(2)
    steps = c1.slider("Steps", 2, 24, 8, key="steps", bind="query-params")
    method = c2.radio("Path", ["linear", "spherical"], horizontal=True, key="path",
                      bind="query-params",
                      help="spherical (slerp) follows the prior's shell instead of cutting "
                           "through its centre (White 2016)")
    walk(steps, method)
    path = interpolate(a.z, bb.z, steps, method)
    map_layers.remember_path(b, path, a.label, bb.label)    # the Catalogue map draws it too
    decoded = b.decode(path)
    idx, dist = cache.get_index(b).query(path, k=1)
    nearest = [int(i) for i in idx[:, 0]]
    changes = set(change_points(nearest))

    st.subheader("Decoded path and the closest real product at each step")
    labels = [f"{i + 1}{' *' if i in changes else ''}" for i in range(steps)]
    # x2 by nearest neighbour when every step fits across the page, else x1 in blocks of
    # steps one under the other: never wider than the page, so never shrunk by the browser
    strip = wrapped_grid(np.stack([decoded, b.images.get(nearest)]), ["decoded", "closest"],
                         labels)
    st.image(strip)
    st.caption("A star (*) after a step number marks where the closest real product changes.")
    # made and sent only while open (a table redrawn at every change cost the browser ~60 ms)
    table = st.expander("Closest products, step by step", key="steps_table", on_change="rerun")
    if table.open:
        with table:
            st.dataframe([{"step": i + 1, "closest product": item_label(b, n),
                           "distance": round(float(d), 3), "changed": "◆" if i in changes else ""}
                          for i, (n, d) in enumerate(zip(nearest, dist[:, 0]))],
                         hide_index=True, width="stretch")

    # made on the click, and a click runs nothing else: a rerun right after it could prune
    # the file before the browser has fetched it (the download then lost its name)
    d1, d2 = st.columns(2)
    d1.download_button("Download animated GIF", lambda: gif_bytes(decoded), on_click="ignore",
                       file_name="interpolation.gif", mime="image/gif")
    d2.download_button("Download strip (PNG)", lambda: png_bytes(strip), on_click="ignore",
                       file_name="interpolation.png", mime="image/png")

    if b.projections:
        st.subheader("The path on the catalogue map")
        method_2d = st.radio("Map", list(b.projections), horizontal=True, key="interp_map")
        pxy = place_by_neighbours(path, cache.get_index(b), b.projections[method_2d], k=10)
        crisp_image(path_picture(cache_map.backdrop(b, method_2d), pxy, "start", "end"),
                    alt="the path on the map")
        st.caption(f"Every product is a grey dot (darker where many overlap); the path runs from "
                   f"dark purple at the start to yellow at the end. Path points are placed by "
                   f"their 10 nearest catalogue items ({esc(method_2d)} map, not refitted).")
        st.page_link("pages/catalogue_map.py", label="Explore the path on the Catalogue map",
                     icon=":material/map:", help="the map draws this path on top of its points, "
                     "with zoom, hover and pictures")


along_the_path()
