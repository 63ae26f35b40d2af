"""Compression of MNIST by a 32-d autoencoder's codes, beside PCA-32 at the same size.

Run by hand (a few minutes on 2 CPU cores):

    .venv/bin/python benchmarks/compression_mnist.py [--data ../shared/data/mnist.npz]

Trains ``Autoencoder(latent_dim=32)`` on the 60,000 training images, then reports on the 10,000
test images, for codes stored as float32, float16 and int8: bits per image, compression
ratio (against float32 and 8-bit pixels), squared error summed over the 784 pixels per image
and PSNR, beside PCA with 32 components fitted on the same training images and quantised the
same way, and the ratio of the two distortions. PCA's float32 error is checked against the
reference figure of the data README (13.19), measured in the same run. A last line compares
the int8 quantiser (full range per dimension) with a clipped one (0.1 to 99.9 percentiles).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from aekit import Autoencoder
from aekit.datasets import load_mnist
from aekit.tasks import compression_report, summed_squared_error

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"

# PCA k=32 on MNIST test, squared error summed per image (../shared/data/README.md).
PCA32_REFERENCE = 13.19


def clipped_int8(Z: np.ndarray, low_pct: float, high_pct: float) -> np.ndarray:
    """Quantise to 256 levels over [low_pct, high_pct] percentiles per column, clipping the
    rest, and dequantise: the robust alternative to the full-range quantiser."""
    low = np.percentile(Z, low_pct, axis=0)
    high = np.percentile(Z, high_pct, axis=0)
    scale = np.where(high > low, (high - low) / 255.0, 1.0)
    q = np.clip(np.rint((Z - low) / scale), 0, 255)
    return (low + scale * q).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="mnist.npz or the IDX folder")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument(
        "--hidden", default="512", help="encoder widths, comma-separated ('' for none)"
    )
    parser.add_argument("--n-train", type=int, default=60000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    mnist = load_mnist(args.data)
    X_train, X_test = mnist.X_train[: args.n_train], mnist.X_test
    hidden = tuple(int(w) for w in args.hidden.split(",") if w)
    ae = Autoencoder(
        latent_dim=32,
        hidden=hidden,
        epochs=args.epochs,
        batch_size=256,
        lr=2e-3,
        random_state=args.seed,
        verbose=False,
    )
    start, cpu = time.perf_counter(), time.process_time()
    ae.fit(X_train)
    fit_seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    widths = "-".join(map(str, (784, *hidden, 32)))
    # CPU time beside wall time: on a shared machine the wall time says more about the others.
    print(
        f"trained a {widths} autoencoder on {len(X_train)} images in {fit_seconds:.0f} s "
        f"({cpu_seconds:.0f} s of CPU; {len(ae.history_)} epochs, {args.threads} threads)"
    )

    start = time.perf_counter()
    report = compression_report(ae, X_test, X_fit=X_train.reshape(len(X_train), -1))
    print(f"report on {len(X_test)} test images in {time.perf_counter() - start:.1f} s\n")
    print(report.to_text())

    pca_sse = report.row("pca", "float32").sse
    print(
        f"\nPCA-32 float32 SSE/image {pca_sse:.3f} vs the README's {PCA32_REFERENCE} "
        f"(ratio {pca_sse / PCA32_REFERENCE:.3f})"
    )
    for dtype in ("float32", "float16", "int8"):
        ae_row, pca_row = report.row("aekit", dtype), report.row("pca", dtype)
        print(
            f"{dtype:>8}: {ae_row.bits_per_sample:>5} bits/image, aekit/PCA SSE "
            f"{ae_row.sse / pca_row.sse:.3f}; SSE over float32's: "
            f"{ae_row.sse / report.row('aekit', 'float32').sse - 1:+.4%} (aekit), "
            f"{pca_row.sse / report.row('pca', 'float32').sse - 1:+.4%} (PCA)"
        )

    Z = ae.transform(X_test)
    full = report.row("aekit", "int8").sse
    clipped = float(
        summed_squared_error(X_test, ae.inverse_transform(clipped_int8(Z, 0.1, 99.9))).mean()
    )
    print(
        f"int8 quantiser: full range SSE/image {full:.4f}, clipped to the 0.1-99.9 "
        f"percentiles {clipped:.4f} (float32 {report.row('aekit', 'float32').sse:.4f})"
    )


if __name__ == "__main__":
    main()
