"""A 1-D convolutional autoencoder against PCA on real neutron spectra, code size for code size.

The data: PSI FOCUS time-of-flight spectra (``entry1/FOCUS/merged/counts`` of
``../shared/data/nexus/focus2007n001335.hdf``: 375 detectors x 713 time bins, counts), read
through :class:`aekit.datasets.HDF5Source`. Each seed splits them at random into 300 training and
75 test spectra. Both models see the training spectra only. Two figures, mean squared errors in
counts over the test spectra:

- **plain**: each test spectrum encoded and compared with itself, the usual reconstruction error;
- **thinned**: each test spectrum X is split into two halves A ~ Binomial(X, 1/2) and B = X - A,
  which for Poisson counts are independent with half the rate each (data thinning, Neufeld et al.,
  JMLR 2024); 2A is encoded and compared with 2B, and the other way round. The target's noise is
  then independent of the input's, so a model gains nothing by passing the input's noise through,
  and the figure measures how well the underlying spectrum is recovered (it includes the target's
  own Poisson variance, the same for both models).

The plain error rewards a code that copies the input's noise: PCA with k components passes the
test spectrum's noise along its k directions, so its plain error keeps falling with k even when
its thinned error rises. The spectra are one peak whose height, position (by up to 4 bins across
the detectors) and width vary, over a flat background: a curved family that PCA can follow only
with several components, and what an autoencoder's nonlinear decoder is for.

The autoencoder is ``Autoencoder(architecture="conv", latent_dim=k, **AE)``, with ``AE`` below and
why:

- ``scaling="center"``: every bin keeps its own level (the peak sits at fixed bins), one scale
  for all, so the loss weighs the bins as the error in counts does;
- ``weight_decay=1e-3``: 300 noisy spectra against a network of 0.4 M weights;
- ``lr=3e-3, epochs=300`` with a cosine schedule and no early stopping: 300 spectra are 17 steps
  an epoch at the default batch size, so the default 100 epochs are 1,700 steps, too few for the
  peak's shape (the validation loss was still falling at the last epoch), and the validation
  loss of 30 spectra is too noisy to stop on.

    python benchmarks/nexus_spectra.py [--codes 2 4 8] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import NamedTuple

import numpy as np
from sklearn.decomposition import PCA

from aekit import Autoencoder
from aekit.datasets import HDF5Source

FOCUS = Path(__file__).resolve().parents[2] / "shared/data/nexus/focus2007n001335.hdf"
AE = {
    "scaling": "center",
    "weight_decay": 1e-3,
    "lr": 3e-3,
    "epochs": 300,
    "lr_schedule": "cosine",
    "early_stopping": False,
}
N_TRAIN = 300


class Errors(NamedTuple):
    plain: float  # a test spectrum against its own reconstruction
    thinned: float  # one Poisson half against the reconstruction of the other


def errors(reconstruct: Callable[[np.ndarray], np.ndarray], X: np.ndarray, seed: int) -> Errors:
    """Plain and thinned mean squared errors in counts of ``reconstruct`` on the spectra X."""
    rng = np.random.default_rng(100 + seed)
    A = rng.binomial(X.astype(np.int64), 0.5).astype(np.float64)
    B = X - A
    plain = float(((reconstruct(X) - X) ** 2).mean())
    ab = ((reconstruct(2 * A) - 2 * B) ** 2).mean()
    ba = ((reconstruct(2 * B) - 2 * A) ** 2).mean()
    return Errors(plain, float((ab + ba) / 2))


def _pca_reconstruct(pca: PCA, Z: np.ndarray) -> np.ndarray:
    return pca.inverse_transform(pca.transform(Z))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=FOCUS)
    parser.add_argument("--codes", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    source = HDF5Source(f"{args.data}:/entry1/FOCUS/merged/counts")
    X = source.read().astype(np.float64)  # (375, 713) counts
    print(f"{source.describe()}; {N_TRAIN} training spectra, {len(X) - N_TRAIN} test, per seed")
    print(f"autoencoder: Autoencoder(architecture='conv', latent_dim=k, **{AE})")
    rows = []
    for k in args.codes:
        for seed in args.seeds:
            order = np.random.default_rng(seed).permutation(len(X))
            train, test = X[order[:N_TRAIN]], X[order[N_TRAIN:]]
            start = time.perf_counter()
            pca = PCA(k, random_state=0).fit(train)
            pca_s = time.perf_counter() - start
            pca_err = errors(partial(_pca_reconstruct, pca), test, seed)
            start = time.perf_counter()
            ae = Autoencoder(
                architecture="conv", latent_dim=k, random_state=seed, verbose=False, **AE
            ).fit(train)
            ae_s = time.perf_counter() - start
            ae_err = errors(ae.reconstruct, test, seed)
            rows.append((k, pca_err, ae_err))
            print(
                f"k={k} seed={seed}: plain PCA {pca_err.plain:.3f} AE {ae_err.plain:.3f}  "
                f"thinned PCA {pca_err.thinned:.3f} AE {ae_err.thinned:.3f}  "
                f"(fit PCA {pca_s:.2f} s, AE {ae_s:.0f} s)",
                flush=True,
            )
    print("\nmean over seeds, counts squared; AE/PCA < 1: the autoencoder is better")
    print(
        "code   plain: PCA     AE  AE/PCA   thinned: PCA     AE  AE/PCA  AE better (plain, thinned)"
    )
    for k in args.codes:
        got = np.array([(p.plain, a.plain, p.thinned, a.thinned) for kk, p, a in rows if kk == k])
        pp, ap, pt, at = got.mean(0)
        wins_plain = int((got[:, 1] < got[:, 0]).sum())
        wins_thinned = int((got[:, 3] < got[:, 2]).sum())
        print(
            f"{k:4d}  {pp:11.3f} {ap:6.3f} {ap / pp:7.3f}  {pt:13.3f} {at:6.3f} {at / pt:7.3f}"
            f"  {wins_plain}/{len(got)}, {wins_thinned}/{len(got)} seeds"
        )


if __name__ == "__main__":
    main()
