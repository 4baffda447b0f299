"""A bare Streamlit page with the catalogue map component and N synthetic products (for
bench/bench_map.py's engine rows: 100,000 and 1,000,000 products, where building a real
bundle takes hours on a laptop). Six Gaussian blobs, coloured by blob; a box or lasso selects
over every product in Python, as the catalogue map page does.

    KICKSPACE_BENCH_N=1000000 streamlit run bench/map_engine_app.py
"""
import os

import numpy as np
import streamlit as st

from explorer.app import mapcomponent

from explorer.render import mapview

N = int(os.environ.get("KICKSPACE_BENCH_N", "100000"))


@st.cache_resource
def data(n: int):
    rng = np.random.default_rng(0)
    blob = rng.integers(0, 6, n)
    centres = rng.normal(0, 6, (6, 2))
    xy = (centres[blob] + rng.normal(0, 1, (n, 2))).astype(np.float32)
    colouring = mapview.categorical_colouring(np.array([f"blob {b}" for b in blob], object),
                                              "blob")
    colours = mapcomponent.colour_codes(colouring, n)
    return xy, colours, mapcomponent.pack_points(xy, np.arange(n), colours.codes)


xy, colours, packed = data(N)
ss = st.session_state
value = mapcomponent.catalogue_map(packed, colours, n_total=N,
                                   selected=ss.get("picked", np.zeros(0, np.int64)),
                                   height=560, key="map")
event, _, _ = mapcomponent.parse_value(value)
if event is not None and event.seq != ss.get("seq"):
    ss["seq"] = event.seq
    ss["picked"] = mapcomponent.event_selection(event, xy, np.arange(N))
st.markdown(f"**{len(ss.get('picked', [])):,} products selected**")
