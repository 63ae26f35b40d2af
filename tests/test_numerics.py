"""Numerical contracts of inference: batch independence, non-finite results, degenerate input.

Issue 14, points 0, 6, 8, 14 (sparse input) and 16.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import scipy.sparse
import torch
from sklearn.base import clone
from sklearn.utils.estimator_checks import check_methods_subset_invariance

from aekit import VAE, AnomalyDetector, Autoencoder, AutoencoderClassifier
from aekit.estimators import BaseAutoencoder

THREADS = [1, 2]
FAST = {"epochs": 2, "random_state": 0, "verbose": False}


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch threads, then restore the previous count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def no_runtime_warnings() -> Iterator[None]:
    """Turn a numpy RuntimeWarning (overflow, invalid value) into a test failure."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


def _fit(estimator: Any, X: Any) -> Any:
    """A fresh clone of ``estimator`` fitted on ``X`` (and two classes for a classifier)."""
    estimator = clone(estimator)
    if isinstance(estimator, AutoencoderClassifier):
        return estimator.fit(X, np.arange(X.shape[0]) % 2)
    return estimator.fit(X)


# ------------------------------------------------------------------ points 0 and 16
# More rows than one inference chunk of any model below, so that the rows checked one by one
# sit at the start, the middle and the end of a chunk. Ten features (and widths such as 5 or 3)
# are what made MKL's matrix products depend on a row's position in the batch.
N_ROWS = 2100
METHODS = [
    "transform",
    "reconstruct",
    "reconstruction_error",
    "predict",
    "predict_proba",
    "decision_function",
    "score_samples",
]


def _data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "table": rng.normal(size=(N_ROWS, 10)) @ rng.normal(size=(10, 10)),
        "unit": rng.random((N_ROWS, 10)),
        "images": rng.random((N_ROWS, 6, 6)),
        "sequences": rng.normal(size=(N_ROWS, 7, 3)),
    }


CASES: dict[str, tuple[Any, str]] = {
    "dense": (Autoencoder(latent_dim=3, **FAST), "table"),
    "dense-sigmoid": (Autoencoder(latent_dim=5, hidden=(7,), **FAST), "unit"),
    "conv": (Autoencoder(architecture="conv", latent_dim=3, hidden=(4, 6), **FAST), "images"),
    "lstm": (Autoencoder(architecture="recurrent", latent_dim=3, hidden=(5,), **FAST), "sequences"),
    "elman": (
        Autoencoder(architecture="recurrent", cell="elman", latent_dim=3, hidden=(5,), **FAST),
        "sequences",
    ),
    "vae": (VAE(latent_dim=3, **FAST), "unit"),
    "classifier": (AutoencoderClassifier(hidden=(9, 5), pretrain_epochs=1, **FAST), "table"),
    "detector": (AnomalyDetector(n_estimators=3, **FAST), "table"),
}


