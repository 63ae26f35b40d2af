"""Denoising with a fitted autoencoder, and the distortion measures it is judged by.

:func:`psnr` and :func:`summed_squared_error` are shared with :mod:`aekit.tasks.compression`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from sklearn.utils.validation import check_is_fitted

from aekit._repr import result_repr
from aekit._validation import Real, check_value
from aekit.data import in_unit_interval


def _rows(X: Any, name: str) -> np.ndarray:
    """``X`` as finite float32 rows ``(n, n_features)``, any sample shape flattened."""
    try:
        X = np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array: {exc}") from None
    if X.ndim == 0 or X.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sample, got an array of shape {X.shape}")
    X = X.reshape(X.shape[0], -1)
    if X.shape[1] == 0:
        raise ValueError(f"{name} has samples without values (shape {X.shape})")
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return X


def _pair(reference: Any, estimate: Any) -> tuple[np.ndarray, np.ndarray]:
    ref = _rows(reference, "reference")
    est = _rows(estimate, "estimate")
    # Compared value by value: images (n, h, w) and their flat rows (n, h * w) match.
    if ref.shape != est.shape:
        raise ValueError(
            f"reference and estimate must hold the same samples of the same size; got shapes "
            f"{np.shape(reference)} and {np.shape(estimate)}"
        )
    return ref, est


def summed_squared_error(reference: Any, estimate: Any) -> np.ndarray:
    """Squared error summed over the features of each sample, shape ``(n_samples,)``.

    Samples of any shape (images ``(n, h, w)``, rows ``(n, d)``) are compared value by value,
    in the data's units; the sum is taken in float64.

    Examples
    --------
    >>> import numpy as np
    >>> from aekit.tasks import summed_squared_error
    >>> summed_squared_error(np.zeros((2, 2, 2)), np.full((2, 2, 2), 0.5))
    array([1., 1.])
    """
    ref, est = _pair(reference, estimate)
    return np.square(ref - est).sum(axis=1, dtype=np.float64)


def psnr(reference: Any, estimate: Any, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio of ``estimate`` against ``reference``, in dB.

    PSNR = 10 log10(R^2 / MSE), with MSE the mean squared error over every value of the data
    set (not a mean of per-sample PSNRs, which a few near-perfect samples would dominate) and
    R the data range.

    Parameters
    ----------
    reference, estimate : array-like of the same shape
        The clean data and its approximation (denoised, decompressed, noisy).
    data_range : float, optional
        R. By default 1 when ``reference`` lies in [0, 1] (pixels scaled to [0, 1]), else the
        span ``max - min`` of ``reference``.

    Returns
    -------
    float
        The PSNR in dB; ``inf`` when the two are equal.

    Examples
    --------
    >>> import numpy as np
    >>> from aekit.tasks import psnr
    >>> clean = np.full((4, 8, 8), 0.5)
    >>> round(psnr(clean, clean + 0.1), 2)  # MSE 0.01 on [0, 1] data: 20 dB
    20.0
    """
    ref, est = _pair(reference, estimate)
    if data_range is None:
        data_range = 1.0 if in_unit_interval(ref) else float(ref.max() - ref.min())
        if data_range == 0.0:
            raise ValueError("reference is constant and not in [0, 1]; give data_range")
    check_value("data_range", data_range, Real(0, closed="neither"))
    mse = float(np.square(ref - est).mean(dtype=np.float64))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(float(data_range) ** 2 / mse))


class DenoiseResult(NamedTuple):
    denoised: np.ndarray  # model.denoise(X), in X's shape
    psnr_noisy: float | None  # PSNR of the input against the clean reference, dB
    psnr_denoised: float | None  # PSNR of the output against it, dB
    trained_with_noise: bool  # False: the model is a plain autoencoder, denoise = reconstruct

    __repr__ = result_repr


def run_denoise(model: Any, X: Any, clean: Any = None) -> DenoiseResult:
    """Denoise ``X`` with a fitted model and, given the clean data, measure the gain.

    Parameters
    ----------
    model : fitted Autoencoder or VAE
        Anything with ``denoise``; a model trained with ``noise`` (a denoising autoencoder) is
        the one meant for it, any other returns its reconstruction of ``X``.
    X : array-like
        Noisy samples, in the shape the model was fitted on.
    clean : array-like, optional
        The clean samples ``X`` was made from, same shape; gives the PSNRs (see :func:`psnr`,
        whose data range comes from ``clean``).

    Returns
    -------
    DenoiseResult
        The denoised samples and, with ``clean``, the PSNR of input and output in dB.

    Examples
    --------
    >>> import numpy as np
    >>> from aekit import Autoencoder
    >>> from aekit.datasets import load_digits
    >>> from aekit.tasks import run_denoise
    >>> X, _ = load_digits()
    >>> dae = Autoencoder(noise="gaussian", epochs=3, random_state=0, verbose=False).fit(X)
    >>> noisy = np.clip(X + np.random.RandomState(0).normal(0, 0.5, X.shape), 0, 1)
    >>> result = run_denoise(dae, noisy, clean=X)
    >>> result.denoised.shape, round(result.psnr_noisy, 1)  # 3 epochs do not denoise much yet
    ((1797, 8, 8), 9.3)
    """
    if not callable(getattr(model, "denoise", None)):
        raise ValueError(
            f"{type(model).__name__} has no denoise(); denoising needs an Autoencoder "
            "(ideally trained with noise=...) or a VAE"
        )
    check_is_fitted(model, "module_")
    denoised = model.denoise(X)
    psnr_noisy = psnr_denoised = None
    if clean is not None:
        n, size = denoised.shape[0], int(np.prod(denoised.shape[1:]))
        shape = np.shape(clean)
        if len(shape) < 2 or shape[0] != n or int(np.prod(shape[1:])) != size:
            raise ValueError(
                f"the clean data has shape {shape}, but the noisy data has shape "
                f"{denoised.shape}; they must match sample for sample"
            )
        psnr_noisy = psnr(clean, X)
        psnr_denoised = psnr(clean, denoised)
    return DenoiseResult(
        denoised, psnr_noisy, psnr_denoised, getattr(model, "noise", None) is not None
    )


def denoise_figure(noisy: Any, denoised: Any, n: int = 10, title: str | None = None) -> Any:
    """Noisy images (top row) above their denoised versions (bottom row).

    :func:`aekit.plot.reconstructions` with the rows labelled for denoising; images as that
    function takes them (``(n, h, w)``, ``(n, 1, h, w)`` or square flat rows).

    Examples
    --------
    >>> import numpy as np
    >>> from aekit.tasks import denoise_figure
    >>> fig = denoise_figure(np.random.rand(5, 8, 8), np.random.rand(5, 8, 8))
    >>> len(fig.axes), fig.axes[0].get_ylabel(), fig.axes[5].get_ylabel()
    (10, 'noisy', 'denoised')
    """
    from aekit import plot

    fig = plot.reconstructions(noisy, denoised, n=n, title=title)
    shown = len(fig.axes) // 2
    fig.axes[0].set_ylabel("noisy")
    fig.axes[shown].set_ylabel("denoised")
    return fig
