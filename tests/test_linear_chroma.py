"""linear_chroma: the colour weight of the PCA that starts the linear paths, chosen per
catalogue by a k-NN vote on its own label columns (explorer.training.chroma)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from explorer.data.catalogue import Catalogue
from explorer.training.chroma import choose_linear_chroma
from explorer.training.config import TrainConfig
from explorer.training.loop import train
from tests.helpers import TINY_MODEL, open_page

FAST = dict(batch_size=32, projections=("pca",), threads=1, val_fraction=0.2)


def patterned(n: int, size: int = 32, tint: float = 0.0, seed: int = 0):
    """Images whose light-dark pattern varies along 40 smooth directions (more than the code
    holds), with a label `pattern` (the sign of the first direction) and a label `hue` (one
    of four tints of the given strength, equal in lightness): colour is faint next to the
    pattern, as on product photos, whose pixel variance is mostly light against dark."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    basis = np.stack([np.sin(np.pi * ((i % 7) + 1) * xx + i) * np.cos(np.pi * ((i // 7) + 1) * yy)
                      for i in range(40)])                              # [40, S, S]
    weights = rng.normal(size=(n, 40)) * np.linspace(1.0, 0.5, 40)
    light = 0.5 + 0.06 * np.einsum("nk,khw->nhw", weights, basis)
    hues = rng.integers(0, 4, n)
    dirs = np.array([[1, -1, 0], [-1, 1, 0], [0.5, 0.5, -1], [-0.5, -0.5, 1]], float)
    img = light[..., None] + tint * dirs[hues][:, None, None, :]
    images = (np.clip(img, 0, 1) * 255).round().astype(np.uint8)
    md = pd.DataFrame({"sku": [f"P{i:05d}" for i in range(n)],
                       "pattern": np.where(weights[:, 0] > 0, "up", "down"),
                       "hue": np.array(["red", "green", "yellow", "blue"])[hues]})
    return Catalogue(images, md, name="patterned", source={"kind": "test-patterned"})


def as_tensor(cat: Catalogue) -> torch.Tensor:
    return torch.from_numpy(np.asarray(cat.images)).permute(0, 3, 1, 2).float() / 255.0


def test_a_faint_colour_that_the_labels_follow_raises_the_colour_weight():
    cat = patterned(1000, tint=0.04)
    c, rep = choose_linear_chroma(as_tensor(cat), cat.metadata, dims=8, whiten=0.25)
    assert c > 1.0, rep["why"]
    assert rep["columns"] == ["pattern", "hue"]
    plain, chosen = rep["scores"][1.0], rep["scores"][c]
    assert chosen["hue"] > plain["hue"] + 0.05          # the colour neighbours improve ...
    assert chosen["pattern"] >= plain["pattern"] - 0.03  # ... and the pattern's hold
    assert "linear_chroma 1:" in rep["why"] and "hue" in rep["why"]


def test_colour_the_labels_do_not_follow_keeps_plain_pca():
    # the same images, but the only label is the light-dark pattern: colour is noise to it
    cat = patterned(1000, tint=0.04)
    md = cat.metadata.drop(columns=["hue"])
    c, rep = choose_linear_chroma(as_tensor(cat), md, dims=8, whiten=0.25)
    assert c == 1.0, rep["why"]
    assert rep["columns"] == ["pattern"]


def test_grey_images_few_images_and_no_labels_keep_plain_pca():
    cat = patterned(400, tint=0.0)
    assert choose_linear_chroma(as_tensor(cat), cat.metadata, 8, 0.25)[1]["why"].startswith(
        "nearly grey images")
    cat = patterned(1000, tint=0.04)
    c, rep = choose_linear_chroma(as_tensor(cat), cat.metadata[["sku"]], 8, 0.25)
    assert c == 1.0 and "no label column" in rep["why"]
    c, rep = choose_linear_chroma(as_tensor(cat)[:50], cat.metadata[:50], 8, 0.25)
    assert c == 1.0 and "only 50 images" in rep["why"]


