"""A 1-D convolutional autoencoder against PCA on real neutron spectra, code size for code size.

The data: PSI FOCUS time-of-flight spectra (``entry1/FOCUS/merged/counts`` of
``../shared/data/nexus/focus2007n001335.hdf``: 375 detectors x 713 time bins, counts), read
through :class:`aekit.datasets.HDF5Source`. Each seed splits them at random into 300 training and
75 test spectra. Both models see the training spectra only; the figure is the mean squared error
in counts over the test spectra, and its two parts: the elastic peak's bins (a training mean over
5 counts: 17 bins, where the signal is) and the rest (background, a count or less a bin).

The spectra are one peak whose height, position (by up to 4 bins across the detectors) and width
vary, over a flat background: a curved family that PCA can follow only with several components,
and what an autoencoder's nonlinear decoder is for.

The autoencoder is ``Autoencoder(architecture="conv", latent_dim=k, **AE)``, with ``AE`` below and
why:

- ``scaling="center"``: every bin keeps its own level (the peak sits at fixed bins), one scale
  for all, so the loss weighs the bins as the error in counts does;
- ``weight_decay=1e-3``: 300 noisy spectra against a network of 0.4 M weights;
- ``lr=3e-3, epochs=300`` without early stopping: 300 spectra are 17 steps an epoch at the default
  batch size, so the default 100 epochs are 1,700 steps, too few for the peak's shape (the
  validation loss was still falling at the last epoch).

    python benchmarks/nexus_spectra.py [--codes 2 4 8] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA

from aekit import Autoencoder
from aekit.datasets import HDF5Source

FOCUS = Path(__file__).resolve().parents[2] / "shared/data/nexus/focus2007n001335.hdf"
AE = {"scaling": "center", "weight_decay": 1e-3, "lr": 3e-3, "epochs": 300}
N_TRAIN = 300


def errors(R: np.ndarray, X: np.ndarray, peak: np.ndarray) -> tuple[float, float, float]:
    """Mean squared error in counts: all bins, the peak's, the rest's."""
    e = (R - X) ** 2
    return float(e.mean()), float(e[:, peak].mean()), float(e[:, ~peak].mean())


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
            peak = train.mean(0) > 5
            start = time.perf_counter()
            pca = PCA(k, random_state=0).fit(train)
            pca_s = time.perf_counter() - start
            pca_err = errors(pca.inverse_transform(pca.transform(test)), test, peak)
            start = time.perf_counter()
            ae = Autoencoder(
                architecture="conv", latent_dim=k, random_state=seed, verbose=False, **AE
            ).fit(train)
            ae_s = time.perf_counter() - start
            ae_err = errors(ae.reconstruct(test), test, peak)
            rows.append((k, seed, pca_err, ae_err))
            print(
                f"k={k} seed={seed}: MSE PCA {pca_err[0]:.3f} (peak {pca_err[1]:.1f}, rest "
                f"{pca_err[2]:.3f}; {pca_s:.2f} s)  conv AE {ae_err[0]:.3f} (peak "
                f"{ae_err[1]:.1f}, rest {ae_err[2]:.3f}; {ae_s:.0f} s)  AE/PCA "
                f"{ae_err[0] / pca_err[0]:.3f}",
                flush=True,
            )
    print("\ncode  PCA MSE  conv AE MSE  AE/PCA  (mean over seeds; counts squared)")
    for k in args.codes:
        got = np.array([(p[0], a[0]) for kk, _, p, a in rows if kk == k])
        pca_mse, ae_mse = got.mean(0)
        wins = int((got[:, 1] < got[:, 0]).sum())
        print(
            f"{k:4d}  {pca_mse:7.3f}  {ae_mse:11.3f}  {ae_mse / pca_mse:6.3f}  "
            f"(AE lower on {wins} of {len(got)} seeds)"
        )


if __name__ == "__main__":
    main()
