"""Stacked autoencoder: greedy layer-wise pretraining on unlabelled data, then fine-tuning.

    python examples/stacked.py [--out DIR] [--epochs N] [--mnist PATH] [--labels N]

Only a few digits carry a label. Each hidden layer is first trained as a (denoising)
autoencoder of the layer below on *all* training images, labelled or not; then a softmax
head goes on top and the whole net is fine-tuned on the labelled ones. The same net trained
from random weights on the labelled digits alone is the baseline: the unlabelled images
are what pretraining adds. Prints both test accuracies; writes the first layer's features.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sklearn.model_selection import train_test_split

from aekit import AutoencoderClassifier, plot
from aekit.datasets import load_digits, load_mnist


def load_images(mnist: Path | None):
    """(X_train, y_train, X_test, y_test): MNIST's own split, or 80/20 of the digits."""
    if mnist is not None:
        return tuple(load_mnist(mnist))
    X, y = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=0
    )
    return X_train, y_train, X_test, y_test


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "output")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--mnist", type=Path, help="mnist.npz instead of the embedded digits")
    parser.add_argument("--labels", type=int, default=100, help="labelled training images")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    X_train, y_train, X_test, y_test = load_images(args.mnist)
    # A few labelled images (all classes present), the rest of the training set unlabelled.
    X_lab, X_unlab, y_lab, _ = train_test_split(
        X_train, y_train, train_size=args.labels, stratify=y_train, random_state=0
    )

    # With so few labels every one of them trains: a held-out tenth (10 images) would be too
    # small to pick an epoch with, so no validation split and no early stopping.
    common = dict(
        hidden=(64, 32),
        epochs=args.epochs,
        batch_size=32,
        lr=3e-3,
        validation_fraction=0.0,
        early_stopping=False,
        random_state=0,
    )
    stacked = AutoencoderClassifier(pretrain_epochs=max(1, args.epochs // 2), **common)
    stacked.fit(X_lab, y_lab, X_unlabeled=X_unlab)
    scratch = AutoencoderClassifier(pretrain_epochs=0, **common).fit(X_lab, y_lab)
    print(
        f"test accuracy with {args.labels} labels: pretrained on {len(X_unlab)} more images "
        f"{stacked.score(X_test, y_test):.3f}, from scratch {scratch.score(X_test, y_test):.3f}"
    )

    fig = plot.features(stacked, title="first-layer features after pretraining and fine-tuning")
    fig.savefig(args.out / "stacked_features.png", dpi=100)
    fig = plot.training_curves(
        stacked.pretrain_history_, title="layer-wise pretraining: layer 1, then layer 2"
    )
    fig.savefig(args.out / "stacked_pretraining.png", dpi=100)


if __name__ == "__main__":
    main()
