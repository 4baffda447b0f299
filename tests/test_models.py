import dataclasses

import numpy as np
import pytest
import torch

from explorer.models import MODEL_KINDS, build_model, make_config
from tests.helpers import TINY_MODEL

KINDS = list(MODEL_KINDS)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("size", [32, 64])
def test_forward_shapes_and_finite_loss(kind, size):
    torch.manual_seed(0)
    model = build_model(kind, {**TINY_MODEL, "image_size": size})
    x = torch.rand(6, 3, size, size)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (6, 4)
    assert model.decode(mu).shape == x.shape
    rec = model.reconstruct(x)
    assert rec.min() >= 0 and rec.max() <= 1
    out = model.loss(x, step=5, dataset_size=100)
    assert out.loss.ndim == 0 and torch.isfinite(out.loss)
    assert out.recon.shape == (6,)
    assert out.z.shape == (6, 4)
    assert all(torch.isfinite(v) for v in out.parts.values())


@pytest.mark.parametrize("kind", KINDS)
def test_one_step_changes_weights(kind):
    torch.manual_seed(0)
    model = build_model(kind, {**TINY_MODEL, "image_size": 32})
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    out = model(torch.rand(8, 3, 32, 32), 1, 100)
    out.loss.backward()
    opt.step()
    changed = [not torch.equal(a, b) for a, b in zip(before, model.parameters())]
    assert all(changed), "every parameter should receive a gradient"


@pytest.mark.parametrize("kind", KINDS)
def test_config_round_trip_rebuilds_same_model(kind):
    cfg = make_config(kind, {**TINY_MODEL, "image_size": 64})
    again = make_config(kind, cfg.to_dict())
    assert again == cfg
    a, b = build_model(kind, cfg), build_model(kind, again)
    assert {k: v.shape for k, v in a.state_dict().items()} == \
        {k: v.shape for k, v in b.state_dict().items()}
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.latent_dim = 3


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="power of two"):
        make_config("beta-vae", {"image_size": 48})
    with pytest.raises(ValueError, match="recon_loss"):
        make_config("beta-vae", {"recon_loss": "l7"})
    with pytest.raises(ValueError, match="unknown beta-vae config keys"):
        make_config("beta-vae", {"mmd_weight": 3.0})
    with pytest.raises(ValueError, match="unknown model kind"):
        make_config("gan", {})


def test_capacity_annealing_targets_rising_kl():
    model = build_model("beta-vae", {**TINY_MODEL, "image_size": 32, "beta": 10.0,
                                     "capacity_max": 20.0, "capacity_steps": 100})
    x = torch.rand(4, 3, 32, 32)
    assert float(model.loss(x, step=0).parts["capacity"]) == 0.0
    assert float(model.loss(x, step=50).parts["capacity"]) == pytest.approx(10.0)
    assert float(model.loss(x, step=500).parts["capacity"]) == pytest.approx(20.0)


def test_wae_mmd_is_small_for_prior_samples_and_large_for_shifted():
    from explorer.models.wae import imq_mmd
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(256, 4, generator=g), torch.randn(256, 4, generator=g)
    same = float(imq_mmd(a, b, 1.0, (1.0,)))
    shifted = float(imq_mmd(a + 2.0, b, 1.0, (1.0,)))
    assert abs(same) < 0.02 < shifted


