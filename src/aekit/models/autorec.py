"""AutoRec (Sedhain, Menon, Sanner and Xie 2015): an autoencoder that fills in missing ratings.

Item-based AutoRec (I-AutoRec) takes an item i's vector of ratings by the m users,
r_i in R^m (zero where a user has not rated i), and reconstructs it through one hidden layer:

    h(r_i) = W sigmoid(V r_i + mu) + b,    V: (k, m), W: (m, k), k hidden units.

It is trained on the observed entries only (mask O_i, 1 where user u rated i):

    min_{W, V}  sum_i || (r_i - h(r_i)) * O_i ||^2 + (lambda / 2) (||W||_F^2 + ||V||_F^2),

and the predicted rating of user u for item i is h(r_i)_u. User-based AutoRec (U-AutoRec) is
the same network over users' vectors of item ratings.

:class:`aekit.AutoRec` feeds it each rating's deviation from a regularised baseline rather than
the rating (zeros still where unobserved); the network is the same.

The network is the dense autoencoder of :mod:`aekit.models.dense` with one sigmoid hidden layer
(the code) and a linear output, so that a saved AutoRec is an ordinary ``"dense"`` module of
:data:`aekit.models.MODULES`; this module says which configuration that is and computes the
masked error.

References
----------
S. Sedhain, A. K. Menon, S. Sanner and L. Xie, "AutoRec: Autoencoders Meet Collaborative
Filtering", WWW 2015 Companion, pp. 111-112.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from aekit.models.dense import DenseAutoencoder, DenseConfig

# The paper's hidden layer: 500 sigmoid units (its accuracy grew up to about that size).
AUTOREC_HIDDEN = (500,)


def autorec_config(n_inputs: int, hidden: Sequence[int] = AUTOREC_HIDDEN) -> DenseConfig:
    """The :class:`DenseConfig` of an AutoRec over vectors of ``n_inputs`` ratings.

    ``hidden`` lists the sigmoid layers of the encoder, the last being the code; the decoder
    mirrors them and ends in a linear layer (ratings are not bounded to [0, 1]). ``(500,)`` is
    the paper's network.

    Examples
    --------
    >>> config = autorec_config(610)
    >>> config.n_features, config.hidden, config.latent_dim, config.output_activation
    (610, (), 500, 'linear')
    """
    widths = tuple(int(w) for w in hidden)
    if not widths:
        raise ValueError("an AutoRec needs at least one hidden layer")
    return DenseConfig(
        n_features=int(n_inputs),
        latent_dim=widths[-1],
        hidden=widths[:-1],
        activation="sigmoid",
        code_activation="sigmoid",
        output_activation="linear",
    )


def autorec_network(n_inputs: int, hidden: Sequence[int] = AUTOREC_HIDDEN) -> DenseAutoencoder:
    """An AutoRec network over vectors of ``n_inputs`` ratings (see :func:`autorec_config`).

    Examples
    --------
    >>> import torch
    >>> net = autorec_network(610, (500,))
    >>> r = torch.zeros(4, 610)  # four items, nothing observed: (4, 610) in and out
    >>> tuple(net(r).x_hat.shape), sum(p.numel() for p in net.parameters())
    ((4, 610), 611110)
    """
    return DenseAutoencoder(autorec_config(n_inputs, hidden))


def fold_mean(networks: Sequence[DenseAutoencoder]) -> DenseAutoencoder:
    """One network whose output is exactly the mean of the outputs of ``networks``.

    The AutoRec networks (same configuration) are put side by side: their first layers are
    stacked, the later ones joined block-diagonally, so that each keeps its own hidden units,
    and the last layer averages their outputs (which are linear in the last hidden units).
    A network of M x the hidden units, saved and run like any other.

    Examples
    --------
    >>> import torch
    >>> nets = [autorec_network(6, (4,)) for _ in range(2)]
    >>> joined = fold_mean(nets)
    >>> r = torch.randn(3, 6)
    >>> mean = (nets[0](r).x_hat + nets[1](r).x_hat) / 2  # (3, 6)
    >>> joined.config.latent_dim, bool(torch.allclose(joined(r).x_hat, mean, atol=1e-6))
    (8, True)
    """
    config = networks[0].config
    m = len(networks)
    folded = DenseAutoencoder(
        DenseConfig(
            n_features=config.n_features,
            latent_dim=config.latent_dim * m,
            hidden=tuple(w * m for w in config.hidden),
            activation=config.activation,
            code_activation=config.code_activation,
            output_activation=config.output_activation,
        )
    )

    def linears(module: torch.nn.Module) -> list[torch.nn.Linear]:
        return [layer for layer in module.modules() if isinstance(layer, torch.nn.Linear)]

    layers = [linears(n) for n in networks]  # per network, its linear layers in order
    targets = linears(folded)
    with torch.no_grad():
        for k, target in enumerate(targets):
            weights = [net[k].weight for net in layers]  # each (out, in)
            biases = [net[k].bias for net in layers]  # each (out,)
            if k == 0:  # every network reads the whole input
                target.weight.copy_(torch.cat(weights, 0))  # (m * out, in)
                target.bias.copy_(torch.cat(biases))
            elif k == len(targets) - 1:  # the mean of the outputs
                target.weight.copy_(torch.cat(weights, 1) / m)  # (out, m * in)
                target.bias.copy_(torch.stack(biases).mean(0))
            else:  # each network's hidden units feed only its own
                target.weight.copy_(torch.block_diag(*weights))
                target.bias.copy_(torch.cat(biases))
    return folded


def masked_squared_error(
    prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """Sum of squared errors over the observed entries of a batch, a 0-d tensor.

    ``prediction`` and ``target`` are (B, m) ratings, ``mask`` (B, m) is 1 where the rating is
    observed and 0 elsewhere: unobserved entries add nothing, whatever the prediction there.
    The sum (not a mean) is the paper's objective; the caller divides by the ratings it stands
    for.

    Examples
    --------
    >>> import torch
    >>> target = torch.tensor([[4.0, 0.0], [0.0, 2.0]])
    >>> mask = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> float(masked_squared_error(torch.tensor([[3.0, 9.0], [9.0, 2.5]]), target, mask))
    1.25
    """
    residual = (prediction - target) * mask  # (B, m), zero where unobserved
    return residual.square().sum()


__all__ = [
    "AUTOREC_HIDDEN",
    "autorec_config",
    "autorec_network",
    "fold_mean",
    "masked_squared_error",
]
