"""aekit's streaming detector on the NAB corpus: NAB's score and per-step ROC-AUC.

Every series of ``../shared/data/nab`` (NAB's own layout, 50 series) is scored causally by
:func:`aekit.tasks.streaming_scores`: an ``AnomalyDetector`` with default settings and
``window`` = one day of steps (from the series' median time step; 288 for five-minute data,
at most half of the first fit's steps) is fitted on the first 15% and refitted on the whole
past each time the series doubles; a step's score uses only that step and the ones before.

Printed, in the same run:

- per series, the per-step ROC-AUC against NAB's labelled windows (steps after NAB's
  probationary period) of aekit and of a rolling z-score (|x_t - mean| / std over the W steps
  before t, the same W); series without a labelled anomaly have no ROC-AUC;
- NAB's normalised score (all three profiles, threshold swept over the corpus by
  :func:`aekit.tasks.nab_score`) of aekit's onset scores (``output="onset"``: one peak per
  event, what NAB's alarms need) and, for comparison, of its level scores, of the rolling
  z-score, and of NAB's windowedGaussian baseline re-scored from its published per-step
  output on the same series.

Run by hand (about half an hour on 2 CPU cores; ``--out`` keeps each series' scores, so a
second run only re-scores)::

    python benchmarks/nab_stream.py [--threads 2] [--out /tmp/nab-stream]
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from aekit import AnomalyDetector
from aekit.datasets import read_series
from aekit.tasks import NAB_PROFILES, nab_score, nab_windows, onset_scores, streaming_scores
from aekit.tasks.streaming import refit_points
from nab_series import rolling_zscore  # the baseline's one definition (run from benchmarks/)

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "nab"
DAY_SECONDS = 86_400


def day_window(timestamps: np.ndarray, n_steps: int) -> int:
    """Steps in one day at the series' median time step, between 8 and half the first fit."""
    step = np.median(np.diff(timestamps).astype("timedelta64[s]").astype(np.float64))
    first = int(np.ceil(0.15 * n_steps))
    return int(np.clip(round(DAY_SECONDS / max(step, 1.0)), 8, first // 2))


def corpus_files() -> list[str]:
    table = json.loads((CORPUS / "combined_windows.json").read_text())
    return sorted(key for key in table if (CORPUS / key).is_file())


def published_scores(key: str) -> np.ndarray:
    category, name = key.split("/")
    path = CORPUS / "results" / "windowedGaussian" / category / f"windowedGaussian_{name}"
    with path.open(newline="") as f:
        return np.array([float(row["anomaly_score"]) for row in csv.DictReader(f)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--out", type=Path, default=Path("/tmp/nab-stream"))
    parser.add_argument("--files", nargs="*", help="NAB keys to run (default: all)")
    parser.add_argument("--growth", type=float, default=2.0, help="refit when the series grew so")
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    table = json.loads((CORPUS / "combined_windows.json").read_text())
    files = args.files or corpus_files()

    print(f"NAB corpus {CORPUS}: {len(files)} series; threads {args.threads}")
    header = f"{'series':48s} {'T':>6s} {'W':>4s} {'aekit':>6s} {'z':>6s} {'fit s':>6s}"
    print(header)
    print("-" * len(header))
    ours, onsets, zs, theirs, rows = {}, {}, {}, {}, []
    for key in files:
        series = read_series(CORPUS / key)
        x = np.asarray(series.values, dtype=np.float64)
        n_steps = len(x)
        window = day_window(series.timestamps, n_steps)
        cache = args.out / (key.replace("/", "__") + f".w{window}.g{args.growth:g}.npy")
        seconds = float("nan")
        if cache.is_file():
            scores = np.load(cache)
        else:
            start = time.perf_counter()
            det = AnomalyDetector(window=window, random_state=0, verbose=False)
            scores = streaming_scores(det, x, growth=args.growth)
            seconds = time.perf_counter() - start
            np.save(cache, scores)
        z = rolling_zscore(x, window)
        ours[key], zs[key], theirs[key] = scores, z, published_scores(key)
        onsets[key] = onset_scores(scores, window)
        labels = nab_windows(series.timestamps, table[key])
        inside = np.zeros(n_steps, dtype=bool)
        for a, b in labels:
            inside[a : b + 1] = True
        probation = min(int(0.15 * n_steps), 750)
        y = inside[probation:]
        auc = zauc = float("nan")
        if 0 < y.sum() < len(y):
            auc = roc_auc_score(y, scores[probation:])
            zauc = roc_auc_score(y, z[probation:])
        rows.append((key, n_steps, window, auc, zauc))
        fits = len(refit_points(n_steps, window, growth=args.growth))
        print(
            f"{key[:48]:48s} {n_steps:>6d} {window:>4d} {auc:>6.3f} {zauc:>6.3f} "
            f"{seconds:>6.1f}  ({fits} fits)",
            flush=True,
        )

    scored = [(k, a, z) for k, _, _, a, z in rows if np.isfinite(a)]
    wins = sum(a > z for _, a, z in scored)
    mean_ours = np.mean([a for _, a, _ in scored])
    mean_z = np.mean([z for *_, z in scored])
    print(
        f"\nper-step ROC-AUC on the {len(scored)} series with a labelled anomaly: mean aekit "
        f"{mean_ours:.3f}, rolling z {mean_z:.3f}; aekit higher on {wins} of {len(scored)}"
    )
    if args.markdown:
        print("\n| series | steps | W | aekit | rolling z |\n|---|---|---|---|---|")
        for key, n_steps, window, auc, zauc in rows:
            if np.isfinite(auc):
                print(f"| {key} | {n_steps:,} | {window} | {auc:.3f} | {zauc:.3f} |")
    print(f"\nNAB normalised score on these {len(files)} series (threshold swept):")
    names = ("aekit onset", "aekit level", "rolling z", "windowedGaussian")
    print(f"{'profile':22s} " + " ".join(f"{name:>16s}" for name in names))
    for profile in NAB_PROFILES:
        figures = [nab_score(s, CORPUS, profile) for s in (onsets, ours, zs, theirs)]
        print(f"{profile:22s} " + " ".join(f"{r.score:>16.2f}" for r in figures))


if __name__ == "__main__":
    main()
