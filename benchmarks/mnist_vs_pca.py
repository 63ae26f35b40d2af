"""Default autoencoders against PCA on MNIST: summed squared error per test image.

- linear: ``Autoencoder(activation=None, loss="mse", latent_dim=16)`` against PCA(16);
- deep: ``Autoencoder(latent_dim=30)`` with default settings against PCA(30), the comparison of
  Hinton & Salakhutdinov (2006).

    python benchmarks/mnist_vs_pca.py [--data ../shared/data/mnist.npz] [--only linear|deep]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.decomposition import PCA

import aekit
from aekit.datasets import load_mnist


def sse(X: np.ndarray, R: np.ndarray) -> float:
    """Summed squared error per image."""
    return float(((X.reshape(len(X), -1) - R.reshape(len(R), -1)) ** 2).sum(1).mean())


def pca_sse(X_train: np.ndarray, X_test: np.ndarray, k: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    pca = PCA(k, random_state=0).fit(X_train)
    return sse(X_test, pca.inverse_transform(pca.transform(X_test))), time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/mnist.npz")
    parser.add_argument("--only", choices=["linear", "deep"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    mnist = load_mnist(args.data)
    X_train = mnist.X_train.reshape(-1, 784)
    X_test = mnist.X_test.reshape(-1, 784)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    runs = {
        "linear": (16, dict(activation=None, loss="mse", latent_dim=16)),
        "deep": (30, dict(latent_dim=30)),
    }
    for name, (k, params) in runs.items():
        if args.only and name != args.only:
            continue
        ref, ref_time = pca_sse(X_train, X_test, k)
        ae = aekit.Autoencoder(**params, random_state=args.seed, verbose=False)
        t0 = time.perf_counter()
        ae.fit(X_train)
        fit_time = time.perf_counter() - t0
        err = sse(X_test, ae.reconstruct(X_test))
        print(
            f"{name}: Autoencoder({params}) hidden={ae.module_.config.hidden} "
            f"epochs={len(ae.history_)} (best {ae.best_epoch_}) fit {fit_time:.0f} s: "
            f"test SSE/image {err:.3f}; PCA({k}) {ref:.3f} ({ref_time:.1f} s); "
            f"ratio AE/PCA {err / ref:.4f}"
        )


if __name__ == "__main__":
    main()
