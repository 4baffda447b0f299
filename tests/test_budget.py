"""Honest run reporting: the time limit bounds the whole command (training + the maps after
it), an early stop is said and recorded, and the speed reported is the run's mean."""
import time

import numpy as np
import pytest

from explorer.training.budget import MAP_SHARE, finish_seconds, plan_run_budget, projection_seconds
from explorer.bundle.core import load_bundle
from explorer.bundle.write import _project_all
from explorer.training.config import TrainConfig
from explorer.training.loop import train
from explorer.training.steps import throughput
from tests.helpers import TINY_MODEL, blocks_catalogue


def test_no_limit_keeps_every_map_and_sets_no_training_budget():
    b = plan_run_budget(0, 9200, 64, ("pca", "umap", "tsne"))
    assert b.projections == ("pca", "umap", "tsne") and b.train_seconds == 0 and not b.skipped
    assert b.message() == ""


def test_a_25_minute_budget_on_a_real_catalogue_skips_the_maps_that_do_not_fit():
    b = plan_run_budget(1500, 9200, 64, ("pca", "umap", "tsne"))
    # UMAP ~254 s and t-SNE ~378 s of 9,200 items do not fit in 10% of 1,500 s
    assert b.projections == ("pca",) and set(b.skipped) == {"umap", "tsne"}
    assert "Catalogue map page" in b.skipped["tsne"] and "9,200 items" in b.skipped["tsne"]
    assert b.train_seconds == pytest.approx(1500 - finish_seconds(9200, 64)
                                            - projection_seconds("pca", 9200))
    assert b.train_seconds + b.reserve_seconds == pytest.approx(1500)
    msg = b.message()
    assert "whole command" in msg and "tsne skipped" in msg and "umap skipped" in msg


def test_maps_that_fit_are_kept_and_paid_for_out_of_the_training_share():
    n = 1000
    limit = sum(projection_seconds(m, n) for m in ("pca", "umap", "tsne")) / MAP_SHARE + 1
    b = plan_run_budget(limit, n, 32, ("pca", "umap", "tsne"))
    assert b.projections == ("pca", "umap", "tsne") and not b.skipped
    assert b.reserve_seconds > projection_seconds("umap", n) + projection_seconds("tsne", n)
    # a limit smaller than the finishing work still leaves the training half of it
    tiny = plan_run_budget(10, 100_000, 128, ("pca",))
    assert tiny.train_seconds == 5


def test_run_speed_is_the_mean_over_all_epochs_not_the_last():
    hist = [{"seconds": 30.0, "images_per_s": 100.0}, {"seconds": 10.0, "images_per_s": 300.0}]
    t = throughput(hist)
    assert t["images_per_s"] == 150.0 and t["last_epoch_images_per_s"] == 300.0
    assert throughput([]) == {}


def test_maps_past_the_deadline_are_skipped_with_a_message_pca_always():
    mu = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    logs = []
    projs, timings, skipped = _project_all(mu, ("pca", "umap"), 0, False, logs.append,
                                           deadline=time.monotonic(), skipped={"tsne": "why"})
    assert list(projs) == ["pca"] and projs["pca"].shape == (50, 2)
    assert set(skipped) == {"umap", "tsne"} and any("umap skipped" in ln for ln in logs)


def test_time_limited_run_records_budget_skips_and_mean_speed(tmp_path):
    cat = blocks_catalogue(64)
    logs = []
    train(cat, TrainConfig(epochs=4, time_limit=1e-3, batch_size=16, threads=1,
                           val_fraction=0.2, projections=("pca", "tsne")),
          TINY_MODEL, tmp_path / "t", progress=False, log=logs.append)
    b = load_bundle(tmp_path / "t")
    m = b.info["metrics"]
    assert m["stopped_early"]["at_epoch"] == 1 and m["stopped_early"]["planned_epochs"] == 4
    assert m["budget"]["skipped"].keys() == {"tsne"}
    assert b.info["projections"]["methods"] == ["pca"]
    assert "tsne" in b.info["projections"]["skipped"]
    assert any("whole command" in ln and "tsne skipped" in ln for ln in logs), logs
    assert m["images_per_s"] == throughput(b.history)["images_per_s"]
    assert b.info["train_config"]["projections"] == ["pca", "tsne"]  # as asked


def test_a_map_the_plan_skipped_is_made_when_training_ends_early(tmp_path):
    # 60 s for the whole command: t-SNE of 64 items (estimated 12.6 s) is more than the 10%
    # the plan gives the maps, but one epoch of a tiny model ends long before the limit
    cat = blocks_catalogue(64)
    logs = []
    train(cat, TrainConfig(epochs=1, time_limit=60, batch_size=16, threads=1,
                           val_fraction=0.2, projections=("tsne", "pca")),
          TINY_MODEL, tmp_path / "t", progress=False, log=logs.append)
    b = load_bundle(tmp_path / "t")
    assert b.info["metrics"]["budget"]["skipped"].keys() == {"tsne"}     # the plan
    assert sorted(b.projections) == ["pca", "tsne"]                      # what was made
    assert "skipped" not in b.info["projections"]
    assert any(ln.startswith("maps: ") and "left after training" in ln for ln in logs), logs
    # and the log says that more epochs would have fitted, and that they can overfit
    assert any(ln.startswith("training reached --epochs 1 after") and "about --epochs" in ln
               and "can overfit" in ln for ln in logs), logs


def test_a_run_that_writes_no_bundle_trains_for_the_whole_limit():
    # bench_recipe's runs write no bundle: nothing to encode or map after training, so none of
    # the 900 s is held back (a written bundle of 30,000 items at 64 px keeps ~215 s back)
    written = plan_run_budget(900, 30_000, 64, ("pca",))
    assert written.train_seconds < 700 and written.reserve_seconds > 200
    bare = plan_run_budget(900, 30_000, 64, ("pca",), writes_bundle=False)
    assert bare.train_seconds == 900 and bare.reserve_seconds == 0
