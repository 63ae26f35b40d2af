"""Variational autoencoder (Kingma and Welling 2014): a probabilistic encoder and decoder.

The encoder maps x to the parameters of a diagonal Gaussian posterior approximation

    q(z|x) = N(mu(x), diag sigma^2(x)),

emitting mu and log sigma^2 (2K numbers, unbounded, so its last layer is linear). A code is
drawn with the reparameterisation trick z = mu + sigma * eps, eps ~ N(0, I), which makes the
sample a differentiable function of the encoder's outputs. The decoder maps z to the logits of
the likelihood p(x|z). Training maximises the (beta-)evidence lower bound

    ELBO = E_q[log p(x|z)] - beta KL(q(z|x) || N(0, I))  <=  log p(x)   (for beta = 1),

estimated with one sample z per x for the first term; the second is in closed form:

    KL = 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2).

Likelihoods (:data:`LIKELIHOODS`), summed over the D features:

- Bernoulli, for data in [0, 1]: log p(x|z) = sum_i [x_i log p_i + (1 - x_i) log(1 - p_i)] with
  p = sigmoid(logits), computed from the logits (log-sum-exp form, never log(0)).
- Gaussian: log p(x|z) = sum_i log N(x_i; m_i, s_i^2) with mean m = logits and a learned
  per-feature log-scale log s (the module's ``log_scale``), constants included.

Log-likelihood of held-out data, by importance sampling with q(z|x) as proposal (Burda et al.
2016), z_k ~ q(z|x):

    log p(x) ~= logsumexp_k [log p(x|z_k) + log p(z_k) - log q(z_k|x)] - log K.

It is a lower bound in expectation that tightens towards log p(x) as K grows; K = 1 is the ELBO.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from aekit.models.conv import ConvConfig, ConvDecoder, ConvEncoder
from aekit.models.dense import DenseConfig, DenseDecoder, DenseEncoder
from aekit.models.layers import make_activation

Config = DenseConfig | ConvConfig

_LOG_2PI = math.log(2 * math.pi)

# exp(-30) ~ 1e-13 and exp(20) ~ 5e8 are far beyond any useful posterior variance, yet both stay
# finite in float32 (exp overflows above ~88), so one bad step cannot turn the KL into inf or nan.
LOGVAR_RANGE = (-30.0, 20.0)

# A learned Gaussian scale collapses on a feature the decoder fits exactly (a constant pixel):
# log s -> -inf drives log p(x|z) to +inf. Flooring s at 1e-3 of the data's units stops that.
MIN_LOG_SCALE = math.log(1e-3)

# Memory target of log_likelihood: floats in one chunk of samples times batch times features.
# 2**22 (16 MiB of float32 per (chunk, B, D) tensor): on a CPU, 2**26 ran about three times
# slower (fresh large allocations each chunk); it is still millions of elements per GPU kernel.
_CHUNK_FLOATS = 2**22


def flat_features(config: object) -> int:
    """Number of features D of one flat sample: ``n_features``, else ``prod(input_shape)``.

    Examples
    --------
    >>> from aekit.models import ConvConfig, DenseConfig
    >>> flat_features(DenseConfig(n_features=64, latent_dim=2))
    64
    >>> flat_features(ConvConfig(input_shape=(1, 28, 28), latent_dim=2))
    784
    """
    n_features = getattr(config, "n_features", None)
    if n_features is not None:
        return int(n_features)
    return math.prod(config.input_shape)  # type: ignore[attr-defined]


class VAEOutput(NamedTuple):
    logits: torch.Tensor  # (B, D) decoder output at the sampled z, before the output activation
    z: torch.Tensor  # (B, K) sample of q(z|x)
    mu: torch.Tensor  # (B, K) posterior mean
    logvar: torch.Tensor  # (B, K) posterior log-variance, clamped to LOGVAR_RANGE
    output_activation: nn.Module  # maps logits to the mean of p(x|z)

    @property
    def x_hat(self) -> torch.Tensor:
        """The mean of p(x|z) (B, D) at the sampled z; computed on demand like the autoencoder's."""
        return self.output_activation(self.logits)


