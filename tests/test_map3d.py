"""The catalogue map's 3-D view (issue 17): 3-D PCA against a numpy reference, its plotly
traces (capped, filtered, coloured, highlights escaped; the photo and path overlays), 3-D maps
stored by `python -m explorer project --dims 3` in their own file (the demo ships a 3-D UMAP),
the page's "View" choice, the 3-D component's binary points, its overlays, "Select around" and
a click on a 3-D point (its value) selecting that product."""
from __future__ import annotations

import base64
import json
import shutil

import numpy as np
import pytest

from explorer.app import cache, map_layers, mapcomponent
from explorer.bundle.core import BundleError, load_bundle
from explorer.cli import main
from explorer.latent.projection import pca_3d, project_large
from explorer.render import mapview
from explorer.render.map3d import (figure_3d, frame_3d, in_screen_box, nearest, pack_xyz,
                                   unpack_xyz)
from streamlit.testing.v1 import AppTest

from test_catalogue_map_page import APP, PAGE, _bundle, _ok, _open, tag_db  # noqa: F401


def _reference_pca(x: np.ndarray, k: int = 3) -> np.ndarray:
    """The first k principal component scores from the covariance's eigenvectors."""
    xc = x.astype(np.float64) - x.mean(0)
    w, v = np.linalg.eigh(np.cov(xc, rowvar=False))
    return xc @ v[:, np.argsort(w)[::-1][:k]]


def _same_up_to_sign(a: np.ndarray, ref: np.ndarray) -> None:
    for j in range(ref.shape[1]):
        s = np.sign(a[:, j] @ ref[:, j])
        np.testing.assert_allclose(s * a[:, j], ref[:, j], atol=1e-3 * np.abs(ref).max())


def _arr(v) -> np.ndarray:
    """A plotly JSON array: a list, or a typed array {"dtype", "bdata"}."""
    if isinstance(v, dict):
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
    return np.asarray(v)


def test_pca_3d_is_the_first_three_principal_components():
    x = np.random.default_rng(1).normal(size=(2_000, 6)) * [5, 3, 2, 1, 0.5, 0.1] + 7
    _same_up_to_sign(pca_3d(x), _reference_pca(x))
    assert pca_3d(x[:, :2]).shape == (2_000, 3)                 # fewer dims: zero-padded
    assert not pca_3d(x[:, :2])[:, 2].any()
    batched = project_large(x, "pca", sample=2_000, batch=333, progress=False, dims=3)
    _same_up_to_sign(batched, _reference_pca(x))


def test_figure_colours_caps_and_escapes():
    n = 500
    xyz = np.random.default_rng(0).normal(size=(n, 3)).astype(np.float32)
    labels = np.array(["a", "b", "<b>c</b>"] * 166 + ["a", "a"], object)
    col = mapcomponent.colour_codes(mapview.categorical_colouring(labels, "kind"), n)
    drawn = np.arange(0, n, 2)
    fig = figure_3d(xyz, drawn, col.codes, col.palette, col.kind, col.legend, col.title,
                    selected=np.array([1, 2]), matches=np.array([3]),
                    names=lambda idx: [f"<i>{i}</i>" for i in idx])
    spec = json.loads(fig.to_json())
    main_traces = [t for t in spec["data"] if t.get("hoverinfo") == "skip"]
    assert all(t["type"] == "scatter3d" for t in spec["data"])
    assert sum(len(_arr(t["x"])) for t in main_traces) == len(drawn)   # no hover text sent
    assert {t["name"].split(" (")[0] for t in main_traces} == {"a", "b", "&lt;b&gt;c&lt;/b&gt;"}
    sel = next(t for t in spec["data"] if t["name"].startswith("selected"))
    assert sel["text"] == ["&lt;i&gt;1&lt;/i&gt;", "&lt;i&gt;2&lt;/i&gt;"]
    assert np.allclose(_arr(sel["z"]), xyz[[1, 2], 2])
    num = mapcomponent.colour_codes(mapview.Colouring("numeric", "price", values=np.where(
        np.arange(n) % 10, np.arange(n, dtype=float), np.nan)), n)
    spec = json.loads(figure_3d(xyz, drawn, num.codes, num.palette, num.kind, num.legend,
                                num.title, num.range).to_json())
    assert [t["name"].split(" (")[0] for t in spec["data"]] == ["(missing)", "price"]
    assert spec["data"][1]["marker"]["colorbar"]["ticktext"] == list(num.range)


