"""`aekit demo [--out DIR]`: train on the embedded digits, save the model and its pictures."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from aekit._repr import result_repr
from aekit._text import plural
from aekit._untrusted import holds_only
from aekit.cli._common import Output, check_paths
from aekit.io.atomic import atomic_directory, atomic_file, check_replaceable
from aekit.io.model_dir import is_model_dir

# The demo (run_demo) lives in the command line's layer, not in aekit.tasks: it joins the
# estimators, the figures and the HTML report, and only the top layer may import the report
# (see the layers in pyproject.toml).
MODEL = "model"
# The pictures written with the model; report.html joins them once the folder is in place.
PICTURES = ("reconstructions.png", "latent_map.png")
REPORT = "report.html"


class DemoResult(NamedTuple):
    architecture: str  # layer widths, e.g. "64-32-16-2"
    latent_dim: int  # code size, shared with the PCA baseline
    n_train: int  # training images
    epochs: int  # epochs run
    fit_seconds: float  # training wall time
    # Test squared error per image, as the report's metrics (aekit.report.baseline): PCA
    # with latent_dim components is fitted to the test images themselves.
    ae_error: float  # the autoencoder's
    pca_error: float  # PCA's
    files: dict[str, Path]  # what was written: model, reconstructions, latent map, report

    __repr__ = result_repr


def is_demo_dir(path: Path) -> bool:
    """Whether ``path`` holds nothing but what :func:`run_demo` writes (the model's files in
    ``model/``, the pictures, the report)."""
    return holds_only(path, files=(*PICTURES, REPORT), folders={MODEL: is_model_dir})


def check_demo_output(out: str | Path) -> Path:
    """Refuse ``out`` as :func:`run_demo`'s folder unless it is absent, empty or an earlier
    demo's output holding nothing else; returns the absolute path. Cheap: call it before
    training."""
    return check_replaceable(out, is_demo_dir, "an output of aekit demo")


def run_demo(
    out: str | Path = "aekit-demo", random_state: int = 0, verbose: bool = False
) -> DemoResult:
    """Train ``Autoencoder(latent_dim=2)`` on 80% of the digits and write what it learned.

    Writes to ``out``: ``model/`` (the saved model), ``reconstructions.png`` (test originals
    above their reconstructions), ``latent_map.png`` (the 2-D codes of the test digits,
    coloured by digit) and ``report.html`` (:func:`aekit.report.build_report` on the test
    digits: metrics, plots and the interactive latent map). Returns the test error beside
    PCA's with the same code size, the figures of the report's metrics
    (:func:`aekit.report.baseline.pca_baseline` on the test digits: squared error per image,
    PCA fitted to the test images themselves).

    ``out`` must be absent, empty or the output of an earlier demo (checked before training,
    see :func:`check_demo_output`). The model and the pictures replace it as a whole
    (:func:`aekit.io.atomic.atomic_directory`), then the report is added (written atomically,
    once the model is in place, so that it names the model's final path).

    Examples
    --------
    >>> from aekit.cli.demo import run_demo
    >>> result = run_demo("aekit-demo")  # doctest: +SKIP
    >>> result.ae_error < result.pca_error  # doctest: +SKIP
    True
    """
    # Imported here, not with the parser: they bring torch, scikit-learn and matplotlib.
    from sklearn.model_selection import train_test_split

    from aekit import plot
    from aekit.datasets import load_digits
    from aekit.estimators import Autoencoder
    from aekit.report import build_report
    from aekit.report.baseline import pca_baseline

    out = check_demo_output(out)
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

    order = np.argsort(y_test, kind="stable")
    picks = order[np.searchsorted(y_test[order], np.arange(10))]  # one test image per digit
    figures = {
        "reconstructions": plot.reconstructions(
            X_test[picks],
            ae.reconstruct(X_test[picks]),
            title="test digits (top) and reconstructions",
        ),
        "latent map": plot.latent_map(
            ae.transform(X_test), y_test, title="2-D codes of the test digits"
        ),
    }
    files = {"model": out / MODEL}
    with atomic_directory(out, is_demo_dir, "an output of aekit demo") as tmp:
        ae.save(tmp / MODEL)
        for (label, fig), name in zip(figures.items(), PICTURES, strict=True):
            fig.savefig(tmp / name, dpi=100)
            files[label] = out / name
    page = build_report(
        ae,
        X_test,
        y_test,
        title="aekit demo: a 2-D code of the digits",
        data_name=f"scikit-learn's digits, the {len(X_test)} held-out test images",
        path=files["model"],
        random_state=random_state,
    )
    files["report"] = out / REPORT
    with atomic_file(files["report"], "w") as f:
        f.write(page)

    config = ae.module_.config
    widths = [config.n_features, *config.hidden, config.latent_dim]
    # The report computed the same on the same images: its metrics show these figures.
    baseline = pca_baseline(ae, X_test, latent_dim, random_state)
    return DemoResult(
        architecture="-".join(map(str, widths)),
        latent_dim=latent_dim,
        n_train=len(X_train),
        epochs=len(ae.history_),
        fit_seconds=fit_seconds,
        ae_error=baseline.error,
        pca_error=baseline.pca_error,
        files=files,
    )


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="train on the bundled digits and show what was learned", description=__doc__
    )
    parser.add_argument("--out", default="aekit-demo", help="output folder (default: aekit-demo)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # What run_demo writes, checked before its minutes of training.
    check_paths(
        [],
        [Output(args.out, "--out", kind="folder", writes=(*PICTURES, REPORT), models=(MODEL,))],
    )
    result = run_demo(args.out, random_state=args.seed, verbose=not args.quiet)
    print(
        f"trained a {result.architecture} autoencoder on {result.n_train} digits "
        f"in {result.fit_seconds:.1f} s ({plural(result.epochs, 'epoch')})"
    )
    print(
        f"test squared error per image (summed over its pixels): autoencoder "
        f"{result.ae_error:.3f}, PCA({result.latent_dim}) {result.pca_error:.3f}, PCA fitted "
        f"to the same test images ({result.pca_error / result.ae_error:.2f}x the "
        "autoencoder's; the report shows the same figures)"
    )
    for label, path in result.files.items():
        print(f"{label:>16}: {path}")
    return 0
