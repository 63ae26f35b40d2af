"""aekit: the autoencoder toolkit for real data."""

__version__ = "0.1.0"

from aekit import datasets
from aekit.estimators import VAE, AnomalyDetector, Autoencoder, AutoencoderClassifier
from aekit.io import load
from aekit.tasks import LatentIndex

__all__ = [
    "VAE",
    "AnomalyDetector",
    "Autoencoder",
    "AutoencoderClassifier",
    "LatentIndex",
    "__version__",
    "datasets",
    "load",
]
