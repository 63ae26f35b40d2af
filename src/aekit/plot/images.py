"""Image figures: reconstructions, grids of samples, interpolation strips, learned features."""

from __future__ import annotations

from typing import Any

import numpy as np

from aekit._validation import Integer, check_value
from aekit.plot._base import _as_images, _columns, _figure, _tile_grid, literal


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


# Percentile of each tile shown black (and 100 minus it white) by `features`.
TILE_CLIP = 1.0


def _unit_range(tiles: np.ndarray) -> np.ndarray:
    """Scale every tile to [0, 1] on its own, from its TILE_CLIP-th percentile (black) to its
    (100 - TILE_CLIP)-th (white), clipping beyond; a flat tile becomes 0.5.

    Percentiles rather than min and max: input pixels that are always 0 in training (MNIST's
    border) get no gradient and keep their random initial weights, often larger than the
    learned ones, and a few of them would otherwise wash the whole tile out.
    """
    flat = tiles.reshape(len(tiles), -1).astype(np.float64)
    low = np.percentile(flat, TILE_CLIP, axis=1, keepdims=True)
    span = np.percentile(flat, 100 - TILE_CLIP, axis=1, keepdims=True) - low
    scaled = np.where(span > 0, (flat - low) / np.where(span > 0, span, 1.0), 0.5)
    scaled = np.clip(scaled, 0.0, 1.0)
    return scaled.reshape(tiles.shape).astype(np.float32)


def _first_layer(estimator: Any) -> Any:
    """The first layer with weights of a fitted estimator's (or a module's) encoder."""
    import torch

    module = estimator
    if not isinstance(estimator, torch.nn.Module):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(estimator, "module_")
        module = estimator.module_
    encoder = getattr(module, "encoder", module)
    for layer in encoder.modules():
        if any(True for _ in layer.parameters(recurse=False)):
            return layer
    raise ValueError(f"{type(module).__name__} has no layer with weights to show")


def features(
    estimator_or_weights: Any,
    n: int = 100,
    image_shape: tuple[int, int] | None = None,
    title: str | None = None,
) -> Any:
    """The features learned by the first encoder layer, one image per hidden unit.

    Hidden unit j of the first dense layer computes h_j = a(w_j . x + b_j), so it responds
    most to inputs shaped like its weight row w_j: row j of the weight matrix W (shape
    ``(n_hidden, n_features)``), shown in the shape of one input, is the feature the unit
    detects (the "filters" of a sparse autoencoder on images). Every tile is scaled to its
    own range (its 1st percentile black, its 99th white, so that a few untrained border
    weights do not wash it out), since only the pattern of a row matters, not its size.

    Parameters
    ----------
    estimator_or_weights : fitted estimator, torch.nn.Module or array (n_hidden, n_features)
        A fitted :class:`~aekit.Autoencoder`, :class:`~aekit.VAE` or
        :class:`~aekit.AutoencoderClassifier` (the first layer with weights in
        ``module_.encoder``), a module with an ``encoder``, or the weight matrix itself. A
        convolutional first layer on one-channel images shows its kernels instead (one
        ``k x k`` tile per output channel); any other first layer (recurrent cells,
        1-D or multi-channel convolutions) raises a ``ValueError``.
    n : int, default=100
        Show at most the first ``n`` units.
    image_shape : tuple (h, w), optional
        Shape of one input image; by default the estimator's own (its ``image_shape()``),
        else the rows must be square images (64 -> 8x8, 784 -> 28x28). Ignored for
        convolution kernels.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per unit shown, on a near-square grid.

    Examples
    --------
    >>> from aekit import Autoencoder, plot
    >>> from aekit.datasets import load_digits
    >>> X, _ = load_digits()
    >>> ae = Autoencoder(hidden=(), latent_dim=16, epochs=2, random_state=0).fit(X)
    >>> fig = plot.features(ae)  # the 16 rows of the 16 x 64 weight matrix, as 8x8 images
    >>> len(fig.axes)
    16
    """
    check_value("n", n, Integer(1))
    import torch

    source = estimator_or_weights
    if hasattr(source, "get_params") or isinstance(source, torch.nn.Module):
        layer = _first_layer(source)
        if image_shape is None and not isinstance(source, torch.nn.Module):
            image_shape = source.image_shape()
        if isinstance(layer, torch.nn.Conv2d) and layer.in_channels == 1:
            kernels = layer.weight.detach().float().cpu().numpy()[:, 0]  # (out, kh, kw)
            return _tile_grid(_unit_range(kernels[:n]), _columns(n, kernels), 0.0, 1.0, title)
        if not isinstance(layer, torch.nn.Linear):
            raise ValueError(
                f"the first encoder layer is {type(layer).__name__}, not a dense (Linear) layer, "
                "so it has no weight rows to show as images; features() shows dense first "
                "layers and the kernels of 2-D convolutions on one-channel images"
            )
        weights = layer.weight.detach().float().cpu().numpy()  # (out, in)
    else:
        if isinstance(source, torch.Tensor):
            source = source.detach().cpu().numpy()
        weights = np.asarray(source, dtype=np.float32)
        if weights.ndim != 2:
            raise ValueError(
                f"weights must be a 2-D array (n_hidden, n_features), got shape {weights.shape}"
            )
    tiles = _as_images(weights[:n], image_shape)
    return _tile_grid(_unit_range(tiles), _columns(n, weights), 0.0, 1.0, title)


