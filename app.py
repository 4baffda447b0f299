"""KickSpace: the Streamlit entry point.

    streamlit run app.py

Registers the pages in pages/ with st.navigation (every page with its title and icon, from the
first paint), picks the bundle (every bundle under checkpoints/, or a path; checkpoints/demo by
default). The home page paints before the bundle is in memory (it loads in the background).
Nothing heavy is imported here: torch, pandas and plotly load with the bundle or with the page
that needs them.
"""
from pathlib import Path

import streamlit as st

from explorer.app import cache
from explorer.app.widgets import esc

st.set_page_config(page_title="KickSpace", page_icon="👟", layout="wide")
# .streamlit/config.toml hides the sidebar menu that a fresh server builds from the pages/
# folder's file names (before this script has run once); this menu, with titles, is shown.
st.set_option("client.showSidebarNavigation", True)

PAGES = {
    "Explore": [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/sliders.py", title="Factor sliders", icon=":material/tune:"),
        st.Page("pages/interpolation.py", title="Interpolation", icon=":material/swap_horiz:"),
        st.Page("pages/arithmetic.py", title="Sneaker arithmetic", icon=":material/add_circle:"),
    ],
}
for section, extra in {"Catalogue": [("pages/catalogue_map.py", "Catalogue map", ":material/map:"),
                                     ("pages/similar.py", "Find similar", ":material/search:"),
                                     ("pages/hygiene.py", "Catalogue hygiene",
                                      ":material/cleaning_services:")],
                       "Science": [("pages/overview.py", "Model card", ":material/description:"),
                                   ("pages/lab.py", "Disentanglement lab", ":material/science:")]
                       }.items():
    pages = [st.Page(p, title=t, icon=i) for p, t, i in extra if Path(p).is_file()]
    if pages:
        PAGES.setdefault(section, []).extend(pages)


def _bundle_sidebar() -> None:
    """The bundle picker. Reads only bundle.json: the page loads (and checks) the bundle."""
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
        info = cache.bundle_summary(ss["bundle_path"])
        if info is None:
            st.error(f"No readable bundle.json in {esc(ss['bundle_path'])}")
            return
        st.caption(f"**{esc(info['kind'])}** · {info['latent_dim']} latents · "
                   f"{info['image_size']} px  \n"
                   f"{info['count']:,} products from {esc(info['catalogue'])}  \n"
                   f"catalogue {esc(info['fingerprint'])}")


page = st.navigation(PAGES)
_bundle_sidebar()
page.run()
cache.settle_heap()
