"""An ensemble of M autoencoders computed side by side, and a Gaussian model of their outputs.

Anomaly detection trains several small autoencoders from different initialisations and averages
their verdicts. Small dense networks spend their time in per-layer overheads, not arithmetic, so
the M dense members are one network with batched weights: layer l holds W_l of shape
(M, out, in) and computes y_m = x_m W_{l,m}^T + b_{l,m} for every member m in one batched matrix
product. The members share no parameter and Adam's update is elementwise, so training them
together with the sum of their losses is the same as training each alone on the same batches.
Convolutional members (images) are ordinary :class:`ConvAutoencoder` modules, run one after the
other: their convolutions are large enough that batching them buys little.

Each member m also has a Gaussian N(mu_m, Sigma_m) over its description of a sample,
v = [z, x_hat - x] (the code next to the residual), which the estimator fits on the training
data and keeps. The outlier score of a sample under member m is the squared Mahalanobis distance

    d_m(x)^2 = (v - mu_m)^T Sigma_m^{-1} (v - mu_m),

large for a sample that reconstructs badly in directions where the training residuals are small,
or whose code lies away from the training codes. The precision Sigma_m^{-1} is (F, F) per member, or
its diagonal (F,) for wide inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from aekit.models.conv import ConvAutoencoder, ConvConfig
from aekit.models.dense import AutoencoderOutput
from aekit.models.layers import _HE_NEGATIVE_SLOPE, make_activation


@dataclass(frozen=True)
class EnsembleConfig:
    n_members: int  # M autoencoders, each from its own initialisation
    n_features: int  # D, width of a flattened sample
    latent_dim: int  # K, width of each member's code
    hidden: tuple[int, ...] = ()  # dense members: encoder widths between input and code
    activation: str = "relu"  # hidden units of the dense members
    dropout: float = 0.0  # dense members: dropout after every hidden layer
    conv: ConvConfig | None = field(default=None)  # set: convolutional members built from it

    def __post_init__(self) -> None:
        if isinstance(self.conv, dict):  # read back from a saved config.json
            conv = {k: tuple(v) if isinstance(v, list) else v for k, v in self.conv.items()}
            object.__setattr__(self, "conv", ConvConfig(**conv))
        if self.n_members < 1:
            raise ValueError(f"n_members must be at least 1, got {self.n_members!r}")

    @property
    def n_scored(self) -> int:
        """F = K + D, the width of the vector [z, residual] the Gaussian describes."""
        return self.latent_dim + self.n_features


class EnsembleLinear(nn.Module):
    """M independent linear layers y_m = x_m W_m^T + b_m, applied to x of shape (M, B, in)."""

    def __init__(self, n_members: int, n_in: int, n_out: int, activation: str) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_members, n_out, n_in))
        self.bias = nn.Parameter(torch.zeros(n_members, n_out))
        for w in self.weight:  # each member initialised like an nn.Linear of aekit's own
            if activation in _HE_NEGATIVE_SLOPE:
                a = _HE_NEGATIVE_SLOPE[activation]
                nn.init.kaiming_uniform_(w, a=a, nonlinearity="leaky_relu")
            else:
                nn.init.xavier_uniform_(w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (M, 1, out) + (M, B, in) @ (M, in, out) -> (M, B, out)
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight.transpose(1, 2))


def _ensemble_stack(
    n_members: int, widths: list[int], activations: list[str], dropout: float
) -> nn.Sequential:
    layers: list[nn.Module] = []
    last = len(activations) - 1
    for i, (n_in, n_out, act) in enumerate(zip(widths[:-1], widths[1:], activations, strict=True)):
        layers.append(EnsembleLinear(n_members, n_in, n_out, act))
        if act != "linear":
            layers.append(make_activation(act))
        if dropout > 0 and i < last:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class EnsembleAutoencoder(nn.Module):
    """M autoencoders side by side; ``forward`` takes one batch (B, D) and feeds it to all.

    The output's logits are (M, B, D) and its code (M, B, K); members reconstruct linearly
    (anomaly detection scores residuals in the scaled units, where nothing is bounded).

    Examples
    --------
    >>> import torch
    >>> from aekit.models.ensemble import EnsembleAutoencoder, EnsembleConfig
    >>> net = EnsembleAutoencoder(EnsembleConfig(n_members=3, n_features=6, latent_dim=2))
    >>> out = net(torch.randn(10, 6))
    >>> tuple(out.x_hat.shape), tuple(out.z.shape), tuple(net.describe(torch.randn(4, 6)).shape)
    ((3, 10, 6), (3, 10, 2), (3, 4, 8))
    """

    def __init__(self, config: EnsembleConfig) -> None:
        super().__init__()
        self.config = config
        m, k, d = config.n_members, config.latent_dim, config.n_features
        if config.conv is None:
            widths = [d, *config.hidden, k]
            acts = [config.activation] * len(config.hidden)
            self.encoder = _ensemble_stack(m, widths, [*acts, "linear"], config.dropout)
            self.decoder = _ensemble_stack(m, widths[::-1], [*acts, "linear"], config.dropout)
            self.members = None
        else:
            self.members = nn.ModuleList(ConvAutoencoder(config.conv) for _ in range(m))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes of every member, (M, B, K), for a batch x (B, D)."""
        if self.members is not None:
            return torch.stack([member.encode(x) for member in self.members])
        return self.encoder(x.expand(self.config.n_members, *x.shape))  # (M, B, K)

    def forward(self, x: torch.Tensor) -> AutoencoderOutput:
        if self.members is not None:
            outs = [member(x) for member in self.members]
            z = torch.stack([o.z for o in outs])  # (M, B, K)
            logits = torch.stack([o.logits for o in outs])  # (M, B, D)
            return AutoencoderOutput(logits, z, outs[0].output_activation)
        z = self.encoder(x.expand(self.config.n_members, *x.shape))  # (M, B, K)
        return AutoencoderOutput(self.decoder(z), z, nn.Identity())  # (M, B, D)

    def describe(self, x: torch.Tensor) -> torch.Tensor:
        """v = [z, x_hat - x] for every member, (M, B, K + D): what the Gaussians model."""
        out = self(x)
        return torch.cat([out.z, out.x_hat - x], dim=2)


def mahalanobis(v: torch.Tensor, mean: torch.Tensor, precision: torch.Tensor) -> torch.Tensor:
    """Squared Mahalanobis distance of each row of each member, (M, B).

    ``v`` (M, B, F), ``mean`` (M, F), ``precision`` (M, F, F), or (M, F) for a diagonal one.
    """
    v = v - mean.unsqueeze(1)  # (M, B, F)
    if precision.dim() == 2:
        return (v.square() * precision.unsqueeze(1)).sum(2)
    return (torch.bmm(v, precision) * v).sum(2)  # (M, B)