def test_colour_curriculum_schedule_and_weighting():
    from explorer.models.base import ModelConfig, colour_weight, squared_error
    cfg = ModelConfig(colour_boost=21.0, colour_boost_steps=100)
    assert colour_weight(cfg, 0) == 21.0
    assert colour_weight(cfg, 50) == pytest.approx(11.0)
    assert colour_weight(cfg, 100) == 1.0 and colour_weight(cfg, 10**6) == 1.0
    assert colour_weight(ModelConfig(colour_boost=1.0), 0) == 1.0
    torch.manual_seed(0)
    a, b = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    # weight 1: the plain squared error (the opponent basis is orthonormal)
    assert torch.allclose(squared_error(a, b, 1.0).sum(), (a - b).pow(2).sum())
    assert torch.allclose(squared_error(a, b, 1.0 + 1e-9).sum(), (a - b).pow(2).sum(), rtol=1e-5)
    # a pure luminance error is not boosted, a pure colour error is
    grey = torch.full((1, 3, 4, 4), 0.1)
    assert torch.allclose(squared_error(grey, torch.zeros_like(grey), 9.0).sum(),
                          grey.pow(2).sum())
    red_green = torch.tensor([0.1, -0.1, 0.0]).view(1, 3, 1, 1).expand(1, 3, 4, 4)
    assert torch.allclose(squared_error(red_green, torch.zeros_like(red_green), 9.0).sum(),
                          9 * red_green.pow(2).sum())
    with pytest.raises(ValueError, match="colour_boost"):
        ModelConfig(colour_boost=0.5)


def test_region_colour_term_weighs_block_means_only():
    # region_weight w: the block-mean part of the error counts 1 + w times, the rest once
    from explorer.models.base import ModelConfig, squared_error
    x = torch.zeros(1, 3, 8, 8)
    flat = torch.full((1, 3, 8, 8), 0.1)                      # all low frequency
    assert torch.allclose(squared_error(flat, x, 1.0, 3.0, 4), 4 * flat.pow(2).flatten(1))
    checker = 0.1 * (-1.0) ** (torch.arange(8).view(8, 1) + torch.arange(8).view(1, 8))
    checker = checker.expand(1, 3, 8, 8)                       # zero mean in every 2x2 block
    assert torch.allclose(squared_error(checker, x, 1.0, 3.0, 4), checker.pow(2).flatten(1))
    # one red 4x4 quadrant on a 2x2 grid: its mean error is weighted in that quadrant only
    quad = torch.zeros(1, 3, 8, 8)
    quad[0, 0, :4, :4] = 0.2
    quad[0, 0, 0, 0] = 0.6                                     # block mean 0.225
    se = squared_error(quad, x, 1.0, 2.0, 2).view(1, 3, 8, 8)
    assert torch.allclose(se[0, 0, 1, 1], torch.tensor(0.04 + 2 * 0.225 ** 2))
    assert torch.allclose(se[0, 0, 4:, :], torch.zeros(4, 8)) and se[0, 1:].abs().max() == 0
    # with the colour boost, the block means' colour channels are weighted like the pixels'
    red_green = torch.tensor([0.1, -0.1, 0.0]).view(1, 3, 1, 1).expand(1, 3, 8, 8)
    assert torch.allclose(squared_error(red_green, x, 9.0, 1.0, 4).sum(),
                          2 * 9 * red_green.pow(2).sum())
    with pytest.raises(ValueError, match="region_grid"):
        ModelConfig(image_size=64, region_grid=12)


@pytest.mark.parametrize("kind", KINDS)
def test_linear_path_starts_as_pca(kind):
    # the default recipe's start: decode(encode(x)) is the PCA reconstruction (clipped), and
    # the codes are whitened (unit variance on the data they were fitted on)
    from sklearn.decomposition import PCA
    from tests.helpers import blocks_catalogue
    imgs = blocks_catalogue(96).images
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 255.0
    torch.manual_seed(0)
    model = build_model(kind, {**TINY_MODEL, "image_size": 32, "linear_path": True})
    info = model.init_from_pca(x)
    flat = x.permute(0, 1, 2, 3).reshape(len(x), -1).numpy()
    pca = PCA(4).fit(flat)
    want = np.clip(pca.inverse_transform(pca.transform(flat)), 0, 1)
    with torch.no_grad():
        got = model.reconstruct(x).reshape(len(x), -1).numpy()
        mu = model.encode(x)[0].numpy()
    assert np.abs(got - want).max() < 2e-3
    assert info["explained"] == pytest.approx(pca.explained_variance_ratio_.sum(), abs=1e-3)
    assert mu.std(0, ddof=1) == pytest.approx(np.ones(4), abs=1e-3)
    # and training moves on from there: every parameter gets a gradient after two steps
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = [p.detach().clone() for p in model.parameters()]
    for step in range(2):
        opt.zero_grad()
        model.loss(x[:16], step, 96, progress=0.1).loss.backward()
        opt.step()
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


