"""Shared pieces of the figures: a pyplot-free Figure, samples as images, grids of tiles."""

from __future__ import annotations

from typing import Any

import numpy as np

from aekit._optional import require


def literal(text: object) -> str:
    """``text`` as matplotlib shows it verbatim: a user's label such as ``"$x^$"`` would
    otherwise be parsed as mathtext (and fail or render as maths)."""
    return str(text).replace("$", r"\$")


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


def _columns(n: int, weights: np.ndarray) -> int:
    """Columns of a near-square grid for the first ``n`` rows of ``weights``."""
    return int(np.ceil(np.sqrt(min(n, len(weights)))))
