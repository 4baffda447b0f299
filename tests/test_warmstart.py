"""train --init-from BUNDLE: a warm start from a trained bundle's weights, refused with a clear
message (before training) when the bundle does not fit the run."""
import json

import pytest
import torch
from safetensors.torch import load_file

from explorer.bundle.core import load_bundle
from explorer.cli import main as cli_main
from explorer.training.config import TrainConfig, TrainingError
from explorer.training.loop import train
from tests.helpers import TINY_MODEL, blocks_catalogue

FAST = dict(batch_size=16, projections=("pca",), threads=1, val_fraction=0.2)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("warm")
    train(blocks_catalogue(64), TrainConfig(epochs=2, **FAST), TINY_MODEL, tmp / "base",
          progress=False, log=lambda *a: None)
    return tmp / "base"


def test_warm_start_begins_from_the_bundles_weights(base, tmp_path):
    grown = blocks_catalogue(80, seed=1)
    logs = []
    # a vanishing lr: the optimizer cannot move the weights, so they must equal the source's
    cfg = TrainConfig(epochs=1, lr=1e-30, init_from=str(base), **FAST)
    train(grown, cfg, {}, tmp_path / "ft", progress=False, log=logs.append)
    src, ft = load_file(str(base / "model.safetensors")), load_file(str(tmp_path / "ft" /
                                                                      "model.safetensors"))
    assert src.keys() == ft.keys()
    assert all(torch.allclose(src[k], ft[k], rtol=0, atol=1e-20) for k in src)
    b = load_bundle(tmp_path / "ft")
    assert b.info["train_config"]["init_from"] == str(base)
    assert b.info["metrics"]["init_from"]["catalogue_count"] == 64
    # settings not given come from the bundle; the colour curriculum is off
    assert b.info["model_config"]["latent_dim"] == 4
    assert b.info["model_config"]["channels"] == [8, 8, 8]
    assert b.info["model_config"]["colour_boost"] == 1.0
    assert any(ln.startswith("warm start:") for ln in logs)
    # from scratch with that lr the weights are a fresh initialisation, not the bundle's
    train(grown, TrainConfig(epochs=1, lr=1e-30, **FAST), TINY_MODEL, tmp_path / "scratch",
          progress=False, log=lambda *a: None)
    fresh = load_file(str(tmp_path / "scratch" / "model.safetensors"))
    assert not all(torch.allclose(src[k], fresh[k], rtol=0, atol=1e-20) for k in src)


@pytest.mark.parametrize("kwargs, values, match", [
    ({"model": "wae-mmd"}, {}, "it is a beta-vae model, this run trains wae-mmd"),
    ({}, {"latent_dim": 8}, "latent_dim 4, this run asks for 8"),
    ({}, {"hidden_dim": 64}, "do not fit this run's model.*hidden_dim"),
])
def test_a_mismatch_is_refused_before_training(base, tmp_path, kwargs, values, match):
    out = tmp_path / "x"
    with pytest.raises(TrainingError, match=match):
        train(blocks_catalogue(64), TrainConfig(epochs=1, init_from=str(base), **FAST, **kwargs),
              values, out, progress=False, log=lambda *a: None)
    assert not (out / "checkpoint").exists()


def test_other_image_size_and_not_a_bundle_are_named(base, tmp_path, capsys):
    blocks_catalogue(40, size=64).save(tmp_path / "cat64")
    assert cli_main(["train", str(tmp_path / "cat64"), "--out", str(tmp_path / "o"),
                     "--init-from", str(base), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "its model takes 32 px images" in err and "64 px" in err
    blocks_catalogue(40).save(tmp_path / "cat32")
    assert cli_main(["train", str(tmp_path / "cat32"), "--out", str(tmp_path / "o"),
                     "--init-from", str(tmp_path / "cat32"), "--epochs", "1"]) == 2
    assert "--init-from" in capsys.readouterr().err
    # a corrupted weights file is caught by its checksum
    bad = tmp_path / "bad"
    import shutil
    shutil.copytree(base, bad, ignore=shutil.ignore_patterns("checkpoint"))
    data = bytearray((bad / "model.safetensors").read_bytes())
    data[-1] ^= 1
    (bad / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(TrainingError, match="checksum"):
        train(blocks_catalogue(40), TrainConfig(epochs=1, init_from=str(bad), **FAST), {},
              tmp_path / "o2", progress=False, log=lambda *a: None)
    assert json.loads((base / "bundle.json").read_text())["model_kind"] == "beta-vae"