def test_train_chooses_it_says_so_keeps_it_on_resume_and_obeys_the_flag(tmp_path):
    cat = patterned(600, tint=0.04)
    cat.save(tmp_path / "cat")
    cat = Catalogue.load(tmp_path / "cat")
    lines: list[str] = []
    out = tmp_path / "auto"
    train(cat, TrainConfig(epochs=1, **FAST), dict(TINY_MODEL), out, progress=False,
          log=lines.append)
    said = [ln for ln in lines if ln.startswith("linear_chroma ")]
    assert len(said) == 1 and "chosen by a 5-NN vote" in said[0], lines
    chosen = json.loads((out / "bundle.json").read_text())["model_config"]["linear_chroma"]
    assert chosen > 1.0 and said[0].startswith(f"linear_chroma {chosen:g} ")
    # --resume takes the choice from the checkpoint instead of refusing other settings
    lines.clear()
    train(cat, TrainConfig(epochs=2, **FAST), dict(TINY_MODEL), out, resume=True,
          progress=False, log=lines.append)
    info = json.loads((out / "bundle.json").read_text())
    assert info["model_config"]["linear_chroma"] == chosen
    # the choice and its figures are kept in bundle.json (across --resume) and on the card
    rec = info["metrics"]["linear_chroma"]
    assert rec["chosen"] == chosen and set(rec["mean_knn_by_weight"]) == {"1", "1.5", "2", "3"}
    assert rec["mean_knn_by_weight"][f"{chosen:g}"] > rec["mean_knn_by_weight"]["1"]
    at = open_page(out, "pages/overview.py")
    card = dict(at.dataframe[0].value.itertuples(index=False))
    want = (f"{chosen:g} (k-NN {rec['mean_knn_by_weight'][f'{chosen:g}']:.3f}"
            f" vs plain {rec['mean_knn_by_weight']['1']:.3f})")
    assert card["colour weight of the PCA start"] == want, card
    # evaluate puts the model's own start beside plain PCA: a colour-weighted PCA row
    from explorer.evaluation.evaluate import evaluate_bundle
    from explorer.bundle.core import load_bundle
    res = evaluate_bundle(load_bundle(out), seed=0)
    names = [r["model"] for r in res["rows"]]
    assert names == ["beta-vae", "PCA", f"PCA, colour x{chosen:g}"], names
    plain, start = res["rows"][1], res["rows"][2]
    assert set(start["knn"]) == set(plain["knn"]) == {"pattern", "hue"}
    assert np.isfinite(start["psnr"]) and start["mse"] != plain["mse"]
    # ... and so does the lab's Metrics tab, with a caption that says what the row is
    at = open_page(out, "pages/lab.py")
    at.session_state["section"] = "Metrics"                 # the lab's tab
    at.run()
    next(b for b in at.button if b.label == "Evaluate").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(t.value for t in at.dataframe if "PSNR" in t.value.columns)
    assert list(table["model"]) == ["beta-vae", "PCA", f"PCA, colour x{chosen:g}"]
    assert any("is the model's own start" in c.value for c in at.caption)
    assert any(ln.startswith("resuming from epoch 1") for ln in lines), lines
    # asked for: used as given, and the log says so
    lines.clear()
    train(cat, TrainConfig(epochs=1, **FAST), {**TINY_MODEL, "linear_chroma": 1.0},
          tmp_path / "plain", progress=False, log=lines.append)
    assert "linear_chroma 1 (colour's weight in that PCA; 1 = plain PCA): as asked" in lines
    plain = json.loads((tmp_path / "plain" / "bundle.json").read_text())["model_config"]
    assert plain["linear_chroma"] == 1.0


def test_the_cards_reason_fits_its_column():
    from explorer.training.chroma import short_why
    assert short_why("only 150 images sampled: plain PCA") == "only 150 images sampled"
    assert short_why("nearly grey images: plain PCA") == "nearly grey images"
    assert short_why(None) == "as asked"
    long = short_why("chosen by a 5-NN vote on 3 column(s) (a, b, c) within 4000 training images")
    assert len(long) == 26 and long.endswith("…")
