"""The default training recipe on a real (procedural) catalogue: a short run keeps active
dimensions and colour, and the colour curriculum is what keeps the colour (issue 9).

Two ~1,000-step runs at 32 px on one thread (about a minute each here); the full-size figures
are in the README (scripts/compare_models.sh)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from explorer.bundle.core import load_bundle
from explorer.evaluation.evaluate import reconstruct_split
from explorer.metrics import count_active
from explorer.data.synthetic import generate
from explorer.data.splits import split_for
from explorer.training.config import TrainConfig
from explorer.training.loop import train

STEPS = 1000
BATCH = 64


@pytest.fixture(scope="module")
def catalogue():
    return generate(3000, size=32, seed=11, workers=1, progress=False)


def _short_run(catalogue, out, **model) -> dict:
    cfg = TrainConfig(batch_size=BATCH, projections=("pca",), threads=1, val_fraction=0.1)
    train_idx, val = split_for(cfg.to_dict(), len(catalogue), catalogue.images,
                               catalogue.metadata)
    cfg = dataclasses.replace(cfg, epochs=max(1, round(STEPS / -(-len(train_idx) // BATCH))))
    train(catalogue, cfg, {"latent_dim": 16, **model}, out, progress=False)
    b = load_bundle(out)
    rec = reconstruct_split(b.model, catalogue.images, val)
    rec["active"] = count_active(rec["mu"], rec["logvar"])
    return rec


@pytest.fixture(scope="module")
def default_run(catalogue, tmp_path_factory):
    return _short_run(catalogue, tmp_path_factory.mktemp("recipe") / "default")


@pytest.mark.slow
def test_a_short_default_run_keeps_active_dimensions(default_run):
    # a collapsed latent space (the β=4 summed-MSE run: KL 0) has none
    print(f"short default run: {default_run['active']} active dims, "
          f"PSNR {default_run['psnr']:.2f} dB")
    assert default_run["active"] >= 8, default_run["active"]
    assert default_run["psnr"] > 17.0, default_run["psnr"]


@pytest.mark.slow
def test_the_colour_curriculum_keeps_hue(default_run, catalogue, tmp_path_factory):
    grey = _short_run(catalogue, tmp_path_factory.mktemp("recipe") / "no-curriculum",
                      colour_boost=1.0)
    print(f"colour fidelity: default {default_run['colour']:.3f}, "
          f"without the curriculum {grey['colour']:.3f}")
    assert np.isfinite(default_run["colour"])
    assert default_run["colour"] >= 0.3
    # With the PCA start and frozen linear paths (the recipe since issue 14) the run without
    # the curriculum keeps PCA's colour instead of going grey, so the curriculum's gain at
    # this short budget is small: 0.516 vs 0.491 measured here (with trained linear paths it
    # was 0.651 vs 0.519; from a random start +0.4). It must still not cost colour.
    assert default_run["colour"] >= grey["colour"], (default_run["colour"], grey["colour"])


def _psnr_vs_pca(catalogue, out, cfg) -> tuple[float, float]:
    from explorer.evaluation.evaluate import _psnr, pca_baseline
    train(catalogue, cfg, {"latent_dim": 16}, out, progress=False, log=lambda *a: None)
    b = load_bundle(out)
    train_idx, val = split_for(cfg.to_dict(), len(catalogue), catalogue.images,
                               catalogue.metadata)
    rec = reconstruct_split(b.model, catalogue.images, val)
    _, pca_mse, _ = pca_baseline(catalogue.images, train_idx, val, 16, seed=0)
    print(f"default recipe PSNR {rec['psnr']:.2f} dB, PCA-16 {_psnr(pca_mse):.2f} dB "
          f"({b.info['metrics']['steps']} steps)")
    return rec["psnr"], _psnr(pca_mse)


def test_a_short_default_run_is_no_worse_than_pca(tmp_path):
    # the recipe starts as PCA (linear paths from the PCA basis) and its schedules end with
    # the run, so even 150 steps end at least as good as PCA with as many components
    cat = generate(800, size=32, seed=12, workers=1, progress=False)
    cfg = TrainConfig(batch_size=BATCH, projections=("pca",), threads=1, epochs=13)
    model, pca = _psnr_vs_pca(cat, tmp_path / "short", cfg)
    assert model >= pca, (model, pca)


@pytest.mark.slow
def test_a_time_limited_default_run_is_no_worse_than_pca(tmp_path):
    # the same with a wall-clock budget (--time-limit) that stops the run long before its
    # planned epochs: the schedules are compressed into it, so it ends on them
    cat = generate(3000, size=32, seed=13, workers=1, progress=False)
    cfg = TrainConfig(batch_size=BATCH, projections=("pca",), threads=1, epochs=1000,
                      time_limit=30)
    model, pca = _psnr_vs_pca(cat, tmp_path / "timed", cfg)
    assert model >= pca, (model, pca)
