"""evaluate on a real catalogue's columns: which attributes are scored (and why not), top-1
accuracy beside the majority baseline, duplicates kept on one side, --columns, --stratify."""
import numpy as np
import pandas as pd
import pytest

from explorer.bundle.core import load_bundle
from explorer.data.catalogue import Catalogue
from explorer.cli import main as cli_main
from explorer.evaluation.evaluate import evaluate_bundle
from explorer.metrics import score_columns
from explorer.data.splits import image_groups, split_for, split_indices
from explorer.training.config import TrainConfig
from explorer.training.loop import train
from tests.helpers import TINY_MODEL

N = 160


def real_like_catalogue(n: int = N, seed: int = 0) -> Catalogue:
    """Colour blocks with the columns of a real catalogue: ids, unique names, a 60-value brand
    (over the old 50-class cap), a constant, numbers; every 10th image is a twin of the one
    before it."""
    rng = np.random.default_rng(seed)
    size = 32
    imgs = np.full((n, size, size, 3), 255, np.uint8)
    colour = rng.integers(0, 4, n)
    height = rng.integers(4, 24, n)
    palette = np.array([[200, 30, 30], [30, 160, 40], [30, 60, 200], [20, 20, 20]], np.uint8)
    for i in range(n):
        imgs[i, size - 4 - height[i]:size - 4, 4 + i % 5:size - 4] = palette[colour[i]]
        imgs[i, 0, 0] = (i % 256, 250, 250)  # every image distinct but the planted twins
    for i in range(10, n, 10):
        imgs[i] = imgs[i - 1]
    md = pd.DataFrame({
        "sku": [f"S{i}" for i in range(n)],
        "product_display_name": [f"Shoe model {i}" for i in range(n)],
        "article_type": np.array(["Sneaker", "Boot", "Sandal", "Heel"])[colour],
        "brand": [f"brand-{(c * 15 + rng.integers(0, 15)):02d}" for c in colour],
        "master_category": "Footwear",
        "price": rng.random(n) * 100,
        "year": rng.integers(2011, 2019, n),
        "factor_height": height + rng.random(n),
    })
    return Catalogue(imgs, md, name="real-like", source={"kind": "test"})


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("evalcols")
    cat = real_like_catalogue()
    cat.save(tmp / "cat")
    train(cat, TrainConfig(epochs=1, batch_size=32, projections=("pca",), threads=1,
                           val_fraction=0.25),
          TINY_MODEL, tmp / "b", progress=False, log=lambda *a: None)
    return tmp


def test_default_columns_include_high_cardinality_and_say_why_others_are_skipped():
    md = real_like_catalogue().metadata
    cols, skipped = score_columns(md)
    # year: 8 whole numbers, a category for k-NN as for the map's filter and imputation
    assert cols == ["article_type", "brand", "year"]
    assert md["brand"].nunique() > 50  # the old cap dropped it silently
    assert skipped["sku"] == "an identifier"
    assert skipped["product_display_name"].startswith("unique per item")
    assert skipped["master_category"].startswith("constant")
    assert skipped["price"].startswith("numeric") and "year" not in skipped
    assert "continuous factor" in skipped["factor_height"]
    # asked-for columns are scored whatever their type, and only they
    assert score_columns(md, ["year", "brand"]) == (["year", "brand"], {})
    with pytest.raises(KeyError, match="'colour'.*columns: sku"):
        score_columns(md, ["colour"])


def test_duplicates_stay_on_one_side_and_singletons_keep_the_original_split():
    cat = real_like_catalogue()
    g = image_groups(cat.images)
    assert (g != np.arange(N)).sum() == 15 and g[10] == 9 and g[9] == 9
    tr, va = split_indices(N, 0.25, 0, groups=g)
    for i in range(10, N, 10):
        assert (i in va) == (i - 1 in va)
    assert sorted(np.concatenate([tr, va])) == list(range(N))
    plain = split_indices(N, 0.25, 0)
    same = split_indices(N, 0.25, 0, groups=np.arange(N))
    assert all(np.array_equal(a, b) for a, b in zip(plain, same))


def test_stratified_split_keeps_each_class_share():
    labels = np.array(["a"] * 900 + ["b"] * 90 + ["c"] * 10)
    _, va = split_indices(1000, 0.1, 3, strata=labels)
    counts = pd.Series(labels[va]).value_counts().to_dict()
    assert counts == {"a": 90, "b": 9, "c": 1}
    tr, va2 = split_indices(1000, 0.1, 3, strata=labels, groups=np.arange(1000) // 2)
    assert 100 <= len(va2) <= 103 and not set(tr) & set(va2)  # whole pairs: one over per class
    assert all((i in va2) == (i + 1 in va2) for i in range(0, 1000, 2))


def test_training_groups_duplicates_and_evaluate_uses_that_split(bundle):
    b = load_bundle(bundle / "b")
    tc = b.info["train_config"]
    assert tc["group_duplicates"] is True and tc["stratify"] == ""
    cat = Catalogue.load(bundle / "cat")
    tr, va = split_for(tc, N, cat.images, cat.metadata)
    g = image_groups(cat.images)
    assert not set(g[tr]) & set(g[va])
    res = evaluate_bundle(b)
    assert res["n_val"] == len(va) and res["duplicates"]["val_left_out"] == 0
    assert res["duplicates"]["items_with_an_earlier_twin"] == 15
    assert res["knn_columns"] == ["article_type", "brand", "year"]
    assert res["knn_classes"]["brand"] > 40  # classes seen in training
    model, pca = res["rows"]
    for row in (model, pca):
        assert set(row["knn"]) == {"article_type", "brand", "year"}
        assert set(row["knn_majority"]) == {"article_type", "brand", "year"}


def test_a_legacy_bundle_leaves_out_validation_twins(bundle, tmp_path):
    b = load_bundle(bundle / "b")
    b.info["train_config"]["group_duplicates"] = False  # as bundles trained before it
    res = evaluate_bundle(b)
    _, plain_val = split_indices(N, 0.25, 0)
    g = image_groups(b.images.all())
    twins = np.isin(g[plain_val], g[np.setdiff1d(np.arange(N), plain_val)]).sum()
    assert twins > 0 and res["duplicates"]["val_left_out"] == twins
    assert res["n_val"] == len(plain_val) - twins


def test_cli_columns_stratify_and_the_report(bundle, capsys):
    assert cli_main(["evaluate", str(bundle / "b"), "--columns", "year,brand",
                     "--stratify", "article_type"]) == 0
    out = capsys.readouterr().out
    assert "kNN year" in out and "kNN brand" in out and "kNN article_type" not in out
    assert "majority class" in out
    assert "split stratified by article_type" in out and "not scored" not in out
    assert cli_main(["evaluate", str(bundle / "b")]) == 0
    out = capsys.readouterr().out
    assert "kNN article_type" in out and "kNN brand" in out
    assert "product_display_name: unique per item (160 values for 160 items)" in out
    assert "brand (" in out and "classes in training)" in out
    assert cli_main(["evaluate", str(bundle / "b"), "--columns", "colour"]) == 2
    assert "no column 'colour'" in capsys.readouterr().err
    assert cli_main(["evaluate", str(bundle / "b"), "--stratify", "nope"]) == 2


def test_train_stratify_is_checked_before_training(tmp_path, capsys):
    cat = real_like_catalogue(40)
    cat.save(tmp_path / "cat")
    assert cli_main(["train", str(tmp_path / "cat"), "--out", str(tmp_path / "o"),
                     "--stratify", "colour", "--epochs", "1"]) == 2
    assert "--stratify 'colour': no such column" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
