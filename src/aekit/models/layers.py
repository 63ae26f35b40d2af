"""Activations and weight initialisation shared by the torch models."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

# Name -> factory. "linear" is the identity, so `activation="linear"` gives a linear network.
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "linear": nn.Identity,
}


class BinaryCode(nn.Module):
    """Code units that are bits, for semantic hashing: 0 or 1 in every forward pass.

    A unit's pre-activation a gives p = sigmoid(a) and the bit p > 1/2, in training as at
    inference; the gradient passes straight through as p's, the straight-through estimator
    (Bengio, Leonard & Courville 2013). The decoder thus learns from the very bits it is
    given at inference, where Salakhutdinov & Hinton (2009) push sigmoid units towards 0 and
    1 with added noise and round them afterwards. Sampling the bits with probability p
    instead (NASH, Shen et al. 2018) was tried on R8 (``benchmarks/text_hashing.py``) and
    lost at short lengths, where every bit carries much: precision@100 0.823 against 0.846 at
    16 bits, 0.851 against 0.854 at 32, about even at 64 (0.862, 0.858).
    """

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        p = torch.sigmoid(a)  # (B, K)
        bits = (p > 0.5).to(p.dtype)
        return p + (bits - p).detach()  # the bits' values, p's gradient


# Activations a code may take beyond ACTIVATIONS: bits are for codes only.
CODE_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {**ACTIVATIONS, "binary": BinaryCode}
# ... and an output: a distribution over the features (the multinomial loss's).
OUTPUT_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    **ACTIVATIONS,
    "softmax": lambda: nn.Softmax(dim=-1),
}

# Layers followed by a ReLU-like unit get He initialisation (it keeps the activation variance
# constant through rectifiers); every other layer gets Xavier/Glorot.
_HE_NEGATIVE_SLOPE = {"relu": 0.0, "leaky_relu": 0.01}


def make_activation(name: str) -> nn.Module:
    """Return a fresh activation module for ``name`` (a key of :data:`CODE_ACTIVATIONS` or
    :data:`OUTPUT_ACTIVATIONS`; only the code takes ``"binary"`` and only the output
    ``"softmax"``, which the estimators' constraints see to)."""
    try:
        return {**CODE_ACTIVATIONS, **OUTPUT_ACTIVATIONS}[name]()
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}"
        ) from None


def init_linear(layer: nn.Linear, activation: str) -> None:
    """Initialise ``layer`` for the activation that follows it; biases start at zero."""
    if activation in _HE_NEGATIVE_SLOPE:
        nn.init.kaiming_uniform_(
            layer.weight, a=_HE_NEGATIVE_SLOPE[activation], nonlinearity="leaky_relu"
        )
    else:
        nn.init.xavier_uniform_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


def dense_stack(widths: list[int], activations: list[str], dropout: float = 0.0) -> nn.Sequential:
    """Linear layers ``widths[i] -> widths[i + 1]``, each followed by ``activations[i]``.

    ``dropout`` > 0 adds a dropout layer after every layer but the last (hidden units only: the
    code and the output stay deterministic)."""
    if len(activations) != len(widths) - 1:
        raise ValueError("one activation per layer is needed")
    layers: list[nn.Module] = []
    last = len(activations) - 1
    for i, (n_in, n_out, act) in enumerate(zip(widths[:-1], widths[1:], activations, strict=True)):
        linear = nn.Linear(n_in, n_out)
        init_linear(linear, act)
        layers.append(linear)
        if act != "linear":
            layers.append(make_activation(act))
        if dropout > 0 and i < last:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)