def test_cli_stores_a_3d_map_in_its_own_file(tmp_path, capsys):
    src = load_bundle(cache.DEFAULT_BUNDLE, check_hashes=False)
    dst = tmp_path / "bundle"
    shutil.copytree(src.path, dst)
    assert main(["project", str(dst), "--method", "pca", "--dims", "3", "--no-progress"]) == 0
    assert "3-D pca map of 30,000" in capsys.readouterr().out
    b = load_bundle(dst, check_hashes=True)
    assert b.projections_3d["pca"].shape == (30_000, 3)
    assert set(b.projections) == set(src.projections)           # the 2-D maps untouched
    _same_up_to_sign(b.projections_3d["pca"], _reference_pca(b.mu))
    info = json.loads((dst / "bundle.json").read_text())
    assert info["projections"]["methods_3d"] == ["pca", "umap"]    # the demo's UMAP kept
    np.testing.assert_array_equal(b.projections_3d["umap"], src.projections_3d["umap"])
    assert "projections3d.safetensors" in info["files"]
    # a 3-D file holding a 2-D array is refused, naming the file
    from explorer.bundle.projections import store_projection
    with pytest.raises(ValueError, match=r"\[N, 2\] or \[N, 3\]"):
        store_projection(dst, "pca", np.zeros((5, 4), np.float32), 0, 5, 0)
    from safetensors.numpy import save_file
    save_file({"pca": np.zeros((30_000, 2), np.float32)}, str(dst / "projections3d.safetensors"))
    with pytest.raises(BundleError, match="projections3d.safetensors"):
        load_bundle(dst, check_hashes=False)


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


@pytest.mark.slow
def test_a_3d_umap_fitted_on_a_sample_places_every_item():
    """`project --method umap --dims 3`'s maths: numba's start-up makes this slow."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(c, 0.3, size=(200, 8)) for c in (0, 4, 8)]).astype(np.float32)
    xyz = project_large(x, "umap", sample=300, batch=250, progress=False, dims=3)
    assert xyz.shape == (600, 3) and np.isfinite(xyz).all()
    centres = np.array([xyz[i * 200:(i + 1) * 200].mean(0) for i in range(3)])
    spread = max(xyz[i * 200:(i + 1) * 200].std(0).max() for i in range(3))
    assert np.linalg.norm(centres[0] - centres[1]) > 2 * spread      # the blobs stay apart


def test_figure_draws_the_photo_and_the_path_on_top_with_legend_entries():
    xyz = np.random.default_rng(2).normal(size=(300, 3)).astype(np.float32)
    codes = np.zeros(300, np.uint8)
    path = {"kind": "path", "xyz": xyz[[3, 4, 5, 6]], "start": "<b>A</b>", "end": "B"}
    photo = {"kind": "photo", "xyz": xyz[[7]], "label": "<i>me</i>.png", "flagged": True}
    spec = json.loads(figure_3d(xyz, np.arange(300), codes, ["#888888"], selected=np.array([1]),
                                overlays=[path, photo]).to_json())
    *_, sel, tr_path, tr_photo = spec["data"]               # drawn last: on top
    assert sel["name"].startswith("selected")
    for t, rows in ((tr_path, [3, 4, 5, 6]), (tr_photo, [7])):
        assert t["type"] == "scatter3d" and t.get("showlegend", True)
        got = np.stack([_arr(t[a]) for a in "xyz"], 1)
        np.testing.assert_allclose(got, xyz[rows], atol=1e-6)
    assert tr_path["mode"] == "lines+markers+text"
    assert tr_path["name"] == "path: &lt;b&gt;A&lt;/b&gt;<br>\u2192 B"
    assert tr_path["text"][0] == "\u2039b\u203aA\u2039/b\u203a" and tr_path["text"][-1] == "B"
    assert tr_photo["name"] == "photo: &lt;i&gt;me&lt;/i&gt;.png"
    assert tr_photo["marker"]["color"] == "#d62728" and tr_photo["marker"]["size"] >= 12
    assert spec["layout"]["scene"]["domain"]["x"][0] >= 0.15     # the legend beside the scene
    with pytest.raises(ValueError, match="at least 2 steps"):
        figure_3d(xyz, np.arange(3), codes, ["#888888"], overlays=[dict(path, xyz=xyz[:1])])
    with pytest.raises(ValueError, match="photo overlay: positions must be finite"):
        figure_3d(xyz, np.arange(3), codes, ["#888888"],
                  overlays=[dict(photo, xyz=[[np.nan, 0, 0]])])


def test_nearest_in_3d_among_the_candidates():
    xyz = np.array([[0, 0, 0], [1, 0, 0], [0, 2, 0], [0, 0, 3], [5, 5, 5]], np.float32)
    assert nearest(xyz, np.arange(5), [0, 0, 0], 3).tolist() == [0, 1, 2]
    assert nearest(xyz, np.array([4, 3, 2]), [0, 0, 2.5], 2).tolist() == [3, 2]
    assert nearest(xyz, np.arange(5), [0, 0, 0], 99).tolist() == [0, 1, 2, 3, 4]
    assert nearest(xyz, np.arange(5), [0, 0, 0], 0).tolist() == []


_SENT: dict[str, bytes] = {}


@pytest.fixture(autouse=True)
def _record_media(monkeypatch):
    """Keep what the page puts in the media file store ({url: bytes}): the 3-D component's
    points go there, fetched by URL in the browser."""
    from streamlit.runtime.media_file_manager import MediaFileManager
    original = MediaFileManager.add

    def add(self, data, mimetype, coordinates, *args, **kwargs):
        url = original(self, data, mimetype, coordinates, *args, **kwargs)
        _SENT[url] = data
        return url
    monkeypatch.setattr(MediaFileManager, "add", add)


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


def test_the_3d_view_defaults_to_the_stored_umap():
    """The demo ships a 3-D UMAP: UMAP and t-SNE (which has no 3-D map) show it, PCA is PCA."""
    from explorer.app import cache_map
    b = _bundle()
    assert b.projections_3d["umap"].shape == (len(b), 3)
    for method, want in (("umap", "umap"), ("tsne", "umap"), ("pca", "pca")):
        xyz, shown = cache_map.projection_3d(b, method)
        assert shown == want and xyz.shape == (len(b), 3)
    np.testing.assert_array_equal(cache_map.projection_3d(b, "tsne")[0], b.projections_3d["umap"])


def test_pack_xyz_round_trips_within_the_quantisation():
    xyz = np.random.default_rng(3).normal(size=(1_000, 3)) * [10, 1, 0.1] + 5
    idx = np.array([999, 0, 17, 500])
    frame = frame_3d(xyz)
    ids, got = unpack_xyz(pack_xyz(xyz, idx, frame), len(idx), frame)
    assert ids.tolist() == idx.tolist()
    np.testing.assert_allclose(got, xyz[idx], atol=2 * frame[1] / 65535)
    assert frame[1] >= np.ptp(xyz, 0).max() / 2                  # one cube: the aspect kept


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


def test_a_box_on_the_3d_view_selects_what_the_camera_draws_inside_it():
    """explorer.render.map3d.in_screen_box against points projected by hand, with a
    perspective camera: inside the box and in front of the camera, within its near and far
    planes; the component's box3d value parsed, a malformed one dropped."""
    rng = np.random.default_rng(3)
    xyz = rng.normal(size=(2000, 3))
    near, far, f = 0.5, 20.0, 1.5                 # looking down -z from (0, 0, 4)
    proj = np.array([[f, 0, 0, 0], [0, f, 0, 0],
                     [0, 0, (far + near) / (near - far), 2 * far * near / (near - far)],
                     [0, 0, -1, 0]])
    view = np.eye(4)
    view[2, 3] = -4.0
    m = proj @ view
    h = np.c_[xyz, np.ones(len(xyz))] @ m.T
    ndc = h[:, :3] / h[:, 3:]
    cand = np.arange(0, 2000, 2)                  # the filtered ones
    want = cand[(h[cand, 3] > 0) & (np.abs(ndc[cand, 2]) <= 1) & (ndc[cand, 0] >= -0.2)
                & (ndc[cand, 0] <= 0.6) & (ndc[cand, 1] >= -0.5) & (ndc[cand, 1] <= 0.1)]
    got = in_screen_box(xyz, cand, m.T.ravel().tolist(), [0.6, -0.2], [-0.5, 0.1])
    assert got.tolist() == want.tolist() and 50 < len(got) < 1000
    behind = in_screen_box(np.array([[0.0, 0.0, 9.0]]), [0], m.T.ravel(), [-1, 1], [-1, 1])
    assert len(behind) == 0                       # behind the camera: its x, y would fit
    ev = {"seq": 4, "kind": "box3d", "clip": m.T.ravel().tolist(), "x": [0.1, 0.2],
          "y": [0.3, 0.4]}
    event, _, _ = mapcomponent.parse_value({"event": ev})
    assert event.kind == "box3d" and event.clip == m.T.ravel().tolist() and event.y == [0.3, 0.4]
    for bad in ({"clip": [1.0] * 15}, {"x": [0.1]}, {"clip": [float("nan")] * 16},
                {"y": ["a", 1]}):
        assert mapcomponent.parse_value({"event": {**ev, **bad}})[0] is None


