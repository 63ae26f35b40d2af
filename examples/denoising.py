"""Denoising autoencoder: trained to map corrupted digits back to the clean ones.

    python examples/denoising.py [--out DIR] [--epochs N] [--mnist PATH] [--sigma S]

A denoising autoencoder minimises L(x, g(f(x_tilde))) where x_tilde = clip(x + sigma * eps)
is a fresh corruption of x in every batch of every epoch, so copying the input is useless: the
net has to learn what digits look like. The same net trained on clean data only is the
baseline. Writes noisy / denoised / clean test digits and prints the PSNR of each.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from aekit import Autoencoder, plot
from aekit.datasets import load_digits, load_mnist


def load_images(mnist: Path | None):
    """(X_train, X_test): MNIST's own split, or 80/20 of the digits."""
    if mnist is not None:
        split = load_mnist(mnist)
        return split.X_train, split.X_test
    X, y = load_digits()
    X_train, X_test = train_test_split(X, test_size=0.2, stratify=y, random_state=0)
    return X_train, X_test


def psnr(clean: np.ndarray, image: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of [0, 1] images: 10 log10(1 / mean squared error)."""
    return float(10 * np.log10(1.0 / np.mean((clean - image) ** 2)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "output")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--mnist", type=Path, help="mnist.npz instead of the embedded digits")
    parser.add_argument("--sigma", type=float, default=0.3, help="noise standard deviation")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    X_train, X_test = load_images(args.mnist)

    common = dict(latent_dim=32, epochs=args.epochs, batch_size=64, random_state=0)
    denoiser = Autoencoder(noise="gaussian", noise_level=args.sigma, **common).fit(X_train)
    plain = Autoencoder(**common).fit(X_train)

    # One fixed corruption of the test set, drawn like the training noise (clipped to [0, 1]).
    rng = np.random.default_rng(0)
    noisy = np.clip(X_test + args.sigma * rng.standard_normal(X_test.shape), 0, 1)
    noisy = noisy.astype(np.float32)
    denoised = denoiser.denoise(noisy)
    print(
        f"PSNR on the test set (sigma {args.sigma}): noisy {psnr(X_test, noisy):.1f} dB, "
        f"denoising autoencoder {psnr(X_test, denoised):.1f} dB, "
        f"plain autoencoder {psnr(X_test, plain.reconstruct(noisy)):.1f} dB"
    )

    rows = np.concatenate([noisy[:10], denoised[:10], X_test[:10]])
    fig = plot.image_grid(rows, ncols=10, title="noisy / denoised / clean")
    fig.savefig(args.out / "denoising.png", dpi=100)


if __name__ == "__main__":
    main()
