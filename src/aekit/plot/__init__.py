"""Figures of what a model learned (matplotlib; every function returns a ``Figure``).

The figures are built with ``matplotlib.figure.Figure`` directly, never through pyplot, so
nothing here touches global state or needs a display; save one with ``fig.savefig(path)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from aekit._optional import require


def _figure(width: float, height: float) -> Any:
    figure_module = require("matplotlib.figure", "plot")
    return figure_module.Figure(figsize=(width, height), layout="constrained")


def _as_images(X: np.ndarray, image_shape: tuple[int, int] | None) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if image_shape is not None:
        return X.reshape(len(X), *image_shape)
    if X.ndim == 3:
        return X
    side = round(np.sqrt(X.shape[1])) if X.ndim == 2 else 0
    if X.ndim != 2 or side * side != X.shape[1]:
        raise ValueError(
            f"cannot show samples of shape {X.shape[1:]} as images; pass image_shape=(h, w)"
        )
    return X.reshape(len(X), side, side)


def reconstructions(
    originals: np.ndarray,
    reconstructed: np.ndarray,
    n: int = 10,
    image_shape: tuple[int, int] | None = None,
    title: str | None = None,
) -> Any:
    """Originals (top row) above their reconstructions (bottom row), for image data.

    Examples
    --------
    >>> from aekit import Autoencoder, plot
    >>> from aekit.datasets import load_digits
    >>> X, _ = load_digits()
    >>> ae = Autoencoder(latent_dim=8, epochs=3, random_state=0).fit(X)
    >>> fig = plot.reconstructions(X[:8], ae.reconstruct(X[:8]))
    >>> len(fig.axes)
    16
    """
    top = _as_images(originals, image_shape)[:n]
    bottom = _as_images(reconstructed, image_shape)[:n]
    if len(top) != len(bottom):
        raise ValueError("originals and reconstructions must hold the same number of samples")
    n = len(top)
    vmin = float(min(top.min(), bottom.min()))
    vmax = float(max(top.max(), bottom.max()))
    fig = _figure(1.1 * n, 2.6)
    axes = fig.subplots(2, n, squeeze=False)
    for i in range(n):
        for row, images in enumerate((top, bottom)):
            ax = axes[row, i]
            ax.imshow(images[i], cmap="gray", vmin=vmin, vmax=vmax)
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("original")
    axes[1, 0].set_ylabel("reconstruction")
    if title:
        fig.suptitle(title)
    return fig


def latent_map(
    codes: np.ndarray, labels: np.ndarray | None = None, title: str | None = None
) -> Any:
    """Scatter plot of the codes: 2-D codes directly, wider ones projected on their first two
    principal components; coloured by label when labels are given.

    Examples
    --------
    >>> import numpy as np
    >>> from aekit import plot
    >>> fig = plot.latent_map(np.random.rand(50, 2), labels=np.arange(50) % 3)
    >>> fig.axes[0].get_xlabel()
    'z1'
    """
    Z = np.asarray(codes, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[1] < 1:
        raise ValueError(f"codes must have shape (n_samples, latent_dim), got {Z.shape}")
    xlabel, ylabel = "z1", "z2"
    if Z.shape[1] == 1:
        Z = np.column_stack([Z[:, 0], np.zeros(len(Z))])
        ylabel = ""
    elif Z.shape[1] > 2:
        from sklearn.decomposition import PCA

        Z = PCA(2).fit_transform(Z)
        xlabel, ylabel = "PC1 of the codes", "PC2 of the codes"
    fig = _figure(6.0, 5.0)
    ax = fig.subplots()
    if labels is None:
        ax.scatter(Z[:, 0], Z[:, 1], s=6, alpha=0.7)
    else:
        labels = np.asarray(labels)
        if len(labels) != len(Z):
            raise ValueError("labels and codes must hold the same number of samples")
        classes = np.unique(labels)
        cmap = require("matplotlib", "plot").colormaps["tab10" if len(classes) <= 10 else "tab20"]
        for i, cls in enumerate(classes):
            mask = labels == cls
            ax.scatter(
                Z[mask, 0], Z[mask, 1], s=6, alpha=0.7, color=cmap(i % cmap.N), label=str(cls)
            )
        ax.legend(markerscale=3, fontsize="small", loc="best", title="label")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return fig


__all__ = ["latent_map", "reconstructions"]
