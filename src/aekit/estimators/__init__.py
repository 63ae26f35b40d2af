"""scikit-learn style estimators; each owns its torch module as ``module_``."""

from aekit.estimators._architectures import (
    ARCHITECTURES,
    Architecture,
    Network,
    conv_shape,
    detector_architectures,
    exportable_kinds,
    recurrent_shape,
    vae_architectures,
)
from aekit.estimators._family import BaseAutoencoder
from aekit.estimators.autoencoder import Autoencoder
from aekit.estimators.autorec import AutoRec, Recommendations
from aekit.estimators.base import TorchEstimator
from aekit.estimators.classifier import AutoencoderClassifier
from aekit.estimators.detector import AnomalyDetector, Explanation, leading_steps
from aekit.estimators.vae import VAE

# Class name -> class; `aekit.load` rebuilds saved estimators through it.
ESTIMATORS: dict[str, type[TorchEstimator]] = {
    "Autoencoder": Autoencoder,
    "AutoencoderClassifier": AutoencoderClassifier,
    "VAE": VAE,
    "AnomalyDetector": AnomalyDetector,
    "AutoRec": AutoRec,
}

__all__ = [
    "ARCHITECTURES",
    "ESTIMATORS",
    "VAE",
    "AnomalyDetector",
    "Architecture",
    "AutoRec",
    "Autoencoder",
    "AutoencoderClassifier",
    "BaseAutoencoder",
    "Explanation",
    "Network",
    "Recommendations",
    "TorchEstimator",
    "conv_shape",
    "detector_architectures",
    "exportable_kinds",
    "leading_steps",
    "recurrent_shape",
    "vae_architectures",
]
