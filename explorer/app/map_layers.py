"""What the catalogue map draws with its points, and the sidebar controls for it: density
contours (beneath the points), an uploaded photo's star (uploaded on the map page, or the last
photo of Find similar's "Query by photo"), and the last path of the Interpolation page.

Other pages hand their overlay over in st.session_state (plain keys, not widget keys, so they
survive a page change): remember_photo / remember_path store the latent means, and the map
places them on whichever projection it shows (explorer.latent.projection.place_by_neighbours:
the map is not refitted). explorer.render.map_overlays makes the overlay dicts.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from explorer.app import cache
from explorer.render import map_overlays as ov

if TYPE_CHECKING:
    from explorer.bundle.core import Bundle

PHOTO, PATH = "map_overlay_photo", "map_overlay_path"
UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"]


def remember_photo(bundle: Bundle, z: np.ndarray, label: str, unlike=None,
                   source: str = "") -> None:
    """Keep an uploaded photo's latent mean [D] for the map's star (one photo: the latest).
    unlike: its explorer.latent.unlike.UnlikeScore, or None when not measured."""
    st.session_state[PHOTO] = {
        "bundle": bundle.key, "z": np.asarray(z, np.float32).reshape(-1), "label": str(label),
        "flagged": bool(unlike.flagged) if unlike is not None else False,
        "reasons": list(unlike.reasons) if unlike is not None else [],
        "percentile": float(unlike.percentile) if unlike is not None else None,
        "source": source, "id": source + str(label)}


def remember_path(bundle: Bundle, path: np.ndarray, start: str, end: str) -> None:
    """Keep an interpolation path's latent points [steps, D] for the map (the latest one)."""
    st.session_state[PATH] = {"bundle": bundle.key, "z": np.asarray(path, np.float32),
                              "start": str(start), "end": str(end)}


def _mine(bundle: Bundle, key: str) -> dict | None:
    got = st.session_state.get(key)
    return got if isinstance(got, dict) and got.get("bundle") == bundle.key else None


@dataclass
class Choice:
    contours: bool = False
    photo: dict | None = None        # remember_photo's record, when shown
    path: dict | None = None         # remember_path's record, when shown


def in_use(bundle: Bundle) -> bool:
    """Whether any layer is on or waiting (contours asked for in the link, a photo or a path
    remembered in this session): the sidebar's controls must then be drawn at once."""
    ss = st.session_state
    return ("contours" in st.query_params or bool(ss.get("contours"))
            or _mine(bundle, PHOTO) is not None or _mine(bundle, PATH) is not None
            or ss.get("map_photo_up") is not None)


def sidebar(bundle: Bundle) -> Choice:
    """The sidebar's "On the map" controls (call inside `with st.sidebar`)."""
    from explorer.app import cache_hygiene
    from explorer.app.widgets import encode_uploaded, esc
    ss = st.session_state
    contours = st.checkbox("Density contours", key="contours", bind="query-params",
                           help="lines around the densest areas holding 25%, 50%, 75% and 90% "
                                "of the shown products")
    up = st.file_uploader("Place a photo on the map", type=UPLOAD_TYPES, key="map_photo_up",
                          help="encoded like the catalogue and starred where its nearest "
                               "products are; never stored")
    if up is not None and (_mine(bundle, PHOTO) or {}).get("id") != f"map{up.file_id}":
        got = encode_uploaded(bundle, up)
        if got is not None:
            img, z = got
            with st.spinner("Comparing with the catalogue …"):
                unlike = cache_hygiene.unlike_score(bundle, img, z)
            remember_photo(bundle, z, up.name, unlike, source="map")
            ss[PHOTO]["id"] = f"map{up.file_id}"
    photo, path = _mine(bundle, PHOTO), _mine(bundle, PATH)
    if photo is not None:
        where = " (from Find similar)" if photo["source"] == "similar" else ""
        show = st.checkbox(f"Photo: {esc(photo['label'])}{where}", value=True,
                           key="ov_photo")
        if photo["flagged"]:
            st.warning("This photo is unlike this catalogue (" + esc("; ".join(photo["reasons"]))
                       + "): its red star marks the least unlike products, not look-alikes.",
                       icon=":material/warning:")
        photo = photo if show else None
    if path is not None:
        show = st.checkbox(f"Interpolation path: {esc(path['start'])} → {esc(path['end'])}",
                           value=True, key="ov_path")
        path = path if show else None
    return Choice(bool(contours), photo, path)


