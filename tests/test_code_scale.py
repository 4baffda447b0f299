"""The codes' overall scale (explorer.models.code_scale): rescaling them is exact for the
pictures and the neighbour order, and a run whose codes drifted from the prior's scale is put
back at the KL's best one before its bundle is written."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from explorer.models import build_model
from explorer.models.base import gaussian_kl
from explorer.models.code_scale import kl_best_scale, rescale_codes, settle_code_scale
from tests.helpers import TINY_MODEL, blocks_catalogue


def _model(kind: str = "beta-vae", **extra) -> torch.nn.Module:
    torch.manual_seed(0)
    m = build_model(kind, {**TINY_MODEL, "image_size": 32, **extra}).eval()
    for p in m.parameters():   # every weight non-zero (a linear path's residual starts at 0)
        if not p.any():
            torch.nn.init.normal_(p, std=0.05)
    return m


def _data(n: int = 96) -> torch.Tensor:
    return torch.from_numpy(np.array(blocks_catalogue(n).images, dtype=np.uint8))


def _x(data: torch.Tensor) -> torch.Tensor:
    return data.permute(0, 3, 1, 2).float() / 255.0


def _kl(mu: torch.Tensor, lv: torch.Tensor) -> float:
    return float(gaussian_kl(mu, lv).sum(1).mean())


@pytest.mark.parametrize("kind, linear_path", [("beta-vae", False), ("beta-vae", True),
                                               ("beta-tcvae", True)])
def test_rescaling_the_codes_keeps_the_pictures_and_the_neighbours(kind, linear_path):
    m = _model(kind, linear_path=linear_path)
    x = _x(_data(32))
    with torch.no_grad():
        mu0, lv0 = m.encode(x)
        pictures0 = m.reconstruct(x)
        prior0 = m.decode(mu0[:4] * 0.5)
        rescale_codes(m, 3.0)
        mu1, lv1 = m.encode(x)
        pictures1 = m.reconstruct(x)
        prior1 = m.decode(mu1[:4] * 0.5)
    assert torch.allclose(mu1, 3.0 * mu0, atol=1e-5)
    inside = (lv0 > m.cfg.logvar_floor + 1) & (lv0 < 8.0 - 3)
    assert inside.all()
    assert torch.allclose(lv1, lv0 + 2 * math.log(3.0), atol=1e-5)   # the same noise, scaled
    assert torch.allclose(pictures1, pictures0, atol=1e-5)
    assert torch.allclose(prior1, prior0, atol=1e-5)                 # any code, not just mu
    order0 = torch.cdist(mu0, mu0).argsort(1)
    assert torch.equal(torch.cdist(mu1, mu1).argsort(1), order0)
    with pytest.raises(ValueError, match="positive"):
        rescale_codes(m, 0.0)
    with pytest.raises(ValueError, match="positive"):
        rescale_codes(m, float("nan"))


def test_kl_best_scale_is_the_minimum_of_the_kl_over_a_global_scale():
    g = torch.Generator().manual_seed(1)
    mu = 0.2 * torch.randn(500, 6, generator=g)
    lv = torch.full((500, 6), -7.0)
    k = kl_best_scale(mu, lv)
    kls = {c: _kl(mu * c, lv + 2 * math.log(c)) for c in (k * 0.9, k, k * 1.1)}
    assert kls[k] < kls[k * 0.9] and kls[k] < kls[k * 1.1]
    assert k == pytest.approx(1 / math.sqrt(float((mu.pow(2) + lv.exp()).sum(1).mean()) / 6))
    assert kl_best_scale(mu * k, lv + 2 * math.log(k)) == pytest.approx(1.0, rel=1e-6)


def test_codes_that_shrank_are_put_back_at_the_prior_scale_and_others_are_left_alone():
    data = _data()
    idx = np.arange(len(data))
    m = _model()
    with torch.no_grad():
        mu, lv = m.encode(_x(data))
    rescale_codes(m, kl_best_scale(mu, lv))            # a model at the prior's scale
    kept = {k: v.clone() for k, v in m.state_dict().items()}
    said: list[str] = []
    r = settle_code_scale(m, data, idx, log=said.append)
    assert r["applied"] is False and r["factor"] == pytest.approx(1.0, abs=1e-3)
    assert all(torch.equal(kept[k], v) for k, v in m.state_dict().items()) and not said

    rescale_codes(m, 0.1)                              # its codes shrink ten-fold
    with torch.no_grad():
        shrunk = m.reconstruct(_x(data))
    r = settle_code_scale(m, data, idx, log=said.append)
    assert r["applied"] is True and r["factor"] == pytest.approx(10.0, rel=1e-3)
    assert r["kl_after"] < r["kl_before"]
    assert said and "rescaled x10" in said[0] and "KL" in said[0]
    with torch.no_grad():
        mu2, lv2 = m.encode(_x(data))
        assert torch.allclose(m.reconstruct(_x(data)), shrunk, atol=1e-5)
    assert kl_best_scale(mu2, lv2) == pytest.approx(1.0, rel=1e-3)
    assert r["kl_after"] == pytest.approx(_kl(mu2, lv2), abs=0.006)   # (rounded)
    assert m.training is False


def test_posteriors_on_the_floor_are_left_as_trained_and_deterministic_models_skipped():
    data = _data()
    idx = np.arange(len(data))
    m = _model()
    d = m.cfg.latent_dim
    with torch.no_grad():
        m.encoder.fc[-1].bias[d:] = -40.0           # every log-variance on the -12 clamp
        m.encoder.fc[-1].weight[d:] = 0.0
    rescale_codes(m, 0.05)   # small codes: growing them costs mu^2 while the clamp holds sigma
    kept = {k: v.clone() for k, v in m.state_dict().items()}
    said: list[str] = []
    r = settle_code_scale(m, data, idx, log=said.append)
    assert r["factor"] > 1.25 and r["applied"] is False
    assert r["kl_after"] == r["kl_before"]
    assert all(torch.equal(kept[k], v) for k, v in m.state_dict().items())
    assert said and "log-variance floor" in said[0]

    assert settle_code_scale(_model("wae-mmd"), data, idx) is None
    assert settle_code_scale(_model(), data, idx[:0]) is None

