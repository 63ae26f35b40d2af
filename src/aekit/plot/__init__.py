"""Figures of what a model learned (matplotlib; every function returns a ``Figure``).

The figures are built with ``matplotlib.figure.Figure`` directly, never through pyplot, so
nothing here touches global state or needs a display; save one with ``fig.savefig(path)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from aekit._optional import require


def _figure(width: float, height: float) -> Any:
    figure_module = require("matplotlib.figure", "plot")
    return figure_module.Figure(figsize=(width, height), layout="constrained")


def _as_images(X: np.ndarray, image_shape: tuple[int, int] | None) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if image_shape is None and X.ndim == 4 and X.shape[1] == 1:
        X = X[:, 0]  # (n, 1, h, w): one-channel images
    if image_shape is not None:
        size = int(np.prod(X.shape[1:]))
        if len(image_shape) != 2 or int(np.prod(image_shape)) != size:
            raise ValueError(
                f"image_shape={tuple(image_shape)} does not fit samples of {size} values"
            )
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


def _tile_grid(
    tiles: np.ndarray,
    ncols: int,
    vmin: float,
    vmax: float,
    title: str | None,
    tile_inches: float = 0.8,
) -> Any:
    """``tiles`` (n, h, w) on a grid of ``ncols`` columns, one grey scale ``vmin..vmax``; the
    unused cells of the last row are removed, so ``fig.axes`` holds one axes per tile."""
    n = len(tiles)
    ncols = max(1, min(int(ncols), n))
    nrows = -(-n // ncols)
    height, width = tiles.shape[1:]
    aspect = height / width
    fig = _figure(tile_inches * ncols + 0.2, tile_inches * aspect * nrows + (0.5 if title else 0.2))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, tile in zip(axes, tiles, strict=False):
        ax.imshow(tile, cmap="gray", vmin=vmin, vmax=vmax)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[n:]:
        ax.remove()
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


def _sample_image_shape(estimator: Any) -> tuple[int, int] | None:
    """The (h, w) of one training sample of a fitted estimator, when it is an image."""
    shape = tuple(getattr(estimator, "input_shape_", ()) or ())
    if len(shape) == 3 and shape[0] == 1:
        shape = shape[1:]
    return (int(shape[0]), int(shape[1])) if len(shape) == 2 else None


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
        Shape of one input image; by default the estimator's ``input_shape_``, else the rows
        must be square images (64 -> 8x8, 784 -> 28x28). Ignored for convolution kernels.
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
    if not (isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1):
        raise ValueError(f"n must be a positive integer, got {n!r}")
    import torch

    source = estimator_or_weights
    if hasattr(source, "get_params") or isinstance(source, torch.nn.Module):
        layer = _first_layer(source)
        if image_shape is None:
            image_shape = _sample_image_shape(source)
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


def _columns(n: int, weights: np.ndarray) -> int:
    """Columns of a near-square grid for the first ``n`` rows of ``weights``."""
    return int(np.ceil(np.sqrt(min(n, len(weights)))))


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
    if not (isinstance(ncols, (int, np.integer)) and not isinstance(ncols, bool) and ncols >= 1):
        raise ValueError(f"ncols must be a positive integer, got {ncols!r}")
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


# Numeric keys of a history record that are not loss terms.
_NOT_LOSSES = ("epoch", "time", "layer", "n_samples")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _plain_log_formatter(ticker: Any, **kwargs: Any) -> Any:
    """matplotlib's choice of labelled ticks on a log axis, written as plain numbers."""

    class PlainLogFormatter(ticker.LogFormatterSciNotation):  # type: ignore[misc]
        def __call__(self, x: float, pos: int | None = None) -> str:
            return f"{x:g}" if super().__call__(x, pos) else ""

    return PlainLogFormatter(**kwargs)


def training_curves(history: Any, title: str | None = None) -> Any:
    """Every loss term of a training history against the epoch.

    Training values are solid lines and validation values (``val_`` keys) dashed lines of the
    same colour; the y axis is logarithmic when every value is positive (terms of very
    different sizes, such as a reconstruction loss and a small weight penalty, then stay
    readable). With a fitted estimator, a dotted vertical line marks ``best_epoch_``, the epoch
    whose weights the model kept.

    Parameters
    ----------
    history : fitted estimator or list of dict
        An estimator's ``history_`` (or the estimator): one dict per epoch. The keys
        ``epoch``, ``time``, ``layer`` and ``n_samples`` and non-numeric values (``stage``)
        are not loss terms and are left out; ``epoch``, when it counts up, gives the x axis.
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure
        One axes; each line is labelled with its key.

    Examples
    --------
    >>> from aekit import Autoencoder, plot
    >>> from aekit.datasets import load_digits
    >>> X, _ = load_digits()
    >>> ae = Autoencoder(latent_dim=2, epochs=3, random_state=0).fit(X)
    >>> fig = plot.training_curves(ae)
    >>> [line.get_label() for line in fig.axes[0].lines]
    ['loss', 'val_loss', 'reconstruction', 'val_reconstruction', 'best epoch']
    """
    best_epoch = None
    if hasattr(history, "get_params"):  # an estimator
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(history, "history_")
        best_epoch = getattr(history, "best_epoch_", None)
        history = history.history_
    if isinstance(history, Mapping) or not isinstance(history, Sequence):
        raise ValueError("history must be a list of dicts (one per epoch) or a fitted estimator")
    records = list(history)
    if not records:
        raise ValueError("history is empty: there is no epoch to plot")
    if not all(isinstance(r, Mapping) for r in records):
        raise ValueError("every entry of history must be a dict of one epoch's values")
    keys: list[str] = []
    for record in records:
        for key, value in record.items():
            if key not in _NOT_LOSSES and key not in keys and _is_number(value):
                keys.append(key)
    terms: list[str] = []
    for key in keys:
        term = key.removeprefix("val_")
        if term not in terms:
            terms.append(term)
    if not terms:
        raise ValueError(f"history holds no numeric loss terms; its keys are {list(records[0])}")

    epochs = [r.get("epoch") for r in records]
    if not (all(_is_number(e) for e in epochs) and np.all(np.diff(epochs) > 0)):
        epochs = list(range(1, len(records) + 1))
    ticker = require("matplotlib.ticker", "plot")
    fig = _figure(6.0, 4.0)
    ax = fig.subplots()
    values = []
    for i, term in enumerate(terms):
        for key, style in ((term, "-"), (f"val_{term}", "--")):
            if key in keys:
                y = np.array(
                    [r[key] if _is_number(r.get(key)) else np.nan for r in records], dtype=float
                )
                ax.plot(epochs, y, linestyle=style, color=f"C{i % 10}", label=key)
                values.append(y)
    finite = np.concatenate(values)
    finite = finite[np.isfinite(finite)]
    if finite.size and (finite > 0).all():
        ax.set_yscale("log")
        # Plain numbers (0.3, not 3 x 10^-1): a loss seldom spans many decades.
        ax.yaxis.set_major_formatter(_plain_log_formatter(ticker))
        ax.yaxis.set_minor_formatter(_plain_log_formatter(ticker, labelOnlyBase=False))
    if _is_number(best_epoch) and best_epoch >= 1:
        ax.axvline(best_epoch, color="0.4", linestyle=":", linewidth=1, label="best epoch")
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(fontsize="small", loc="best")
    if title:
        ax.set_title(title)
    return fig


__all__ = [
    "features",
    "image_grid",
    "interpolation",
    "latent_map",
    "reconstructions",
    "training_curves",
]
