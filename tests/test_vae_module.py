"""Torch side of the variational autoencoder: modules, KL, likelihoods, ELBO and log p(x)."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from aekit.models import (
    LIKELIHOODS,
    MODULES,
    ConvConfig,
    ConvVAE,
    DenseConfig,
    DenseVAE,
    elbo_terms,
    kl_divergence,
    log_likelihood,
    module_kind,
)
from aekit.models.vae import LOGVAR_RANGE, flat_features


def test_dense_vae_shapes_and_deterministic_code():
    torch.manual_seed(0)
    vae = DenseVAE(DenseConfig(n_features=20, latent_dim=3, hidden=(12,)))
    x = torch.rand(7, 20)
    out = vae(x)
    assert out.logits.shape == out.x_hat.shape == (7, 20)
    assert out.z.shape == out.mu.shape == out.logvar.shape == (7, 3)
    assert torch.allclose(out.x_hat, torch.sigmoid(out.logits))
    assert vae.log_scale.shape == (20,)
    assert [m.out_features for m in vae.encoder.modules() if isinstance(m, nn.Linear)] == [12, 6]
    mu, logvar = vae.posterior(x)
    assert torch.equal(vae.encode(x), mu)
    assert torch.equal(out.mu, mu) and torch.equal(out.logvar, logvar)
    assert torch.allclose(vae.decode(out.z), out.x_hat)
    # z is sampled in eval mode too; the code of encode is not.
    vae.eval()
    assert not torch.equal(vae(x).z, vae(x).z)
    assert torch.equal(vae.encode(x), vae.encode(x))


def test_conv_vae_shapes():
    torch.manual_seed(0)
    config = ConvConfig(input_shape=(1, 28, 28), latent_dim=8, hidden=(8, 16))
    vae = ConvVAE(config)
    out = vae(torch.rand(4, 784))
    assert out.logits.shape == (4, 784)
    assert out.z.shape == out.mu.shape == out.logvar.shape == (4, 8)
    assert vae.log_scale.shape == (784,)
    assert vae.decode(vae.encode(torch.rand(2, 784))).shape == (2, 784)
    assert flat_features(ConvConfig((2, 37), latent_dim=2)) == 74


def test_registered_and_code_activation_must_be_linear():
    assert MODULES["vae-dense"] == (DenseConfig, DenseVAE)
    assert MODULES["vae-conv"] == (ConvConfig, ConvVAE)
    assert module_kind(DenseVAE(DenseConfig(4, 2))) == "vae-dense"
    assert module_kind(ConvVAE(ConvConfig((1, 8, 8), 2, hidden=(4,)))) == "vae-conv"
    with pytest.raises(ValueError, match="code_activation"):
        DenseVAE(DenseConfig(4, 2, code_activation="tanh"))


def test_logvar_is_clamped():
    vae = DenseVAE(DenseConfig(4, 2))
    with torch.no_grad():
        vae.encoder[0].bias.copy_(torch.tensor([0.0, 0.0, 1e3, -1e3]))
    _, logvar = vae.posterior(torch.zeros(3, 4))
    assert torch.equal(logvar[:, 0], torch.full((3,), LOGVAR_RANGE[1]))
    assert torch.equal(logvar[:, 1], torch.full((3,), LOGVAR_RANGE[0]))
    assert torch.isfinite(kl_divergence(*vae.posterior(torch.zeros(3, 4)))).all()


def test_kl_closed_form():
    assert torch.equal(kl_divergence(torch.zeros(5, 3), torch.zeros(5, 3)), torch.zeros(5))
    mu = torch.tensor([[1.0, -2.0]])
    logvar = torch.tensor([[math.log(4.0), 0.0]])
    # 1/2 [(1 + 4 - 1 - log 4) + (4 + 1 - 1 - 0)]
    assert kl_divergence(mu, logvar).item() == pytest.approx(0.5 * (8 - math.log(4)))
    # Against torch's own KL and a Monte-Carlo estimate E_q[log q(z) - log p(z)].
    torch.manual_seed(0)
    mu, logvar = torch.randn(4, 3), torch.randn(4, 3)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(0.0, 1.0)
    exact = torch.distributions.kl_divergence(q, p).sum(1)
    assert torch.allclose(kl_divergence(mu, logvar), exact, atol=1e-5)
    z = q.sample((100_000,))  # (S, 4, 3)
    monte_carlo = (q.log_prob(z) - p.log_prob(z)).sum(2).mean(0)
    assert torch.allclose(kl_divergence(mu, logvar), monte_carlo, atol=0.05)


def test_bernoulli_likelihood_by_hand():
    logits = torch.tensor([[0.0, 2.0, -1.0]])
    x = torch.tensor([[1.0, 0.0, 0.25]])  # values in [0, 1], not just {0, 1}
    p = torch.sigmoid(logits)
    by_hand = (x * p.log() + (1 - x) * (1 - p).log()).sum(1)
    got = LIKELIHOODS["bernoulli"](logits, x, torch.zeros(3))
    assert got.shape == (1,)
    assert torch.allclose(got, by_hand)
    assert got.item() == pytest.approx(
        math.log(0.5)
        + math.log(1 - 1 / (1 + math.exp(-2)))
        + 0.25 * math.log(1 / (1 + math.e))
        + 0.75 * math.log(1 - 1 / (1 + math.e)),
        rel=1e-6,
    )


def test_bernoulli_likelihood_is_the_negative_bce_and_broadcasts():
    torch.manual_seed(0)
    logits, x = 30 * torch.randn(6, 50), torch.rand(6, 50)  # saturated sigmoids too
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
    assert torch.allclose(LIKELIHOODS["bernoulli"](logits, x, torch.zeros(50)), -bce, atol=1e-4)
    for name in LIKELIHOODS:
        stacked = torch.randn(3, 6, 50)  # (S, B, D) logits against x (B, D)
        got = LIKELIHOODS[name](stacked, x, torch.zeros(50))
        assert got.shape == (3, 6)
        assert torch.allclose(got[1], LIKELIHOODS[name](stacked[1], x, torch.zeros(50)))


def test_gaussian_likelihood_is_a_true_log_density():
    torch.manual_seed(0)
    mean, x, log_scale = torch.randn(6, 4), torch.randn(6, 4), torch.randn(4)
    expected = torch.distributions.Normal(mean, log_scale.exp()).log_prob(x).sum(1)
    got = LIKELIHOODS["gaussian"](mean, x, log_scale)
    assert got.shape == (6,)
    assert torch.allclose(got, expected, atol=1e-5)


def test_elbo_terms_and_gradients():
    torch.manual_seed(0)
    vae = DenseVAE(DenseConfig(8, 2, hidden=(6,), output_activation="linear"))
    x = torch.randn(5, 8)
    terms = elbo_terms(vae, x, "gaussian", beta=2.0)
    assert terms.loss.shape == terms.kl.shape == terms.reconstruction.shape == (5,)
    assert torch.allclose(terms.loss, terms.reconstruction + 2.0 * terms.kl)
    assert (terms.kl >= 0).all()
    terms.loss.mean().backward()
    for name, param in vae.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    assert vae.log_scale.grad.abs().min() > 0  # every feature's scale learns
    with pytest.raises(ValueError, match="unknown likelihood"):
        elbo_terms(vae, x, "poisson")


def linear_gaussian_vae(perturb: float = 0.0) -> tuple[DenseVAE, torch.distributions.Distribution]:
    """A 1-d linear-Gaussian model with p(x) known, and its exact posterior as the encoder.

    z ~ N(0, 1), x | z ~ N(w z + b, diag s^2), so p(x) = N(b, w w^T + diag s^2) and
    q(z|x) = N(v w^T S^-1 (x - b), v) with v = 1 / (1 + w^T S^-1 w). ``perturb`` shifts the
    encoder's mean and log-variance away from the exact posterior.
    """
    torch.manual_seed(1)
    d = 5
    w, b, s = torch.randn(d).double(), torch.randn(d).double(), 0.3 + torch.rand(d).double()
    v = 1 / (1 + (w.square() / s.square()).sum())
    vae = DenseVAE(DenseConfig(d, 1, output_activation="linear")).double()
    encoder, decoder = vae.encoder[0], vae.decoder[0]
    with torch.no_grad():
        encoder.weight.copy_(torch.stack([v * w / s.square(), torch.zeros(d).double()]))
        encoder.bias.copy_(torch.stack([-v * (w * b / s.square()).sum(), v.log()]) + perturb)
        decoder.weight.copy_(w[:, None])
        decoder.bias.copy_(b)
        vae.log_scale.copy_(s.log())
    p_x = torch.distributions.MultivariateNormal(b, torch.outer(w, w) + torch.diag(s.square()))
    return vae.eval(), p_x


def test_log_likelihood_exact_with_the_true_posterior():
    vae, p_x = linear_gaussian_vae()
    torch.manual_seed(0)
    x = p_x.sample((50,))  # (50, 5)
    # With the exact posterior every importance weight equals p(x): the estimate is exact.
    got = log_likelihood(vae, x, "gaussian", n_samples=10)
    assert torch.allclose(got, p_x.log_prob(x), atol=1e-9)
    # And the ELBO (closed-form KL) is log p(x) in expectation.
    elbo = torch.stack([-elbo_terms(vae, x, "gaussian").loss.detach() for _ in range(2000)])
    assert torch.allclose(elbo.mean(0), p_x.log_prob(x), atol=0.05)


def test_log_likelihood_chunked_matches_unchunked_and_the_truth():
    vae, p_x = linear_gaussian_vae(perturb=0.3)  # an imperfect proposal: the weights vary
    torch.manual_seed(0)
    x = p_x.sample((40,))
    whole = log_likelihood(vae, x, "gaussian", n_samples=2000)
    chunked = log_likelihood(vae, x, "gaussian", n_samples=2000, chunk_size=7)  # 285 * 7 + 5
    truth = p_x.log_prob(x)
    # Different samples, so equal up to Monte-Carlo error (at most about 0.04 here).
    assert torch.allclose(whole, chunked, atol=0.06)
    assert torch.allclose(chunked, truth, atol=0.05)
    assert (whole - truth).mean().abs() < 0.005
    elbo = torch.stack([-elbo_terms(vae, x, "gaussian").loss.detach() for _ in range(200)])
    assert (truth - elbo.mean(0)).mean() > 0.15  # the bound is visibly loose (0.21 nats)


def test_log_likelihood_beats_the_elbo():
    torch.manual_seed(0)
    vae = DenseVAE(DenseConfig(20, 3, hidden=(16,))).eval()
    x = (torch.rand(64, 20) > 0.5).float()
    estimate = log_likelihood(vae, x, "bernoulli", n_samples=500)
    elbo = torch.stack([-elbo_terms(vae, x, "bernoulli").loss.detach() for _ in range(400)])
    assert estimate.mean() > elbo.mean() + 0.1  # Jensen: E log mean w >= E log w
    assert (estimate <= 0).all()
    # One sample is the ELBO with a Monte-Carlo KL: equal in expectation (standard error of
    # either mean about 0.06 nats here).
    single = torch.stack([log_likelihood(vae, x, "bernoulli", n_samples=1) for _ in range(400)])
    assert single.mean().item() == pytest.approx(elbo.mean().item(), abs=0.3)
    with pytest.raises(ValueError, match="n_samples"):
        log_likelihood(vae, x, "bernoulli", n_samples=0)


def test_log_likelihood_is_stable_and_bounded_in_memory():
    torch.manual_seed(0)
    vae = DenseVAE(DenseConfig(784, 2, output_activation="linear")).eval()
    # Log-weights near -2e8: exp underflows, the running log-sum-exp does not.
    far = torch.full((3, 784), 100.0)
    with torch.no_grad():
        vae.log_scale.fill_(-2.0)
    assert torch.isfinite(log_likelihood(vae, far, "gaussian", n_samples=50, chunk_size=8)).all()
    # K = 5000 samples of 200 MNIST-sized rows: 784 million likelihood terms, in chunks.
    rows = []
    vae.decoder.register_forward_hook(lambda _, args, out: rows.append(out.shape[0]))
    x = (torch.rand(200, 784) > 0.5).float()
    ll = log_likelihood(vae, x, "bernoulli", n_samples=5000)
    assert ll.shape == (200,) and torch.isfinite(ll).all()
    assert sum(rows) == 5000 * 200
    assert max(rows) * 784 <= 2**22  # floats per (chunk, B, D) tensor


def test_tiny_bernoulli_vae_learns():
    torch.manual_seed(0)
    prototypes = (torch.rand(4, 16) > 0.5).float()
    x = prototypes[torch.randint(4, (256,))]
    x = torch.where(torch.rand_like(x) < 0.05, 1 - x, x)  # 5% flipped bits
    vae = DenseVAE(DenseConfig(16, 2, hidden=(32,)))
    optimizer = torch.optim.Adam(vae.parameters(), lr=1e-2)
    before = elbo_terms(vae, x, "bernoulli").loss.mean().item()
    for _ in range(200):
        optimizer.zero_grad()
        loss = elbo_terms(vae, x, "bernoulli").loss.mean()
        loss.backward()
        optimizer.step()
    after = torch.stack([elbo_terms(vae, x, "bernoulli").loss.detach() for _ in range(10)]).mean()
    assert before > 12.0  # 17.8 nats; 16 log 2 = 11.1 would be a decoder that says p = 1/2
    # The noisy prototypes cost 16 H(0.05) = 3.2 nats to describe, plus log 4 = 1.4 for which.
    assert after.item() < 6.5  # 5.4 nats