@pytest.mark.parametrize("whiten", [0.0, 0.5])
def test_linear_whiten_keeps_pca_proportions(whiten):
    # linear_whiten w < 1: code_i = PCA projection_i / sd_i**w, rescaled to mean variance 1,
    # so with w = 0 the codes are PCA's own codes times one constant (the same neighbours as
    # PCA), and the decoder still inverts them to the PCA reconstruction
    from sklearn.decomposition import PCA
    from tests.helpers import blocks_catalogue
    x = torch.from_numpy(blocks_catalogue(96).images).permute(0, 3, 1, 2).float() / 255.0
    torch.manual_seed(0)
    model = build_model("beta-vae", {**TINY_MODEL, "image_size": 32, "linear_path": True,
                                     "linear_whiten": whiten})
    model.init_from_pca(x)
    flat = x.reshape(len(x), -1).numpy()
    pca = PCA(4).fit(flat)
    with torch.no_grad():
        mu = model.encode(x)[0].numpy()
        got = model.reconstruct(x).reshape(len(x), -1).numpy()
    assert np.abs(got - np.clip(pca.inverse_transform(pca.transform(flat)), 0, 1)).max() < 2e-3
    sd_pca = pca.transform(flat).std(0, ddof=1)
    want = sd_pca ** (1 - whiten)
    want = want / np.sqrt(np.mean(want ** 2))
    assert mu.std(0, ddof=1) == pytest.approx(want, rel=2e-3)
    assert np.mean(mu.var(0, ddof=1)) == pytest.approx(1.0, rel=1e-3)
    if whiten == 0.0:  # one constant times PCA's codes, up to each component's sign
        ratio = np.abs(mu) / np.maximum(np.abs(pca.transform(flat)), 1e-9)
        big = np.abs(pca.transform(flat)) > 1e-2
        assert np.allclose(ratio[big], ratio[big].mean(), rtol=5e-3)
    with pytest.raises(ValueError, match="linear_whiten"):
        make_config("beta-vae", {"linear_whiten": 1.5})


def test_linear_chroma_takes_the_pca_in_a_colour_weighted_basis():
    # linear_chroma c: the linear paths come from the PCA of the images in the opponent-colour
    # basis with both colour channels times c, mapped back to pixels: the codes are that
    # PCA's codes (w = 0: times one constant, up to sign) and the linear decoder inverts them
    # to its reconstruction in RGB; c = 1 is plain PCA (the test above)
    from sklearn.decomposition import PCA
    from explorer.models.losses import opponent_basis
    from tests.helpers import blocks_catalogue
    x = torch.from_numpy(blocks_catalogue(96).images).permute(0, 3, 1, 2).float() / 255.0
    mix = (torch.diag(torch.tensor([1.0, 3.0, 3.0])) @ opponent_basis()).numpy()
    y = np.einsum("kc,nchw->nkhw", mix, x.numpy()).reshape(len(x), -1)
    pca = PCA(4).fit(y)
    torch.manual_seed(0)
    model = build_model("beta-vae", {**TINY_MODEL, "image_size": 32, "linear_path": True,
                                     "linear_whiten": 0.0, "linear_chroma": 3.0})
    model.init_from_pca(x)
    with torch.no_grad():
        mu = model.encode(x)[0].numpy()
        got = model.reconstruct(x).numpy()
    codes = pca.transform(y)
    ratio = np.abs(mu) / np.maximum(np.abs(codes), 1e-9)
    big = np.abs(codes) > 1e-2
    assert np.allclose(ratio[big], ratio[big].mean(), rtol=5e-3)
    rec_y = pca.inverse_transform(codes).reshape(x.shape)
    want = np.clip(np.einsum("ck,nkhw->nchw", np.linalg.inv(mix), rec_y), 0, 1)
    assert np.abs(got - want).max() < 2e-3
    # the weighted PCA is not the plain one: its codes differ from plain PCA's
    plain = PCA(4).fit_transform(x.reshape(len(x), -1).numpy())
    assert not np.allclose(np.abs(np.corrcoef(plain.T, codes.T)[:4, 4:]).max(0), 1, atol=1e-3)
    for bad in (0.0, -1.0, 11.0):
        with pytest.raises(ValueError, match="linear_chroma"):
            make_config("beta-vae", {"linear_chroma": bad})


