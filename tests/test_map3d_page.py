"""The catalogue map page's 3-D view in AppTest (issue 17): the page's "View" choice from
the URL, capped and filtered; the 3-D component's binary points and overlays (photo, path) where
their latents belong; "Select around" a search match; a click, a clear, a box and a lasso on a 3-D
point (the component's value) selecting products. Maths and figures: tests/test_map3d.py."""
from __future__ import annotations

import json

import numpy as np
import pytest

from explorer.app import map_layers
from explorer.latent.projection import pca_3d
from explorer.render.map3d import nearest, unpack_xyz
from streamlit.testing.v1 import AppTest

from test_catalogue_map_page import APP, PAGE, _bundle, _ok, _open, tag_db  # noqa: F401
from test_map3d import _arr, _reference_pca


_SENT: dict[str, bytes] = {}


@pytest.fixture(autouse=True)
def _record_media(sent_media):
    """Keep what the page puts in the media file store (conftest's sent_media): the 3-D
    component's points go there, fetched by URL in the browser."""
    global _SENT
    _SENT = sent_media


def _components(at, name: str) -> list:
    """The page's component elements named `name` (Streamlit qualifies it by module)."""
    return [c.proto for c in at.get("component_instance")
            if c.proto.component_name.rsplit(".", 1)[-1] == name]


def _traces(at) -> list[dict]:
    """The 3-D component's traces in drawing order, as the browser builds them: its plotly
    properties plus "ids" (catalogue indices) and "xyz" decoded from the binary points (the
    sample from its data: URL, the highlights from the inline bytes), then the overlays."""
    (proto,) = _components(at, "kickspace_map3d")
    args = json.loads(proto.json_args)
    special = {a.key: a.bytes for a in proto.special_args}
    frame = (np.asarray(args["frame"][:3]), args["frame"][3])
    out = []
    for blob, specs in ((_SENT[args["points_url"]], args["traces"]),
                        (special.get("highlights", b""), args["hl_traces"])):
        ids, xyz = unpack_xyz(blob, sum(t["n"] for t in specs), frame)
        o = 0
        for t in specs:
            out.append(dict(t["spec"], ids=ids[o:o + t["n"]], xyz=xyz[o:o + t["n"]]))
            o += t["n"]
    for t in json.loads(args["overlays"]):
        out.append(dict(t, xyz=np.stack([_arr(t[a]) for a in "xyz"], 1)))
    return out


def _xyz(trace: dict) -> np.ndarray:
    return trace["xyz"]


def test_page_3d_view_from_the_url_capped_filtered_and_back(tag_db, monkeypatch):
    b = _bundle()
    brand = b.metadata["brand"].value_counts().index[0]
    cap = 4_000
    monkeypatch.setenv("KICKSPACE_MAP_3D_MAX_POINTS", str(cap))
    sku = str(b.metadata["sku"][42])
    at = _open({"dims": "3-D", "proj": "PCA", "q": sku.lower()})
    assert at.radio(key="dims").value == "3-D"
    assert not _components(at, "kickspace_map")                  # in place of the 2-D map

    def traces():
        return _traces(at)

    pts = [t for t in traces() if not t["name"].startswith(("selected", "search"))]
    assert sum(len(t["ids"]) for t in pts) == cap
    assert len(np.unique(np.concatenate([t["ids"] for t in pts]))) == cap
    match = next(t for t in traces() if t["name"].startswith("search matches"))
    assert match["ids"].tolist() == [42]
    ref = _reference_pca(b.mu)
    got = match["xyz"][0]
    assert np.allclose(np.abs(got), np.abs(ref[42]), atol=1e-3 * np.abs(ref).max())
    assert "3-D PCA map:" in " ".join(c.value for c in at.caption)     # computed, not stored

    at.multiselect(key="flt_brand").set_value([brand])          # a filter narrows the view
    at.run()
    _ok(at)
    want = min(cap, int((b.metadata["brand"] == brand).sum()))
    drawn = np.concatenate([t["ids"] for t in traces()
                            if not t["name"].startswith(("selected", "search"))])
    assert len(drawn) == want and (b.metadata["brand"].to_numpy()[drawn] == brand).all()
    at.radio(key="dims").set_value("2-D")
    at.run()
    _ok(at)
    assert _components(at, "kickspace_map") and not _components(at, "kickspace_map3d")
    # (the widget -> URL half of bind="query-params" is the browser's: AppTest keeps the
    # query string it was opened with; bench/shot_map3d.py checks it in Chromium)


