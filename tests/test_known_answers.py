"""Known answers for the models' losses: each expected value is worked out by hand (the sum is in
the comment) or from a closed form, so that a wrong sign, a dropped term or a wrong normaliser
fails here instead of training quietly to a worse model."""
import math

import numpy as np
import pytest
import torch

from explorer.models import build_model
from explorer.models.base import gaussian_kl, recon_nll
from explorer.models.wae import imq_mmd
from tests.helpers import TINY_MODEL

LOG2PI = math.log(2 * math.pi)


# ---------------------------------------------------------------------------- KL to the prior
def test_gaussian_kl_known_values():
    # KL(N(m, s2) || N(0, 1)) = (m^2 + s2 - 1 - log s2) / 2, per dimension
    mu = torch.tensor([[0.0, 1.0, 0.5], [2.0, 0.0, 0.0]])
    logvar = torch.tensor([[0.0, 0.0, math.log(0.25)], [math.log(4.0), 2.0, -2.0]])
    want = torch.tensor([
        [0.0,                 # the prior itself
         0.5,                 # (1 + 1 - 1 - 0) / 2
         0.4431471806],       # (0.25 + 0.25 - 1 + log 4) / 2
        [2.8068528194,        # (4 + 4 - 1 - log 4) / 2
         2.1945280495,        # (e^2 - 1 - 2) / 2
         0.5676676416]])      # (e^-2 - 1 + 2) / 2
    got = gaussian_kl(mu, logvar)
    assert got.shape == (2, 3)
    assert torch.allclose(got, want, atol=1e-6)


# ---------------------------------------------------------------------------- likelihoods
def test_sigma_vae_nll_uses_the_optimal_shared_variance():
    # two images of 3 x 2 x 2 pixels (d = 12), errors 0.1 and 0.3 everywhere: the optimal
    # shared variance is the batch MSE, (0.01 + 0.09) / 2 = 0.05, and each image's NLL is
    #   sum(se) / (2 var) + d/2 (log var + log 2 pi)
    #   image 0: 0.12 / 0.1 + 6 (log 0.05 + log 2 pi) = 1.2 - 6.9471316 = -5.7471316
    #   image 1: 1.08 / 0.1 - 6.9471316 = 3.8528684
    x = torch.zeros(2, 3, 2, 2)
    pred = torch.stack([torch.full((3, 2, 2), 0.1), torch.full((3, 2, 2), 0.3)])
    want = torch.tensor([-5.7471316, 3.8528684])
    assert torch.allclose(recon_nll("gaussian", pred, x, pixels=True), want, atol=1e-4)
    # the same through the sigmoid (a conv decoder's logits)
    assert torch.allclose(recon_nll("gaussian", torch.logit(pred), x), want, atol=1e-4)
    # and it is the Gaussian log-density at sigma^2 = batch MSE, the variance that maximises
    # the batch's likelihood: any other shared variance gives a larger total NLL
    normal = torch.distributions.Normal(pred, math.sqrt(0.05))
    assert torch.allclose(-normal.log_prob(x).flatten(1).sum(1), want, atol=1e-4)
    for var in (0.04, 0.06):
        other = -torch.distributions.Normal(pred, math.sqrt(var)).log_prob(x).sum()
        assert float(other) > float(want.sum()) + 0.05


def test_bernoulli_and_mse_nll_known_values():
    x = torch.tensor([1.0, 0.0, 0.5, 1.0]).view(1, 1, 2, 2)
    logits = torch.tensor([0.0, math.log(3.0), 0.0, -math.log(3.0)]).view(1, 1, 2, 2)
    # -log p(x): p = sigmoid(logit) = 0.5, 0.75, 0.5, 0.25
    #   x=1, p=.5: log 2;  x=0, p=.75: -log .25;  x=.5, p=.5: log 2;  x=1, p=.25: -log .25
    want = 2 * math.log(2.0) + 2 * math.log(4.0)          # 4.1588830834
    assert float(recon_nll("bernoulli", logits, x)) == pytest.approx(want, abs=1e-5)
    # mse: the summed squared error of the sigmoid images, 0.25 + 0.5625 + 0 + 0.5625
    assert float(recon_nll("mse", logits, x)) == pytest.approx(1.375, abs=1e-5)


# ---------------------------------------------------------------------------- β-TCVAE
def _tcvae_parts(mu: torch.Tensor, logvar: torch.Tensor, dataset_size: int) -> dict:
    """BetaTCVAE.loss's decomposition for a posterior given directly (the encoder and decoder
    are replaced: only the aggregate-posterior estimate runs)."""
    model = build_model("beta-tcvae", {**TINY_MODEL, "latent_dim": mu.shape[1],
                                       "image_size": 32})
    model.encode = lambda x: (mu, logvar)
    model._recon = lambda x, z, step=0, progress=None: (torch.zeros(len(z)), None)
    torch.manual_seed(0)
    out = model.loss(torch.zeros(len(mu), 1), 0, dataset_size=dataset_size)
    return {k: float(v) for k, v in out.parts.items()}


