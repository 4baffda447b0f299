"""AppTest for pages/catalogue_map.py on the demo bundle, with tags in a temporary database."""
from __future__ import annotations

import base64
import functools
import json
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explorer import cache
from explorer.annotations import AnnotationStore, default_db_path
from explorer.bundle import load_bundle

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


def _spec(at: AppTest) -> dict:
    charts = at.get("plotly_chart")
    assert charts, "no plotly chart on the page"
    return json.loads(charts[0].proto.spec)


def _n_points(trace: dict) -> int:
    """Points in a trace of the figure's JSON (plotly sends arrays as typed base64)."""
    x = trace["x"]
    if isinstance(x, dict):
        return len(np.frombuffer(base64.b64decode(x["bdata"]), dtype=np.dtype(x["dtype"])))
    return len(x)


def _button(at: AppTest, key: str):
    return next(b for b in at.button if b.key == key)


def test_map_draws_and_colour_by_changes_it(tag_db):
    at = _open()
    assert at.title[0].value.endswith("Catalogue map")
    spec = _spec(at)
    assert spec["data"][0]["type"] == "scattergl"
    assert spec["layout"]["dragmode"] == "select"
    assert any("products are drawn" in c.value for c in at.caption)
    at.selectbox(key="colour").set_value("brand")
    at.run()
    _ok(at)
    spec = _spec(at)
    names = [t.get("name", "") for t in spec["data"]]
    assert len(spec["data"]) > 2 and all(t["type"] == "scattergl" for t in spec["data"])
    b = _bundle()
    top_brand = b.metadata["brand"].value_counts().index[0]
    assert any(n.startswith(top_brand) for n in names), names
    at.selectbox(key="colour").set_value("cluster")
    at.run()
    _ok(at)
    assert any(t.get("name", "").startswith("cluster 0") for t in _spec(at)["data"])


def test_projection_comes_from_the_url_and_the_image_map_draws(tag_db):
    at = _open({"proj": "PCA", "view": "images"})
    assert at.radio(key="proj").value == "PCA"
    spec = _spec(at)
    assert spec["data"][0]["type"] == "image"
    assert any(d.label.startswith("Download the image map") for d in at.get("download_button"))
    at.radio(key="im_layout").set_value("free")
    at.radio(key="cl_method").set_value("HDBSCAN")
    at.run()
    _ok(at)
    assert "HDBSCAN" in " ".join(c.value for c in at.caption)


def test_select_a_cluster_tag_it_undo_and_export(tag_db):
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
    assert any(t.get("name", "").startswith("retro") for t in _spec(at)["data"])
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
    assert str(_store().path) in " ".join(c.value for c in at.code)


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


def test_large_catalogues_are_sampled_then_shaded_and_filters_narrow(tag_db, monkeypatch):
    """The thresholds are lowered so that the demo bundle counts as a large catalogue."""
    n = len(_bundle())
    brand = _bundle().metadata["brand"].value_counts()
    small = brand.index[-1]                      # the rarest brand
    cap = int(brand[small])                      # at most this many points are drawn
    monkeypatch.setenv("KICKSPACE_MAP_MAX_POINTS", str(cap))
    monkeypatch.setenv("KICKSPACE_MAP_DENSITY_ABOVE", str(2 * cap))
    at = _open({"proj": "PCA"})
    captions = _plain(at.caption)
    assert f"density of all {n:,} products" in captions and f"{cap:,} of {n:,}" in captions
    assert _spec(at)["data"][0]["type"] == "heatmap"

    monkeypatch.setenv("KICKSPACE_MAP_DENSITY_ABOVE", str(10 * n))
    at.run()
    _ok(at)
    assert f"{cap:,} of {n:,} products are drawn" in _plain(at.caption)
    assert all(t["type"] == "scattergl" for t in _spec(at)["data"])

    at.multiselect(key="flt_brand").set_value([small])   # a filter: now all of them fit
    at.run()
    _ok(at)
    assert f"all {cap:,} products are drawn" in _plain(at.caption)
    drawn = sum(_n_points(t) for t in _spec(at)["data"] if t["type"] == "scattergl")
    assert drawn == cap