@pytest.mark.parametrize("proj", ["UMAP", "PCA"])
def test_page_3d_draws_the_photo_and_path_where_their_latents_belong(tag_db, proj):
    """A photo (product 5's own latent mean) and a path (products 10, 20, 30) kept in the
    session: in 3-D PCA they sit exactly at those products' 3-D PCA positions; in the demo's
    stored 3-D UMAP (the default there) their 10-nearest placement lands on them too."""
    b = _bundle()
    at = AppTest.from_file(APP, default_timeout=240)
    at.query_params.update({"dims": "3-D", "proj": proj, "contours": "true"})
    at.run()
    at.session_state[map_layers.PHOTO] = {
        "bundle": b.key, "z": b.mu[5].copy(), "label": "shoe.png", "flagged": False,
        "reasons": [], "percentile": 50.0, "source": "map", "id": "mapx"}
    at.session_state[map_layers.PATH] = {"bundle": b.key, "z": b.mu[[10, 20, 30]].copy(),
                                         "start": "A", "end": "B"}
    at.switch_page(PAGE)
    at.run()
    _ok(at)
    xyz = pca_3d(b.mu) if proj == "PCA" else b.projections_3d["umap"]
    *_, path, photo = _traces(at)
    assert path["name"] == "path: A<br>\u2192 B" and photo["name"] == "photo: shoe.png"
    tol = 1e-4 if proj == "PCA" else 1e-3               # (overlays go as exact JSON numbers)
    scale = np.ptp(xyz)
    np.testing.assert_allclose(_xyz(photo)[0], xyz[5], atol=tol * scale)
    np.testing.assert_allclose(_xyz(path), xyz[[10, 20, 30]], atol=tol * scale)
    text = " ".join(c.value for c in at.caption)
    assert ("exact PCA projection" if proj == "PCA" else "10 nearest products in 3-D") in text
    assert "contours are drawn on the 2-D map only" in text
    if proj == "UMAP":
        assert "3-D UMAP map (stored in the bundle)" in text
    at.checkbox(key="ov_photo").uncheck()                       # unticking takes it away
    at.run()
    _ok(at)
    assert _traces(at)[-1]["name"] == "path: A<br>\u2192 B"


def test_page_3d_selects_around_a_search_match(tag_db):
    """No click reaches the app from a 3-D chart (explorer.app.map3d's docstring): "Select
    around" makes the products nearest a search match in the shown 3-D map the selection,
    which the 3-D view then rings and the Selection section lists."""
    b = _bundle()
    sku = str(b.metadata["sku"][42])
    at = _open({"dims": "3-D", "q": sku.lower()})              # UMAP: the stored 3-D one
    assert at.selectbox(key="near3d_at").value == "m42"
    at.number_input(key="near3d_k").set_value(12)
    at.button(key="near3d_go").click()
    at.run()
    _ok(at)
    xyz = b.projections_3d["umap"]
    want = nearest(xyz, np.arange(len(b)), xyz[42], 12)
    assert want[0] == 42
    assert at.session_state["pick"]["indices"] == want.tolist()
    sel = next(t for t in _traces(at) if t["name"].startswith("selected"))
    assert sel["ids"].tolist() == want.tolist()
    np.testing.assert_allclose(_xyz(sel), xyz[want], atol=1e-4 * np.ptp(xyz))
    assert "12 products selected" in " ".join(m.value for m in at.markdown)