def _gaussian_case(d: int, rho: float, n: int = 2000, prior_share: float = 0.75,
                   var: float = 0.25):
    """Posterior means mu_n ~ N(0, prior_share * C) (C: unit diagonal, rho off it) and a shared
    posterior variance: the aggregate posterior is N(0, S), S = prior_share * C + var * I, so
    TC = -log det(corr(S)) / 2, I(x; z) = (log det S - d log var) / 2 and the dimension-wise KL
    is sum_d KL(N(0, S_dd) || N(0, 1))."""
    c = torch.full((d, d), rho, dtype=torch.float64)
    c.fill_diagonal_(1.0)
    g = torch.Generator().manual_seed(1)
    mu = torch.randn(n, d, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(c).T
    mu = (mu * math.sqrt(prior_share)).float()
    logvar = torch.full((n, d), math.log(var))
    s = prior_share * c + var * torch.eye(d, dtype=torch.float64)
    sd = s.diagonal().sqrt()
    exact = {"tc": -0.5 * float(torch.logdet(s / sd[:, None] / sd[None, :])),
             "mi": 0.5 * float(torch.logdet(s) - d * math.log(var)),
             "dim_kl": sum(0.5 * (float(v) - 1.0 - math.log(float(v))) for v in s.diagonal())}
    return mu, logvar, exact


@pytest.mark.parametrize("d,rho", [(2, 0.0), (2, 0.8), (3, 0.6)])
@pytest.mark.parametrize("dataset_size", [2000, 20000])
def test_tcvae_decomposition_matches_the_exact_gaussian_values(d, rho, dataset_size):
    """The minibatch estimate of the aggregate posterior, normalised by log B (Chen et al.'s
    code uses log(B N): its TC would read (d - 1) log N high, its MI log N high and its
    dimension-wise KL d log N low), checked against the exact values of a Gaussian aggregate
    posterior, at two dataset sizes (which must not move the estimate)."""
    mu, logvar, exact = _gaussian_case(d, rho)
    p = _tcvae_parts(mu, logvar, dataset_size)
    assert p["tc"] == pytest.approx(exact["tc"], abs=0.05)
    assert p["mi"] == pytest.approx(exact["mi"], abs=0.08)
    assert p["dim_kl"] == pytest.approx(exact["dim_kl"], abs=0.02)
    # and the three terms add up to the KL to the prior (its closed form, averaged)
    kl = float(gaussian_kl(mu, logvar).sum(1).mean())
    assert p["mi"] + p["tc"] + p["dim_kl"] == pytest.approx(kl, abs=0.1)
    assert p["kl"] == pytest.approx(kl, rel=1e-5)


def test_tcvae_total_correlation_separates_factorised_from_correlated():
    # the same marginals, with and without correlation: only TC moves, by the exact difference
    mu0, lv0, ex0 = _gaussian_case(2, 0.0)
    mu1, lv1, ex1 = _gaussian_case(2, 0.9)
    gap = _tcvae_parts(mu1, lv1, 2000)["tc"] - _tcvae_parts(mu0, lv0, 2000)["tc"]
    assert gap == pytest.approx(ex1["tc"] - ex0["tc"], abs=0.05)
    assert ex1["tc"] - ex0["tc"] > 0.3


# ---------------------------------------------------------------------------- WAE-MMD
def test_imq_mmd_is_the_unbiased_statistic_on_point_masses():
    # all of zq at a, all of zp at b, |a - b|^2 = 4, one scale c = 2 * D * sigma^2 * s = 4:
    # k(a, a) = k(b, b) = 1 and k(a, b) = 4 / (4 + 4) = 1/2, so MMD^2 = 1 + 1 - 2 * 1/2 = 1
    a, b = torch.zeros(50, 2), torch.zeros(50, 2)
    b[:, 0] = 2.0
    assert float(imq_mmd(a, b, 1.0, (1.0,))) == pytest.approx(1.0, abs=1e-6)
    # half the samples at each of two points 2 apart, the other set at their midpoint: the
    # within-set means leave out the diagonal (the unbiased U-statistic). With B = 4:
    #   k_qq: of the 12 ordered pairs, 4 coincide (k = 1) and 8 are 2 apart (k = 4/8):
    #         (4 + 4) / 12 = 2/3 (with the diagonal, the biased statistic: 12/16 = 3/4)
    #   k_pp = 1, k_qp = every pair 1 apart: 4 / 5
    #   MMD^2 = 2/3 + 1 - 2 * 4/5 = 1/15
    q = torch.tensor([[-1.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    p = torch.zeros(4, 2)
    assert float(imq_mmd(q, p, 1.0, (1.0,))) == pytest.approx(1 / 15, abs=1e-6)
    # several scales: the sum of the single-scale statistics
    many = float(imq_mmd(q, p, 1.0, (0.5, 2.0)))
    assert many == pytest.approx(float(imq_mmd(q, p, 1.0, (0.5,)))
                                 + float(imq_mmd(q, p, 1.0, (2.0,))), abs=1e-6)


def test_imq_mmd_of_gaussians_matches_the_population_value():
    """Two unit Gaussians in 2-D whose means are 1 apart, c = 4: the population MMD^2 is
    2 E k(X, X') - 2 E k(X, Y) with |X - X'|^2 = 2 W, W ~ chi2(2), and |X - Y|^2 = 2 W',
    W' ~ noncentral chi2(2, 1/2); each expectation is a one-dimensional integral."""
    from scipy import integrate, stats
    c, d = 4.0, 2

    def mean_kernel(nc: float) -> float:
        dens = (lambda w: stats.chi2.pdf(w, d)) if nc == 0 else (
            lambda w: stats.ncx2.pdf(w, d, nc))
        return integrate.quad(lambda w: c / (c + 2 * w) * dens(w), 0, np.inf)[0]

    exact = 2 * mean_kernel(0.0) - 2 * mean_kernel(0.5)          # 0.0911
    g = torch.Generator().manual_seed(0)
    a = torch.randn(2000, d, generator=g, dtype=torch.float64)
    b = torch.randn(2000, d, generator=g, dtype=torch.float64)
    same = float(imq_mmd(a, b, 1.0, (1.0,)))
    a[:, 0] += 1.0
    shifted = float(imq_mmd(a, b, 1.0, (1.0,)))
    assert same == pytest.approx(0.0, abs=1e-3)     # sd over seeds 2e-4
    assert shifted == pytest.approx(exact, abs=0.02)  # sd over seeds 0.006
