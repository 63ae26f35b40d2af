"""Figures of what a model learned (matplotlib; every function returns a ``Figure``).

The figures are built with ``matplotlib.figure.Figure`` directly, never through pyplot, so
nothing here touches global state or needs a display; save one with ``fig.savefig(path)``.

- images: :func:`reconstructions`, :func:`image_grid` (VAE samples), :func:`interpolation`,
  :func:`features` (first-layer weights), :func:`neighbors` (retrieval results);
- signals: :func:`signal_reconstructions` (1-D spectra or sequences, reconstruction overlaid);
- latent: :func:`latent_map` and :func:`project` (PCA or t-SNE of wide codes);
- curves: :func:`training_curves` with every loss term;
- anomaly: :func:`anomaly_scores` (histogram with the threshold, ROC curve with labels),
  :func:`anomaly_timeline` (a series' per-step scores against time) and :func:`explanation`
  (images beside the heat maps of their scores' shares).
"""

from aekit.plot.anomaly import anomaly_scores, anomaly_timeline, explanation
from aekit.plot.curves import training_curves
from aekit.plot.images import (
    TILE_CLIP,
    features,
    image_grid,
    interpolation,
    neighbors,
    reconstructions,
)
from aekit.plot.latent import latent_map, project
from aekit.plot.signals import signal_reconstructions

__all__ = [
    "TILE_CLIP",
    "anomaly_scores",
    "anomaly_timeline",
    "explanation",
    "features",
    "image_grid",
    "interpolation",
    "latent_map",
    "neighbors",
    "project",
    "reconstructions",
    "signal_reconstructions",
    "training_curves",
]
