"""The latent map: codes on a plane, coloured by label or by a score."""

from __future__ import annotations

from typing import Any

import numpy as np

from aekit._optional import require
from aekit.plot._base import _figure, literal

# Projections of wide codes onto a plane: name -> (x label, y label).
PROJECTIONS = {
    "pca": ("PC1 of the codes", "PC2 of the codes"),
    "tsne": ("t-SNE 1", "t-SNE 2"),
}

# Labels with more distinct numeric values than this are a score (one colour scale), not classes.
MAX_CLASSES = 20


def project(
    codes: np.ndarray, method: str = "pca", random_state: int | None = 0
) -> tuple[np.ndarray, tuple[str, str]]:
    """The codes as points of a plane, and the names of its two axes.

    2-D codes are returned as they are (axes ``z1``, ``z2``) and 1-D codes lie on the x axis;
    wider codes are projected with ``method``: ``"pca"`` (their first two principal
    components: linear, fast, distances along the axes keep their meaning) or ``"tsne"``
    (scikit-learn's t-SNE: neighbourhoods kept, global distances not; perplexity 30, or less
    for fewer than 100 points).

    Examples
    --------
    >>> import numpy as np
    >>> from aekit.plot import project
    >>> points, axes = project(np.random.rand(40, 8))
    >>> points.shape, axes
    ((40, 2), ('PC1 of the codes', 'PC2 of the codes'))
    """
    if method not in PROJECTIONS:
        raise ValueError(f"method must be one of {sorted(PROJECTIONS)}, got {method!r}")
    Z = np.asarray(codes, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[1] < 1 or len(Z) == 0:
        raise ValueError(f"codes must have shape (n_samples, latent_dim), got {Z.shape}")
    if not np.isfinite(Z).all():
        raise ValueError("codes hold NaN or infinite values")
    if Z.shape[1] == 1:
        return np.column_stack([Z[:, 0], np.zeros(len(Z))]), ("z1", "")
    if Z.shape[1] == 2:
        return Z, ("z1", "z2")
    if len(Z) < 3:
        raise ValueError(f"projecting {Z.shape[1]}-D codes needs at least 3 samples, got {len(Z)}")
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(2, random_state=random_state).fit_transform(Z), PROJECTIONS[method]
    from sklearn.manifold import TSNE

    perplexity = float(min(30.0, max(1.0, (len(Z) - 1) / 3)))
    tsne = TSNE(2, perplexity=perplexity, init="pca", random_state=random_state)
    return tsne.fit_transform(Z), PROJECTIONS[method]


def is_score(labels: np.ndarray) -> bool:
    """Whether ``labels`` are scores, drawn with a colour scale, rather than classes, drawn
    with one colour each: floats with more than :data:`MAX_CLASSES` distinct values.

    :func:`latent_map` and the report's interactive map colour points by this rule.

    Parameters
    ----------
    labels : ndarray of shape (n_samples,)

    Returns
    -------
    bool

    Examples
    --------
    >>> import numpy as np
    >>> is_score(np.linspace(0.0, 1.0, 100)), is_score(np.arange(100)), is_score(np.ones(100))
    (True, False, False)
    """
    return labels.dtype.kind == "f" and len(np.unique(labels)) > MAX_CLASSES


def latent_map(
    codes: np.ndarray,
    labels: np.ndarray | None = None,
    method: str = "pca",
    random_state: int | None = 0,
    title: str | None = None,
) -> Any:
    """Scatter plot of the codes on a plane, coloured by label when labels are given.

    Parameters
    ----------
    codes : array of shape (n_samples, latent_dim)
        The codes, such as ``estimator.transform(X)``. 2-D codes are drawn directly, wider
        ones through :func:`project` with ``method``.
    labels : array of shape (n_samples,), optional
        Classes (one colour and one legend entry each), or a continuous value such as an
        anomaly score (float with more than 20 distinct values: one colour scale and a
        colour bar).
    method : {"pca", "tsne"}, default="pca"
        Projection of codes wider than 2.
    random_state : int or None, default=0
        Seed of the projection (t-SNE's, and PCA's randomised solver).
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from aekit import plot
    >>> fig = plot.latent_map(np.random.rand(50, 2), labels=np.arange(50) % 3)
    >>> fig.axes[0].get_xlabel()
    'z1'
    """
    Z, (xlabel, ylabel) = project(codes, method, random_state)
    fig = _figure(6.0, 5.0)
    ax = fig.subplots()
    if labels is None:
        ax.scatter(Z[:, 0], Z[:, 1], s=6, alpha=0.7)
    else:
        labels = np.asarray(labels)
        if labels.shape != (len(Z),):
            raise ValueError(
                f"labels must hold the same number of samples as the codes: shape ({len(Z)},), "
                f"got {labels.shape}"
            )
        if is_score(labels):
            points = ax.scatter(Z[:, 0], Z[:, 1], s=6, alpha=0.8, c=labels, cmap="viridis")
            fig.colorbar(points, ax=ax, label="score")
        else:
            classes = np.unique(labels)
            name = "tab10" if len(classes) <= 10 else "tab20"
            cmap = require("matplotlib", "plot").colormaps[name]
            for i, cls in enumerate(classes):
                mask = labels == cls
                ax.scatter(
                    Z[mask, 0],
                    Z[mask, 1],
                    s=6,
                    alpha=0.7,
                    color=cmap(i % cmap.N),
                    label=literal(cls),
                )
            ax.legend(markerscale=3, fontsize="small", loc="best", title="label")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return fig
