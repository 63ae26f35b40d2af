"""aekit: the autoencoder toolkit for real data.

The public names are imported on first use (PEP 562): ``import aekit`` alone loads neither
torch nor scikit-learn, so that ``aekit --help`` and ``aekit info`` answer at once.

Examples
--------
>>> import aekit
>>> model = aekit.Autoencoder(latent_dim=2, epochs=1)  # torch is imported here
>>> type(model).__name__
'Autoencoder'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from aekit._version import __version__

# Public name -> the module that defines it ("" for a subpackage of that name).
_LAZY: dict[str, str] = {
    "VAE": "aekit.estimators",
    "AnomalyDetector": "aekit.estimators",
    "AutoRec": "aekit.estimators",
    "Autoencoder": "aekit.estimators",
    "AutoencoderClassifier": "aekit.estimators",
    "LatentIndex": "aekit.tasks",
    "load": "aekit.io",
    "datasets": "",
}

if TYPE_CHECKING:
    from aekit import datasets
    from aekit.estimators import VAE, AnomalyDetector, Autoencoder, AutoencoderClassifier, AutoRec
    from aekit.io import load
    from aekit.tasks import LatentIndex


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'aekit' has no attribute {name!r}")
    module = importlib.import_module(_LAZY[name] or f"aekit.{name}")
    value = module if not _LAZY[name] else getattr(module, name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "VAE",
    "AnomalyDetector",
    "AutoRec",
    "Autoencoder",
    "AutoencoderClassifier",
    "LatentIndex",
    "__version__",
    "datasets",
    "load",
]