def test_the_component_gets_numeric_colours_as_codes_after_the_positions():
    """explorer.app.map3d._packed: a numeric colouring's per-point colours travel as the
    buffer's uint8 codes (its spec says "@codes"), the traces' points in order."""
    from explorer.app.map3d import _packed
    from explorer.render.map3d import sample_traces
    n = 400
    xyz = np.random.default_rng(4).normal(size=(n, 3))
    num = mapcomponent.colour_codes(mapview.Colouring("numeric", "price", values=np.where(
        np.arange(n) % 10, np.arange(n, dtype=float), np.nan)), n)
    drawn = np.arange(0, n, 3)
    groups = sample_traces(drawn, num.codes, num.palette, num.kind, num.legend, num.title,
                           num.range)
    frame = frame_3d(xyz)
    data, specs = _packed(xyz, frame, groups, num.codes)
    assert [s["spec"]["name"].split(" (")[0] for s in specs] == ["(missing)", "price"]
    assert specs[1]["spec"]["marker"]["color"] == "@codes"
    assert isinstance(specs[0]["spec"]["marker"]["color"], str)       # one colour
    order = np.concatenate([g for g, _ in groups])
    ids, got = unpack_xyz(data, len(order), frame)
    assert ids.tolist() == order.tolist() and sorted(ids.tolist()) == drawn.tolist()
    np.testing.assert_allclose(got, xyz[order], atol=2 * frame[1] / 65535)
    assert data[10 * len(order):] == num.codes[order].tobytes()
    json.dumps(specs)                                              # all of it JSON-able
