"""AppTest for pages/catalogue_map.py on the demo bundle, with tags in a temporary database."""
from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explorer.app import cache
from explorer.store.annotations import AnnotationStore, default_db_path
from explorer.bundle.core import load_bundle

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")
PAGE = "pages/catalogue_map.py"


@pytest.fixture
def tag_db(tmp_path, monkeypatch) -> Path:
    """Tags go to a fresh database under tmp_path for this test."""
    monkeypatch.delenv("KICKSPACE_ANNOTATIONS_DB", raising=False)
    monkeypatch.setenv("KICKSPACE_DATA_DIR", str(tmp_path))
    return tmp_path


def _open(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()                      # app.py first: it registers the pages (st.navigation)
    at.switch_page(PAGE)
    at.run()
    _ok(at)
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _plain(elements) -> str:
    """The text of Markdown elements with the page's backslash escapes undone."""
    return re.sub(r"\\(.)", r"\1", " ".join(e.value for e in elements))


@functools.lru_cache(maxsize=1)
def _bundle():
    return load_bundle(cache.DEFAULT_BUNDLE, check_hashes=False)


def _store() -> AnnotationStore:
    """The store the page writes to (the path follows this test's environment)."""
    b = _bundle()
    return AnnotationStore.for_bundle(b, path=default_db_path(b.path, b.fingerprint))


def _text(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def _map(at: AppTest) -> tuple[dict, dict]:
    """(JSON args, bytes args) of the map component on the page."""
    els = at.get("component_instance")
    assert els, "no map component on the page"
    proto = els[0].proto
    return json.loads(proto.json_args), {a.key: a.bytes for a in proto.special_args}


def _qp(at: AppTest, key: str) -> str:
    v = at.query_params[key]
    return v if isinstance(v, str) else v[0]


def _legend(at: AppTest) -> list[str]:
    return [label for label, _ in _map(at)[0]["legend"]]


def _button(at: AppTest, key: str):
    return next(b for b in at.button if b.key == key)


def test_map_draws_and_colour_by_changes_it(tag_db):
    at = _open()
    assert at.title[0].value.endswith("Catalogue map")
    args, _ = _map(at)
    assert args["n"] == len(_bundle()) and not args["has_ids"] and args["colour_kind"] == "none"
    assert any("products are drawn" in c.value for c in at.caption)
    at.selectbox(key="colour").set_value("brand")
    at.run()
    _ok(at)
    top_brand = _bundle().metadata["brand"].value_counts().index[0]
    assert _legend(at)[0].startswith(top_brand), _legend(at)
    at.selectbox(key="colour").set_value("cluster")
    at.run()
    _ok(at)
    assert any(lab.startswith("cluster 0") for lab in _legend(at)), _legend(at)


def test_projection_comes_from_the_url_and_clusters_switch(tag_db):
    at = _open({"proj": "PCA"})
    assert at.radio(key="proj").value == "PCA"
    assert "PCA map" in _plain(at.caption)
    at.radio(key="cl_method").set_value("HDBSCAN")
    at.run()
    _ok(at)
    assert "HDBSCAN" in " ".join(c.value for c in at.caption)


def test_a_box_from_the_map_selects_goes_into_the_url_and_comes_back(tag_db):
    """The component's value (what map.js sends after a box drag) selects every product in
    the box; the box goes into the URL; a new session opened on that URL selects the same."""
    b = _bundle()
    xy = b.projections["pca"]
    x0, x1 = np.quantile(xy[:, 0], [0.3, 0.7])
    y0, y1 = np.quantile(xy[:, 1], [0.3, 0.7])
    inside = int(((xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0)
                  & (xy[:, 1] <= y1)).sum())
    at = _open({"proj": "PCA"})
    at.session_state["map"] = {"seq": 3, "view": [0.5, -0.25, 0.5], "need": [0], "event": {
        "seq": 1, "kind": "box", "x": [x0, x1, x1, x0], "y": [y0, y0, y1, y1]}}
    at.run()
    _ok(at)
    assert f"{inside:,} products selected" in _plain(at.markdown)
    sel = json.loads(_qp(at, "sel"))
    assert sel["kind"] == "box" and _qp(at, "view") == "0.5,-0.25,0.5"
    args, raw = _map(at)
    assert len(np.frombuffer(raw["selected"], "<i4")) == inside
    assert "0" in args["shards"]                      # the picture shard asked for
    # a fresh session on the link (a reload)
    again = _open({"proj": "PCA", "sel": _qp(at, "sel"),
                   "view": _qp(at, "view")})
    assert f"{inside:,} products selected" in _plain(again.markdown)
    assert _map(again)[0]["view"] == [0.5, -0.25, 0.5]
    # a click selects one product; a double-click ("clear") clears
    again.session_state["map"] = {"seq": 9, "event": {"seq": 2, "kind": "click", "index": 7}}
    again.run()
    _ok(again)
    assert "1 product selected" in _plain(again.markdown)
    assert json.loads(_qp(again, "sel")) == {"kind": "skus",
                                                        "skus": [str(b.metadata["sku"][7])]}
    again.session_state["map"] = {"seq": 10, "event": {"seq": 3, "kind": "clear"}}
    again.run()
    _ok(again)
    assert "Nothing selected yet" in _plain(again.info) and "sel" not in again.query_params


def _selected(at: AppTest) -> list[int]:
    return sorted(np.frombuffer(_map(at)[1]["selected"], "<i4").tolist())


def _send(at: AppTest, seq: int, event: dict) -> None:
    at.session_state["map"] = {"seq": seq, "event": {"seq": seq, **event}}
    at.run()
    _ok(at)


def test_shift_adds_alt_takes_away_and_the_link_replays_the_steps(tag_db):
    """What map.js sends with Shift (op "add") or Alt (op "remove") held grows or cuts the
    selection instead of replacing it; the URL keeps the steps, and a fresh session on that
    link selects exactly the same products. Expected sets are worked out here from the
    projection with plain comparisons."""
    xy = _bundle().projections["pca"]
    qx, qy = np.quantile(xy[:, 0], [0.2, 0.4, 0.6, 0.8]), np.quantile(xy[:, 1], [0.2, 0.8])

    def box(x0, x1):
        return (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= qy[0]) & (xy[:, 1] <= qy[1])

    a, b2 = box(qx[0], qx[1]), box(qx[2], qx[3])
    cut = (xy[:, 0] >= qx[0]) & (xy[:, 0] <= qx[3]) & (xy[:, 1] >= np.median(xy[:, 1])) & \
        (xy[:, 1] <= qy[1])
    at = _open({"proj": "PCA"})
    _send(at, 1, {"kind": "box", "x": [qx[0], qx[1]] * 2, "y": [qy[0], qy[0], qy[1], qy[1]]})
    assert _selected(at) == np.flatnonzero(a).tolist()
    _send(at, 2, {"kind": "box", "op": "add", "x": [qx[2], qx[3]] * 2,
                  "y": [qy[0], qy[0], qy[1], qy[1]]})
    assert _selected(at) == np.flatnonzero(a | b2).tolist()
    assert f"then {int(b2.sum()):,} added in a box on the map" in _plain(at.markdown)
    ym = float(np.median(xy[:, 1]))                  # a lasso (a rectangle) taking the top off
    _send(at, 3, {"kind": "lasso", "op": "remove", "x": [qx[0], qx[3], qx[3], qx[0]],
                  "y": [ym, ym, qy[1], qy[1]]})
    want = np.flatnonzero((a | b2) & ~cut).tolist()
    assert _selected(at) == want and 0 < len(want) < int((a | b2).sum())
    sel = json.loads(_qp(at, "sel"))
    assert sel["kind"] == "steps" and [s.get("op") for s in sel["steps"]] == \
        [None, "add", "remove"]
    again = _open({"proj": "PCA", "sel": _qp(at, "sel")})     # a reload / a shared link
    assert _selected(again) == want
    # a click with Shift adds that product, with Alt takes it away
    outside = int(np.flatnonzero(~(a | b2))[0])
    _send(again, 4, {"kind": "click", "index": outside, "op": "add"})
    assert _selected(again) == sorted(want + [outside])
    _send(again, 5, {"kind": "click", "index": want[0], "op": "remove"})
    assert _selected(again) == sorted(want[1:] + [outside])
    steps = json.loads(_qp(again, "sel"))["steps"]
    assert steps[-2:] == [{"kind": "skus", "skus": [str(_bundle().metadata["sku"][outside])],
                           "op": "add"},
                          {"kind": "skus", "skus": [str(_bundle().metadata["sku"][want[0]])],
                           "op": "remove"}]
    # taking away from an empty selection selects nothing; a step with an unknown op in a
    # link selects nothing and says the link could not be read
    _send(again, 6, {"kind": "clear"})
    _send(again, 7, {"kind": "box", "op": "remove", "x": [qx[0], qx[1]] * 2,
                     "y": [qy[0], qy[0], qy[1], qy[1]]})
    assert _selected(again) == [] and "sel" not in again.query_params
    bad = dict(sel, steps=[sel["steps"][0], {**sel["steps"][1], "op": "xor"}])
    broken = _open({"proj": "PCA", "sel": json.dumps(bad)})
    assert _selected(broken) == [] and "could not be read" in _plain(broken.warning)


def test_search_rings_matches_and_selects_them(tag_db):
    b = _bundle()
    sku = str(b.metadata["sku"][42])
    at = _open({"q": sku.lower()})
    args, raw = _map(at)
    assert np.frombuffer(raw["matches"], "<i4").tolist() == [42]
    _button(at, "pick_search").click()
    at.run()
    _ok(at)
    assert "1 product selected" in _plain(at.markdown)
    at.text_input(key="q").input("<script>alert(1)</script> *bold*")
    at.run()
    _ok(at)
    assert "0 products match" in _plain(at.caption)
    assert not any("<script>" in c.value for c in at.caption)   # escaped, not raw


def test_select_a_cluster_tag_it_undo_and_export(tag_db, monkeypatch):
    from explorer.store.annotations import AnnotationStore
    exported = []
    real = AnnotationStore.export_csv
    monkeypatch.setattr(AnnotationStore, "export_csv",
                        lambda self: exported.append(1) or real(self))
    at = _open()
    _button(at, "pick_cluster_0").click()
    at.run()
    _ok(at)
    assert "products selected" in _text(at)
    at.text_input(key="sel_tag").input("retro")
    _button(at, "sel_add").click()
    at.run()
    _ok(at)
    store = _store()
    assert store.path.parent == tag_db
    tags = store.tags()
    assert tags["tag"].tolist() == ["retro"] and tags["count"].iloc[0] > 0
    n_cluster0 = int(tags["count"].iloc[0])
    assert any("Tagged" in s.value for s in at.success)

    # a whole cluster at once, from the cluster panel
    at.selectbox(key="tag_cluster").set_value(1)
    at.text_input(key="cluster_tag").input("second look")
    _button(at, "cluster_add").click()
    at.run()
    _ok(at)
    counts = dict(zip(*_store().tags()[["tag", "count"]].T.values))
    assert counts["retro"] == n_cluster0 and counts["second look"] > 0

    # colour by tag, then undo the last bulk action
    at.selectbox(key="colour").set_value("tag")
    at.run()
    _ok(at)
    assert any(lab.startswith("retro") for lab in _legend(at))
    _button(at, "undo").click()
    at.run()
    _ok(at)
    assert _store().tags()["tag"].tolist() == ["retro"]

    # rename, then select everything carrying the new name
    at.selectbox(key="ren_old").set_value("retro")
    at.text_input(key="ren_new").input("vintage")
    _button(at, "ren_go").click()
    at.run()
    _ok(at)
    assert dict(zip(*_store().tags()[["tag", "count"]].T.values)) == {"vintage": n_cluster0}
    _button(at, "tag_pick").click()
    at.run()
    _ok(at)
    assert f"{n_cluster0:,} products selected" in _plain(at.markdown)

    exports = [d for d in at.get("download_button") if d.label.endswith("Export all tags (CSV)")]
    assert len(exports) == 1
    assert exported == []      # the CSV is made when the button is clicked, not on every run
    assert exports[0].proto.ignore_rerun           # and the click reruns nothing
    assert str(_store().path) in " ".join(t.value for t in at.text)


def test_import_good_and_bad_csv(tag_db):
    at = _open()
    sku = _store().known_skus and sorted(_store().known_skus)[0]
    at.file_uploader(key="tag_import").set_value(
        ("tags.csv", f"sku,tag\n{sku},imported\nNOPE-1,imported\n".encode(), "text/csv"))
    at.run()
    _ok(at)
    ok = _plain(at.success)
    assert "1 tag(s) added" in ok and "unknown sku" in ok
    assert _store().tags_for([sku])[sku] == ["imported"]

    at.file_uploader(key="tag_import").set_value(
        ("broken.csv", b"\xff\xfenot,a,csv\x00\n", "text/csv"))
    at.run()
    _ok(at)
    errors = _plain(at.error)
    assert "nothing imported" in errors and "UTF" in errors
    at.file_uploader(key="tag_import").set_value(("cols.csv", b"a,b\n1,2\n", "text/csv"))
    at.run()
    _ok(at)
    assert "sku and tag" in _plain(at.error)


def test_large_catalogues_are_sampled_and_filters_narrow(tag_db, monkeypatch):
    """The threshold is lowered so that the demo bundle counts as a large catalogue."""
    n = len(_bundle())
    brand = _bundle().metadata["brand"].value_counts()
    small = brand.index[-1]                      # the rarest brand
    cap = int(brand[small])                      # at most this many points are drawn
    monkeypatch.setenv("KICKSPACE_MAP_MAX_POINTS", str(cap))
    at = _open({"proj": "PCA"})
    assert f"{cap:,} of {n:,} products are drawn" in _plain(at.caption)
    args, _ = _map(at)
    assert args["n"] == cap and args["has_ids"]

    at.multiselect(key="flt_brand").set_value([small])   # a filter: now all of them fit
    at.run()
    _ok(at)
    assert f"all {cap:,} products are drawn" in _plain(at.caption)
    assert _map(at)[0]["n"] == cap


def test_histograms_cross_filter(tag_db):
    """Each histogram counts the products passing the OTHER filters: with a brand filter on,
    the brand chart still shows every brand, the silhouette chart only that brand's."""
    md = _bundle().metadata
    brand = md["brand"].value_counts().index[0]
    at = _open({"proj": "PCA"})
    at.multiselect(key="hist_cols").set_value(["brand", "silhouette"])
    at.multiselect(key="flt_brand").set_value([brand])
    at.run()
    _ok(at)
    specs = {json.loads(c.proto.spec)["layout"]["title"]["text"]: json.loads(c.proto.spec)
             for c in at.get("plotly_chart")}

    def counts(spec):
        y = spec["data"][0]["y"]
        if isinstance(y, dict):                          # plotly's typed arrays
            import base64
            y = np.frombuffer(base64.b64decode(y["bdata"]), dtype=np.dtype(y["dtype"]))
        return dict(zip(spec["data"][0]["x"], np.asarray(y).tolist()))

    assert counts(specs["brand"]) == md["brand"].value_counts().to_dict()
    want = md.loc[md["brand"] == brand, "silhouette"].value_counts().to_dict()
    assert counts(specs["silhouette"]) == want


def test_overlays_photo_path_and_contours_reach_the_component(tag_db):
    """A photo kept by Find similar and a path kept by Interpolation (session state), and the
    "Density contours" box from the URL, arrive in the component's args as overlays in map
    coordinates: contours first, the path, then the photo's star last (drawn on top)."""
    from explorer.app import map_layers
    b = _bundle()
    xy = b.projections["pca"]
    hostile = "<img src=x onerror=alert(1)>.png"
    at = AppTest.from_file(APP, default_timeout=240)
    at.query_params["proj"] = "PCA"
    at.query_params["contours"] = "true"
    at.run()
    at.session_state[map_layers.PHOTO] = {
        "bundle": b.key, "z": b.mu[5].copy(), "label": hostile, "flagged": True,
        "reasons": ["reconstruction error above the 99th percentile"], "percentile": 99.5,
        "source": "similar", "id": "similar" + hostile}
    at.session_state[map_layers.PATH] = {"bundle": b.key, "z": b.mu[[10, 20, 30]].copy(),
                                         "start": "A", "end": "B"}
    at.switch_page(PAGE)
    at.run()
    _ok(at)
    overlays = _map(at)[0]["overlays"]
    kinds = [o["kind"] for o in overlays]
    assert kinds == ["contour"] * 4 + ["path", "star", "star"], kinds
    star = overlays[-1]
    # the photo is product 5's own latent mean: its star lands on product 5
    assert np.allclose([star["x"][0], star["y"][0]], xy[5], atol=1e-3 * np.ptp(xy))
    assert star["labels"] == [hostile] and star["color"] == "#d62728"      # flagged: red
    assert overlays[-3]["x"][0] == pytest.approx(float(xy[10, 0]), abs=1e-3 * np.ptp(xy))
    assert any("unlike this catalogue" in w.value for w in at.warning)
    assert "densest areas" in _plain(at.caption)
    # unticking takes each away
    at.checkbox(key="ov_photo").uncheck()
    at.checkbox(key="contours").uncheck()
    at.run()
    _ok(at)
    assert [o["kind"] for o in _map(at)[0]["overlays"]] == ["path", "star"]



def test_a_browsers_first_visit_draws_the_map_before_the_panels(tag_db, monkeypatch):
    """In a browser, the first run stops after the map (no filter widgets unless the link
    sets some, no panels under it); once the component says it has drawn, the next run draws
    the whole page. AppTest has no browser, so browser_session is forced on here."""
    from explorer.app import live_decoder
    monkeypatch.setattr(live_decoder, "browser_session", lambda: True)
    at = _open()
    assert _map(at)[0]["n"] == len(_bundle()) and _map(at)[0]["report_shown"]
    assert any("follow as soon as the map is drawn" in c.value for c in at.caption)
    assert not at.multiselect and not [s for s in at.subheader if "Clusters" in s.value]
    at.session_state["map"] = {"seq": 1, "event": None, "view": None, "need": [],
                               "shown": len(_bundle())}
    at.run()
    _ok(at)
    assert not any("follow as soon as" in c.value for c in at.caption)
    assert not _map(at)[0]["report_shown"]           # no more values asked for
    assert [s for s in at.subheader if "Clusters" in s.value]
    assert at.multiselect(key="flt_brand") is not None

    # a link with a filter: its widgets come at once (the map needs their values), and the
    # escape hatch shows the rest even if the component never reports
    brand = _bundle().metadata["brand"].value_counts().index[0]
    at = _open({"flt_brand": brand})
    assert at.multiselect(key="flt_brand").value == [brand]
    assert not [s for s in at.subheader if "Clusters" in s.value]
    _button(at, "map_rest").click()
    at.run()
    _ok(at)
    assert [s for s in at.subheader if "Clusters" in s.value]
