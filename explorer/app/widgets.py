"""Streamlit building blocks shared by the pages: the bundle in use, anchor picking, product
cards. Pages lay out widgets and call these and explorer.*; no model maths here.

Every string that comes from a catalogue goes through `esc` before it reaches Markdown, so a
product named <script>alert(1)</script> is shown as text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from explorer.app import cache
from explorer.render.pictures import sharp
from explorer.render.thumbs import THUMBNAILS

if TYPE_CHECKING:   # torch and pandas load with the bundle, after the page's first paint
    import pandas as pd

    from explorer.bundle.core import Bundle

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>$~&:\"'=])")


# where a Markdown renderer with GFM turns bare text into a link: "scheme://", "www." and the
# "@" of an e-mail address; an invisible WORD JOINER (U+2060) there keeps the text a text
_AUTOLINK = re.compile(r"(?i)(:)(?=/\s*/)|(?<=www)(?=\.)|(?=@)")


def esc(value) -> str:
    """Any value as Markdown-inert text: every ASCII punctuation mark backslash-escaped, and a
    WORD JOINER (U+2060, invisible) in "://", "www." and before "@" so that no bare URL or
    e-mail address becomes a link."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    text = str(value).replace("\r", " ").replace("\n", " ")
    text = _AUTOLINK.sub(lambda m: (m.group(1) or "") + "\u2060", text)
    return _MD_SPECIAL.sub(r"\\\1", text)


# ---------------------------------------------------------------------------- bundle in use
def _through_app_py() -> None:
    """Make sure this page runs inside app.py's st.navigation.

    A folder named pages/ next to app.py makes a fresh Streamlit server run a deep link such
    as /sliders as that file alone (its old "pages directory" mode) until some session has
    run app.py's st.navigation. Leave that mode and rerun, so the link goes through app.py
    (bundle picker, ?bundle=, navigation) like every other visit.
    """
    from streamlit.runtime.pages_manager import PagesManager
    first_run = "_ks_entry_checked" not in st.session_state
    st.session_state["_ks_entry_checked"] = True
    # only a session's first run can have skipped app.py; later reruns keep their widget events
    if first_run and PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def current_bundle(model: bool = True) -> Bundle:
    """The bundle this session works on (chosen in app.py's sidebar); stops the page with an
    error message if it cannot be loaded. model=False: do not wait for its model (a page that
    draws from the embeddings alone; Bundle.model loads it when first used)."""
    _through_app_py()
    path = st.session_state.get("bundle_path", str(cache.DEFAULT_BUNDLE))
    try:
        bundle = cache.get_bundle(path, model=model)
    except (cache.BundleError, OSError, ValueError) as e:
        st.error(f"Cannot load the bundle: {esc(e)}")
        st.stop()
        raise  # unreachable; st.stop raises
    forget_other_bundles_items(bundle)
    return bundle


def session_user() -> str:
    """Who this browser session is, for the annotations' changed_by: a random label made on
    the session's first call. Undo buttons undo only this session's own actions."""
    import uuid
    return st.session_state.setdefault("ks_user", f"session-{uuid.uuid4().hex[:8]}")


# session-state keys that hold item indices (row numbers of one catalogue)
_INDEX_KEYS = ("pick", "similar_item", "sel_page")
_INDEX_SUFFIXES = ("__idx", "__sel")


def forget_other_bundles_items(bundle: Bundle) -> None:
    """When the session switches to a bundle with another key (other weights or another
    catalogue), drop every item index it kept: row 17 of one catalogue is another product,
    or no product, in the next."""
    ss = st.session_state
    if ss.get("_items_of") == bundle.key:
        return
    if "_items_of" in ss:
        for k in list(ss.keys()):
            if k in _INDEX_KEYS or str(k).endswith(_INDEX_SUFFIXES):
                del ss[k]
    ss["_items_of"] = bundle.key


# ---------------------------------------------------------------------------- pictures
def crisp_image(img, caption: str | None = None, alt: str | None = None) -> None:
    """st.image at the picture's own pixel width (an array, a PIL image or PNG bytes), as
    PNG: the browser never rescales it up (a phone narrower than it shrinks it)."""
    import io

    from PIL import Image
    if isinstance(img, (bytes, bytearray)):
        with Image.open(io.BytesIO(img)) as im:
            width = im.width
    elif isinstance(img, Image.Image):
        width = img.width
    else:
        width = int(np.asarray(img).shape[1])
    st.image(img, width=width, caption=caption, alt=alt, output_format="PNG")


# ---------------------------------------------------------------------------- products
def item_label(bundle: Bundle, i: int) -> str:
    """"name · brand · SKU" (the file name, else the SKU, where a product has no name)."""
    return item_labels(bundle)[int(i)]


