"""The demo: a deep autoencoder with a 2-D code on the embedded digits, beside PCA."""

from __future__ import annotations

import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from aekit.datasets import load_digits
from aekit.estimators import Autoencoder


class DemoResult(NamedTuple):
    architecture: str  # layer widths, e.g. "64-32-16-2"
    latent_dim: int  # code size, shared with the PCA baseline
    n_train: int  # training images
    epochs: int  # epochs run
    fit_seconds: float  # training wall time
    ae_error: float  # test squared error per image, autoencoder
    pca_error: float  # test squared error per image, PCA with latent_dim components
    files: dict[str, Path]  # what was written: model, reconstructions, latent map, report


def _sse(X: np.ndarray, R: np.ndarray) -> float:
    return float(((X.reshape(len(X), -1) - R.reshape(len(R), -1)) ** 2).sum(1).mean())


def run_demo(
    out: str | Path = "aekit-demo", random_state: int = 0, verbose: bool = False
) -> DemoResult:
    """Train ``Autoencoder(latent_dim=2)`` on 80% of the digits and write what it learned.

    Writes to ``out``: ``model/`` (the saved model), ``reconstructions.png`` (test originals
    above their reconstructions), ``latent_map.png`` (the 2-D codes of the test digits,
    coloured by digit) and ``report.html`` (:func:`aekit.report.write_report` on the test
    digits: metrics, plots and the interactive latent map). Returns the test error beside
    PCA's with the same code size.

    Examples
    --------
    >>> from aekit.tasks import run_demo
    >>> result = run_demo("aekit-demo")  # doctest: +SKIP
    >>> result.ae_error < result.pca_error  # doctest: +SKIP
    True
    """
    from aekit import plot
    from aekit.report import write_report

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    X, y = load_digits()
    X_train, X_test, _y_train, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=random_state
    )
    latent_dim = 2
    ae = Autoencoder(
        latent_dim=latent_dim,
        epochs=400,
        batch_size=64,
        patience=20,
        random_state=random_state,
        verbose=verbose,
    )
    start = time.perf_counter()
    ae.fit(X_train)
    fit_seconds = time.perf_counter() - start

    pca = PCA(latent_dim, random_state=random_state).fit(X_train.reshape(len(X_train), -1))
    pca_recon = pca.inverse_transform(pca.transform(X_test.reshape(len(X_test), -1)))

    files = {"model": ae.save(out / "model")}
    order = np.argsort(y_test, kind="stable")
    picks = order[np.searchsorted(y_test[order], np.arange(10))]  # one test image per digit
    fig = plot.reconstructions(
        X_test[picks], ae.reconstruct(X_test[picks]), title="test digits (top) and reconstructions"
    )
    files["reconstructions"] = out / "reconstructions.png"
    fig.savefig(files["reconstructions"], dpi=100)
    fig = plot.latent_map(ae.transform(X_test), y_test, title="2-D codes of the test digits")
    files["latent map"] = out / "latent_map.png"
    fig.savefig(files["latent map"], dpi=100)
    files["report"] = write_report(
        ae,
        out / "report.html",
        X_test,
        y_test,
        title="aekit demo: a 2-D code of the digits",
        data_name=f"scikit-learn's digits, the {len(X_test)} held-out test images",
        path=files["model"],
        random_state=random_state,
    )

    config = ae.module_.config
    widths = [config.n_features, *config.hidden, config.latent_dim]
    return DemoResult(
        architecture="-".join(map(str, widths)),
        latent_dim=latent_dim,
        n_train=len(X_train),
        epochs=len(ae.history_),
        fit_seconds=fit_seconds,
        ae_error=_sse(X_test, ae.reconstruct(X_test)),
        pca_error=_sse(X_test, pca_recon),
        files=files,
    )
