"""Undercomplete autoencoder: a 2-D bottleneck beside PCA with 2 components.

    python examples/undercomplete.py [--out DIR] [--epochs N] [--mnist PATH]

The encoder 64-32-16-2 (ReLU) squeezes every digit through two numbers and the mirrored
decoder rebuilds it; PCA is the best *linear* map through two numbers, so whatever the
autoencoder gains over PCA comes from its nonlinearity. Writes the test reconstructions of
both, the 2-D codes coloured by digit and the training curves.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from aekit import Autoencoder, plot
from aekit.datasets import load_digits, load_mnist


def load_images(mnist: Path | None):
    """(X_train, X_test, y_train, y_test): MNIST's own split, or 80/20 of the digits."""
    if mnist is not None:
        return tuple(load_mnist(mnist))
    X, y = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=0
    )
    return X_train, y_train, X_test, y_test


def squared_error(X: np.ndarray, R: np.ndarray) -> float:
    """Summed squared error per image, averaged over the images."""
    return float(((X - R).reshape(len(X), -1) ** 2).sum(axis=1).mean())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "output")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--mnist", type=Path, help="mnist.npz instead of the embedded digits")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    X_train, _, X_test, y_test = load_images(args.mnist)

    # hidden=None halves the width layer by layer from the input down to the code.
    ae = Autoencoder(latent_dim=2, epochs=args.epochs, batch_size=64, patience=20, random_state=0)
    ae.fit(X_train)

    # PCA works on flat rows; its inverse_transform is the best linear 2-D reconstruction.
    flat = X_train.reshape(len(X_train), -1)
    pca = PCA(n_components=2).fit(flat)
    pca_test = pca.inverse_transform(pca.transform(X_test.reshape(len(X_test), -1)))
    pca_test = pca_test.reshape(X_test.shape)
    ae_test = ae.reconstruct(X_test)
    print(
        f"test squared error per image: autoencoder {squared_error(X_test, ae_test):.2f}, "
        f"PCA {squared_error(X_test, pca_test):.2f} (both through a 2-D code)"
    )

    rows = np.concatenate([X_test[:10], pca_test[:10], ae_test[:10]])
    fig = plot.image_grid(rows, ncols=10, title="test digits / PCA (2) / autoencoder (2)")
    fig.savefig(args.out / "undercomplete_reconstructions.png", dpi=100)
    fig = plot.latent_map(ae.transform(X_test), y_test, title="2-D codes of the test digits")
    fig.savefig(args.out / "undercomplete_latent.png", dpi=100)
    fig = plot.training_curves(ae, title="undercomplete autoencoder")
    fig.savefig(args.out / "undercomplete_curves.png", dpi=100)


if __name__ == "__main__":
    main()