@pytest.fixture(scope="module")
def fitted_cases() -> dict[str, tuple[Any, np.ndarray]]:
    data = _data()
    with torch_threads(1):
        return {name: (_fit(est, data[kind]), data[kind]) for name, (est, kind) in CASES.items()}


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("name", list(CASES))
def test_inference_does_not_depend_on_batching(
    fitted_cases: dict[str, tuple[Any, np.ndarray]], name: str, threads: int
) -> None:
    estimator, X = fitted_cases[name]
    with torch_threads(threads):
        chunk = estimator._inference_rows()
        assert len(X) > chunk
        rows = sorted({0, 3, 4, chunk // 2, chunk - 1, chunk, len(X) - 2, len(X) - 1})
        for method in (m for m in METHODS if hasattr(estimator, m)):
            f = getattr(estimator, method)
            full = f(X)
            np.testing.assert_array_equal(f(X[:5]), full[:5], err_msg=f"{method}(X[:5])")
            for i in rows:
                np.testing.assert_array_equal(f(X[i : i + 1]), full[i : i + 1], err_msg=method)
        if isinstance(estimator, Autoencoder):
            Z = estimator.transform(X)
            full = estimator.inverse_transform(Z)
            for i in rows:
                row = estimator.inverse_transform(Z[i : i + 1])
                np.testing.assert_array_equal(row, full[i : i + 1], err_msg="inverse_transform")


@pytest.mark.parametrize("threads", THREADS)
def test_default_classifier_is_subset_invariant(threads: int) -> None:
    # The widths of the default (512, 256) network gave results 1 in 5120 apart from the
    # one-row ones, beyond the check's tolerance, at 1 and 2 threads.
    with torch_threads(threads):
        check_methods_subset_invariance(
            "AutoencoderClassifier",
            AutoencoderClassifier(epochs=2, pretrain_epochs=1, random_state=0, verbose=False),
        )


# ------------------------------------------------------------------------- point 6
def test_rows_that_overflow_float32_are_refused_by_name() -> None:
    rng = np.random.default_rng(0)
    # A small spread: 1e37 z-scored by it lies beyond float32's range (3.4e38).
    narrow = 1e-3 * rng.normal(size=(60, 10))
    X = narrow[:5].copy()
    X[[1, 3]] = 1e37
    for estimator in (
        Autoencoder(latent_dim=3, **FAST),
        VAE(latent_dim=3, **FAST),
        AutoencoderClassifier(hidden=(8,), pretrain_epochs=1, **FAST),
    ):
        estimator = _fit(estimator, narrow)
        methods = [m for m in [*METHODS, "elbo", "log_likelihood"] if hasattr(estimator, m)]
        for method in methods:
            with no_runtime_warnings(), pytest.raises(ValueError, match="rows 1, 3 of X leave"):
                getattr(estimator, method)(X)
        # The good rows alone are fine.
        for method in methods:
            assert np.isfinite(getattr(estimator, method)(X[[0, 2, 4]])).all()

    # Scaled values that fit in float32 can still overflow inside the network.
    wide = rng.normal(size=(60, 10))
    ae = Autoencoder(latent_dim=3, **FAST).fit(wide)
    with no_runtime_warnings(), pytest.raises(ValueError, match=r"row 0 of X leaves .* network"):
        ae.reconstruction_error(np.full((1, 10), 1e37))
    with no_runtime_warnings(), pytest.raises(ValueError, match="rows 0, 1 of X"):
        ae.inverse_transform(np.full((2, 3), 3e38, dtype=np.float32) * [1, -1, 1])


def test_the_detector_flags_rows_whose_score_cannot_be_computed() -> None:
    rng = np.random.default_rng(0)
    narrow = 1e-3 * rng.normal(size=(60, 10))
    det = AnomalyDetector(n_estimators=2, **FAST).fit(narrow)
    X = narrow[:5].copy()
    X[[1, 3]] = 1e37
    with no_runtime_warnings():
        scores = det.decision_function(X)
        labels = det.predict(X)
        proba = det.predict_proba(X)
        normal = det.score_samples(X)
    assert scores[1] == scores[3] == np.inf
    assert labels[1] == labels[3] == 1
    np.testing.assert_array_equal(proba[[1, 3]], [[0.0, 1.0], [0.0, 1.0]])
    assert normal[1] == normal[3] == -np.inf
    # The other rows get the scores they get alone (inference is batch-independent).
    np.testing.assert_array_equal(scores[[0, 2, 4]], det.decision_function(X[[0, 2, 4]]))
    # A code cannot be flagged: transform refuses the rows instead.
    with no_runtime_warnings(), pytest.raises(ValueError, match="rows 1, 3 of X"):
        det.transform(X)


def test_a_series_detector_flags_the_steps_of_an_unscorable_window() -> None:
    window = 10
    series = np.sin(np.arange(300) / 5.0)
    det = AnomalyDetector(window=window, n_estimators=2, **FAST).fit(series)
    spoiled = series.copy()
    spoiled[100] = 3e38  # finite in float32, beyond it once z-scored
    with no_runtime_warnings():
        scores = det.decision_function(spoiled)
        labels = det.predict(spoiled)
    # Step 100 lies in the windows that start at steps 91 to 100, which cover steps 91 to 109.
    flagged = np.arange(100 - window + 1, 100 + window)
    np.testing.assert_array_equal(np.flatnonzero(np.isinf(scores)), flagged)
    assert labels[flagged].all()
    assert np.isfinite(np.delete(scores, flagged)).all()


# ------------------------------------------------------------------------- point 8
ESTIMATORS = [
    Autoencoder(latent_dim=2, **FAST),
    VAE(latent_dim=2, **FAST),
    AutoencoderClassifier(hidden=(4,), pretrain_epochs=1, **FAST),
    AnomalyDetector(n_estimators=2, **FAST),
]
IDS = [type(e).__name__ for e in ESTIMATORS]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
def test_samples_without_values_are_refused(estimator: Any) -> None:
    for shape in [(20, 0, 8), (20, 8, 0), (20, 2, 0, 3)]:
        with pytest.raises(ValueError, match=r"samples of shape .* hold no values"):
            _fit(estimator, np.empty(shape))
    with pytest.raises(ValueError, match="0 feature"):
        _fit(estimator, np.empty((20, 0)))
    fitted = _fit(estimator, np.random.default_rng(0).random((20, 2, 4)))
    for method in (m for m in METHODS if hasattr(fitted, m)):
        with pytest.raises(ValueError, match="hold no values"):
            getattr(fitted, method)(np.empty((3, 0, 8)))


def test_a_series_without_channels_is_refused() -> None:
    with pytest.raises(ValueError, match="hold no values"):
        AnomalyDetector(window=5, **FAST).fit(np.empty((50, 0)))


# ------------------------------------------------------------------- point 14 (sparse)
# Issue 19 made the autoencoder family take sparse matrices in fit and in the inference
# methods that read X in chunks; everything else still refuses them with a clear message.
SPARSE_METHODS = {"transform", "reconstruct", "reconstruction_error", "denoise"}


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
def test_sparse_input_is_taken_or_refused_with_a_message_that_says_to_densify(
    estimator: Any,
) -> None:
    X = np.random.default_rng(0).random((20, 6))
    takes = isinstance(estimator, BaseAutoencoder)
    for sparse in (scipy.sparse.csr_matrix(X), scipy.sparse.csr_array(X)):
        if takes:
            assert _fit(estimator, sparse).n_features_in_ == 6
        else:
            with pytest.raises(ValueError, match=r"sparse .* pass X\.toarray\(\)"):
                _fit(estimator, sparse)
    fitted = _fit(estimator, X)
    sparse = scipy.sparse.csr_matrix(X)
    methods = [*METHODS, "elbo", "log_likelihood", "denoise", "score_samples"]
    for method in (m for m in methods if hasattr(fitted, m)):
        if takes and method in SPARSE_METHODS:
            # Densified chunk by chunk, the same rows give the same bits.
            np.testing.assert_array_equal(
                getattr(fitted, method)(sparse), getattr(fitted, method)(X)
            )
            continue
        with pytest.raises(ValueError, match=r"X\.toarray\(\)"):
            getattr(fitted, method)(sparse)
    if hasattr(fitted, "inverse_transform"):
        codes = scipy.sparse.csr_matrix(fitted.transform(X))
        with pytest.raises(ValueError, match=r"X\.toarray\(\)"):
            fitted.inverse_transform(codes)
    if hasattr(fitted, "interpolate"):
        with pytest.raises(ValueError, match=r"a\.toarray\(\)"):
            fitted.interpolate(sparse[0], X[1])
    if isinstance(fitted, AutoencoderClassifier):
        with pytest.raises(ValueError, match=r"X\.toarray\(\)"):
            fitted.score(sparse, np.zeros(20))


def test_a_sparse_series_is_a_value_error() -> None:
    series = scipy.sparse.csr_matrix(np.sin(np.arange(60.0)).reshape(-1, 1))
    with pytest.raises(ValueError, match=r"X\.toarray\(\)"):
        AnomalyDetector(window=5, **FAST).fit(series)
