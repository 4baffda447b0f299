"""Issue 15, parts 3 and 4: undo scoped to the session and the kind of action; names and
directions in the annotations database with its transactions; a bundle's identity includes
its catalogue, and no item index outlives a switch of bundle."""
from __future__ import annotations

import json
import multiprocessing as mp
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from explorer.store.annotations import ATTRIBUTE_KINDS, TAG_KINDS, AnnotationStore
from explorer.latent.directions import Direction, fit_direction, load_directions, save_direction
from explorer.latent.naming import load_names, save_names

REPO = Path(__file__).resolve().parents[1]
FP = "0123456789abcdef"


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("KICKSPACE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("KICKSPACE_ANNOTATIONS_DB", raising=False)
    return tmp_path / "data"


# ---------------------------------------------------------------------------- scoped undo
def test_undo_reverts_only_the_callers_own_action_of_the_kind_asked(tmp_path):
    store = AnnotationStore(tmp_path / "a.sqlite", FP)
    store.add_tag("retro", ["A", "B"], user="session-a")
    store.set_attribute("A", "colour", "red", user="session-a")
    store.add_tag("sale", ["C"], user="session-b")
    # A's tag undo skips B's newer tag and A's own newer attribute
    assert store.last_undoable("session-a", TAG_KINDS).startswith("added")
    text = store.undo_last("session-a", TAG_KINDS)
    assert "retro" in text and text.startswith("undid")
    assert store.skus_with("retro") == [] and store.skus_with("sale") == ["C"]
    assert len(store.attributes("colour")) == 1
    # the acceptance undo never reverts a tag action
    assert store.undo_last("session-b", ATTRIBUTE_KINDS) is None
    assert store.skus_with("sale") == ["C"]
    assert "colour" in store.undo_last("session-a", ATTRIBUTE_KINDS)
    assert store.undo_last("session-a", TAG_KINDS) is None
    # who did what is recorded and exported
    csv = store.export_csv().decode()
    assert "session-b" in csv


def test_the_map_page_offers_to_undo_only_this_sessions_actions(tmp_path):
    from streamlit.testing.v1 import AppTest
    from tests.helpers import copy_demo_bundle
    bundle = copy_demo_bundle(tmp_path / "bundle")
    from explorer.app import cache
    b = cache.get_bundle(str(bundle))
    store = cache.annotation_store(b)
    store.add_tag("someone else's", b.metadata["sku"].astype(str).head(3).tolist(),
                  user="session-other")
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=240)
    at.session_state["bundle_path"] = str(bundle)
    at.switch_page("pages/catalogue_map.py")
    at.query_params["proj"] = "PCA"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    undo = next(x for x in at.button if x.key == "undo")
    assert undo.disabled                       # another session's tag is not ours to undo
    assert any("Nothing of yours to undo" in c.value for c in at.caption)


# ---------------------------------------------------------------------------- names, directions
def _save_names_many(bundle: str, key: str, start: int, n: int) -> None:
    for d in range(start, start + n):
        save_names(bundle, key, {d: f"name {d}"})


def _save_directions_many(bundle: str, key: str, start: int, n: int) -> None:
    for k in range(start, start + n):
        v = [0.0] * 6
        v[k % 6] = 1.0
        save_direction(bundle, key, Direction.from_dict(
            {"name": f"dir {k}", "method": "logreg", "scale": 1.0, "vector": v}))


@pytest.mark.parametrize("target", [_save_names_many, _save_directions_many])
def test_two_processes_saving_at_once_keep_both_sets(tmp_path, target):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=target, args=(str(bundle), "w123", start, 25))
             for start in (0, 100)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    if target is _save_names_many:
        assert len(load_names(bundle, "w123")) == 50
    else:
        assert len(load_directions(bundle, "w123")) == 50


def test_json_files_of_older_versions_are_moved_into_the_database_once(tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "names.json").write_text(json.dumps({"model": "w1", "names": {"2": "height"}}))
    good = {"name": "ok", "method": "logreg", "scale": 1.0, "vector": [1.0, 0, 0, 0]}
    (bundle / "directions.json").write_text(json.dumps({"model": "w1", "directions": [good]}))
    assert load_names(bundle, "w1-" + FP) == {2: "height"}
    assert [d.name for d in load_directions(bundle, "w1")] == ["ok"]
    (bundle / "names.json").write_text(json.dumps({"model": "w1", "names": {"2": "changed"}}))
    assert load_names(bundle, "w1") == {2: "height"}      # imported once, not re-read
    # an oversized file of an older version is ignored, not read into memory
    other = tmp_path / "big"
    other.mkdir()
    (other / "names.json").write_text(json.dumps(
        {"model": "w2", "names": {str(i): "x" * 79 for i in range(60_000)}}))
    assert load_names(other, "w2") == {}


def test_saving_names_changes_only_the_dimensions_given(tmp_path):
    save_names(tmp_path, "w", {0: "a", 1: "b"}, user="session-a")
    save_names(tmp_path, "w", {1: "", 2: "c"}, user="session-b")
    assert load_names(tmp_path, "w") == {0: "a", 2: "c"}


# ---------------------------------------------------------------------------- bundle identity
@pytest.fixture(scope="module")
def twins(tmp_path_factory):
    """Two bundles with the same weights: one on 40 items, one (encoded) on another 12."""
    from explorer.cli import main as cli_main
    from explorer.training.config import TrainConfig
    from explorer.training.loop import train
    from tests.helpers import TINY_MODEL, blocks_catalogue
    root = tmp_path_factory.mktemp("twins")
    train(blocks_catalogue(40), TrainConfig(epochs=1, batch_size=16, projections=("pca",),
                                            threads=1), TINY_MODEL, root / "a",
          progress=False)
    blocks_catalogue(12, seed=5).save(root / "cat12")
    assert cli_main(["encode", str(root / "a"), str(root / "cat12"), "--out",
                     str(root / "b"), "--projections", "pca"]) == 0
    return root / "a", root / "b"


def test_bundles_sharing_weights_but_not_catalogues_have_different_keys(twins):
    from explorer.bundle.core import load_bundle
    a, b = (load_bundle(p) for p in twins)
    assert a.weights_key == b.weights_key
    assert a.key != b.key


@pytest.mark.parametrize("page", ["pages/sliders.py", "pages/catalogue_map.py",
                                  "pages/similar.py"])
def test_switching_bundle_drops_item_indices_of_the_other_catalogue(twins, page):
    from streamlit.testing.v1 import AppTest
    a, b = twins
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=240)
    at.session_state["bundle_path"] = str(a)
    at.query_params["proj"] = "PCA"
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    # choices made on the 40-item catalogue: indices 30..39 do not exist in the other
    at.session_state["pick"] = {"label": "test", "indices": list(range(30, 40))}
    for k in ("a__idx", "s__idx", "lb__idx"):
        at.session_state[k] = 35
    at.session_state["similar_item"] = 37
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.session_state["bundle_path"] = str(b)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "similar_item" not in at.session_state
    # the map may rebuild a selection from the link (by SKU): then only with this catalogue's
    pick = at.session_state["pick"] if "pick" in at.session_state else None
    assert pick is None or all(0 <= i < 12 for i in pick["indices"]), pick
    for k in ("a__idx", "s__idx", "lb__idx"):
        assert k not in at.session_state or at.session_state[k] < 12