def item_labels(bundle: Bundle) -> list[str]:
    """Every product's item_label, made once per bundle (kept in Bundle.extras): a product
    picker formats up to 200 options on every rerun, ~0.5 ms each through a metadata row."""
    got = bundle.extras.get("item_labels")
    if got is None:
        got = bundle.extras["item_labels"] = product_labels(bundle.metadata)
    return got


def product_labels(md: pd.DataFrame) -> list[str]:
    """"name · brand · SKU" for every row of a catalogue's metadata (see item_label)."""
    import pandas as pd
    n = len(md)
    sku = md["sku"].tolist()
    fallback = md["file"].tolist() if "file" in md.columns else sku
    names = md["name"].tolist() if "name" in md.columns else [None] * n
    brands = md["brand"].tolist() if "brand" in md.columns else [None] * n
    out = []
    for name, alt, brand, code in zip(names, fallback, brands, sku):
        if name is None or pd.isna(name):             # None, NaN or pd.NA: no name
            name = alt
        out.append(f"{name} · {brand} · {code}" if isinstance(brand, str) else
                   f"{name} · {code}")
    return out


def search_items(metadata: pd.DataFrame, query: str, limit: int = 100) -> list[int]:
    """Indices of products whose name, SKU, brand or file contains every word of query."""
    if not query or not query.strip():
        return list(range(min(limit, len(metadata))))
    cols = [c for c in ("name", "sku", "brand", "file", "colorway", "class") if c in metadata]
    hay = metadata[cols].astype(str).agg(" ".join, axis=1).str.lower()
    mask = np.ones(len(metadata), bool)
    for word in query.lower().split():
        mask &= hay.str.contains(word, regex=False).to_numpy()
    return [int(i) for i in np.flatnonzero(mask)[:limit]]


def sku_to_index(bundle: Bundle, sku: str | None) -> int | None:
    if not sku:
        return None
    hits = np.flatnonzero(bundle.metadata["sku"].astype(str).to_numpy() == str(sku))
    return int(hits[0]) if len(hits) else None


def product_card(bundle: Bundle, i: int, distance: float | None = None, *, width: int = 128,
                 details: bool = True, key: str | None = None) -> None:
    """Image, name, brand, SKU, price and whatever metadata the catalogue has."""
    import pandas as pd
    md = bundle.metadata
    row = md.iloc[int(i)]
    crisp_image(sharp(bundle.images[int(i)], width))   # whole-pixel steps, never smeared
    name = row["name"] if "name" in md.columns else row.get("file", row["sku"])
    st.markdown(f"**{esc(name)}**")
    line = [esc(row["brand"])] if "brand" in md.columns and isinstance(row["brand"], str) else []
    line.append(esc(row["sku"]))
    if "price" in md.columns and pd.notna(row["price"]):
        try:
            line.append(esc(f"${float(row['price']):,.0f}"))
        except (TypeError, ValueError):
            line.append(esc(row["price"]))
    st.caption(" · ".join(line))
    if distance is not None:
        st.caption(f"distance {distance:.2f}")
    if details:
        from explorer.data.schema import card_detail_columns   # pandas: not before first paint
        extra = {c: row[c] for c in card_detail_columns(md.columns) if pd.notna(row[c])}
        if extra:
            with st.expander("details"):
                for c, v in extra.items():
                    st.markdown(f"{esc(c)}: {esc(v)}")
    if key is not None:
        if st.button("More like this", key=f"more_{key}", help="find similar products"):
            st.session_state["similar_item"] = int(i)
            st.switch_page("pages/similar.py")


def product_grid(bundle: Bundle, indices, distances=None, cols: int = 5, width: int = 112,
                 key: str | None = None) -> None:
    indices = list(indices)
    for start in range(0, len(indices), cols):
        columns = st.columns(cols)
        for j, i in enumerate(indices[start:start + cols]):
            with columns[j]:
                d = None if distances is None else float(distances[start + j])
                product_card(bundle, i, d, width=width, details=False,
                             key=None if key is None else f"{key}_{start + j}")


# ---------------------------------------------------------------------------- anchors
@dataclass
class Anchor:
    """A point to explore from: a catalogue item or an uploaded photo."""

    z: np.ndarray            # [latent_dim] latent mean
    image: np.ndarray        # uint8 [S, S, 3]
    label: str
    index: int | None = None  # catalogue index, None for an upload


def encode_uploaded(bundle: Bundle, up) -> tuple[np.ndarray, np.ndarray] | None:
    """An st.file_uploader file -> (image [S, S, 3], latent mean [D]), preprocessed as ingest
    does; None (after an st.error saying why) for a file that is too big or not a usable
    image. Nothing is written to disk."""
    from explorer.data.images import MAX_UPLOAD_BYTES, ImageRejected
    if up.size > MAX_UPLOAD_BYTES:
        st.error(f"{esc(up.name)}: {up.size / 2**20:.1f} MiB is over the "
                 f"{MAX_UPLOAD_BYTES / 2**20:.0f} MiB upload limit.")
        return None
    try:
        return cache.encode_upload(bundle, up.getvalue())
    except ImageRejected as e:
        st.error(f"{esc(up.name)} was not used: {esc(e.reason)}")
        return None