class VariationalAutoencoder(nn.Module):
    """Generic VAE: an encoder emitting (mu, logvar), a decoder, a Gaussian log-scale.

    Subclasses set ``encoder_cls`` (built as ``encoder_cls(config, n_out=2 * latent_dim)``) and
    ``decoder_cls`` (built as ``decoder_cls(config)``). ``log_scale`` (D,) is the per-feature
    log standard deviation of the Gaussian likelihood; the Bernoulli likelihood ignores it.

    Examples
    --------
    >>> import torch
    >>> from aekit.models import DenseConfig, DenseVAE
    >>> vae = DenseVAE(DenseConfig(n_features=784, latent_dim=8, hidden=(64,)))
    >>> out = vae(torch.rand(5, 784))
    >>> tuple(out.x_hat.shape), tuple(out.z.shape), tuple(out.mu.shape), tuple(out.logvar.shape)
    ((5, 784), (5, 8), (5, 8), (5, 8))
    >>> tuple(vae.decode(vae.encode(torch.rand(3, 784))).shape)
    (3, 784)
    """

    encoder_cls: ClassVar[Callable[..., nn.Module]]
    decoder_cls: ClassVar[Callable[..., nn.Module]]

    def __init__(self, config: Config) -> None:
        super().__init__()
        if config.code_activation != "linear":
            # A squashing activation would bound mu and log sigma^2, and so the posterior.
            raise ValueError(
                "a VAE's encoder emits mu and log sigma^2, which must be unbounded: "
                f"code_activation must be 'linear', got {config.code_activation!r}"
            )
        self.config = config
        self.encoder = self.encoder_cls(config, n_out=2 * config.latent_dim)
        self.decoder = self.decoder_cls(config)
        self.output_activation = make_activation(config.output_activation)
        self.log_scale = nn.Parameter(torch.zeros(flat_features(config)))  # (D,)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z|x), each (B, K).

        The log-variance is clamped to :data:`LOGVAR_RANGE` so that exp(logvar) neither
        overflows nor reaches 0 (log 0 in the KL); outside the range its gradient is zero.
        """
        mu, logvar = self.encoder(x).chunk(2, dim=1)  # (B, K) each
        return mu, logvar.clamp(*LOGVAR_RANGE)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The deterministic code: the posterior mean mu(x) (B, K)."""
        return self.posterior(x)[0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The mean of p(x|z) (B, D): the decoder's logits through the output activation."""
        return self.output_activation(self.decoder(z))

    def forward(self, x: torch.Tensor) -> VAEOutput:
        """Encode, sample z = mu + sigma * eps and decode.

        z is sampled in eval mode too: the forward pass is the one-sample ELBO estimate, whose
        value at evaluation should match training's. Use :meth:`encode` for a deterministic
        code. eps comes from torch's global generator, which callers seed.
        """
        mu, logvar = self.posterior(x)  # (B, K) each
        eps = torch.randn_like(mu)  # (B, K)
        z = mu + torch.exp(0.5 * logvar) * eps  # (B, K)
        logits = self.decoder(z)  # (B, D)
        return VAEOutput(logits, z, mu, logvar, self.output_activation)


class DenseVAE(VariationalAutoencoder):
    """Fully connected VAE built from a :class:`~aekit.models.DenseConfig`."""

    encoder_cls = DenseEncoder
    decoder_cls = DenseDecoder


class ConvVAE(VariationalAutoencoder):
    """Convolutional VAE built from a :class:`~aekit.models.ConvConfig`; flat rows in and out.

    Examples
    --------
    >>> import torch
    >>> from aekit.models import ConvConfig, ConvVAE
    >>> vae = ConvVAE(ConvConfig(input_shape=(1, 28, 28), latent_dim=8))
    >>> out = vae(torch.rand(5, 784))
    >>> tuple(out.logits.shape), tuple(out.z.shape)
    ((5, 784), (5, 8))
    """

    encoder_cls = ConvEncoder
    decoder_cls = ConvDecoder


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) per sample (B,), in closed form.

    Examples
    --------
    >>> import torch
    >>> kl_divergence(torch.zeros(2, 3), torch.zeros(2, 3))
    tensor([0., 0.])
    >>> kl_divergence(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 0.0]]))  # 1/2 mu^2
    tensor([0.5000])
    """
    return 0.5 * (mu.square() + logvar.exp() - 1 - logvar).sum(1)  # (B,)


def bernoulli_log_likelihood(
    logits: torch.Tensor, x: torch.Tensor, log_scale: torch.Tensor | None = None
) -> torch.Tensor:
    """log p(x|z) (B,) under independent Bernoullis with p = sigmoid(logits); ``log_scale`` is
    unused. For x in [0, 1] (not just {0, 1}) it is the negative binary cross-entropy.

    x log p + (1 - x) log(1 - p) = x l - log(1 + e^l) for p = sigmoid(l): a dot product and a
    softplus (stable for any l), the same numbers as ``-binary_cross_entropy_with_logits`` but,
    unlike it, broadcasting ``x`` (B, D) against logits (S, B, D) without copying it S times,
    and about four times faster, which is what :func:`log_likelihood` spends its time on.
    """
    return torch.einsum("...d,...d->...", x, logits) - F.softplus(logits).sum(-1)  # (B,)


def gaussian_log_likelihood(
    logits: torch.Tensor, x: torch.Tensor, log_scale: torch.Tensor
) -> torch.Tensor:
    """log p(x|z) (B,) under independent Gaussians N(x_i; logits_i, exp(log_scale_i)^2)."""
    residual = (x - logits) * torch.exp(-log_scale)  # (B, D) in standard deviations
    return -(0.5 * residual.square() + log_scale + 0.5 * _LOG_2PI).sum(-1)  # (B,)


# (logits, x, log_scale) -> log p(x|z) per sample, summed over the features.
LogLikelihood = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

# Name -> log p(x|z) (B,) from logits (B, D), x (B, D) and log_scale (D,). Both also take
# logits (S, B, D) against x (B, D) and return (S, B).
LIKELIHOODS: dict[str, LogLikelihood] = {
    "bernoulli": bernoulli_log_likelihood,
    "gaussian": gaussian_log_likelihood,
}

# Name -> the output activation under which x_hat = output_activation(logits) is the mean of
# p(x|z): the Gaussian's mean is the logits themselves.
LIKELIHOOD_OUTPUTS: dict[str, str] = {"bernoulli": "sigmoid", "gaussian": "linear"}


def _likelihood(name: str) -> LogLikelihood:
    try:
        return LIKELIHOODS[name]
    except KeyError:
        raise ValueError(
            f"unknown likelihood {name!r}; choose one of {sorted(LIKELIHOODS)}"
        ) from None


def _log_scale(module: VariationalAutoencoder) -> torch.Tensor:
    return module.log_scale.clamp(min=MIN_LOG_SCALE)  # (D,)


class ELBOTerms(NamedTuple):
    reconstruction: torch.Tensor  # (B,) -log p(x|z), one sample z per x
    kl: torch.Tensor  # (B,) KL(q(z|x) || N(0, I))
    loss: torch.Tensor  # (B,) reconstruction + beta * kl, the negative beta-ELBO


def elbo_terms(
    module: VariationalAutoencoder, x: torch.Tensor, likelihood: str, beta: float = 1.0
) -> ELBOTerms:
    """Per-sample terms of the negative beta-ELBO of ``x`` (B, D), in nats.

    One z is sampled per x (the reparameterisation keeps the estimate differentiable); the KL is
    exact. ``likelihood`` is a key of :data:`LIKELIHOODS`; the Gaussian's scale is
    ``module.log_scale`` floored at :data:`MIN_LOG_SCALE`.

    Examples
    --------
    >>> import torch
    >>> from aekit.models import DenseConfig, DenseVAE
    >>> _ = torch.manual_seed(0)
    >>> vae = DenseVAE(DenseConfig(n_features=10, latent_dim=2))
    >>> terms = elbo_terms(vae, torch.rand(4, 10).round(), "bernoulli", beta=0.5)
    >>> tuple(terms.loss.shape)
    (4,)
    >>> torch.allclose(terms.loss, terms.reconstruction + 0.5 * terms.kl)
    True
    """
    log_px_z = _likelihood(likelihood)
    out = module(x)
    reconstruction = -log_px_z(out.logits, x, _log_scale(module))  # (B,)
    kl = kl_divergence(out.mu, out.logvar)  # (B,)
    return ELBOTerms(reconstruction, kl, reconstruction + beta * kl)


@torch.no_grad()
def log_likelihood(
    module: VariationalAutoencoder,
    x: torch.Tensor,
    likelihood: str,
    n_samples: int = 1000,
    chunk_size: int | None = None,
) -> torch.Tensor:
    """Importance-sampled estimate of log p(x) (B,) in nats, with q(z|x) as proposal.

    The ``n_samples`` samples are drawn and decoded ``chunk_size`` at a time (by default as many
    as keep chunk * B * D under 2**22 floats), and their log-weights are folded into a running
    log-sum-exp, so memory does not grow with ``n_samples``. The module's mode is left as it is:
    call it in eval mode so that dropout and batch norm behave deterministically.

    Examples
    --------
    >>> import torch
    >>> from aekit.models import DenseConfig, DenseVAE
    >>> _ = torch.manual_seed(0)
    >>> vae = DenseVAE(DenseConfig(n_features=10, latent_dim=2)).eval()
    >>> x = torch.rand(4, 10).round()
    >>> ll = log_likelihood(vae, x, "bernoulli", n_samples=500, chunk_size=64)
    >>> tuple(ll.shape)
    (4,)
    >>> bool((ll <= 0).all())  # probabilities of binary data
    True
    """
    if n_samples < 1:
        raise ValueError(f"n_samples must be at least 1, got {n_samples!r}")
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size!r}")
    log_px_z = _likelihood(likelihood)
    log_scale = _log_scale(module)  # (D,)
    n, d = x.shape  # (B, D)
    chunk = chunk_size or max(1, _CHUNK_FLOATS // (n * d))
    mu, logvar = module.posterior(x)  # (B, K) each
    std = torch.exp(0.5 * logvar)  # (B, K)
    # log q(z|x) = -1/2 sum_j (eps_j^2 + log sigma_j^2 + log 2 pi): its eps-free part once.
    log_q_const = -0.5 * (logvar + _LOG_2PI).sum(1)  # (B,)
    total = torch.full((n,), -math.inf, dtype=mu.dtype, device=mu.device)  # log sum of weights
    for start in range(0, n_samples, chunk):
        k = min(chunk, n_samples - start)
        eps = torch.randn((k, *mu.shape), dtype=mu.dtype, device=mu.device)  # (k, B, K)
        z = mu + std * eps  # (k, B, K)
        logits = module.decoder(z.flatten(0, 1)).unflatten(0, (k, n))  # (k, B, D)
        log_p_x = log_px_z(logits, x, log_scale)  # (k, B)
        log_p_z = -0.5 * (z.square() + _LOG_2PI).sum(2)  # (k, B)
        log_q_z = log_q_const - 0.5 * eps.square().sum(2)  # (k, B)
        log_w = log_p_x + log_p_z - log_q_z  # (k, B)
        total = torch.logaddexp(total, torch.logsumexp(log_w, dim=0))  # (B,)
    return total - math.log(n_samples)


__all__ = [
    "LIKELIHOODS",
    "LIKELIHOOD_OUTPUTS",
    "LOGVAR_RANGE",
    "MIN_LOG_SCALE",
    "ConvVAE",
    "DenseVAE",
    "ELBOTerms",
    "VAEOutput",
    "VariationalAutoencoder",
    "bernoulli_log_likelihood",
    "elbo_terms",
    "flat_features",
    "gaussian_log_likelihood",
    "kl_divergence",
    "log_likelihood",
]
