"""The catalogue map's 3-D view (issue 17), its maths and figures: 3-D PCA against a numpy
reference, its plotly traces (capped, filtered, coloured, highlights escaped; the photo and path
overlays), 3-D maps stored by `python -m explorer project --dims 3` in their own file (the demo
ships a 3-D UMAP), the binary points and their quantisation, the camera's box and lasso selections.
The page itself (AppTest): tests/test_map3d_page.py."""
from __future__ import annotations

import base64
import json
import shutil

import numpy as np
import pytest

from explorer.app import cache, mapcomponent
from explorer.bundle.core import BundleError, load_bundle
from explorer.cli import main
from explorer.latent.projection import pca_3d, project_large
from explorer.render import mapview
from explorer.render.map3d import (figure_3d, frame_3d, in_screen_box, in_screen_polygon,
                                   nearest, pack_xyz, unpack_xyz)

from test_catalogue_map_page import _bundle


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


def test_the_legend_says_when_not_every_selected_product_is_ringed():
    from explorer.render.map3d import MAX_HIGHLIGHT, highlight_traces
    few = highlight_traces(np.arange(25), None, 3.0)
    assert [spec["name"] for _, spec in few] == ["selected (25)"]
    many = highlight_traces(np.arange(MAX_HIGHLIGHT + 6_498), np.arange(7), 3.0)
    (idx, sel), (_, found) = many
    assert len(idx) == MAX_HIGHLIGHT
    assert sel["name"] == f"selected ({MAX_HIGHLIGHT:,} of {MAX_HIGHLIGHT + 6_498:,} shown)"
    assert found["name"] == "search matches (7)"


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


def _camera() -> np.ndarray:
    """A perspective camera at (0, 0, 4) looking down -z (near 0.5, far 20): its clip matrix."""
    near, far, f = 0.5, 20.0, 1.5
    proj = np.array([[f, 0, 0, 0], [0, f, 0, 0],
                     [0, 0, (far + near) / (near - far), 2 * far * near / (near - far)],
                     [0, 0, -1, 0]])
    view = np.eye(4)
    view[2, 3] = -4.0
    return proj @ view


def test_a_lasso_on_the_3d_view_selects_what_the_camera_draws_inside_its_outline():
    """explorer.render.map3d.in_screen_polygon with a concave lasso (a C open to the right):
    against points projected by hand and tested against the C as a square less its notch
    (not a point-in-polygon routine), the bounding box taking the notch's points the lasso
    leaves out; either winding the same; behind the camera never; the component's lasso3d
    value parsed, malformed ones dropped."""
    rng = np.random.default_rng(5)
    xyz = rng.normal(size=(3000, 3))
    m = _camera()
    h = np.c_[xyz, np.ones(len(xyz))] @ m.T
    ndc = h[:, :3] / h[:, 3:]
    cand = np.arange(1, 3000, 2)                  # the filtered ones
    xs = [-0.6, 0.6, 0.6, -0.2, -0.2, 0.6, 0.6, -0.6]
    ys = [-0.6, -0.6, -0.2, -0.2, 0.2, 0.2, 0.6, 0.6]
    x, y = ndc[cand, 0], ndc[cand, 1]
    square = (np.abs(x) < 0.6) & (np.abs(y) < 0.6)
    notch = (x > -0.2) & (np.abs(y) < 0.2)
    drawn = (h[cand, 3] > 0) & (np.abs(ndc[cand, 2]) <= 1)
    want = cand[drawn & square & ~notch]
    clip = m.T.ravel().tolist()
    got = in_screen_polygon(xyz, cand, clip, xs, ys)
    assert got.tolist() == want.tolist() and 100 < len(got) < 1400
    assert in_screen_polygon(xyz, cand, clip, xs[::-1], ys[::-1]).tolist() == want.tolist()
    boxed = in_screen_box(xyz, cand, clip, [-0.6, 0.6], [-0.6, 0.6])
    left_out = np.setdiff1d(boxed, got)
    assert len(left_out) > 20 and set(got) <= set(boxed)      # the notch: a box takes it
    assert notch[np.searchsorted(cand, left_out)].all()
    behind = in_screen_polygon(np.array([[0.0, 0.0, 9.0]]), [0], clip, xs, ys)
    assert len(behind) == 0
    with pytest.raises(ValueError, match="at least 3"):
        in_screen_polygon(xyz, cand, clip, [0.1, 0.2], [0.1, 0.2])
    ev = {"seq": 4, "kind": "lasso3d", "clip": clip, "x": xs, "y": ys}
    event, _, _ = mapcomponent.parse_value({"event": ev})
    assert event.kind == "lasso3d" and event.clip == clip and event.x == xs and event.y == ys
    for bad in ({"clip": [1.0] * 15}, {"x": xs[:2], "y": ys[:2]}, {"x": xs[:-1]},
                {"y": [float("nan")] * 8}, {"x": ["a"] * 8}):
        assert mapcomponent.parse_value({"event": {**ev, **bad}})[0] is None
