"""Stacked autoencoder classifier: a dense encoder pretrained layer by layer, then a softmax head.

Greedy layer-wise pretraining (Bengio et al. 2007; denoising variant: Vincent et al. 2008, 2010).
Write h_0 = x and h_i = s(h_{i-1} W_i^T + b_i) for the hidden layers i = 1..L (s is the
activation). Layer i is first trained alone, as the encoder of a one-hidden-layer autoencoder on
the codes of the layers below:

    minimise  L(h_{i-1}, g_i(s(h~_{i-1} W_i^T + b_i))),   g_i(h) = a(h V_i^T + c_i),

where h~_{i-1} is a fresh corruption of h_{i-1} (masking, Gaussian or salt-and-pepper noise; none
for a plain autoencoder), the target is the clean h_{i-1}, and L is binary cross-entropy with a
sigmoid output a for data in [0, 1], squared error with a linear output otherwise. The decoders
(V_i, c_i) are thrown away; the encoders (W_i, b_i) initialise the stack, which then gets a
softmax head p(y = k | x) = softmax(h_L U^T + d)_k and is fine-tuned as a whole by minimising the
cross-entropy -log p(y | x) on the labelled samples. Pretraining needs no labels, so it can use
many more samples than fine-tuning (semi-supervised learning).

This module holds only the fine-tuned network; the pretraining autoencoders are ordinary
:class:`aekit.models.DenseAutoencoder` objects with no hidden layer, whose ``encoder[0]`` is the
linear layer copied into ``encoder[i][0]`` here (see :meth:`StackedClassifier.layer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import torch
from torch import nn

from aekit.models.layers import dense_stack, init_linear


@dataclass(frozen=True)
class StackedConfig:
    n_features: int  # width of the flattened input
    hidden: tuple[int, ...]  # widths of the hidden layers, bottom (next to the input) first
    n_classes: int  # number of classes: width of the softmax head
    activation: str = "relu"  # hidden units
    dropout: float = 0.0  # dropout probability after every hidden layer (fine-tuning only)
    input_dropout: float = 0.0  # dropout probability on the input features (fine-tuning only)


class StackedClassifier(nn.Module):
    """Dense encoder x (B, D) -> h_L (B, H_L) with a linear head h_L -> logits (B, C).

    ``encoder`` is an ``nn.Sequential`` with one block per hidden layer; block ``i`` is
    ``nn.Sequential(Linear, activation[, Dropout])`` and its ``Linear`` (``encoder[i][0]``, also
    returned by ``layer(i)``) maps width ``(n_features, *hidden)[i]`` to ``hidden[i]``: a
    pretrained encoder layer of the same shape is copied in with
    ``module.layer(i).load_state_dict(pretrained_linear.state_dict())``. ``head`` is the
    ``Linear`` to the class logits; the softmax is left to the loss (cross-entropy on logits)
    and to prediction.

    Examples
    --------
    >>> import torch
    >>> from aekit.models.classifier import StackedClassifier, StackedConfig
    >>> net = StackedClassifier(StackedConfig(n_features=784, hidden=(512, 256), n_classes=10))
    >>> tuple(net(torch.rand(5, 784)).shape), tuple(net.encode(torch.rand(5, 784)).shape)
    ((5, 10), (5, 256))
    >>> tuple(net.layer(1).weight.shape)
    (256, 512)
    """

    def __init__(self, config: StackedConfig) -> None:
        super().__init__()
        self.config = config
        widths = [config.n_features, *config.hidden]
        self.input_dropout = (
            nn.Dropout(config.input_dropout) if config.input_dropout > 0 else nn.Identity()
        )
        blocks = []
        for n_in, n_out in pairwise(widths):
            block = dense_stack([n_in, n_out], [config.activation])  # Linear, activation
            if config.dropout > 0:
                block.append(nn.Dropout(config.dropout))
            blocks.append(block)
        self.encoder = nn.Sequential(*blocks)
        self.head = nn.Linear(widths[-1], config.n_classes)
        init_linear(self.head, "linear")

    def layer(self, i: int) -> nn.Linear:
        """The ``Linear`` of hidden layer ``i`` (0-based, bottom first)."""
        return self.encoder[i][0]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Top hidden layer's features h_L."""
        return self.encoder(self.input_dropout(x))  # (B, H_L)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encode(x)  # (B, H_L)
        return self.head(h)  # (B, C) logits
