"""Variational autoencoder: a generative model; decode z ~ N(0, I) to draw new digits.

    python examples/variational.py [--out DIR] [--epochs N] [--mnist PATH]

The encoder gives a Gaussian q(z|x) = N(mu(x), sigma^2(x)) rather than one code; training
maximises the ELBO  E_q[log p(x|z)] - KL(q(z|x) || N(0, I)),  whose KL term keeps the codes
close to the prior, so that decoding any z drawn from N(0, I) gives a plausible digit and the
straight line between two codes decodes to a smooth morph. Writes samples, an interpolation
and the 2-D latent map; prints the test ELBO and the importance-sampled log-likelihood log p(x)
beside a model of independent pixels.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from aekit import VAE, plot
from aekit.datasets import load_digits, load_mnist


def load_images(mnist: Path | None):
    """(X_train, X_test, y_test): MNIST's own split, or 80/20 of the digits."""
    if mnist is not None:
        split = load_mnist(mnist)
        return split.X_train, split.X_test, split.y_test
    X, y = load_digits()
    X_train, X_test, _, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    return X_train, X_test, y_test


def independent_pixels(X_train: np.ndarray, X_test: np.ndarray) -> float:
    """Mean log p(x) in nats when every pixel is Bernoulli with its training mean."""
    p = np.clip(X_train.mean(axis=0), 1e-4, 1 - 1e-4)
    log_p = X_test * np.log(p) + (1 - X_test) * np.log(1 - p)
    return float(log_p.reshape(len(X_test), -1).sum(axis=1).mean())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "output")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--mnist", type=Path, help="mnist.npz instead of the embedded digits")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    X_train, X_test, y_test = load_images(args.mnist)

    # A 2-D latent space can be drawn as it is; pixels in [0, 1] get a Bernoulli p(x|z).
    vae = VAE(latent_dim=2, epochs=args.epochs, batch_size=64, patience=20, random_state=0)
    vae.fit(X_train)

    elbo = vae.elbo(X_test, random_state=0).mean()
    # K = 100 importance samples per image: a tighter lower bound on log p(x) than the ELBO.
    log_px = vae.log_likelihood(X_test, n_samples=100, random_state=0).mean()
    print(
        f"test ELBO {elbo:.2f} nats, log p(x) (K=100) {log_px:.2f} nats per image; "
        f"independent pixels {independent_pixels(X_train, X_test):.2f} nats"
    )

    fig = plot.image_grid(vae.sample(50, random_state=0), ncols=10, title="z ~ N(0, I), decoded")
    fig.savefig(args.out / "variational_samples.png", dpi=100)
    # From the first test image of one digit to the first of another one.
    a, b = X_test[np.argmax(y_test == 0)], X_test[np.argmax(y_test == 6)]
    fig = plot.interpolation(vae.interpolate(a, b, steps=10), title="from a 0 to a 6")
    fig.savefig(args.out / "variational_interpolation.png", dpi=100)
    fig = plot.latent_map(vae.transform(X_test), y_test, title="posterior means of the test digits")
    fig.savefig(args.out / "variational_latent.png", dpi=100)


if __name__ == "__main__":
    main()
