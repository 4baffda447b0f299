"""Attribute directions: fitting, leakage probes (explorer.latent.leakage), and saving next to
a bundle."""
from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from explorer.latent.directions import (METHODS, Direction, delete_direction, fit_direction,
                                        load_directions, move, negative_mask, save_direction,
                                        slider_key, slugify)
from explorer.latent.leakage import leakage

N, D = 1200, 6


@pytest.fixture(scope="module")
def world():
    """Codes whose class depends on dims 0-1 only, plus attributes that do and don't follow."""
    rng = np.random.default_rng(7)
    z = rng.normal(size=(N, D))
    boot = (z[:, 0] - 0.5 * z[:, 1] + 0.3 * rng.normal(size=N)) > 0.2
    md = pd.DataFrame({
        "sku": [f"S{i}" for i in range(N)],
        "silhouette": np.where(boot, "boot", "low"),
        "follows": np.where(z[:, 0] + 0.4 * rng.normal(size=N) > 0, "high", "flat"),
        "independent": rng.choice(["red", "green", "blue"], N),
        "elsewhere": np.where(z[:, 4] > 0, "p", "q"),
    })
    train = np.arange(N) < 900
    return z, md, train


@pytest.mark.parametrize("method", METHODS)
def test_moving_held_out_negatives_along_the_direction_raises_the_positive_class(world, method):
    z, md, train = world
    d = fit_direction(z[train], md["silhouette"][train], "boot", method=method)
    assert isinstance(d, Direction)
    assert np.linalg.norm(d.vector) == pytest.approx(1.0, abs=1e-5)
    assert d.vector.shape == (D,)
    # the signal lives in dims 0-1
    assert float(np.sum(d.vector[:2] ** 2)) > 0.95
    assert d.accuracy > 0.8 and d.balanced_accuracy > 0.8
    assert d.scale > 0 and d.gap > 0
    assert (d.positive, d.negative, d.column, d.method) == ("boot", "low", "silhouette", method)

    # an independent probe, trained on held-out items only
    held = ~train
    probe = LogisticRegression(max_iter=1000).fit(z[held], md["silhouette"][held] == "boot")
    negatives = z[held & (md["silhouette"] == "low").to_numpy()]
    before = probe.predict_proba(negatives)[:, 1].mean()
    after = probe.predict_proba(move(negatives, d, 2.0))[:, 1].mean()
    backwards = probe.predict_proba(move(negatives, d, -2.0))[:, 1].mean()
    assert after > before + 0.3
    assert backwards < before


def test_bool_labels_and_missing_values(world):
    z, md, _ = world
    labels = (md["silhouette"] == "boot").to_numpy()
    d = fit_direction(z, labels, True, method="mean-diff")
    assert d.positive == "True" and d.negative == "False" and d.name == "True"
    with_gaps = md["silhouette"].where(np.arange(N) % 5 != 0)
    d2 = fit_direction(z, with_gaps, "boot")
    assert d2.n_positive + d2.n_negative == int(with_gaps.notna().sum())


def test_too_few_items_or_unknown_method_raise(world):
    z, md, _ = world
    labels = np.array(["a"] * (N - 2) + ["b"] * 2)
    with pytest.raises(ValueError, match="at least"):
        fit_direction(z, labels, "b")
    with pytest.raises(ValueError, match="no item"):
        fit_direction(z, labels, "zzz")
    with pytest.raises(ValueError, match="unknown method"):
        fit_direction(z, md["silhouette"], "boot", method="pca")


