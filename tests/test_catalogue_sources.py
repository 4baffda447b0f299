"""Bundles trained on every kind of catalogue load again: the folder ingest (a real catalogue's
path) writes its background colour as a list into the catalogue's source, Fashion-MNIST its
class names. The bundle.json type checks (issue 15) once refused both, so every bundle trained
on real photos failed to load ("catalogue.source should be an object of plain values")."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from explorer.bundle.core import BundleError, load_bundle
from explorer.cli import main as cli_main
from explorer.data.catalogue import Catalogue
from explorer.data.ingest import ingest_folder
from explorer.training.config import TrainConfig
from explorer.training.loop import train
from tests.helpers import TINY_MODEL
from tests.test_ingest import good_folder, write_csv

FAST = dict(batch_size=4, projections=("pca",), threads=1, val_fraction=0.25, epochs=1)


def _grown(cat: Catalogue, times: int) -> Catalogue:
    """The catalogue repeated (with new SKUs) so that training has a split to make."""
    md = pd.concat([cat.metadata] * times, ignore_index=True)
    md["sku"] = [f"{s}-{i}" for i, s in enumerate(md["sku"])]
    return Catalogue(np.concatenate([np.asarray(cat.images)] * times), md, name=cat.name,
                     source=cat.source)


def test_a_bundle_trained_on_an_ingested_folder_loads_and_is_described(tmp_path, capsys):
    images = good_folder(tmp_path)
    csv = write_csv(tmp_path / "catalog.csv", "file,sku,brand\nred.jpg,R-1,Acme\n"
                    "green.png,G-1,Acme\nsub/blue.webp,B-1,Bolt\n")
    cat, _ = ingest_folder(images, csv, size=32, progress=False)
    assert cat.source["background"] == [255, 255, 255]       # a list, as bundle.json keeps it
    train(_grown(cat, 4), TrainConfig(**FAST), TINY_MODEL, tmp_path / "b", progress=False)
    b = load_bundle(tmp_path / "b")
    assert b.info["catalogue"]["source"]["kind"] == "folder"
    assert b.info["catalogue"]["source"]["background"] == [255, 255, 255]
    assert cli_main(["info", str(tmp_path / "b")]) == 0
    assert '"background": [255, 255, 255]' in capsys.readouterr().out


def test_a_fashion_mnist_style_source_with_class_names_loads(tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 255, (16, 32, 32, 3), dtype=np.uint8)
    md = pd.DataFrame({"sku": [f"F{i}" for i in range(16)],
                       "class": ["Sandal", "Sneaker", "Ankle boot", "Sneaker"] * 4})
    cat = Catalogue(imgs, md, name="fm", source={
        "kind": "fashion-mnist", "classes": "footwear",
        "class_names": ["Sandal", "Sneaker", "Ankle boot"], "size": 32, "limit": None})
    train(cat, TrainConfig(**FAST), TINY_MODEL, tmp_path / "b", progress=False)
    assert load_bundle(tmp_path / "b").info["catalogue"]["source"]["class_names"] == [
        "Sandal", "Sneaker", "Ankle boot"]


@pytest.mark.parametrize("value", [{"nested": 1}, [[1, 2]], [{"a": 1}], list(range(300))])
def test_a_source_with_nested_or_huge_values_is_still_refused(tmp_path, value):
    import json

    from explorer.bundle.checks import read_bundle_info
    rng = np.random.default_rng(0)
    cat = Catalogue(rng.integers(0, 255, (16, 32, 32, 3), dtype=np.uint8),
                    pd.DataFrame({"sku": [f"S{i}" for i in range(16)]}), name="x")
    train(cat, TrainConfig(**FAST), TINY_MODEL, tmp_path / "b", progress=False)
    f = tmp_path / "b" / "bundle.json"
    info = json.loads(f.read_text())
    info["catalogue"]["source"] = {"kind": "folder", "odd": value}
    f.write_text(json.dumps(info))
    with pytest.raises(BundleError, match="catalogue.source"):
        read_bundle_info(tmp_path / "b")


def test_a_real_catalogues_whole_path_from_the_command_line(tmp_path, capsys, monkeypatch):
    # what a merchandiser with a folder of 60 x 80 JPEGs and a labels CSV runs, end to end
    from PIL import Image
    from streamlit.testing.v1 import AppTest

    from tests.test_catalogue_map_page import APP
    rng = np.random.default_rng(0)
    images = tmp_path / "photos"
    images.mkdir()
    rows = ["file,article_type,base_colour"]
    for i in range(48):
        colour = ("Red", (200, 30, 40)) if i % 2 else ("Navy", (30, 40, 90))
        kind = ("Boots", 40) if i % 3 == 0 else ("Shoes", 24)
        img = Image.new("RGB", (60, 80), (255, 255, 255))
        img.paste(Image.new("RGB", (44, kind[1]), colour[1]),
                  (8, 56 - kind[1] + int(rng.integers(0, 4))))
        img.save(images / f"{i:03d}.jpg", quality=90)
        rows.append(f"{i:03d}.jpg,{kind[0]},{colour[0]}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    cat, bundle = tmp_path / "cat", tmp_path / "bundle"
    assert cli_main(["ingest", str(images), "--catalog", str(tmp_path / "labels.csv"),
                     "--size", "32", "--out", str(cat), "--no-progress"]) == 0
    assert cli_main(["train", str(cat), "--epochs", "1", "--latent-dim", "4", "--channels",
                     "8,8,8", "--hidden-dim", "32", "--batch-size", "16", "--threads", "1",
                     "--time-limit", "120", "--projections", "pca,tsne", "--no-progress",
                     "--out", str(bundle)]) == 0       # (UMAP's first call compiles for ~20 s)
    out = capsys.readouterr().out
    assert "epoch 1: train loss" in out and "wrote bundle" in out
    assert cli_main(["info", str(bundle)]) == 0
    assert cli_main(["evaluate", str(bundle), "--json", str(tmp_path / "eval.json")]) == 0
    out = capsys.readouterr().out
    assert "kNN article_type" in out and "kNN base_colour" in out
    monkeypatch.setenv("KICKSPACE_DATA_DIR", str(tmp_path / "data"))
    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state["bundle_path"] = str(bundle)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    # the home page's training gallery describes a model that started from PCA as such
    assert any("starts from PCA's blurred sneakers" in c.value for c in at.caption)
    at.switch_page("pages/overview.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    card = dict(at.dataframe[0].value.itertuples(index=False))   # the model card's table
    assert list(card)[:3] == ["kind", "training time", "time limit"]
    assert card["time limit"] == "120 s for the whole command" and "steps" in card["training time"]
    # too few images to choose a colour weight by: plain PCA, and the card says why
    assert re.fullmatch(r"1 \(only \d+ images sampled\)",
                        card["colour weight of the PCA start"]), card
    for page in ("pages/sliders.py", "pages/catalogue_map.py", "pages/similar.py"):
        at.switch_page(page)
        at.run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert not at.error, (page, [e.value for e in at.error])


def test_an_upload_is_padded_with_the_catalogues_own_background(tmp_path):
    # a catalogue ingested with --background #DDDDDD: an uploaded photo of the same product
    # comes out as the catalogue's own image (it was padded white before)
    from PIL import Image

    from explorer.app import cache
    from tests.test_ingest import put
    images = tmp_path / "photos"
    for i in range(16):
        put(images, f"{i:02d}.png", (20 + 10 * i, 40, 200 - 10 * i), size=(40, 64))
    cat, _ = ingest_folder(images, None, size=32, background="#DDDDDD", progress=False)
    assert cat.source["background"] == [221, 221, 221]
    train(_grown(cat, 2), TrainConfig(**FAST), TINY_MODEL, tmp_path / "b", progress=False)
    b = load_bundle(tmp_path / "b")
    img, mu = cache.encode_upload(b, (images / "03.png").read_bytes())
    row = int(np.flatnonzero(b.metadata["file"].astype(str) == "03.png")[0])
    assert tuple(img[0, 0]) == (221, 221, 221)
    assert np.array_equal(img, np.asarray(b.images[row]))
    assert cache.catalogue_background({"catalogue": {"source": {"background": [1, 2]}}}) is None
    assert Image.open(images / "03.png").size == (40, 64)
