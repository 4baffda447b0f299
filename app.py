"""KickSpace: the Streamlit entry point.

    streamlit run app.py

Picks the bundle (every bundle under checkpoints/, or a path; checkpoints/demo by default),
shows what is loaded, and registers the pages in pages/ with st.navigation.
"""
from pathlib import Path

import streamlit as st

from explorer import cache
from explorer.widgets import esc

st.set_page_config(page_title="KickSpace", page_icon="👟", layout="wide")

PAGES = {
    "Explore": [
        st.Page("pages/overview.py", title="Overview", icon=":material/home:", default=True),
        st.Page("pages/sliders.py", title="Factor sliders", icon=":material/tune:"),
        st.Page("pages/interpolation.py", title="Interpolation", icon=":material/swap_horiz:"),
        st.Page("pages/arithmetic.py", title="Sneaker arithmetic", icon=":material/add_circle:"),
    ],
}
for section, extra in {"Catalogue": [("pages/catalogue_map.py", "Catalogue map", ":material/map:"),
                                     ("pages/similar.py", "Find similar", ":material/search:"),
                                     ("pages/hygiene.py", "Catalogue hygiene",
                                      ":material/cleaning_services:")],
                       "Science": [("pages/lab.py", "Disentanglement lab", ":material/science:")]}.items():
    pages = [st.Page(p, title=t, icon=i) for p, t, i in extra if Path(p).is_file()]
    if pages:
        PAGES.setdefault(section, []).extend(pages)


def _bundle_sidebar() -> None:
    found = cache.available_bundles()
    names = {p.name: str(p) for p in found}
    ss = st.session_state
    if "bundle_path" not in ss:
        wanted = st.query_params.get("bundle")
        ss["bundle_path"] = names.get(wanted, str(cache.DEFAULT_BUNDLE))
    with st.sidebar:
        st.markdown("### :material/steps: KickSpace")
        options = list(names) + ["other path…"]
        current = Path(ss["bundle_path"]).name if ss["bundle_path"] in names.values() \
            else "other path…"
        choice = st.selectbox("Bundle", options, index=options.index(current)
                              if current in options else len(options) - 1,
                              help="every bundle under checkpoints/, or any bundle folder")
        if choice == "other path…":
            typed = st.text_input("Bundle folder", value="" if current != "other path…"
                                  else ss["bundle_path"])
            if typed:
                ss["bundle_path"] = typed
        else:
            ss["bundle_path"] = names[choice]
            if choice != "demo":
                st.query_params["bundle"] = choice
            elif "bundle" in st.query_params:
                del st.query_params["bundle"]
        try:
            b = cache.get_bundle(ss["bundle_path"])
        except (cache.BundleError, OSError, ValueError) as e:
            st.error(f"Cannot load this bundle: {esc(e)}")
            return
        cat = b.info["catalogue"]
        st.caption(f"**{esc(b.kind)}** · {b.latent_dim} latents · {b.image_size} px  \n"
                   f"{len(b):,} products from {esc(cat.get('name'))}  \n"
                   f"catalogue `{cat['fingerprint']}`")


_bundle_sidebar()
st.navigation(PAGES).run()
