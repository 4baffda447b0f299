"""Issue 14's options beside the default recipe: the sharpness figure, the adversarial
(patch discriminator) option for every model kind, and 128 px end to end."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter
from safetensors.torch import load_file

from explorer.bundle.core import load_bundle
from explorer.evaluation.evaluate import evaluate_bundle
from explorer.metrics.sharpness import sharpness_ratio
from explorer.models import MODEL_KINDS
from explorer.models.code_scale import kl_best_scale
from explorer.data.synthetic import generate
from explorer.training.config import TrainConfig
from explorer.training.loop import train
from tests.helpers import TINY_MODEL, blocks_catalogue

FAST = dict(batch_size=16, projections=("pca",), threads=1, val_fraction=0.2)


def test_sharpness_is_one_for_the_originals_and_lower_for_blur():
    imgs = generate(16, size=64, seed=3, workers=1, progress=False).images
    blurred = np.stack([np.asarray(Image.fromarray(im).filter(ImageFilter.GaussianBlur(1.5)))
                        for im in imgs])
    assert sharpness_ratio(imgs, imgs) == pytest.approx(1.0)
    assert sharpness_ratio(imgs, blurred) < 0.8
    flat = np.full_like(imgs, 200)
    assert sharpness_ratio(imgs, flat) == 0.0
    assert np.isnan(sharpness_ratio(flat, imgs))
    with pytest.raises(ValueError, match="differ in shape"):
        sharpness_ratio(imgs, imgs[:3])


@pytest.mark.parametrize("kind", list(MODEL_KINDS))
def test_adversarial_option_trains_a_discriminator_for_every_kind(kind, tmp_path):
    cat = blocks_catalogue(64)
    out = tmp_path / kind
    train(cat, TrainConfig(model=kind, epochs=2, adversarial=0.5, adversarial_start=0.25,
                           **FAST), TINY_MODEL, out, progress=False, log=lambda *a: None)
    b = load_bundle(out)
    last = b.history[-1]["train"]
    assert np.isfinite(last["adv"]) and np.isfinite(last["d_loss"]) and last["d_loss"] > 0
    ck = load_file(str(out / "checkpoint" / "state.safetensors"))
    assert any(k.startswith("disc.") for k in ck)               # kept for --resume
    assert not any("disc" in k for k in load_file(str(out / "model.safetensors")))
    # the evaluation shows the sharpness figure beside PSNR for the model and for PCA
    res = evaluate_bundle(b)
    assert all(r["sharp"] is not None and r["sharp"] > 0 for r in res["rows"])


def test_128_px_end_to_end(tmp_path):
    # a few steps at 128 px write a bundle that loads and reconstructs at 128 px
    cat = generate(24, size=128, seed=5, workers=1, progress=False)
    train(cat, TrainConfig(epochs=1, **FAST), TINY_MODEL, tmp_path / "b128", progress=False,
          log=lambda *a: None)
    b = load_bundle(tmp_path / "b128")
    assert b.image_size == 128 and b.model.cfg.image_size == 128
    assert b.model.cfg.linear_path  # the default recipe, at 128 px too
    x = torch.from_numpy(cat.images[:2]).permute(0, 3, 1, 2).float() / 255.0
    with torch.no_grad():
        assert b.model.reconstruct(x).shape == (2, 3, 128, 128)
    assert b.images.all().shape == (24, 128, 128, 3)
    # the model card's held-out sheet stays as wide as the page: ten 128 px columns come in
    # two blocks of five (original over reconstruction), never shrunk by the browser
    from explorer.app import cache_pictures
    sheet = np.asarray(cache_pictures.reconstruction_sheet(b))
    assert sheet.shape[1] <= 820 and sheet.shape[0] > 4 * 128, sheet.shape
    # so does the Factor sliders' traversal grid: 7 columns of 128 px continue below (4 + 3),
    # while its download holds the whole grid in one block
    import io

    from PIL import Image
    z, dims, labels = b.mu[0], (0, 1, 2), ["dim 0", "dim 1", "dim 2"]
    shown = Image.open(io.BytesIO(cache_pictures.traversal_grid_png(b, z, dims, 7, labels)))
    whole = Image.open(io.BytesIO(cache_pictures.traversal_grid_png(b, z, dims, 7, labels,
                                                                   whole=True)))
    assert shown.width <= 820 and shown.height > 6 * 128, shown.size     # two blocks of 3 rows
    assert whole.width > 7 * 128 and 3 * 128 < whole.height < 4 * 128, whole.size


def test_the_linear_fade_hands_the_code_to_the_conv_nets(tmp_path, monkeypatch):
    from explorer.training.config import TrainingError
    from explorer.training.schedule import linear_scale
    cfg = TrainConfig(linear_fade=0.5, linear_fade_start=0.1)
    assert [linear_scale(cfg, p) for p in (0.0, 0.1, 0.3, 0.5, 0.9)] == \
        pytest.approx([1.0, 1.0, 0.5, 0.0, 0.0])
    assert linear_scale(TrainConfig(), 0.9) == 1.0          # off by default
    for bad in (dict(linear_fade=1.5), dict(linear_fade=0.3, linear_fade_start=0.3),
                dict(linear_fade=0.5, linear_lr=0.1)):
        with pytest.raises(ValueError, match="linear_fade"):
            TrainConfig(**bad)

    # the fade is multiplicative (a resumed run needs no copy of the initial basis) and never
    # grows back
    from explorer.models import build_model
    from explorer.training.schedule import fade_linear_paths
    m = build_model("beta-vae", MODEL_KINDS["beta-vae"][0](image_size=32, linear_path=True,
                                                             **TINY_MODEL))
    torch.nn.init.normal_(m.lin_enc.weight)
    w0, b0 = m.lin_enc.weight.clone(), m.lin_dec.bias.clone()
    assert fade_linear_paths(m, 1.0, 0.5) == 0.5 and torch.allclose(m.lin_enc.weight, w0 / 2)
    assert fade_linear_paths(m, 0.5, 0.25) == 0.25 and torch.allclose(m.lin_enc.weight, w0 / 4)
    assert fade_linear_paths(m, 0.25, 0.3) == 0.25 and torch.allclose(m.lin_enc.weight, w0 / 4)
    assert fade_linear_paths(m, 0.25, 0.0) == 0.0 and not m.lin_enc.weight.any()
    assert fade_linear_paths(m, 0.0, 0.5) == 0.0 and not m.lin_enc.weight.any()
    assert torch.equal(m.lin_dec.bias, b0)

    cat = blocks_catalogue(64)
    plain, faded = tmp_path / "plain", tmp_path / "faded"
    from explorer.training import loop
    monkeypatch.setattr(loop, "LONG_RUN_STEPS", 6)      # a "long" run here: 3 x 4 steps
    said: list[str] = []
    train(cat, TrainConfig(epochs=3, **FAST), TINY_MODEL, plain, progress=False,
          log=said.append)
    assert any("--linear-fade 0.5" in s for s in said)  # suggested for a long run
    lines: list[str] = []
    train(cat, TrainConfig(epochs=3, linear_fade=0.6, linear_fade_start=0.2, ema=0, **FAST),
          TINY_MODEL, faded, progress=False, log=lines.append)
    assert any("fade out from 20% to 60%" in s for s in lines)
    assert not any("--linear-fade 0.5" in s for s in lines)
    w_plain = load_file(str(plain / "model.safetensors"))
    assert float(w_plain["lin_enc.weight"].norm()) > 0   # the frozen PCA basis, not faded
    w = load_file(str(faded / "model.safetensors"))      # (no EMA here: it lags the fade)
    for k in ("lin_enc.weight", "lin_enc.bias", "lin_dec.weight"):
        assert float(w_plain[k].norm()) > 0 and not w[k].any(), k
    assert torch.equal(w["lin_dec.bias"], w_plain["lin_dec.bias"])   # the mean image stays
    from explorer.bundle.info import describe_bundle
    assert "linear paths faded out from 20% to 60% of the run" in describe_bundle(faded)
    assert "faded" not in describe_bundle(plain)
    b = load_bundle(faded)
    # the conv encoder's residual codes start at 0: after the fade they are put back at the
    # prior's scale (explorer.models.code_scale), the same pictures and neighbours
    settled = b.info["metrics"]["code_scale"]
    assert settled["applied"] and settled["kl_after"] < settled["kl_before"]
    assert any(f"codes rescaled x{settled['factor']:.3g}" in s for s in lines)
    assert kl_best_scale(torch.from_numpy(b.mu), torch.from_numpy(b.logvar)) == \
        pytest.approx(1.0, rel=0.2)   # all the items, measured on 80% of them
    codes = b.model.encode(torch.rand(4, 3, 32, 32))[0]
    assert codes.abs().sum() > 0 and torch.isfinite(codes).all()   # the conv nets carry it
    with pytest.raises(TrainingError, match="no-linear-path"):
        train(cat, TrainConfig(epochs=1, linear_fade=0.5, **FAST),
              {**TINY_MODEL, "linear_path": False}, tmp_path / "none", progress=False,
              log=lambda *a: None)
