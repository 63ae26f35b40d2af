"""The model zoo doing its job on real data, each against a reference measured in the same run.

    python benchmarks/zoo_mnist.py sparse|denoise|conv|vae|recurrent [--data-dir ../shared/data]
        [--out benchmarks/output] [--seed 0]

- sparse: KL sparsity (rho 0.05, 196 sigmoid code units, default weight; and with weight
  decay 1e-5) against the same 784-196-784 net without the penalty: mean code activation on
  the test set, test BCE and squared error; saves the learned features as image grids.
- denoise: Gaussian noise sigma 0.5 (clipped to [0, 1]) and masking 25% with the default
  settings for images: PSNR of the denoised test images against the noisy
  input and the projection of the noisy images on 64 PCA components fitted to clean data
  (``--architectures dense conv`` adds the convolutional network).
- conv: the convolutional autoencoder with a 128-d code and BCE: test BCE per pixel and time,
  beside the dense 784-32-784 net of the Keras tutorial trained for 50 epochs in the same run.
- vae: Bernoulli VAE, latent 50, dynamically binarized training data: importance-sampled test
  log-likelihood (K=1000) of one fixed binarization of the test set, beside the independent-
  pixel model.
- recurrent: LSTM and GRU autoencoders on 4-hour windows of NAB's art_daily_small_noise
  (trained on the first 70% of the series, scored on the rest) against predicting each
  window's mean.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import PCA

from aekit import VAE, Autoencoder, plot
from aekit.datasets import load_mnist, sliding_windows


def flat(X: np.ndarray) -> np.ndarray:
    return X.reshape(len(X), -1)


def sse(X: np.ndarray, R: np.ndarray) -> float:
    return float(((flat(X) - flat(R)) ** 2).sum(1).mean())


def bce(X: np.ndarray, R: np.ndarray) -> float:
    P = np.clip(flat(R).astype(np.float64), 1e-7, 1 - 1e-7)
    return float(-(flat(X) * np.log(P) + (1 - flat(X)) * np.log(1 - P)).mean())


def psnr(X: np.ndarray, R: np.ndarray) -> float:
    """Peak signal-to-noise ratio of [0, 1] images in dB, the mean over the images."""
    mse = ((flat(X) - flat(R)) ** 2).mean(1)
    return float((10 * np.log10(1.0 / mse)).mean())


def psnr_pooled(X: np.ndarray, R: np.ndarray) -> float:
    """PSNR in dB from the mean squared error over the whole set (lower than the mean)."""
    return float(10 * np.log10(1.0 / ((flat(X) - flat(R)) ** 2).mean()))


def fit_timed(model, X, **kwargs):
    t0 = time.perf_counter()
    model.fit(X, **kwargs)
    return model, time.perf_counter() - t0


def epochs_of(model) -> str:
    return f"{len(model.history_)} epochs (best {model.best_epoch_})"


def run_sparse(args, mnist) -> None:
    X_train, X_test = flat(mnist.X_train), flat(mnist.X_test)
    common = dict(hidden=(), latent_dim=196, random_state=args.seed, verbose=False)
    models = {
        "no penalty": Autoencoder(code_activation="sigmoid", **common),
        "kl 0.05": Autoencoder(sparsity="kl", sparsity_target=0.05, **common),
        # Weight decay stops the decoder from amplifying small graded activations, the cheap
        # way to meet the KL target: the units turn nearly binary and the features readable.
        "kl + wd 1e-5": Autoencoder(sparsity="kl", weight_decay=1e-5, **common),
    }
    errors = {}
    for name, model in models.items():
        model, seconds = fit_timed(model, X_train)
        R = model.reconstruct(X_test)
        act = model.transform(X_test)
        errors[name] = (bce(X_test, R), sse(X_test, R))
        print(
            f"{name:>12}: mean code activation {act.mean():.4f}, units above 0.5 per image "
            f"{(act > 0.5).sum(1).mean():.1f}, test BCE {errors[name][0]:.4f}, "
            f"SSE {errors[name][1]:.3f}, {epochs_of(model)}, {seconds:.0f} s"
        )
        if name != "no penalty":
            ref_bce, ref_sse = errors["no penalty"]
            print(
                f"{'':>12}  ratio to no penalty: BCE {errors[name][0] / ref_bce:.3f}, "
                f"SSE {errors[name][1] / ref_sse:.3f}"
            )
            fig = plot.features(model, n=196, title=f"{name}: 196 features of MNIST")
            path = args.out / f"sparse_features_{name.split()[-1]}.png"
            fig.savefig(path, dpi=120)
            print(f"{'':>12}  features: {path}")


def run_denoise(args, mnist) -> None:
    X_train, X_test = mnist.X_train, mnist.X_test
    pca = PCA(64, random_state=0).fit(flat(X_train))
    rng = np.random.default_rng(args.seed)
    noises = {
        "gaussian 0.5": (
            "gaussian",
            0.5,
            np.clip(X_test + 0.5 * rng.standard_normal(X_test.shape), 0, 1),
        ),
        "masking 0.25": ("masking", 0.25, X_test * (rng.random(X_test.shape) >= 0.25)),
    }
    for label, (noise, level, noisy) in noises.items():
        if noise not in args.noises:
            continue
        noisy = noisy.astype(np.float32)
        projected = pca.inverse_transform(pca.transform(flat(noisy)))
        print(
            f"{label} (PSNR per image, mean; pooled over the set): noisy {psnr(X_test, noisy):.2f}"
            f" dB ({psnr_pooled(X_test, noisy):.2f}), PCA-64 projection "
            f"{psnr(X_test, projected):.2f} dB ({psnr_pooled(X_test, projected):.2f})"
        )
        for architecture in args.architectures:
            model = Autoencoder(
                architecture=architecture,
                noise=noise,
                noise_level=level,
                epochs=args.epochs or 100,
                random_state=args.seed,
                verbose=False,
            )
            model, seconds = fit_timed(model, X_train)
            den = model.denoise(noisy)
            print(
                f"  {architecture} denoising autoencoder: {psnr(X_test, den):.2f} dB "
                f"({psnr_pooled(X_test, den):.2f}), "
                f"{psnr(X_test, den) - psnr(X_test, projected):+.2f} dB over PCA, "
                f"{epochs_of(model)}, {seconds:.0f} s"
            )
            if architecture == args.architectures[-1]:
                fig = plot.image_grid(
                    np.concatenate([X_test[:10], noisy[:10], den[:10]]),
                    ncols=10,
                    title=f"clean / {label} / denoised",
                )
                fig.savefig(args.out / f"denoise_{noise}.png", dpi=100)


def run_conv(args, mnist) -> None:
    X_train, X_test = mnist.X_train, mnist.X_test
    dense = Autoencoder(
        hidden=(),
        latent_dim=32,
        epochs=50,
        early_stopping=False,
        validation_fraction=0,
        random_state=args.seed,
        verbose=False,
    )
    dense, t_dense = fit_timed(dense, X_train)
    conv = Autoencoder(
        architecture="conv",
        latent_dim=128,
        epochs=args.epochs or 100,
        random_state=args.seed,
        verbose=False,
    )
    conv, t_conv = fit_timed(conv, X_train)
    b_dense, b_conv = bce(X_test, dense.reconstruct(X_test)), bce(X_test, conv.reconstruct(X_test))
    print(f"dense 784-32-784, 50 epochs: test BCE {b_dense:.4f}, {t_dense:.0f} s")
    print(
        f"conv hidden={conv.module_.config.hidden} latent 128: test BCE {b_conv:.4f}, "
        f"SSE {sse(X_test, conv.reconstruct(X_test)):.3f}, {epochs_of(conv)}, {t_conv:.0f} s "
        f"({t_conv / len(conv.history_):.1f} s/epoch); BCE ratio conv/dense {b_conv / b_dense:.3f}"
    )


def run_vae(args, mnist) -> None:
    X_train, X_test = flat(mnist.X_train), flat(mnist.X_test)
    binary = (np.random.RandomState(0).random_sample(X_test.shape) < X_test).astype(np.float32)
    p = np.clip(X_train.mean(0), 1e-4, 1 - 1e-4)
    independent = (binary * np.log(p) + (1 - binary) * np.log(1 - p)).sum(1).mean()
    vae = VAE(
        latent_dim=50,
        binarize="dynamic",
        epochs=args.epochs or 100,
        random_state=args.seed,
        verbose=False,
    )
    vae, seconds = fit_timed(vae, X_train)
    t0 = time.perf_counter()
    ll = vae.log_likelihood(binary, n_samples=1000, random_state=0).mean()
    t_ll = time.perf_counter() - t0
    elbo = vae.elbo(binary, random_state=0).mean()
    print(
        f"VAE hidden={vae.module_.config.hidden} latent 50: {epochs_of(vae)}, {seconds:.0f} s; "
        f"test ELBO {elbo:.2f}, log-likelihood (K=1000) {ll:.2f} nats ({t_ll:.0f} s); "
        f"independent pixels {independent:.2f} nats"
    )
    fig = plot.image_grid(vae.sample(100, random_state=0), ncols=10, title="VAE samples")
    fig.savefig(args.out / "vae_samples.png", dpi=100)


def run_recurrent(args, data_dir) -> None:
    import pandas as pd

    frame = pd.read_csv(data_dir / "nab" / "art_daily_small_noise.csv")
    series = frame["value"].to_numpy(np.float32)
    cut = int(0.7 * len(series))
    # Four hours of 5-minute steps: a repeat-vector decoder has to count the steps it emits, and
    # day-long windows (288 steps) came out only 5% better than the mean (LSTM, defaults).
    window, stride = 48, 2
    train = sliding_windows(series[:cut], window, stride)
    test = sliding_windows(series[cut:], window, stride)
    baseline = ((test - test.mean(1, keepdims=True)) ** 2).mean()
    print(
        f"{len(train)} training and {len(test)} test windows of {window} steps; "
        f"window-mean MSE {baseline:.3f}"
    )
    for cell in ("lstm", "gru"):
        model = Autoencoder(
            architecture="recurrent",
            cell=cell,
            latent_dim=16,
            random_state=args.seed,
            verbose=False,
        )
        model, seconds = fit_timed(model, train)
        err = ((model.reconstruct(test) - test) ** 2).mean()
        print(
            f"  {cell}: test MSE {err:.4f}, ratio to window mean {err / baseline:.4f}, "
            f"{epochs_of(model)}, {seconds:.0f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=["sparse", "denoise", "conv", "vae", "recurrent"])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/output"))
    parser.add_argument(
        "--epochs", type=int, default=None, help="override the epochs (conv, vae, denoise)"
    )
    parser.add_argument(
        "--noises", nargs="+", default=["gaussian", "masking"], choices=["gaussian", "masking"]
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--architectures",
        nargs="+",
        default=["dense"],
        choices=["dense", "conv"],
        help="denoise: the architectures to train (conv costs ~100 s per epoch on one CPU core)",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if args.task == "recurrent":
        run_recurrent(args, args.data_dir)
        return
    mnist = load_mnist(args.data_dir / "mnist.npz")
    {"sparse": run_sparse, "denoise": run_denoise, "conv": run_conv, "vae": run_vae}[args.task](
        args, mnist
    )


if __name__ == "__main__":
    main()
