"""aekit's AnomalyDetector against IsolationForest (and PyOD's AutoEncoder) on the ODDS sets.

PyOD's benchmark protocol: for each set and each of 3 random splits, 60% of the rows train and
40% test; a z-score is fitted on the training part and applied to both; every detector is
told the true outlier share of the training part as its contamination, trained on the
(unlabelled, contaminated) training part and scored by ROC-AUC on the test part. The table
gives the mean over the splits, the fit time per set (mean per split), and aekit's ROC-AUC
minus IsolationForest's, all measured in this run. PyOD's AutoEncoder is run with its defaults
when PyOD is installed (``pip install pyod``); otherwise its figures measured with PyOD 3.6.7
defaults are printed for reference.

Run by hand (a few minutes on 2 CPU cores)::

    python benchmarks/odds_detectors.py [--sets breastw cardio] [--splits 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from aekit import AnomalyDetector

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "odds"
SETS = ("breastw", "cardio", "letter", "pima", "satellite", "thyroid")
# PyOD 3.6.7 AutoEncoder with its defaults, same protocol (figures given with the issue).
PYOD_AE_REFERENCE = {
    "breastw": 0.959,
    "cardio": 0.778,
    "letter": 0.801,
    "pima": 0.644,
    "satellite": 0.690,
    "thyroid": 0.929,
}


def make_aekit(contamination: float, seed: int) -> AnomalyDetector:
    return AnomalyDetector(contamination=contamination, random_state=seed, verbose=False)


class Forest:
    """IsolationForest with PyOD's sign: higher decision_function = more abnormal."""

    def __init__(self, contamination: float, seed: int) -> None:
        self.model = IsolationForest(contamination=contamination, random_state=seed)

    def fit(self, X: np.ndarray) -> Forest:
        self.model.fit(X)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return -self.model.score_samples(X)


def make_pyod_ae(contamination: float, seed: int):  # type: ignore[no-untyped-def]
    from pyod.models.auto_encoder import AutoEncoder

    return AutoEncoder(contamination=contamination, random_state=seed, verbose=0)


def evaluate(make, X: np.ndarray, y: np.ndarray, splits: int) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    """(mean ROC-AUC, its standard deviation, mean fit seconds) over ``splits`` splits."""
    aucs, times = [], []
    for seed in range(splits):
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.4, random_state=seed)
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        start = time.perf_counter()
        detector = make(float(y_train.mean()), seed).fit(X_train)
        times.append(time.perf_counter() - start)
        aucs.append(roc_auc_score(y_test, detector.decision_function(X_test)))
    return float(np.mean(aucs)), float(np.std(aucs)), float(np.mean(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    try:
        import pyod  # noqa: F401

        have_pyod = True
    except ImportError:
        have_pyod = False

    detectors = {"aekit": make_aekit, "iforest": Forest}
    if have_pyod:
        detectors["pyod_ae"] = make_pyod_ae
    results: dict[str, dict[str, tuple[float, float, float]]] = {}
    for name in args.sets:
        data = np.load(DATA / f"{name}.npz")
        X, y = data["X"].astype(np.float64), data["y"].astype(int)
        results[name] = {k: evaluate(make, X, y, args.splits) for k, make in detectors.items()}

    pyod_label = "PyOD AE (run)" if have_pyod else "PyOD AE (ref.)"
    print(
        f"ROC-AUC, mean of {args.splits} splits (60/40, z-score on train, contamination = "
        f"true outlier share); fit seconds per split; torch threads {args.threads}"
    )
    header = (
        f"{'set':10s} {'n x d':>10s} {'aekit':>13s} {'IForest':>13s} {pyod_label:>15s} "
        f"{'aekit-IF':>9s} {'fit aekit':>10s} {'fit IF':>8s}"
    )
    print(header)
    print("-" * len(header))
    for name, row in results.items():
        shape = np.load(DATA / f"{name}.npz")["X"].shape
        ae, forest = row["aekit"], row["iforest"]
        pyod_auc = row["pyod_ae"][0] if have_pyod else PYOD_AE_REFERENCE[name]
        print(
            f"{name:10s} {shape[0]:>5d} x {shape[1]:<3d} {ae[0]:>7.3f}+-{ae[1]:.3f} "
            f"{forest[0]:>7.3f}+-{forest[1]:.3f} {pyod_auc:>15.3f} {ae[0] - forest[0]:>+9.3f} "
            f"{ae[2]:>9.2f}s {forest[2]:>7.2f}s"
        )
    mean = {k: np.mean([results[s][k][0] for s in results]) for k in detectors}
    pyod_mean = mean["pyod_ae"] if have_pyod else np.mean([PYOD_AE_REFERENCE[s] for s in results])
    print("-" * len(header))
    print(
        f"{'mean':10s} {'':10s} {mean['aekit']:>13.3f} {mean['iforest']:>13.3f} "
        f"{pyod_mean:>15.3f} {mean['aekit'] - mean['iforest']:>+9.3f}"
    )
    beaten = [s for s in results if results[s]["aekit"][0] > PYOD_AE_REFERENCE[s]]
    print(
        f"aekit above PyOD AE's reference figure on {len(beaten)} of {len(results)} sets; "
        f"aekit / IForest mean ROC-AUC ratio {mean['aekit'] / mean['iforest']:.3f}"
    )


if __name__ == "__main__":
    main()
