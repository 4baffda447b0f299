"""AppTest for the Disentanglement lab, on a copy of the demo bundle (so that names and
directions saved by the tests never land in the real bundle folder)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.bundle.core import load_bundle
from explorer.latent.directions import load_directions
from explorer.data.schema import FACTOR_PREFIX
from explorer.latent.naming import load_names
from tests.helpers import copy_demo_bundle

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")


@pytest.fixture(scope="module")
def bundle_copy(tmp_path_factory) -> Path:
    return copy_demo_bundle(tmp_path_factory.mktemp("lab") / "bundle")


@pytest.fixture(scope="module")
def info(bundle_copy):
    b = load_bundle(bundle_copy, check_hashes=False)
    return {"key": b.key, "latent_dim": b.latent_dim,
            "has_factors": any(str(c).startswith(FACTOR_PREFIX) for c in b.metadata.columns)}


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("KICKSPACE_DATA_DIR", str(tmp_path / "data"))


def _lab(bundle: Path, section: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state["bundle_path"] = str(bundle)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.switch_page("pages/lab.py")
    if section:
        at.session_state["section"] = section
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _chart_text(at: AppTest) -> str:
    return json.dumps(_charts(at), ensure_ascii=False)


def test_information_chart(bundle_copy):
    at = _lab(bundle_copy)
    assert "Disentanglement lab" in at.title[0].value
    text = _chart_text(at)
    assert "Mean KL to the prior" in text and "Variance of the posterior means" in text
    labels = [m.label for m in at.metric]
    assert "Active (KL)" in labels and "Active (variance)" in labels


@pytest.mark.slow      # ~20-35 s here
def test_naming_editor_saves_names_and_they_are_reloaded(bundle_copy, info):
    at = _lab(bundle_copy, "Factor names")
    assert "heatmap" in _chart_text(at)
    editor = at.data_editor(key="names_editor")
    table = editor.value
    assert list(table.columns)[-4:] == ["suggested", "pictures", "what changes", "name"]
    first_dim = int(table["dim"].iloc[0])
    at.session_state["names_editor"] = {"edited_rows": {0: {"name": "chunkiness"}},
                                        "added_rows": [], "deleted_rows": []}
    at.run()
    next(b for b in at.button if b.label == "Save names").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert load_names(bundle_copy, info["key"]) == {first_dim: "chunkiness"}
    assert not (bundle_copy / "names.json").exists()     # in the annotations database
    assert any("Saved 1 changed names" in s.value for s in at.success)
    # the page reloads them: in the editor and as the heat map's row label
    assert at.data_editor(key="names_editor").value["name"].iloc[0] == "chunkiness"
    assert f"dim {first_dim} · chunkiness" in _chart_text(at)

    # "use suggestions" fills in only the suggestions the decoded pictures confirmed (as on
    # the sliders); the demo's check confirms some and refuses others (e.g. most of its
    # "silhouette: ..." suggestions, whose traversals change brightness or colour, not the
    # silhouette); refused ones keep their name and are counted in a note
    from explorer.latent.naming import load_checked
    checked = load_checked(bundle_copy, info["key"])
    ok = {d for d, f in checked.items() if f.confirmed and f.suggestion}
    refused = {d for d, f in checked.items() if f.suggestion and not f.confirmed}
    assert ok and refused, "the demo's check should confirm some suggestions and refuse some"
    next(b for b in at.button if b.label == "Use suggestions").click()
    at.run()
    assert not at.exception
    table = at.data_editor(key="names_editor").value
    for d, s, n in zip(table["dim"], table["suggested"], table["name"]):
        d = int(d)
        assert s == (checked[d].suggestion or "–")   # the suggestion that was checked
        keep = "chunkiness" if d == first_dim else ""
        assert n == (checked[d].suggestion if d in ok else keep), (d, s, n)
    only_refused = {checked[d].suggestion for d in refused} - {checked[d].suggestion for d in ok}
    assert only_refused and not only_refused & set(table["name"])
    note = " ".join(i.value for i in at.info)
    assert f"Filled in {len(ok)} suggestion" in note, note
    assert f"Skipped {len(refused)} that the pictures did not confirm" in note, note
    assert load_names(bundle_copy, info["key"]) == {first_dim: "chunkiness"}

    # the factor sliders are labelled with the saved name
    at.switch_page("pages/sliders.py")
    at.run()
    assert not at.exception
    assert at.slider(key=f"d{first_dim}").label == f"dim {first_dim} · chunkiness"


def test_fit_a_direction_save_it_and_slide_it(bundle_copy, info):
    at = _lab(bundle_copy, "Attribute directions")
    columns = at.selectbox(key="lab_dir_column").options
    if not columns:
        pytest.skip("the bundle's metadata has no categorical column")
    assert [m.label for m in at.metric][:2] == ["Accuracy", "Balanced"]
    strip = [c for img in at.image for c in img.captions if c in ("-3", "+0", "+3")]
    assert strip == ["-3", "+0", "+3"]                            # the −3..+3 strip
    assert any(c.get("data", [{}])[0].get("orientation") == "h" for c in _charts(at)), \
        "leakage chart"
    at.radio(key="lab_dir_method").set_value("mean-diff")
    at.run()
    assert not at.exception
    name = next(t for t in at.text_input if t.label == "Slider name")
    name.input("Boot-ness test")
    at.run()
    next(b for b in at.button if b.label == "Save as slider").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    saved = load_directions(bundle_copy, info["key"], info["latent_dim"])
    assert [d.name for d in saved] == ["Boot-ness test"]
    assert saved[0].method == "mean-diff"
    assert not (bundle_copy / "directions.json").exists()
    assert any("Saved" in s.value for s in at.success)

    at.switch_page("pages/sliders.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    slider = at.slider(key="dir_boot_ness_test")
    assert slider.label == "Boot\\-ness test" and slider.value == 0.0
    slider.set_value(2.0)
    at.run()
    assert not at.exception
    assert any("Boot\\-ness test +2.0" in c.value for c in at.caption)

    # the slider is bound to the URL: a shared link opens it moved
    linked = AppTest.from_file(APP, default_timeout=240)
    linked.session_state["bundle_path"] = str(bundle_copy)
    linked.query_params["dir_boot_ness_test"] = "1.5"
    linked.run()
    linked.switch_page("pages/sliders.py")
    linked.run()
    assert not linked.exception
    assert linked.slider(key="dir_boot_ness_test").value == pytest.approx(1.5)

    # deleting it in the lab removes the slider
    at.switch_page("pages/lab.py")
    at.session_state["section"] = "Attribute directions"
    at.run()
    next(b for b in at.button if b.key == "lab_del_boot_ness_test").click()
    at.run()
    assert not at.exception
    assert load_directions(bundle_copy, info["key"]) == []


def test_a_direction_from_a_tag(bundle_copy, info):
    from explorer.store.annotations import AnnotationStore
    b = load_bundle(bundle_copy, check_hashes=False)
    skus = b.metadata["sku"].astype(str).tolist()
    with AnnotationStore.for_bundle(b) as store:   # in this test's KICKSPACE_DATA_DIR
        store.add_tag("retro", skus[: max(12, len(skus) // 10)])
    at = _lab(bundle_copy, "Attribute directions")
    at.radio(key="lab_dir_source").set_value("Tag")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="lab_dir_tag").value == "retro"
    assert [m.label for m in at.metric][:2] == ["Accuracy", "Balanced"]
    assert next(t for t in at.text_input if t.label == "Slider name").value == "tag: retro"


def test_evaluate_shows_the_metrics_table(bundle_copy, info):
    at = _lab(bundle_copy, "Metrics")
    at.selectbox(key="lab_max_items").set_value(1000)
    next(b for b in at.button if b.label == "Evaluate").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(t.value for t in at.dataframe if "PSNR" in t.value.columns)
    assert list(table["model"])[1] == "PCA" and len(table) == 2
    assert {"MSE", "PSNR"} <= set(table.columns)
    assert at.status[0].state == "complete"
    if info["has_factors"]:
        assert "MIG" in table.columns
        assert "MIG per ground-truth factor" in " ".join(m.value for m in at.markdown)
