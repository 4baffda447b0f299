"""The floor a Streamlit page is measured against (bench/bench_floor.py): one slider, the demo
model decoding on the server, one picture. Nothing else: no sidebar, no products, no URL.

    streamlit run bench/minimal_app.py        (KICKSPACE_BUNDLE: another bundle folder)
"""
import os
import sys
from pathlib import Path

import numpy as np
import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from explorer.bundle.core import load_bundle  # noqa: E402
from explorer.render.pictures import sharp  # noqa: E402


@st.cache_resource
def bundle():
    return load_bundle(os.environ.get("KICKSPACE_BUNDLE",
                                      str(Path(__file__).resolve().parents[1] / "checkpoints"
                                          / "demo")))


b = bundle()
v = st.slider("factor 0", -3.0, 3.0, 0.0, 0.1, key="v")
z = b.mu[0].copy()
z[0] += np.float32(v)
st.image(sharp(b.decode(z[None])[0], 128), caption="decoded")