@st.cache_data(max_entries=16, show_spinner="Drawing density contours …")
def _contours(path: str, key: str, method: str, visible_key: str, _xy, _visible) -> list[dict]:
    return ov.density_contours(np.asarray(_xy)[np.asarray(_visible)])


def overlays(bundle: Bundle, xy: np.ndarray, method: str, visible: np.ndarray,
             choice: Choice) -> list[dict]:
    """The map's overlays for this choice, in map coordinates, in drawing order (contours,
    then the path, then the photo's star on top)."""
    from explorer.latent.projection import place_by_neighbours
    out: list[dict] = []
    vis = np.asarray(visible, np.int64)
    if choice.contours and len(vis) >= 2:
        vkey = hashlib.sha1(vis.tobytes()).hexdigest()[:16]
        out += _contours(str(bundle.path), bundle.key, method, vkey, xy, vis)
    index = cache.get_index(bundle) if choice.path or choice.photo else None
    if choice.path is not None:
        pxy = place_by_neighbours(choice.path["z"], index, xy, k=10)
        out += ov.path_overlays(pxy, choice.path["start"], choice.path["end"])
    if choice.photo is not None:
        pxy = place_by_neighbours(choice.photo["z"][None], index, xy, k=10)
        out.append(ov.photo_overlay(pxy, choice.photo["label"], choice.photo["flagged"]))
    return out


@st.cache_data(max_entries=8, show_spinner=False)
def _affine(path: str, key: str, method: str, _x, _xyz):
    from explorer.latent.projection import affine_fit
    return affine_fit(_x, _xyz)


def overlays_3d(bundle: Bundle, xyz: np.ndarray, method: str,
                choice: Choice) -> tuple[list[dict], str]:
    """The 3-D view's overlays (explorer.render.map3d: the path, then the photo) in its
    coordinates xyz [N, 3] of `method`, and how they were placed, for the caption: a linear
    map (3-D PCA) places them exactly; any other among their 10 nearest products in 3-D."""
    from explorer.latent.projection import place_by_neighbours
    if choice.photo is None and choice.path is None:
        return [], ""
    fit = _affine(str(bundle.path), bundle.key, method, bundle.mu, xyz) \
        if method == "pca" else None
    if fit is not None:
        def place(z):
            return np.atleast_2d(np.asarray(z, np.float32)) @ fit[0] + fit[1]
        how = "the photo and the path are placed by the exact PCA projection"
    else:
        index = cache.get_index(bundle)

        def place(z):
            return place_by_neighbours(z, index, xyz, k=10)
        how = "the photo and the path are placed among their 10 nearest products in 3-D"
    out: list[dict] = []
    if choice.path is not None:
        out.append({"kind": "path", "xyz": place(choice.path["z"]),
                    "start": choice.path["start"], "end": choice.path["end"]})
    if choice.photo is not None:
        out.append({"kind": "photo", "xyz": place(choice.photo["z"][None]),
                    "label": choice.photo["label"], "flagged": choice.photo["flagged"]})
    return out, how


def caption(choice: Choice) -> str:
    """What the overlays show, for the caption under the map ('' when none)."""
    parts = []
    if choice.contours:
        parts.append("lines enclose the densest areas holding 25/50/75/90% of the shown "
                     "products")
    if choice.photo is not None or choice.path is not None:
        parts.append("stars and the path are placed among their 10 nearest products (the map "
                     "is not refitted)")
    return "; ".join(parts)
