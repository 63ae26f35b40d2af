"""Recurrent (sequence) autoencoder: an LSTM reads a window of a time series into one code.

    python examples/recurrent.py [--out DIR] [--epochs N] [--csv NAB_CSV] [--window W]

The encoder LSTM reads the window step by step (backpropagation through time trains it) and
its final state gives the code; the decoder LSTM is fed that code at every step and writes
the window back. Trained on sliding windows of the first 70% of the series, it rebuilds the
rest window by window; the reconstruction error locates what the model has not seen before.
Default data: a synthetic daily-like cycle with noise and one anomaly in the test part; or a
NAB series (timestamp,value CSV) given with --csv.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from aekit import Autoencoder
from aekit.datasets import sliding_windows


def load_series(csv: Path | None) -> np.ndarray:
    """The value column of a NAB CSV file, or a synthetic series of 3000 steps."""
    if csv is not None:
        return np.genfromtxt(csv, delimiter=",", skip_header=1, usecols=1, dtype=np.float32)
    rng = np.random.default_rng(0)
    t = np.arange(3000)
    series = np.sin(2 * np.pi * t / 100) + 0.5 * np.sin(2 * np.pi * t / 25)
    series += 0.1 * rng.standard_normal(len(t))
    series[2500:2540] += 1.5  # the anomaly: a level jump the training part never shows
    return series.astype(np.float32)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "output")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--csv", type=Path, help="a NAB series (timestamp,value) instead")
    parser.add_argument("--window", type=int, default=50, help="steps per window")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    series = load_series(args.csv)
    cut = int(0.7 * len(series))

    # Overlapping windows (stride 5) give many training samples of shape (window,).
    train = sliding_windows(series[:cut], args.window, stride=5)
    ae = Autoencoder(
        architecture="recurrent",
        cell="lstm",
        latent_dim=8,
        epochs=args.epochs,
        batch_size=32,
        lr=3e-3,
        random_state=0,
    )
    ae.fit(train)  # the series is z-scored inside (scaling="auto") and scaled back on output

    # Back-to-back windows (stride = window) tile the test part, so the reconstructions
    # concatenate into one series.
    test = sliding_windows(series[cut:], args.window, stride=args.window)
    rebuilt = ae.reconstruct(test)
    # The baseline: each window replaced by its own mean (what a 1-number code could keep).
    means = np.repeat(test.mean(axis=1, keepdims=True), args.window, axis=1)
    rmse = np.sqrt(np.mean((test - rebuilt) ** 2, axis=1))  # one per window, series units
    base = np.sqrt(np.mean((test - means) ** 2, axis=1))
    print(
        f"typical test window (median RMSE): LSTM autoencoder {np.median(rmse):.3f}, "
        f"window mean {np.median(base):.3f}"
    )
    errors = ae.reconstruction_error(test)  # the training loss per window, for scoring
    worst = int(np.argmax(errors))
    start = cut + worst * args.window
    print(
        f"worst test window: steps {start}-{start + args.window - 1}, "
        f"error {errors[worst] / np.median(errors):.0f} x the median"
    )

    # aekit.plot has no series plot, so this one is drawn with matplotlib's Figure directly.
    fig = Figure(figsize=(10, 4), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.plot(np.arange(len(series)), series, color="0.6", lw=0.8, label="series")
    t = np.arange(cut, cut + rebuilt.size)
    top.plot(t, rebuilt.ravel(), color="C1", lw=0.8, label="reconstruction")
    top.axvline(cut, color="k", ls=":", lw=1, label="train | test")
    top.legend(loc="upper left", fontsize="small")
    bottom.bar(t[:: args.window], errors, width=args.window, align="edge", color="C3")
    bottom.set_ylabel("window error")
    bottom.set_xlabel("time step")
    fig.suptitle("LSTM autoencoder: test windows rebuilt from an 8-number code")
    fig.savefig(args.out / "recurrent.png", dpi=100)


if __name__ == "__main__":
    main()
