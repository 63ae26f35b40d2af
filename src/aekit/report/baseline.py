"""The yardstick of a reconstruction error: PCA with as many components as the code has.

One function for every place that puts a model beside PCA (the report's metrics, the demo's
console line), so that they print one figure with one definition.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

# What the figures are, for the pages and messages that show them.
DEFINITION = (
    "squared error summed over each sample's values and averaged over the samples, in the "
    "data's units; PCA is fitted to these same samples, so it is the best any linear code "
    "of its size can do on them, and a ratio above 1 means the model beats every one"
)


class PCABaseline(NamedTuple):
    """A model's reconstruction error beside PCA's on the same samples (see :data:`DEFINITION`)."""

    error: float  # the model's squared error per sample
    pca_error: float  # PCA's, fitted to the same samples
    n_components: int  # PCA's components: the code size, at most min(n_samples, n_features)
    n_samples: int  # samples measured

    @property
    def ratio(self) -> float:
        """PCA's error over the model's (above 1: the model reconstructs better); ``inf``
        when the model's error is 0."""
        return self.pca_error / self.error if self.error > 0 else float("inf")


def pca_baseline(
    estimator: Any,
    X: Any,
    n_components: int | None = None,
    random_state: int | None = 0,
    *,
    reconstructions: Any = None,
) -> PCABaseline:
    """The squared error per sample of ``estimator.reconstruct(X)`` and of PCA on ``X``.

    The error of a sample is its squared error summed over its values
    (:func:`aekit.tasks.summed_squared_error`, in the data's units); both errors are its mean
    over the samples. PCA, with ``n_components`` components, is fitted to ``X`` itself: the
    best affine code of that size for these very samples (Eckart-Young), an optimistic
    baseline that needs no other data.

    Parameters
    ----------
    estimator : fitted Autoencoder or VAE
        Anything with ``reconstruct`` (and ``transform``, for the default ``n_components``).
    X : array-like
        The samples, in the shape the estimator was fitted on.
    n_components : int, optional
        PCA's components; by default the size of the estimator's code. Capped at
        ``min(n_samples, n_features)``, as PCA needs.
    random_state : int or None, default=0
        Seed of PCA's solver (only its randomised solver, for large data, draws numbers).
    reconstructions : array-like, optional
        ``estimator.reconstruct(X)``, when the caller has it already (the report reconstructs
        its data once for every section).

    Returns
    -------
    PCABaseline

    Examples
    --------
    >>> from aekit import Autoencoder
    >>> from aekit.datasets import load_digits
    >>> from aekit.report.baseline import pca_baseline
    >>> X, _ = load_digits()
    >>> ae = Autoencoder(latent_dim=2, epochs=2, random_state=0, verbose=False).fit(X)
    >>> baseline = pca_baseline(ae, X)
    >>> baseline.n_components, baseline.n_samples
    (2, 1797)
    """
    from sklearn.decomposition import PCA

    from aekit.tasks.denoising import summed_squared_error

    X = np.asarray(X)
    flat = X.reshape(len(X), -1).astype(np.float64)
    if n_components is None:
        n_components = int(np.asarray(estimator.transform(X[:1])).shape[1])
    k = min(int(n_components), *flat.shape)
    pca = PCA(k, random_state=random_state).fit(flat)
    if reconstructions is None:
        reconstructions = estimator.reconstruct(X)
    return PCABaseline(
        error=float(summed_squared_error(X, np.asarray(reconstructions)).mean()),
        pca_error=float(
            summed_squared_error(flat, pca.inverse_transform(pca.transform(flat))).mean()
        ),
        n_components=k,
        n_samples=len(X),
    )
