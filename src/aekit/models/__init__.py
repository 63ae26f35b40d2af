"""Torch modules. This package knows nothing of numpy or scikit-learn."""

from aekit.models.dense import (
    AutoencoderOutput,
    DenseAutoencoder,
    DenseConfig,
    DenseDecoder,
    DenseEncoder,
    halving_widths,
)
from aekit.models.layers import ACTIVATIONS, init_linear, make_activation

# Architecture name -> (config class, module class); saved models are rebuilt through it.
ARCHITECTURES: dict[str, tuple[type, type]] = {
    "dense": (DenseConfig, DenseAutoencoder),
}

__all__ = [
    "ACTIVATIONS",
    "ARCHITECTURES",
    "AutoencoderOutput",
    "DenseAutoencoder",
    "DenseConfig",
    "DenseDecoder",
    "DenseEncoder",
    "halving_widths",
    "init_linear",
    "make_activation",
]
