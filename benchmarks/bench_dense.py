"""Seed model 784-32-784 on MNIST: aekit against a lean hand-written PyTorch loop, same run.

The lean loop keeps one tensor in memory, draws a permutation per epoch and slices mini-batches
from it, with the same initialisation (He for the ReLU code layer, Xavier for the sigmoid
output) and the same optimiser. Both train on all 60,000 training images without validation,
then report the test BCE per pixel.

    python benchmarks/bench_dense.py [--data ../shared/data/mnist.npz] [--epochs 50] [--repeats 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import aekit
from aekit.datasets import load_mnist


def lean_loop(X: torch.Tensor, epochs: int, batch_size: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    enc, dec = nn.Linear(784, 32), nn.Linear(32, 784)
    nn.init.kaiming_uniform_(enc.weight, nonlinearity="relu")
    nn.init.xavier_uniform_(dec.weight)
    nn.init.zeros_(enc.bias)
    nn.init.zeros_(dec.bias)
    model = nn.Sequential(enc, nn.ReLU(), dec)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    n = X.shape[0]
    for _ in range(epochs):
        perm = torch.randperm(n)
        for i in range(0, n, batch_size):
            xb = X[perm[i : i + batch_size]]  # (B, 784)
            loss = F.binary_cross_entropy_with_logits(model(xb), xb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/mnist.npz")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    mnist = load_mnist(args.data)
    X_train = mnist.X_train.reshape(-1, 784)
    X_test = mnist.X_test.reshape(-1, 784)
    Xt, Xv = torch.from_numpy(X_train), torch.from_numpy(X_test)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.epochs} epochs")

    lean_times, aekit_times = [], []
    for r in range(args.repeats):
        t0 = time.perf_counter()
        model = lean_loop(Xt, args.epochs, args.batch_size, seed=r)
        lean_times.append(time.perf_counter() - t0)
        with torch.no_grad():
            lean_bce = F.binary_cross_entropy_with_logits(model(Xv), Xv).item()

        ae = aekit.Autoencoder(
            hidden=(),
            latent_dim=32,
            epochs=args.epochs,
            batch_size=args.batch_size,
            validation_fraction=0.0,
            early_stopping=False,
            device="cpu",
            random_state=r,
            verbose=False,
        )
        t0 = time.perf_counter()
        ae.fit(X_train)
        aekit_times.append(time.perf_counter() - t0)
        aekit_bce = float(np.mean(ae.reconstruction_error(X_test)))
        print(
            f"repeat {r}: lean {lean_times[-1]:.1f} s (test BCE {lean_bce:.4f}), "
            f"aekit {aekit_times[-1]:.1f} s (test BCE {aekit_bce:.4f}), "
            f"ratio {aekit_times[-1] / lean_times[-1]:.3f}"
        )
    print(
        f"best of {args.repeats}: lean {min(lean_times):.1f} s, aekit {min(aekit_times):.1f} s, "
        f"ratio aekit/lean {min(aekit_times) / min(lean_times):.3f}"
    )


if __name__ == "__main__":
    main()
