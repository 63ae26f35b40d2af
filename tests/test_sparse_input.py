"""Issue 19, point 1: scipy sparse matrices in the autoencoder family, densified batch by batch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from aekit import VAE, Autoencoder
from aekit.data import scaling
from aekit.estimators._streaming import SparseRows

FAST = {"epochs": 2, "random_state": 0, "verbose": False}


def _bag_of_words(n: int = 600, d: int = 400, seed: int = 0) -> sp.csr_matrix:
    """Documents of two topics: each draws 12 words from its topic's half of the vocabulary."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for i in range(n):
        half = (i % 2) * (d // 2)
        rows += [i] * 12
        cols += list(half + rng.choice(d // 2, size=12, replace=False))
    values = np.ones(len(rows), dtype=np.float32)
    return sp.csr_matrix((values, (rows, cols)), shape=(n, d))


def test_fit_never_densifies_the_whole_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    X = _bag_of_words(n=3000)
    densified: list[int] = []
    read = SparseRows.__getitem__

    def counting(self: SparseRows, index: Any) -> np.ndarray:
        out = read(self, index)
        densified.append(len(out) if out.ndim == 2 else 1)
        return out

    monkeypatch.setattr(SparseRows, "__getitem__", counting)
    # The statistics pass reads chunks of CHUNK_BYTES of float64: 500 rows of 400 here.
    monkeypatch.setattr(scaling, "CHUNK_BYTES", 8 * 400 * 500)
    ae = Autoencoder(latent_dim=4, batch_size=64, **FAST).fit(X)
    assert densified, "the fit did not read the sparse matrix through SparseRows"
    # Training densifies windows of 4 batches (streaming.WINDOW_BATCHES), the statistics
    # and validation passes their chunks: never the 3,000 rows.
    assert max(densified) <= 500, densified
    assert 4 * 64 in densified
    assert np.isfinite(ae.history_[-1]["loss"])


@pytest.mark.parametrize(
    "estimator", [Autoencoder(latent_dim=3, **FAST), VAE(latent_dim=3, **FAST)]
)
def test_inference_on_sparse_rows_gives_the_bits_of_the_dense_rows(estimator: Any) -> None:
    X = _bag_of_words(n=200, d=60)
    model = estimator.fit(X)
    dense = X.toarray()
    for form in (X, X.tocsc(), X.tocoo(), sp.csr_array(X)):
        np.testing.assert_array_equal(model.transform(form), model.transform(dense))
        np.testing.assert_array_equal(
            model.reconstruction_error(form), model.reconstruction_error(dense)
        )


def test_a_sparse_fit_learns_what_a_dense_fit_learns() -> None:
    """Codes of the two topics separate as well from a sparse fit as from a dense one: the
    1-nearest-neighbour topic accuracy in code space, on held-out documents."""
    X, Q = _bag_of_words(n=300, d=100), _bag_of_words(n=100, d=100, seed=1)
    topics, queries = np.arange(300) % 2, np.arange(100) % 2
    accuracy = {}
    for name, data in (("sparse", X), ("dense", X.toarray())):
        ae = Autoencoder(latent_dim=4, hidden=(32,), epochs=15, random_state=0, verbose=False)
        ae.fit(data)
        Z, Zq = ae.transform(X), ae.transform(Q)
        nearest = np.argmin(((Zq[:, None, :] - Z[None, :, :]) ** 2).sum(-1), axis=1)
        accuracy[name] = float((topics[nearest] == queries).mean())
    # Two disjoint vocabularies: both should be near-perfect; chance is 0.5.
    assert accuracy["sparse"] > 0.95, accuracy
    assert abs(accuracy["sparse"] - accuracy["dense"]) < 0.05, accuracy


def test_a_sparse_matrix_with_nan_names_the_row() -> None:
    X = _bag_of_words(n=50, d=40)
    X.data[X.indptr[7]] = np.nan
    with pytest.raises(ValueError, match="row 7"):
        Autoencoder(**FAST).fit(X)


def test_a_sparse_matrix_of_the_wrong_width_is_refused() -> None:
    model = Autoencoder(latent_dim=2, **FAST).fit(_bag_of_words(n=50, d=40))
    with pytest.raises(ValueError, match="expecting 40 features"):
        model.transform(_bag_of_words(n=5, d=60))