def test_old_configs_rebuild_the_old_nets():
    # bundles saved before the recipe options keep their architecture: the new fields default
    # to the old nets (no linear path, no residual blocks; the study bundle), the demo, trained
    # with the recipe, keeps its linear paths, and both encode as their stored codes
    from explorer.bundle.core import load_bundle
    for name, linear in (("demo", True), ("study", False)):
        b = load_bundle(f"checkpoints/{name}")
        assert b.model.cfg.linear_path == linear and b.model.cfg.res_blocks == 0, name
        x = torch.from_numpy(b.images.all()[:4]).permute(0, 3, 1, 2).float() / 255.0
        with torch.no_grad():  # the demo packs its images as WebP: close, not equal
            mu = b.model.encode(x)[0].numpy()
        assert np.corrcoef(mu.ravel(), b.mu[:4].ravel())[0, 1] > 0.98


@pytest.mark.parametrize("kind", KINDS)
def test_residual_blocks_and_128_px(kind):
    torch.manual_seed(0)
    model = build_model(kind, {**TINY_MODEL, "image_size": 128, "res_blocks": 1,
                               "linear_path": True})
    x = torch.rand(2, 3, 128, 128)
    model.init_from_pca(torch.rand(8, 3, 128, 128))
    assert model.reconstruct(x).shape == x.shape
    assert torch.isfinite(model.loss(x, 0, 10, 0.5).loss)
    with pytest.raises(ValueError, match="linear_path"):
        make_config(kind, {"recon_loss": "bernoulli", "linear_path": True})


def test_the_recipe_keeps_part_of_pcas_proportions():
    # new runs start from codes that keep part of PCA's scale (README, "Part colours"); a
    # saved config without the field rebuilds the whitened start of the first recipe
    from explorer.training.config import TrainConfig
    from explorer.training.settings import model_settings
    from tests.helpers import blocks_catalogue
    mcfg, _ = model_settings(TrainConfig(), {"latent_dim": 4}, blocks_catalogue(8), False, 1)
    assert mcfg.linear_path and mcfg.linear_whiten == 0.25
    mcfg, _ = model_settings(TrainConfig(), {"linear_whiten": 1.0}, blocks_catalogue(8), False, 1)
    assert mcfg.linear_whiten == 1.0
    assert make_config("beta-vae", {}).linear_whiten == 1.0


def test_the_log_variance_floor_is_a_setting_old_configs_keep_at_minus_12():
    from explorer.models.base import LOGVAR_FLOOR
    tiny = {**TINY_MODEL, "image_size": 32}
    assert make_config("beta-vae", tiny).logvar_floor == LOGVAR_FLOOR == -12.0  # no key: old
    for floor in (-12.0, -20.0):
        cfg = make_config("beta-vae", {**tiny, "logvar_floor": floor})
        assert make_config("beta-vae", cfg.to_dict()).logvar_floor == floor
        model = build_model("beta-vae", cfg)
        with torch.no_grad():
            last = model.encoder.fc[-1]
            last.weight.zero_()
            last.bias[:] = -40.0                           # asks for far below any floor
            _, logvar = model.encode(torch.rand(3, 3, 32, 32))
        assert torch.equal(logvar, torch.full_like(logvar, floor))
    for bad in (-31.0, -3.0, float("nan"), True):
        with pytest.raises(ValueError, match="logvar_floor"):
            make_config("beta-vae", {**tiny, "logvar_floor": bad})
