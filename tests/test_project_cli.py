"""`python -m explorer project`: a map for a big bundle, fitted on a sample and applied in
batches, stored in the bundle so that it still verifies."""
from __future__ import annotations

import shutil

import numpy as np

from explorer.app import cache
from explorer.bundle.core import load_bundle
from explorer.cli import main
from explorer.latent.projection import pca_2d, project_large


def test_batches_equal_one_pass_and_a_sample_fit_is_close_to_the_full_fit():
    x = np.random.default_rng(0).normal(size=(5_000, 8)).astype(np.float32)
    x[:, 0] *= 5
    x[:, 1] *= 3
    a = project_large(x, "pca", sample=5_000, batch=5_000, progress=False)
    b = project_large(x, "pca", sample=5_000, batch=777, progress=False)
    np.testing.assert_allclose(a, b, atol=1e-5)
    full = pca_2d(x)
    part = project_large(x, "pca", sample=1_000, batch=1_000, progress=False)
    for j in range(2):                         # the same axes, up to sign
        assert abs(np.corrcoef(full[:, j], part[:, j])[0, 1]) > 0.99


def test_cli_writes_a_projection_the_bundle_still_verifies(tmp_path, capsys):
    src = load_bundle(cache.DEFAULT_BUNDLE, check_hashes=False).path
    dst = tmp_path / "bundle"
    shutil.copytree(src, dst)
    rc = main(["project", str(dst), "--method", "pca", "--sample", "3000", "--batch", "7000"])
    assert rc == 0
    out = capsys.readouterr()
    assert "fitting pca on 3,000 of 30,000" in out.out and "pca map of 30,000" in out.out
    assert "pca transform" in out.err                        # the tqdm bar
    b = load_bundle(dst, check_hashes=True)
    assert b.projections["pca"].shape == (30_000, 2) and "umap" in b.projections
    assert main(["project", str(dst), "--batch", "0"]) == 2
    assert main(["project", str(tmp_path)]) == 2


def test_cli_writes_a_tsne_map_and_refuses_what_tsne_cannot_do(tmp_path, capsys):
    from explorer.training.config import TrainConfig
    from explorer.training.loop import train
    from tests.helpers import TINY_MODEL, blocks_catalogue
    train(blocks_catalogue(64), TrainConfig(epochs=1, batch_size=16, projections=("pca",),
                                            threads=1, val_fraction=0.2),
          TINY_MODEL, tmp_path / "b", progress=False)
    assert main(["project", str(tmp_path / "b"), "--method", "tsne", "--dims", "3"]) == 2
    assert main(["project", str(tmp_path / "b"), "--method", "tsne", "--sample", "10"]) == 2
    assert "fitted on every item" in capsys.readouterr().err
    assert main(["project", str(tmp_path / "b"), "--method", "tsne"]) == 0
    assert "tsne map of 64 items" in capsys.readouterr().out
    b = load_bundle(tmp_path / "b", check_hashes=True)
    assert b.projections["tsne"].shape == (64, 2) and np.isfinite(b.projections["tsne"]).all()