def image_grid(
    images: np.ndarray,
    ncols: int = 10,
    image_shape: tuple[int, int] | None = None,
    title: str | None = None,
) -> Any:
    """Images on a grid, row by row, on one grey scale (VAE samples, denoised images...).

    Parameters
    ----------
    images : array of shape (n, h, w), (n, 1, h, w) or (n, h * w)
        The images, in reading order; flat rows need ``image_shape`` unless they are square.
    ncols : int, default=10
        Images per row (fewer when there are fewer images).
    image_shape : tuple (h, w), optional
        Shape of one image, for flat rows.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per image; all share the grey scale from the smallest to the largest value.

    Examples
    --------
    >>> import numpy as np
    >>> from aekit import plot
    >>> fig = plot.image_grid(np.random.rand(12, 8, 8), ncols=5)
    >>> len(fig.axes)
    12
    """
    check_value("ncols", ncols, Integer(1))
    tiles = _as_images(images, image_shape)
    if len(tiles) == 0:
        raise ValueError("no images to show")
    return _tile_grid(tiles, ncols, float(tiles.min()), float(tiles.max()), title)


def interpolation(
    images: np.ndarray, image_shape: tuple[int, int] | None = None, title: str | None = None
) -> Any:
    """A strip of images from one end point to the other, such as ``VAE.interpolate``'s.

    Each image is labelled with its position t in [0, 1] along the path (t = 0 the first
    sample's code, t = 1 the second's); all share one grey scale.

    Parameters
    ----------
    images : array of shape (steps, h, w), (steps, 1, h, w) or (steps, h * w)
        At least two images, the end points included.
    image_shape : tuple (h, w), optional
        Shape of one image, for flat rows.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        One row of ``steps`` axes.

    Examples
    --------
    >>> from aekit import VAE, plot
    >>> from aekit.datasets import load_digits
    >>> X, _ = load_digits()
    >>> vae = VAE(latent_dim=2, epochs=2, random_state=0).fit(X)
    >>> fig = plot.interpolation(vae.interpolate(X[0], X[1], steps=8))
    >>> len(fig.axes), fig.axes[-1].get_xlabel()
    (8, 't=1')
    """
    tiles = _as_images(images, image_shape)
    if len(tiles) < 2:
        raise ValueError(f"an interpolation needs at least 2 images, got {len(tiles)}")
    fig = _tile_grid(tiles, len(tiles), float(tiles.min()), float(tiles.max()), title, 1.0)
    for ax, t in zip(fig.axes, np.linspace(0.0, 1.0, len(tiles)), strict=True):
        ax.set_xlabel(f"t={t:.2g}", fontsize="small")
    return fig


def _cells(samples: np.ndarray, image_shape: tuple[int, int] | None) -> np.ndarray | None:
    """The samples as images, or None when they are not images (vectors get line plots)."""
    try:
        return _as_images(samples, image_shape)
    except ValueError:
        if image_shape is not None:
            raise
        return None