def test_page_3d_click_on_a_point_selects_it(tag_db):
    """The 3-D component's value after a click on product 42 (what map3d.js sends): it
    becomes the selection, the URL gets its SKU, the view rings it and the Selection section
    lists it; the same event again (a rerun) does not select anew; a "clear" (a click on
    empty space) clears the selection and the URL's `sel`; a box (Box mode) selects every
    filtered product the camera draws inside it, and the link restores it."""
    b = _bundle()
    at = _open({"dims": "3-D"})
    assert not [t for t in _traces(at) if t["name"].startswith("selected")]
    at.session_state["map3d"] = {"seq": 3, "event": {"seq": 77, "kind": "click", "index": 42},
                                 "view": None, "need": []}
    at.run()
    _ok(at)
    assert at.session_state["pick"]["indices"] == [42]
    assert at.session_state["pick"]["label"] == "by a click on the 3-D map"
    sel = at.query_params["sel"]
    sel = sel if isinstance(sel, str) else sel[0]
    assert json.loads(sel) == {"kind": "skus", "skus": [str(b.metadata["sku"][42])]}
    sel = next(t for t in _traces(at) if t["name"].startswith("selected"))
    assert sel["ids"].tolist() == [42]
    assert "1 product selected" in " ".join(m.value for m in at.markdown)
    at.session_state["pick"] = {"label": "other", "indices": [7], "def": None}
    at.run()
    _ok(at)
    assert at.session_state["pick"]["indices"] == [7]             # seq 77 was acted on once
    # a click on empty space (map3d.js sends "clear" when the component was told that
    # something is selected): the selection and the URL's `sel` go
    (proto,) = _components(at, "kickspace_map3d")
    assert json.loads(proto.json_args)["n_selected"] == 1
    at.session_state["map3d"] = {"seq": 4, "event": {"seq": 78, "kind": "clear"},
                                 "view": None, "need": []}
    at.run()
    _ok(at)
    assert "pick" not in at.session_state and "sel" not in at.query_params
    assert "Nothing selected yet" in " ".join(i.value for i in at.info)
    (proto,) = _components(at, "kickspace_map3d")
    assert json.loads(proto.json_args)["n_selected"] == 0
    # a box drawn on the view (Box mode): its corners and the camera; every filtered product
    # inside is selected, drawn in the sample or not, and the URL keeps the box
    xyz = b.projections_3d["umap"]
    s = float(np.abs(xyz).max()) * 1.01                   # a camera fitting the map in view
    clip = np.diag([1 / s, 1 / s, 1 / s, 1.0]).ravel().tolist()
    want = np.flatnonzero((xyz[:, 0] >= 0) & (xyz[:, 1] >= -0.5 * s) & (xyz[:, 1] <= 0))
    at.session_state["map3d"] = {"seq": 5, "event": {"seq": 79, "kind": "box3d", "clip": clip,
                                                     "x": [0, 1], "y": [-0.5, 0]}}
    at.run()
    _ok(at)
    assert sorted(at.session_state["pick"]["indices"]) == want.tolist() and len(want) > 20
    assert at.session_state["pick"]["label"] == "in a box on the 3-D UMAP map"
    sel = json.loads(at.query_params["sel"])
    assert sel["kind"] == "box3d" and sel["proj"] == "umap"
    again = _open({"dims": "3-D", "sel": at.query_params["sel"]})        # a reload
    assert sorted(again.session_state["pick"]["indices"]) == want.tolist()


