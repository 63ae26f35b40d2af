"""Torch modules. This package knows nothing of numpy or scikit-learn."""

from aekit.models.classifier import StackedClassifier, StackedConfig
from aekit.models.conv import ConvAutoencoder, ConvConfig, ConvDecoder, ConvEncoder
from aekit.models.dense import (
    AutoencoderOutput,
    DenseAutoencoder,
    DenseConfig,
    DenseDecoder,
    DenseEncoder,
    EncoderDecoder,
    halving_widths,
)
from aekit.models.ensemble import EnsembleAutoencoder, EnsembleConfig, EnsembleLinear, mahalanobis
from aekit.models.layers import (
    ACTIVATIONS,
    CODE_ACTIVATIONS,
    OUTPUT_ACTIVATIONS,
    init_linear,
    make_activation,
)
from aekit.models.recurrent import (
    CELLS,
    ElmanRNN,
    JordanRNN,
    RecurrentAutoencoder,
    RecurrentConfig,
    RecurrentDecoder,
    RecurrentEncoder,
)
from aekit.models.vae import (
    LIKELIHOODS,
    ConvVAE,
    DenseVAE,
    ELBOTerms,
    VAEOutput,
    VariationalAutoencoder,
    elbo_terms,
    kl_divergence,
    log_likelihood,
)

# Module kind -> (config class, module class). Saved models name their module's kind and are
# rebuilt through this table; `Autoencoder(architecture=...)` picks its module from it.
MODULES: dict[str, tuple[type, type]] = {
    "dense": (DenseConfig, DenseAutoencoder),
    "conv": (ConvConfig, ConvAutoencoder),
    "recurrent": (RecurrentConfig, RecurrentAutoencoder),
    "vae-dense": (DenseConfig, DenseVAE),
    "vae-conv": (ConvConfig, ConvVAE),
    "stacked": (StackedConfig, StackedClassifier),
    "ensemble": (EnsembleConfig, EnsembleAutoencoder),
}


def module_kind(module: object) -> str:
    """The key of :data:`MODULES` whose class built ``module``."""
    for kind, (_, module_cls) in MODULES.items():
        if type(module) is module_cls:
            return kind
    raise ValueError(f"{type(module).__name__} is not a registered aekit module")


__all__ = [
    "ACTIVATIONS",
    "CELLS",
    "CODE_ACTIVATIONS",
    "LIKELIHOODS",
    "MODULES",
    "OUTPUT_ACTIVATIONS",
    "AutoencoderOutput",
    "ConvAutoencoder",
    "ConvConfig",
    "ConvDecoder",
    "ConvEncoder",
    "ConvVAE",
    "DenseAutoencoder",
    "DenseConfig",
    "DenseDecoder",
    "DenseEncoder",
    "DenseVAE",
    "ELBOTerms",
    "ElmanRNN",
    "EncoderDecoder",
    "EnsembleAutoencoder",
    "EnsembleConfig",
    "EnsembleLinear",
    "JordanRNN",
    "RecurrentAutoencoder",
    "RecurrentConfig",
    "RecurrentDecoder",
    "RecurrentEncoder",
    "StackedClassifier",
    "StackedConfig",
    "VAEOutput",
    "VariationalAutoencoder",
    "elbo_terms",
    "halving_widths",
    "init_linear",
    "kl_divergence",
    "log_likelihood",
    "mahalanobis",
    "make_activation",
    "module_kind",
]