def anchor_picker(bundle: Bundle, key: str, default_index: int = 0, title: str = "Sneaker",
                  allow_upload: bool = True) -> Anchor:
    """Search by name/SKU/brand, pick at random, or upload a photo.

    The chosen catalogue item lives in st.session_state and in the URL (?{key}=SKU), so a
    copied link opens the same anchor."""
    ss = st.session_state
    idx_key, sel_key = f"{key}__idx", f"{key}__sel"
    scope = f"{key}__bundle"
    if ss.get(scope) != bundle.key:  # another bundle: start from its URL or default item
        ss[scope] = bundle.key
        from_url = sku_to_index(bundle, st.query_params.get(key))
        ss[idx_key] = from_url if from_url is not None else min(default_index, len(bundle) - 1)
        ss.pop(sel_key, None)
    source = "Catalogue"
    if allow_upload:
        source = st.radio(title, ["Catalogue", "Upload a photo"], horizontal=True,
                          key=f"{key}__src", label_visibility="visible")
    else:
        st.markdown(f"**{esc(title)}**")

    if source == "Upload a photo":
        up = st.file_uploader("Photo (JPEG, PNG, WebP, GIF, BMP or TIFF)",
                              type=["jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"],
                              key=f"{key}__up")
        got = encode_uploaded(bundle, up) if up is not None else None
        if got is not None:
            img, z = got
            crisp_image(sharp(img, 128), caption="as the model sees it")   # x2^k, nearest
            return Anchor(z=z, image=img, label=f"upload: {up.name}")
        st.info("Using the catalogue item below until a photo is uploaded.")

    def _picked() -> None:
        ss[idx_key] = int(ss[sel_key])

    def _random() -> None:
        rng = np.random.default_rng()
        ss[idx_key] = int(rng.integers(len(bundle)))
        ss[sel_key] = ss[idx_key]

    query = st.text_input("Search by name, SKU or brand", key=f"{key}__q",
                          placeholder="e.g. court, boot, KS-0001")
    if not 0 <= int(ss[idx_key]) < len(bundle):   # never an index of another catalogue
        ss[idx_key] = min(default_index, len(bundle) - 1)
    current = int(ss[idx_key])
    matches = search_items(bundle.metadata, query, limit=200)
    if query and not matches:
        st.warning(f"No product matches {esc(query)!s}.")
    options = [current] + [m for m in matches if m != current]
    if ss.get(sel_key) not in options:
        ss[sel_key] = current
    st.selectbox("Product", options, key=sel_key, on_change=_picked,
                 format_func=lambda i: item_label(bundle, i), label_visibility="collapsed")
    st.button("Random product", icon=":material/shuffle:", key=f"{key}__rand",
              on_click=_random, help="pick a random product from the catalogue")
    idx = int(ss[idx_key])
    sku = str(bundle.metadata["sku"].iloc[idx])
    # a query parameter the server changes makes the browser push a history entry: write it
    # only when it says something (not the default item on a first visit) and has changed
    if st.query_params.get(key) != sku and (key in st.query_params or
                                            idx != min(default_index, len(bundle) - 1)):
        st.query_params[key] = sku
    return Anchor(z=bundle.mu[idx], image=bundle.images[idx], label=item_label(bundle, idx),
                  index=idx)


def bundle_path_label(path: Path) -> str:
    return path.name


def product_strip(bundle: Bundle, indices, distances=None, width: int = 112,
                  title: str | None = None) -> None:
    """Products as ONE image element (pictures side by side, each with its name, brand, SKU
    and distance as caption): a rerun that updates them sends one message, not one per card."""
    indices = [int(i) for i in indices]
    if title:
        st.markdown(f"**{esc(title)}**")
    from explorer.app.live_catalogue import caption_parts   # the browser's strip says the same
    captions = []
    for j, i in enumerate(indices):
        parts = [esc(p) for p in caption_parts(bundle.metadata, i)]
        if distances is not None:
            parts.append(f"distance {float(distances[j]):.2f}")
        captions.append(" · ".join(parts))
    bundle.images.prefetch()   # decode the catalogue's atlases ahead, once per bundle
    # encoded once per (bundle, item, width): the same bytes st.image would make of the array
    pics = [THUMBNAILS.get(bundle.key, i, width, bundle.images.__getitem__) for i in indices]
    st.image([p for p, _ in pics], caption=captions, width=pics[0][1] if pics else "content")


def closest_strip(bundle: Bundle, z: np.ndarray, k: int, title: str, width: int = 110) -> None:
    """The k real products nearest the latent point z (by the catalogue's index), as one
    product_strip with their distances: what the pages show as "closest real products"."""
    idx, dist = cache.get_index(bundle).query(z, k=k)
    product_strip(bundle, idx[0], dist[0], width=width, title=title)
