"""Torch modules. This package knows nothing of numpy or scikit-learn."""

from aekit.models.conv import ConvAutoencoder, ConvConfig, ConvDecoder, ConvEncoder
from aekit.models.dense import (
    AutoencoderOutput,
    DenseAutoencoder,
    DenseConfig,
    DenseDecoder,
    DenseEncoder,
    halving_widths,
)
from aekit.models.layers import ACTIVATIONS, init_linear, make_activation

# Module kind -> (config class, module class). Saved models name their module's kind and are
# rebuilt through this table; `Autoencoder(architecture=...)` picks its module from it.
MODULES: dict[str, tuple[type, type]] = {
    "dense": (DenseConfig, DenseAutoencoder),
    "conv": (ConvConfig, ConvAutoencoder),
}


def module_kind(module: object) -> str:
    """The key of :data:`MODULES` whose class built ``module``."""
    for kind, (_, module_cls) in MODULES.items():
        if type(module) is module_cls:
            return kind
    raise ValueError(f"{type(module).__name__} is not a registered aekit module")


__all__ = [
    "ACTIVATIONS",
    "MODULES",
    "AutoencoderOutput",
    "ConvAutoencoder",
    "ConvConfig",
    "ConvDecoder",
    "ConvEncoder",
    "DenseAutoencoder",
    "DenseConfig",
    "DenseDecoder",
    "DenseEncoder",
    "halving_widths",
    "init_linear",
    "make_activation",
    "module_kind",
]