def test_page_3d_lasso_selects_what_the_camera_draws_inside_it_and_the_link_keeps_it(tag_db):
    """A lasso drawn on the 3-D view (Lasso mode; map3d.js sends its vertices and the camera
    as "lasso3d"): an L-shaped outline selects every filtered product the camera draws inside
    the L, drawn in the sample or not, and not those in the L's bounding box outside it; the
    URL's `sel` keeps the lasso and the camera, and a reload selects the same products."""
    b = _bundle()
    at = _open({"dims": "3-D"})
    xyz = b.projections_3d["umap"]
    s = float(np.abs(xyz).max()) * 1.01                   # a camera fitting the map in view
    clip = np.diag([1 / s, 1 / s, 1 / s, 1.0]).ravel().tolist()
    xs = [0, 1, 1, 0.3, 0.3, 0]                           # an L: a bar and a post on its left
    ys = [-0.5, -0.5, 0, 0, 0.6, 0.6]
    x, y = xyz[:, 0] / s, xyz[:, 1] / s
    bar = (x > 0) & (x < 1) & (y > -0.5) & (y < 0)
    post = (x > 0) & (x < 0.3) & (y > 0) & (y < 0.6)
    want = np.flatnonzero(bar | post)
    boxed = np.flatnonzero((x > 0) & (x < 1) & (y > -0.5) & (y < 0.6))
    assert len(want) > 20 and len(boxed) > len(want) + 20      # the L leaves out part of its box
    at.session_state["map3d"] = {"seq": 5, "event": {"seq": 80, "kind": "lasso3d", "clip": clip,
                                                     "x": xs, "y": ys}}
    at.run()
    _ok(at)
    assert sorted(at.session_state["pick"]["indices"]) == want.tolist()
    assert at.session_state["pick"]["label"] == "in a lasso on the 3-D UMAP map"
    sel = json.loads(at.query_params["sel"])
    assert sel == {"kind": "lasso3d", "proj": "umap", "clip": clip, "x": xs, "y": ys}
    assert f"{len(want):,} products selected" in " ".join(m.value for m in at.markdown)
    again = _open({"dims": "3-D", "sel": at.query_params["sel"]})        # a reload
    assert sorted(again.session_state["pick"]["indices"]) == want.tolist()
    assert again.session_state["pick"]["label"] == "from the link"
    bad = _open({"dims": "3-D", "sel": json.dumps(dict(sel, x=xs[:2], y=ys[:2]))})
    assert "pick" not in bad.session_state
    assert "could not be read" in " ".join(w.value for w in bad.warning)


def test_page_3d_shift_adds_and_alt_takes_away_and_the_link_keeps_the_steps(tag_db):
    """Shift held as a 3-D box ends adds what it holds to the selection; Alt held on a click
    takes the clicked product away; the URL keeps both steps and a reload replays them."""
    b = _bundle()
    at = _open({"dims": "3-D"})
    xyz = b.projections_3d["umap"]
    s = float(np.abs(xyz).max()) * 1.01
    clip = np.diag([1 / s, 1 / s, 1 / s, 1.0]).ravel().tolist()
    x, y = xyz[:, 0] / s, xyz[:, 1] / s
    qx, (y0, y1) = np.quantile(x, [0.1, 0.4, 0.6, 0.9]), np.quantile(y, [0.2, 0.8])
    left = (x > qx[0]) & (x < qx[1]) & (y > y0) & (y < y1)
    right = (x > qx[2]) & (x < qx[3]) & (y > y0) & (y < y1)
    assert left.sum() > 10 and right.sum() > 10
    for seq, (x0, x1), op in ((1, qx[:2], None), (2, qx[2:], "add")):
        ev = {"seq": seq, "kind": "box3d", "clip": clip, "x": [float(x0), float(x1)],
              "y": [float(y0), float(y1)]}
        at.session_state["map3d"] = {"seq": seq, "event": {**ev, **({"op": op} if op else {})}}
        at.run()
        _ok(at)
    assert sorted(at.session_state["pick"]["indices"]) == np.flatnonzero(left | right).tolist()
    gone = int(np.flatnonzero(right)[0])
    at.session_state["map3d"] = {"seq": 3, "event": {"seq": 3, "kind": "click", "index": gone,
                                                     "op": "remove"}}
    at.run()
    _ok(at)
    want = sorted(set(np.flatnonzero(left | right).tolist()) - {gone})
    assert sorted(at.session_state["pick"]["indices"]) == want
    sel = json.loads(at.query_params["sel"])
    assert [st.get("op") for st in sel["steps"]] == [None, "add", "remove"]
    again = _open({"dims": "3-D", "sel": at.query_params["sel"]})        # a reload
    assert sorted(again.session_state["pick"]["indices"]) == want