def neighbors(
    queries: np.ndarray,
    items: np.ndarray,
    ids: np.ndarray,
    distances: np.ndarray | None = None,
    query_labels: np.ndarray | None = None,
    item_labels: np.ndarray | None = None,
    image_shape: tuple[int, int] | None = None,
    as_images: bool | None = None,
    title: str | None = None,
) -> Any:
    """Retrieval results: each query (first column) and its nearest items, nearest first.

    Parameters
    ----------
    queries : array of shape (n_queries, ...)
        The query samples, one row of the figure each.
    items : array of shape (n_items, ...)
        The indexed samples, in the order they were added (``ids`` index them).
    ids : int array of shape (n_queries, k)
        Neighbours of each query, as :meth:`aekit.LatentIndex.search` returns them.
    distances : array of shape (n_queries, k), optional
        Their distances, written under each neighbour.
    query_labels, item_labels : arrays, optional
        Labels of the queries and of the items: each neighbour is titled with its label, and
        framed in red when it differs from its query's.
    image_shape : tuple (h, w), optional
        Shape of one image, for flat rows that are not square. Samples that are not images
        are drawn as line plots of their values.
    as_images : bool, optional
        Draw the samples as images (True) or as line plots of their values (False); by
        default images whenever they can be (2-D samples, or flat rows of a square size).
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        ``n_queries * (k + 1)`` axes, row by row.

    Examples
    --------
    >>> from aekit import Autoencoder, LatentIndex, plot
    >>> from aekit.datasets import load_digits
    >>> X, y = load_digits()
    >>> ae = Autoencoder(latent_dim=8, epochs=3, random_state=0, verbose=False).fit(X)
    >>> distances, ids = LatentIndex(ae).add(X[:1500]).search(X[1500:1503], k=5)
    >>> fig = plot.neighbors(X[1500:1503], X[:1500], ids, distances, y[1500:1503], y[:1500])
    >>> len(fig.axes)
    18
    """
    ids = np.asarray(ids)
    if ids.ndim != 2 or ids.dtype.kind not in "iu":
        raise ValueError(
            f"ids must be an integer array (n_queries, k), got {ids.dtype} {ids.shape}"
        )
    if len(queries) != len(ids):
        raise ValueError(f"{len(queries)} queries but ids for {len(ids)}")
    if ids.size and (ids.min() < 0 or ids.max() >= len(items)):
        raise ValueError(f"ids must index the {len(items)} items (0..{len(items) - 1})")
    if distances is not None and np.shape(distances) != ids.shape:
        raise ValueError(f"distances must have the shape of ids {ids.shape}")
    expected = {"query_labels": (query_labels, len(ids)), "item_labels": (item_labels, len(items))}
    for name, (lab, n) in expected.items():
        if lab is not None and len(lab) != n:
            raise ValueError(f"{name} must hold {n} labels, got {len(lab)}")
    n_queries, k = ids.shape
    if n_queries == 0:
        raise ValueError("no queries to show")
    if k == 0:
        raise ValueError("ids hold no neighbours (k = 0)")
    if as_images is False:
        query_cells = item_cells = None
    else:
        query_cells = _cells(np.asarray(queries), image_shape)
        item_cells = _cells(np.asarray(items)[ids.ravel()], image_shape)
    images = query_cells is not None and item_cells is not None
    if as_images and not images:
        raise ValueError("the samples cannot be shown as images; pass image_shape=(h, w)")
    flat_q = np.asarray(queries, dtype=np.float32).reshape(n_queries, -1)
    flat_i = np.asarray(items, dtype=np.float32)[ids.ravel()].reshape(n_queries * k, -1)
    lo = float(min(flat_q.min(), flat_i.min()))
    hi = float(max(flat_q.max(), flat_i.max()))
    fig = _figure(1.0 * (k + 1) + 0.3, 1.15 * n_queries + (0.4 if title else 0.1))
    axes = fig.subplots(n_queries, k + 1, squeeze=False)
    for row in range(n_queries):
        for col in range(k + 1):
            ax = axes[row, col]
            flat = flat_q[row] if col == 0 else flat_i[row * k + col - 1]
            if images:
                cell = query_cells[row] if col == 0 else item_cells[row * k + col - 1]
                ax.imshow(cell, cmap="gray", vmin=lo, vmax=hi)
            else:
                ax.plot(flat, color="C0" if col == 0 else "C1", linewidth=0.8)
                ax.set_ylim(lo, hi)
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_title(
                    "query" if query_labels is None else f"query: {literal(query_labels[row])}",
                    fontsize="small",
                )
                for spine in ax.spines.values():
                    spine.set_color("C0")
                    spine.set_linewidth(2)
                continue
            item = int(ids[row, col - 1])
            if item_labels is not None:
                ax.set_title(literal(item_labels[item]), fontsize="small")
                if query_labels is not None and item_labels[item] != query_labels[row]:
                    for spine in ax.spines.values():
                        spine.set_color("C3")
                        spine.set_linewidth(2)
            if distances is not None:
                ax.set_xlabel(f"{float(distances[row, col - 1]):.3g}", fontsize="x-small")
    if title:
        fig.suptitle(title)
    return fig
