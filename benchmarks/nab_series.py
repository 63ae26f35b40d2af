"""aekit's AnomalyDetector on NAB time series against a rolling z-score.

Two measurements, both on the files of ``../shared/data/nab``:

1. Each labelled series is scored by a detector trained on that series itself (unsupervised,
   ``window=288``: one day of 5-minute steps), one score per time step; the per-step ROC-AUC
   against NAB's labelled anomaly windows is printed beside that of a rolling z-score
   (|x_t - mean| / std over the previous 288 steps), with the fit times.
2. A detector trained on ``art_daily_small_noise`` (no anomaly, contamination 0.01) labels the
   steps of ``art_daily_jumpsup``: how many of the labelled window's steps it flags, and how
   many outside it.

Run by hand (a few minutes on 2 CPU cores)::

    python benchmarks/nab_series.py [--window 288] [--threads 2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from aekit import AnomalyDetector
from aekit.datasets import load_nab

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "nab"
SERIES = ("art_daily_jumpsup", "machine_temperature_system_failure", "nyc_taxi")


def rolling_zscore(x: np.ndarray, window: int = 288) -> np.ndarray:
    """|x_t - mean| / std over the ``window`` steps before t (0 for the first step)."""
    c1 = np.concatenate([[0.0], np.cumsum(x)])
    c2 = np.concatenate([[0.0], np.cumsum(x * x)])
    t = np.arange(1, len(x))
    start = np.maximum(0, t - window)
    n = t - start
    mean = (c1[t] - c1[start]) / n
    std = np.sqrt(np.maximum((c2[t] - c2[start]) / n - mean**2, 0.0))
    return np.concatenate([[0.0], np.abs(x[1:] - mean) / (std + 1e-12)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=int, default=288)
    parser.add_argument("--stride", type=int, default=None, help="training stride (auto)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    print(f"per-step ROC-AUC against NAB's windows; window {args.window}; threads {args.threads}")
    header = (
        f"{'series':36s} {'steps':>6s} {'aekit':>7s} {'rolling z':>9s} {'ratio':>6s} {'fit':>7s}"
    )
    print(header)
    print("-" * len(header))
    for name in SERIES:
        series = load_nab(DATA / f"{name}.csv")
        start = time.perf_counter()
        det = AnomalyDetector(window=args.window, stride=args.stride, random_state=0, verbose=False)
        det.fit(series.values)
        seconds = time.perf_counter() - start
        auc = roc_auc_score(series.labels, det.decision_scores_)
        baseline = roc_auc_score(series.labels, rolling_zscore(series.values, 288))
        print(
            f"{name:36s} {len(series.values):>6d} {auc:>7.3f} {baseline:>9.3f} "
            f"{auc / baseline:>6.2f} {seconds:>6.1f}s"
        )

    clean = load_nab(DATA / "art_daily_small_noise.csv")
    jumps = load_nab(DATA / "art_daily_jumpsup.csv")
    start = time.perf_counter()
    det = AnomalyDetector(
        window=args.window, stride=args.stride, contamination=0.01, random_state=0, verbose=False
    )
    det.fit(clean.values)
    seconds = time.perf_counter() - start
    labels = det.predict(jumps.values)
    inside = jumps.labels == 1
    auc = roc_auc_score(jumps.labels, det.decision_function(jumps.values))
    flagged = np.flatnonzero(labels)
    print(
        f"\ntrained on art_daily_small_noise ({seconds:.1f} s), applied to art_daily_jumpsup: "
        f"flagged {int(labels[inside].sum())} of the {int(inside.sum())} steps of the "
        f"labelled window and {int(labels[~inside].sum())} of the {int((~inside).sum())} "
        f"outside it; ROC-AUC {auc:.3f}"
    )
    if flagged.size:
        window = np.flatnonzero(inside)
        print(
            f"flagged steps {flagged.min()}-{flagged.max()}; "
            f"labelled window {window.min()}-{window.max()}"
        )


if __name__ == "__main__":
    main()
