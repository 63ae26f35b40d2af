"""Fully connected autoencoder: encoder f, decoder g, x_hat = g(f(x)).

Every layer computes y = x W^T + b followed by its activation. The decoder mirrors the encoder's
widths and ends in logits; the output activation (sigmoid for data in [0, 1], identity otherwise)
turns them into the reconstruction, while the losses may use the logits directly (a numerically
stable binary cross-entropy).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import nn

from aekit.models.layers import dense_stack, make_activation


@dataclass(frozen=True)
class DenseConfig:
    n_features: int  # width of the flattened input
    latent_dim: int  # width of the code z
    hidden: tuple[int, ...] = ()  # encoder widths between input and code; the decoder mirrors them
    activation: str = "relu"  # hidden units of encoder and decoder
    code_activation: str = "linear"  # applied to the code z
    output_activation: str = "sigmoid"  # maps the decoder's logits to x_hat
    dropout: float = 0.0  # dropout probability after every hidden layer (not the code or output)


def halving_widths(
    n_features: int, latent_dim: int, max_width: int = 1024, min_width: int = 16
) -> tuple[int, ...]:
    """Default encoder widths: halve from the input width down towards the code.

    The first hidden layer has ``n_features // 2`` units (capped at ``max_width`` so that very
    wide inputs do not produce huge layers); each next layer halves again while it stays wider
    than the code and at least ``min_width`` units (narrower ReLU layers tend to die).
    784 inputs and a 30-d code give 784-392-196-98-49-30; 64 inputs and a 2-d code give 64-32-16-2.
    """
    widths: list[int] = []
    width = min(n_features // 2, max_width)
    while width > latent_dim and width >= min_width:
        widths.append(width)
        width //= 2
    return tuple(widths)


class AutoencoderOutput(NamedTuple):
    logits: torch.Tensor  # (B, D) decoder output before the output activation
    z: torch.Tensor  # (B, K) code
    output_activation: nn.Module  # maps logits to the reconstruction

    @property
    def x_hat(self) -> torch.Tensor:
        """The reconstruction (B, D); computed on demand, since BCE works on the logits."""
        return self.output_activation(self.logits)


class DenseEncoder(nn.Sequential):
    """x (B, D) -> z (B, K) through ``hidden`` widths.

    ``n_out`` overrides the output width (a VAE's encoder emits 2K numbers: mean and log-variance).
    """

    def __init__(self, config: DenseConfig, n_out: int | None = None) -> None:
        widths = [config.n_features, *config.hidden, n_out or config.latent_dim]
        acts = [config.activation] * len(config.hidden) + [config.code_activation]
        super().__init__(*dense_stack(widths, acts, config.dropout))


class DenseDecoder(nn.Sequential):
    """z (B, K) -> logits (B, D) through the reversed ``hidden`` widths."""

    def __init__(self, config: DenseConfig) -> None:
        widths = [config.latent_dim, *reversed(config.hidden), config.n_features]
        # The last layer is initialised for the output activation it feeds.
        acts = [config.activation] * len(config.hidden) + [config.output_activation]
        layers = list(dense_stack(widths, acts, config.dropout))
        if config.output_activation != "linear":
            layers = layers[:-1]  # the output activation is applied by the autoencoder
        super().__init__(*layers)


class EncoderDecoder(nn.Module):
    """An encoder f, a decoder g and an output activation, built from one config: the
    autoencoder of every family (dense, conv, recurrent), which differ only by the
    ``encoder_cls`` and ``decoder_cls`` they name. Rows in, rows out: (B, D) -> (B, D)."""

    encoder_cls: type[nn.Module]  # config -> f: (B, D) -> (B, K)
    decoder_cls: type[nn.Module]  # config -> g: (B, K) -> logits (B, D)

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.config = config
        self.encoder = self.encoder_cls(config)
        self.decoder = self.decoder_cls(config)
        self.output_activation = make_activation(config.output_activation)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)  # (B, K)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.output_activation(self.decoder(z))  # (B, D)

    def forward(self, x: torch.Tensor) -> AutoencoderOutput:
        z = self.encoder(x)  # (B, K)
        logits = self.decoder(z)  # (B, D)
        return AutoencoderOutput(logits, z, self.output_activation)


class DenseAutoencoder(EncoderDecoder):
    """Dense autoencoder built from a :class:`DenseConfig`.

    Examples
    --------
    >>> import torch
    >>> from aekit.models import DenseAutoencoder, DenseConfig
    >>> ae = DenseAutoencoder(DenseConfig(n_features=784, latent_dim=32))
    >>> out = ae(torch.rand(5, 784))
    >>> tuple(out.x_hat.shape), tuple(out.z.shape)
    ((5, 784), (5, 32))
    """

    encoder_cls = DenseEncoder
    decoder_cls = DenseDecoder