def test_leakage_small_for_independent_large_for_correlated(world):
    z, md, _ = world
    d = fit_direction(z, md["silhouette"], "boot")
    df = leakage(d, z, md, ["silhouette", "follows", "independent", "elsewhere"],
                 include_target=True)
    by = df.set_index("attribute")
    assert bool(by.loc["silhouette", "target"]) and df.iloc[0]["attribute"] == "silhouette"
    assert by.loc["silhouette", "max_change"] > 0.3
    assert by.loc["follows", "max_change"] > 0.25
    assert by.loc["follows", "toward"] == "high"
    for unrelated in ("independent", "elsewhere"):
        assert by.loc[unrelated, "max_change"] < 0.1
        assert by.loc[unrelated, "max_change"] < 0.25 * by.loc["follows", "max_change"]
    curves = df.attrs["curves"]
    assert set(curves["attribute"]) == set(by.index)
    assert curves.loc[curves["step"] == 0, "change"].eq(0).all()
    # each probe depends on its own column only: the order of the columns does not matter
    again = leakage(d, z, md, ["elsewhere", "independent", "follows", "silhouette"],
                    include_target=True).set_index("attribute")
    assert np.allclose(again.loc[by.index, "max_change"], by["max_change"])
    # without include_target the direction's own column is left out
    assert "silhouette" not in set(leakage(d, z, md, ["silhouette", "follows"])["attribute"])


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    """Saved directions live in the annotations database in the data dir: a fresh one."""
    monkeypatch.setenv("KICKSPACE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("KICKSPACE_ANNOTATIONS_DB", raising=False)
    return tmp_path / "data"


def test_save_load_round_trip(world, tmp_path):
    z, md, _ = world
    a = fit_direction(z, md["silhouette"], "boot", name="boot-ness")
    b = fit_direction(z, md["follows"], "high", method="mean-diff")
    save_direction(tmp_path, "abc123", a)
    path = save_direction(tmp_path, "abc123", b, user="session-1")
    assert path.parent == tmp_path / "data" and path.suffix == ".sqlite"
    got = load_directions(tmp_path, "abc123", latent_dim=D)
    assert [g.name for g in got] == ["boot-ness", "follows: high"]
    assert np.allclose(got[0].vector, a.vector, atol=1e-6)
    assert got[0].scale == pytest.approx(a.scale)
    assert got[0].accuracy == pytest.approx(a.accuracy)
    assert got[1].method == "mean-diff" and got[1].positive == "high"
    assert slider_key(got[0]) == "dir_boot_ness"
    # other weights, or another latent size, see nothing
    assert load_directions(tmp_path, "other-key") == []
    assert load_directions(tmp_path, "abc123", latent_dim=D + 1) == []
    # saving under the same name replaces; deleting removes
    save_direction(tmp_path, "abc123", fit_direction(z, md["silhouette"], "low",
                                                     name="Boot-ness"))
    got = load_directions(tmp_path, "abc123")
    assert [g.name for g in got] == ["follows: high", "Boot-ness"]
    assert delete_direction(tmp_path, "abc123", "boot_ness")
    assert not delete_direction(tmp_path, "abc123", "boot_ness")
    assert [g.name for g in load_directions(tmp_path, "abc123")] == ["follows: high"]
    # a bundle key with its catalogue part finds the directions of the same weights
    assert [g.name for g in load_directions(tmp_path, "abc123-00ff")] == ["follows: high"]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_read_only_bundle_falls_back_to_the_data_dir(world, tmp_path, monkeypatch):
    z, md, _ = world
    bundle, data = tmp_path / "bundle", tmp_path / "data"
    bundle.mkdir()
    monkeypatch.setenv("KICKSPACE_DATA_DIR", str(data))
    bundle.chmod(0o555)
    try:
        p = save_direction(bundle, "k1", fit_direction(z, md["silhouette"], "boot"))
    finally:
        bundle.chmod(0o755)
    assert p.parent == data
    assert [d.name for d in load_directions(bundle, "k1")] == ["silhouette: boot"]


def test_fallback_is_used_when_the_bundle_folder_is_not_writable(world, tmp_path, monkeypatch):
    """Works as root too: the bundle 'folder' is a file, so nothing can be written in it."""
    z, md, _ = world
    bundle, data = tmp_path / "not-a-folder", tmp_path / "data"
    bundle.write_text("x")
    monkeypatch.setenv("KICKSPACE_DATA_DIR", str(data))
    p = save_direction(bundle, "k2", fit_direction(z, md["silhouette"], "boot"))
    assert p.parent == data
    assert [d.name for d in load_directions(bundle, "k2")] == ["silhouette: boot"]


GOOD = {"name": "ok", "method": "logreg", "scale": 1.0, "vector": [1.0, 0, 0, 0, 0, 0]}


@pytest.mark.parametrize("content", [
    b"", b"{", b"\xff\xfe\x00garbage", b"[1, 2, 3]", b"null", b'"a string"',
    b"[" * 100000 + b"]" * 100000,
    json.dumps({"model": "k", "directions": "nope"}).encode(),
    json.dumps({"model": "k", "directions": [
        None, 3, "x", {}, {**GOOD, "vector": "1,2"}, {**GOOD, "vector": [0] * 6},
        {**GOOD, "vector": [1e309] * 6}, {**GOOD, "vector": [True] * 6},
        {**GOOD, "scale": -1}, {**GOOD, "scale": "big"}, {**GOOD, "method": "__import__"},
        {**GOOD, "name": ""}, {**GOOD, "name": "!!!"}, {**GOOD, "name": ["a"]},
        {**GOOD, "vector": [1.0, 2.0]},
    ]}).encode(),
    b'{"model": "k", "directions": [{"name": "x", "vector": [NaN], "scale": Infinity}]}',
])
def test_hostile_or_broken_files_are_ignored(tmp_path, content):
    (tmp_path / "directions.json").write_bytes(content)
    assert load_directions(tmp_path, "k", latent_dim=6) == []


def test_valid_entries_survive_next_to_broken_ones(tmp_path):
    bad = {**GOOD, "name": "bad", "scale": 0}
    evil = {**GOOD, "name": "<script>alert(1)</script>\x00\u202e"}
    (tmp_path / "directions.json").write_text(json.dumps(
        {"model": "k", "directions": [bad, GOOD, evil]}))
    got = load_directions(tmp_path, "k", latent_dim=6)
    assert [d.slug for d in got] == ["ok", "script_alert_1_script"]
    assert "\x00" not in got[1].name and "\u202e" not in got[1].name
    # the file was copied into the database once: breaking it later changes nothing
    (tmp_path / "directions.json").write_text("{not json")
    save_direction(tmp_path, "k", Direction.from_dict(GOOD))
    assert [d.slug for d in load_directions(tmp_path, "k")] == ["script_alert_1_script", "ok"]


def test_slugify():
    assert slugify("Sole colour: white") == "sole_colour_white"
    assert slugify("  Boot-ness!! ") == "boot_ness"
    assert slugify("★★★") == ""


def test_negative_mask_is_the_known_other_classes_or_everything_for_a_tag():
    md = pd.DataFrame({"kind": ["boot", "low", None, "boot", "high"]})
    d = Direction(vector=np.array([1, 0, 0], np.float32), name="boot", method="mean-diff",
                  accuracy=1.0, scale=1.0, positive="boot", negative="not boot",
                  column="kind")
    assert negative_mask(d, md).tolist() == [False, True, False, False, True]
    tag = Direction(vector=np.array([1, 0, 0], np.float32), name="tag: x", method="logreg",
                    accuracy=1.0, scale=1.0, positive="tagged x", negative="untagged")
    assert negative_mask(tag, md).all()
