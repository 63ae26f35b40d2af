"""Sparse autoencoder: a KL penalty keeps each code unit off most of the time.

    python examples/sparse.py [--out DIR] [--epochs N] [--mnist PATH]

One hidden layer of 64 sigmoid units, as wide as the 8x8 input: without a constraint such a
layer could learn something close to the identity. The penalty beta * sum_j KL(rho || rho_hat_j)
pushes the mean activation rho_hat_j of every unit towards rho = 0.05, so each unit has to
specialise on a pattern that only some digits contain. Writes the learned features (the weight
rows of the code layer, shown as images) and prints the mean activations with and without the
penalty.
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "output")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--mnist", type=Path, help="mnist.npz instead of the embedded digits")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    X_train, X_test = load_images(args.mnist)
    width = 64 if args.mnist is None else 196  # MNIST: the 784-196-784 net of Ng's notes

    # hidden=() is the shallow input-code-output net; sparsity="kl" makes the code a sigmoid.
    common = dict(hidden=(), latent_dim=width, epochs=args.epochs, batch_size=64, random_state=0)
    sparse = Autoencoder(sparsity="kl", sparsity_target=0.05, **common).fit(X_train)
    # The same net without the penalty, sigmoid code too, so that the activations compare.
    plain = Autoencoder(code_activation="sigmoid", **common).fit(X_train)

    for name, model in (("KL sparse (rho 0.05)", sparse), ("no penalty", plain)):
        codes = model.transform(X_test)  # (n, width), each unit in (0, 1)
        print(
            f"{name:>20}: mean code activation {codes.mean():.3f}, "
            f"units above 0.5 per image {np.mean((codes > 0.5).sum(axis=1)):.1f} of {width}, "
            f"test reconstruction error {-model.score(X_test):.4f}"
        )

    fig = plot.features(sparse, n=width, title=f"features of {width} KL-sparse units")
    fig.savefig(args.out / "sparse_features.png", dpi=100)
    fig = plot.features(plain, n=width, title=f"features of {width} units without the penalty")
    fig.savefig(args.out / "sparse_features_plain.png", dpi=100)


if __name__ == "__main__":
    main()
