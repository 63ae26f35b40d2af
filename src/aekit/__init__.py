"""aekit: the autoencoder toolkit for real data."""

__version__ = "0.1.0"

from aekit import datasets
from aekit.estimators import VAE, Autoencoder, AutoencoderClassifier
from aekit.io import load

__all__ = ["VAE", "Autoencoder", "AutoencoderClassifier", "__version__", "datasets", "load"]
