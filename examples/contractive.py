"""Contractive autoencoder: penalise how much the code moves when the input moves.

    python examples/contractive.py [--out DIR] [--epochs N] [--mnist PATH] [--gamma G]

The contractive penalty gamma * ||J_f(x)||_F^2, the squared Frobenius norm of the encoder's
Jacobian dz/dx, makes the code insensitive to small changes of the input in every direction
except those the reconstruction needs: the ones along which the digits themselves vary.
Compared with the same net without the penalty: the sensitivity ||J_f(x)||_F (estimated
from the public API with small random perturbations, since E ||J v||^2 = ||J||_F^2 for
v ~ N(0, I)), the same relative to the spread of the codes, and the reconstruction error.
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


def sensitivity(model: Autoencoder, X: np.ndarray, eps: float = 1e-2, probes: int = 8) -> float:
    """Mean over X of ||J_f(x)||_F, from finite differences along random Gaussian directions."""
    rng = np.random.default_rng(0)
    z = model.transform(X)
    squared = np.zeros(len(X))
    for _ in range(probes):
        v = rng.standard_normal(X.shape).astype(np.float32)
        squared += ((model.transform(X + eps * v) - z) ** 2).sum(axis=1)
    return float(np.mean(np.sqrt(squared / probes) / eps))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "output")
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--mnist", type=Path, help="mnist.npz instead of the embedded digits")
    parser.add_argument("--gamma", type=float, default=0.1, help="weight of the penalty")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    X_train, X_test = load_images(args.mnist)

    # The penalty costs one backward pass per code unit, so the code stays small.
    common = dict(latent_dim=8, hidden=(32,), epochs=args.epochs, batch_size=64, random_state=0)
    cae = Autoencoder(contractive=args.gamma, **common).fit(X_train)
    plain = Autoencoder(**common).fit(X_train)

    for name, model in ((f"contractive (gamma {args.gamma})", cae), ("no penalty", plain)):
        # A penalty on ||J|| could be met by merely shrinking all codes (the decoder scaling
        # them back up), so the sensitivity is also given relative to the codes' spread.
        spread = float(np.sqrt(model.transform(X_test).var(axis=0).sum()))
        s = sensitivity(model, X_test)
        print(
            f"{name:>26}: ||J_f(x)||_F {s:.3f} ({s / spread:.2f} relative to the codes' spread), "
            f"test reconstruction error {-model.score(X_test):.4f}"
        )

    rows = np.concatenate(
        [X_test[:10], plain.reconstruct(X_test[:10]), cae.reconstruct(X_test[:10])]
    )
    fig = plot.image_grid(rows, ncols=10, title="test digits / no penalty / contractive")
    fig.savefig(args.out / "contractive_reconstructions.png", dpi=100)
    fig = plot.training_curves(cae, title="contractive autoencoder: loss terms")
    fig.savefig(args.out / "contractive_curves.png", dpi=100)


if __name__ == "__main__":
    main()
