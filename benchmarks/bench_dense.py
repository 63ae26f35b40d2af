"""Seed model 784-32-784 on MNIST: aekit against a lean hand-written PyTorch loop, same run.

The lean loop keeps one tensor in memory, draws a permutation per epoch and slices mini-batches
from it, with the same initialisation (He for the ReLU code layer, Xavier for the sigmoid
output) and the same optimiser. Both train on all 60,000 training images without validation,
then report the test BCE per pixel. Last, the cost of checkpoints: aekit with
``checkpoint=DIR`` (every epoch) against aekit without, in alternating pairs of the same length.

    python benchmarks/bench_dense.py [--data ../shared/data/mnist.npz] [--epochs 50] [--pairs 10]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

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
    parser.add_argument("--pairs", type=int, default=10, help="timed pairs for the ratio")
    parser.add_argument("--pair-epochs", type=int, default=5, help="epochs per timed run")
    parser.add_argument(
        "--checkpoint-epochs",
        type=int,
        default=10,
        help="epochs per run of the checkpoint pairs (a checkpoint costs a fixed start, the "
        "data's SHA-256, and a few milliseconds an epoch: short runs overstate it)",
    )
    args = parser.parse_args()

    mnist = load_mnist(args.data)
    X_train = mnist.X_train.reshape(-1, 784)
    X_test = mnist.X_test.reshape(-1, 784)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.epochs} epochs")

    # One untimed epoch of each first: the first pass pays for allocator and kernel warm-up.
    run_lean(X_train[:10_000], X_test[:100], 1, args.batch_size, 0)
    run_aekit(X_train[:10_000], X_test[:100], 1, args.batch_size, 0)

    # Quality and absolute time: one full run of each.
    lean_s, lean_bce = run_lean(X_train, X_test, args.epochs, args.batch_size, 0)
    aekit_s, aekit_bce = run_aekit(X_train, X_test, args.epochs, args.batch_size, 0)
    print(
        f"{args.epochs} epochs: lean {lean_s:.1f} s (test BCE {lean_bce:.4f}), "
        f"aekit {aekit_s:.1f} s (test BCE {aekit_bce:.4f}), ratio {aekit_s / lean_s:.3f}"
    )

    # The ratio: short runs in alternating order. A shared machine's speed drifts by tens of
    # percent over minutes, so the ratio of neighbouring short runs is far steadier than the
    # ratio of two long runs made minutes apart.
    ratios, lean_total, aekit_total = [], 0.0, 0.0
    for r in range(args.pairs):
        first, second = (run_lean, run_aekit) if r % 2 == 0 else (run_aekit, run_lean)
        times = {}
        for runner in (first, second):
            elapsed, _ = runner(X_train, X_test, args.pair_epochs, args.batch_size, r)
            times[runner.__name__] = elapsed
        ratios.append(times["run_aekit"] / times["run_lean"])
        lean_total += times["run_lean"]
        aekit_total += times["run_aekit"]
    print(
        f"{args.pairs} alternating pairs of {args.pair_epochs} epochs: lean {lean_total:.1f} s, "
        f"aekit {aekit_total:.1f} s in all; ratio aekit/lean: median of pairs "
        f"{statistics.median(ratios):.3f}, min {min(ratios):.3f}, max {max(ratios):.3f}, "
        f"of totals {aekit_total / lean_total:.3f}"
    )

    # Checkpoints every epoch against none, alternating: the same fit, the same bits.
    folder = Path(tempfile.mkdtemp(prefix="aekit-bench-ck-"))
    overheads, plain_total, ck_total = [], 0.0, 0.0
    for r in range(args.pairs):
        times = {}
        for checkpoint in (None, folder / "ck") if r % 2 == 0 else (folder / "ck", None):
            times[checkpoint is not None], _ = run_aekit(
                X_train, X_test, args.checkpoint_epochs, args.batch_size, r, checkpoint
            )
            shutil.rmtree(folder / "ck", ignore_errors=True)
        overheads.append(times[True] / times[False] - 1)
        plain_total += times[False]
        ck_total += times[True]
    shutil.rmtree(folder, ignore_errors=True)
    print(
        f"{args.pairs} alternating pairs of {args.checkpoint_epochs} epochs with and without a "
        f"checkpoint every epoch: {ck_total:.1f} s against {plain_total:.1f} s; overhead "
        f"median of pairs {100 * statistics.median(overheads):+.1f}%, of totals "
        f"{100 * (ck_total / plain_total - 1):+.1f}%"
    )


def run_lean(
    X_train: np.ndarray, X_test: np.ndarray, epochs: int, batch_size: int, seed: int
) -> tuple[float, float]:
    Xt, Xv = torch.from_numpy(X_train), torch.from_numpy(X_test)
    t0 = time.perf_counter()
    model = lean_loop(Xt, epochs, batch_size, seed=seed)
    elapsed = time.perf_counter() - t0
    with torch.no_grad():
        bce = F.binary_cross_entropy_with_logits(model(Xv), Xv).item()
    return elapsed, bce


def run_aekit(
    X_train: np.ndarray,
    X_test: np.ndarray,
    epochs: int,
    batch_size: int,
    seed: int,
    checkpoint: Path | None = None,
) -> tuple[float, float]:
    ae = aekit.Autoencoder(
        hidden=(),
        latent_dim=32,
        epochs=epochs,
        batch_size=batch_size,
        validation_fraction=0.0,
        early_stopping=False,
        device="cpu",
        random_state=seed,
        verbose=False,
    )
    t0 = time.perf_counter()
    ae.fit(X_train, checkpoint=checkpoint)
    elapsed = time.perf_counter() - t0
    return elapsed, float(np.mean(ae.reconstruction_error(X_test)))


if __name__ == "__main__":
    main()
