"""Convolutional autoencoder: shared local filters instead of one weight per pixel pair.

    python examples/convolutional.py [--out DIR] [--epochs N] [--mnist PATH]

The encoder slides small 3x3 kernels over the image with stride 2 (halving its size), the
decoder upsamples back with transposed convolutions ("deconvolutions"); a dense bottleneck of
the same size as the dense autoencoder's code sits in between. Convolutions know that nearby
pixels belong together and reuse each kernel at every position. Prints both nets' test error
and size and writes their reconstructions and the first layer's kernels.
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


def n_weights(model: Autoencoder) -> int:
    return sum(p.numel() for p in model.module_.parameters())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "output")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--mnist", type=Path, help="mnist.npz instead of the embedded digits")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    X_train, X_test = load_images(args.mnist)

    # Images go in as (n, H, W): the conv net reads them as one-channel 2-D images and
    # picks its channels per stride-2 block from the image size (hidden=None).
    common = dict(latent_dim=16, epochs=args.epochs, batch_size=64, random_state=0)
    conv = Autoencoder(architecture="conv", **common).fit(X_train)
    dense = Autoencoder(architecture="dense", **common).fit(X_train)

    for name, model in (("convolutional", conv), ("dense", dense)):
        print(
            f"{name:>13}: test reconstruction error (BCE per pixel) {-model.score(X_test):.4f}, "
            f"{n_weights(model):,} weights, {len(model.history_)} epochs"
        )

    rows = np.concatenate(
        [X_test[:10], dense.reconstruct(X_test[:10]), conv.reconstruct(X_test[:10])]
    )
    fig = plot.image_grid(rows, ncols=10, title="test digits / dense / convolutional")
    fig.savefig(args.out / "convolutional_reconstructions.png", dpi=100)
    # The first layer of a conv net is a bank of 3x3 kernels: features() shows them.
    fig = plot.features(conv, title="3x3 kernels of the first convolution")
    fig.savefig(args.out / "convolutional_kernels.png", dpi=100)


if __name__ == "__main__":
    main()
