"""aekit's AnomalyDetector against classical and PyOD detectors on the 14 ODDS sets.

PyOD's benchmark protocol: for each set and each of 3 random splits (``train_test_split`` with
``random_state`` = the split's index), 60% of the rows train and 40% test; a z-score is fitted
on the training part and applied to both; every detector is told the true outlier share of the
training part as its contamination, trained on the (unlabelled, contaminated) training part and
scored by ROC-AUC on the test part. Every detector sees the same splits. The table gives, per
set and detector, the mean ROC-AUC over the splits and the mean fit seconds per split.

Detectors (``DETECTORS``, higher score = more abnormal):

- ``aekit``: ``AnomalyDetector(contamination=c, random_state=split, verbose=False)``, its
  defaults as they stand;
- ``iforest``: scikit-learn's IsolationForest, its defaults;
- ``knn``: distance to the 5th nearest training row (PyOD's KNN default, method "largest"),
  exact, on scikit-learn's tree-based NearestNeighbors. The whole training part is indexed even
  on the largest sets (http: 7 s a split, cover: 19 s on one core), so no subsampling;
- ``ecod``: ECOD (Li et al. 2022, TKDE), Algorithm 1 of the paper, written here (``ECOD``);
- ``ecod_pyod``: the same tails aggregated as PyOD's ECOD does (the larger tail per feature,
  summed), stronger than the paper's on most of these sets;
- ``pyod_ae``: PyOD's AutoEncoder with its defaults (``random_state`` = the split), only where
  ``pyod`` is importable: ``pip install pyod`` (a reference, not a dependency of aekit).

A JSON cache keeps every (set, detector, split) figure: ``--out F`` writes it (atomically, after
each set and detector), ``--reuse F`` skips what F already holds, so the references are measured
once and the aekit row alone re-measured after a change of its defaults::

    python benchmarks/odds_detectors.py --threads 1 --out odds-refs.json \\
        --detectors iforest knn ecod ecod_pyod pyod_ae    # once: 25 min, 22 of them PyOD AE
    python benchmarks/odds_detectors.py --reuse odds-refs.json --out odds.json --threads 2
    python benchmarks/odds_detectors.py --reuse odds.json --refresh aekit --markdown

``--selftest`` checks ECOD and kNN against brute-force computations and exits.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import torch
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from aekit import AnomalyDetector

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "odds"
SETS = (
    "breastw",
    "cardio",
    "letter",
    "pima",
    "satellite",
    "thyroid",
    "cover",
    "http",
    "smtp",
    "vertebral",
    "wine",
    "page-blocks",
    "pc1",
    "kc1",
)
# The done-when (a): aekit's fit per split <= max(PyOD AE's, FIT_FLOOR_S) on every set,
# and <= SMALL_FIT_S on every set under SMALL_ROWS training rows.
FIT_FLOOR_S = 2.0
SMALL_FIT_S = 10.0
SMALL_ROWS = 10_000
WARM_ROWS = 100


class Detector:
    """What the benchmark needs of a detector: fit on X, score rows (higher = more abnormal)."""

    def fit(self, X: np.ndarray) -> Detector:
        raise NotImplementedError

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def make_aekit(contamination: float, seed: int) -> AnomalyDetector:
    return AnomalyDetector(contamination=contamination, random_state=seed, verbose=False)


class Forest(Detector):
    """IsolationForest with PyOD's sign: higher = more abnormal."""

    def __init__(self, contamination: float, seed: int) -> None:
        self.model = IsolationForest(contamination=contamination, random_state=seed)

    def fit(self, X: np.ndarray) -> Forest:
        self.model.fit(X)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return -self.model.score_samples(X)


class KNN(Detector):
    """Distance to the k-th nearest training row (PyOD's KNN, method "largest", k = 5).

    Only unseen rows are scored here, so no row is its own neighbour and none is excluded.
    """

    def __init__(self, contamination: float, seed: int, k: int = 5) -> None:
        self.k = k

    def fit(self, X: np.ndarray) -> KNN:
        # algorithm="auto" picks a KD or ball tree for these widths; one job, as --threads says
        # nothing to scikit-learn's joblib.
        self.index = NearestNeighbors(n_neighbors=self.k, n_jobs=1).fit(X)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        distances, _ = self.index.kneighbors(X)
        return distances[:, -1]


class ECOD(Detector):
    """ECOD, Li et al. 2022 (TKDE), Algorithm 1: empirical-CDF tail probabilities per feature.

    For feature j, F_left(x) = P(X_j <= x) and F_right(x) = P(X_j >= x) under the training
    rows' empirical distribution; O_left = -sum_j log F_left, O_right = -sum_j log F_right,
    O_auto = -sum_j log of the left tail where the feature's training skewness is negative, the
    right tail otherwise; the score is max(O_left, O_right, O_auto). The sums come before the
    maximum as in the paper. PyOD's ECOD (3.6.7) takes the larger tail per feature, then sums
    (pyod#453; its skewness term never wins then): ``per_feature=True`` scores that way, the
    ``ecod_pyod`` row. The paper scores the rows of the data set itself; an unseen row is scored
    as one more row of it, so a tail probability is (count among the n training rows + 1) /
    (n + 1), never 0.
    """

    def __init__(self, contamination: float, seed: int, per_feature: bool = False) -> None:
        self.per_feature = per_feature

    def fit(self, X: np.ndarray) -> ECOD:
        self.sorted_ = np.sort(X, axis=0)
        centred = X - X.mean(axis=0)
        # Only the sign of the skewness is used: the third central moment has it.
        self.left_skewed_ = (centred**3).mean(axis=0) < 0
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        n = len(self.sorted_)
        columns = range(X.shape[1])
        at_most = np.column_stack(
            [np.searchsorted(self.sorted_[:, j], X[:, j], side="right") for j in columns]
        )
        below = np.column_stack(
            [np.searchsorted(self.sorted_[:, j], X[:, j], side="left") for j in columns]
        )
        log_left = np.log((at_most + 1) / (n + 1))
        log_right = np.log((n - below + 1) / (n + 1))
        if self.per_feature:
            return -np.minimum(log_left, log_right).sum(axis=1)
        o_left = -log_left.sum(axis=1)
        o_right = -log_right.sum(axis=1)
        o_auto = -np.where(self.left_skewed_, log_left, log_right).sum(axis=1)
        return np.maximum(np.maximum(o_left, o_right), o_auto)


def make_pyod_ae(contamination: float, seed: int) -> Detector:
    from pyod.models.auto_encoder import AutoEncoder

    return AutoEncoder(contamination=contamination, random_state=seed, verbose=0)


DETECTORS: dict[str, Callable[[float, int], Any]] = {
    "aekit": make_aekit,
    "iforest": Forest,
    "knn": KNN,
    "ecod": ECOD,
    "ecod_pyod": partial(ECOD, per_feature=True),
    "pyod_ae": make_pyod_ae,
}
LABELS = {
    "aekit": "aekit",
    "iforest": "IForest",
    "knn": "kNN",
    "ecod": "ECOD",
    "ecod_pyod": "ECOD-PyOD",
    "pyod_ae": "PyOD AE",
}
# The module a detector needs beyond aekit's own dependencies.
REQUIRES = {"pyod_ae": "pyod"}


def available(name: str) -> bool:
    module = REQUIRES.get(name)
    return module is None or importlib.util.find_spec(module) is not None


def load_cache(path: Path | None) -> dict[str, Any]:
    if path is None or not path.exists():
        return {"meta": {}, "results": {}}
    with open(path) as f:
        return json.load(f)


def save_cache(cache: dict[str, Any], path: Path) -> None:
    """Write the cache atomically: a killed run leaves the previous file whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(cache, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def split(X: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, ...]:
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.4, random_state=seed)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def measure(name: str, parts: tuple[np.ndarray, ...], seed: int, threads: int) -> dict[str, float]:
    X_train, X_test, y_train, y_test = parts
    start = time.perf_counter()
    detector = DETECTORS[name](float(y_train.mean()), seed).fit(X_train)
    fitted = time.perf_counter()
    scores = detector.decision_function(X_test)
    scored = time.perf_counter()
    return {
        "auc": float(roc_auc_score(y_test, scores)),
        "fit_s": fitted - start,
        "score_s": scored - fitted,
        "n_train": len(X_train),
        "threads": threads,
    }


def run(args: argparse.Namespace, cache: dict[str, Any]) -> None:
    """Measure every (set, detector, split) the cache lacks, saving after each detector."""
    results = cache["results"]
    warm: set[str] = set()
    for set_name in args.sets:
        data = np.load(DATA / f"{set_name}.npz")
        X, y = data["X"].astype(np.float64), data["y"].astype(int)
        cache["meta"].setdefault("shapes", {})[set_name] = list(X.shape)
        print(f"{set_name}: {X.shape[0]} x {X.shape[1]}", file=sys.stderr, flush=True)
        parts: dict[int, tuple[np.ndarray, ...]] = {}
        for name in args.detectors:
            done = results.setdefault(set_name, {}).setdefault(name, {})
            if name in args.refresh:
                done.clear()
            todo = [s for s in range(args.splits) if str(s) not in done]
            if todo and not available(name):
                print(f"  {name}: {REQUIRES[name]} is not importable, skipped", file=sys.stderr)
                continue
            for seed in todo:
                if seed not in parts:
                    parts[seed] = split(X, y, seed)
                if name not in warm:
                    # Untimed: the process's first fit pays one-off costs (imports, torch's
                    # kernels, allocator) that are no part of any set's fit time.
                    X_warm = parts[seed][0][:WARM_ROWS]
                    DETECTORS[name](0.1, seed).fit(X_warm).decision_function(X_warm)
                    warm.add(name)
                done[str(seed)] = figure = measure(name, parts[seed], seed, args.threads)
                print(
                    f"  {name} split {seed}: ROC-AUC {figure['auc']:.3f}, fit "
                    f"{figure['fit_s']:.2f} s, score {figure['score_s']:.2f} s",
                    file=sys.stderr,
                    flush=True,
                )
            if todo and args.out is not None:
                save_cache(cache, args.out)


def summarise(
    cache: dict[str, Any], sets: list[str], detectors: list[str], splits: int
) -> dict[str, dict[str, dict[str, float]]]:
    """Per set and detector: mean ROC-AUC, mean and slowest fit seconds, splits, training rows."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    for set_name in sets:
        row = table.setdefault(set_name, {})
        for name in detectors:
            done = cache["results"].get(set_name, {}).get(name, {})
            figures = [done[str(s)] for s in range(splits) if str(s) in done]
            if figures:
                row[name] = {
                    "auc": float(np.mean([f["auc"] for f in figures])),
                    "fit_s": float(np.mean([f["fit_s"] for f in figures])),
                    "slowest_fit_s": float(max(f["fit_s"] for f in figures)),
                    "splits": len(figures),
                    "n_train": figures[0]["n_train"],
                }
    return table


def format_table(
    table: dict[str, dict[str, dict[str, float]]],
    shapes: dict[str, list[int]],
    detectors: list[str],
    splits: int,
    markdown: bool,
) -> list[str]:
    def cell(figure: dict[str, float] | None) -> tuple[str, str]:
        if figure is None:
            return "-", "-"
        partial = "*" if figure["splits"] < splits else ""
        return f"{figure['auc']:.3f}{partial}", f"{figure['fit_s']:.2f}"

    def shape(set_name: str) -> str:
        n, d = shapes.get(set_name, ("?", "?"))
        return f"{n} x {d}"

    means = {name: [table[s][name]["auc"] for s in table if name in table[s]] for name in detectors}
    lines = []
    if markdown:
        header = ["set", "n x d"]
        for name in detectors:
            header += [f"{LABELS[name]} ROC-AUC", f"{LABELS[name]} fit s"]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for set_name, row in table.items():
            cells = [set_name, shape(set_name)]
            for name in detectors:
                cells += cell(row.get(name))
            lines.append("| " + " | ".join(cells) + " |")
        mean_cells = ["mean", ""]
        for name in detectors:
            mean_cells += [f"{np.mean(means[name]):.3f}" if means[name] else "-", ""]
        lines.append("| " + " | ".join(mean_cells) + " |")
        return lines
    header = f"{'set':12s} {'n x d':>13s}" + "".join(f" {LABELS[n]:>15s}" for n in detectors)
    lines.append(header)
    lines.append(f"{'':26s}" + " ROC-AUC   fit s" * len(detectors))
    lines.append("-" * len(header))
    for set_name, row in table.items():
        cells = "".join(f" {a:>7s} {f:>7s}" for a, f in map(cell, map(row.get, detectors)))
        lines.append(f"{set_name:12s} {shape(set_name):>13s}{cells}")
    lines.append("-" * len(header))
    mean_cells = "".join(
        f" {np.mean(means[n]) if means[n] else float('nan'):>7.3f} {'':7s}" for n in detectors
    )
    lines.append(f"{'mean':12s} {'':13s}{mean_cells}")
    return lines


def verdicts(table: dict[str, dict[str, dict[str, float]]], detectors: list[str]) -> list[str]:
    """The summary lines: worst sets, aekit against the references, the issue's checks."""
    lines = []
    for name in detectors:
        rows = {s: row[name] for s, row in table.items() if name in row}
        if not rows:
            continue
        worst = min(rows, key=lambda s: rows[s]["auc"])
        lines.append(
            f"{LABELS[name]}: mean ROC-AUC {np.mean([r['auc'] for r in rows.values()]):.3f} over "
            f"{len(rows)} sets, worst {rows[worst]['auc']:.3f} ({worst})"
        )
    if "aekit" not in detectors:
        return lines
    for ref in ("iforest", "pyod_ae"):
        if ref not in detectors:
            continue
        both = [s for s, row in table.items() if "aekit" in row and ref in row]
        below = [
            f"{s} ({table[s]['aekit']['auc']:.3f} < {table[s][ref]['auc']:.3f})"
            for s in both
            if table[s]["aekit"]["auc"] < table[s][ref]["auc"]
        ]
        mean_ae = np.mean([table[s]["aekit"]["auc"] for s in both]) if both else float("nan")
        mean_ref = np.mean([table[s][ref]["auc"] for s in both]) if both else float("nan")
        verdict = "PASS" if both and mean_ae >= mean_ref else "FAIL"
        lines.append(
            f"aekit below {LABELS[ref]} on {len(below)} of {len(both)} sets: "
            f"{', '.join(below) or 'none'}; mean {mean_ae:.3f} vs {mean_ref:.3f}: {verdict}"
        )
    offenders, checked = [], 0
    for set_name, row in table.items():
        if "aekit" not in row:
            continue
        checked += 1
        slowest = row["aekit"]["slowest_fit_s"]
        ae = row.get("pyod_ae")
        limit = max(ae["fit_s"], FIT_FLOOR_S) if ae else FIT_FLOOR_S
        if slowest > limit:
            basis = f"PyOD AE {ae['fit_s']:.2f} s" if ae and ae["fit_s"] > FIT_FLOOR_S else "2 s"
            offenders.append(f"{set_name} {slowest:.2f} s > {basis}")
        if row["aekit"]["n_train"] < SMALL_ROWS and slowest > SMALL_FIT_S:
            offenders.append(f"{set_name} {slowest:.2f} s > {SMALL_FIT_S:.0f} s")
    lines.append(
        f"fit time (aekit's slowest split <= max(PyOD AE's mean, {FIT_FLOOR_S:.0f} s), and <= "
        f"{SMALL_FIT_S:.0f} s under {SMALL_ROWS:,} training rows) on {checked} sets: "
        + ("PASS" if checked and not offenders else "FAIL")
        + (f": {'; '.join(offenders)}" if offenders else "")
    )
    return lines


def selftest() -> None:
    """ECOD and kNN against brute-force computations of their definitions."""
    from scipy.stats import skew

    # A hand example, training 1..4. An unseen 5 is above all of them: F_left = (4+1)/5,
    # F_right = (0+1)/5, the score -log(1/5). An unseen 2 ties with one: F_left = (2+1)/5,
    # F_right = (3+1)/5, the score -log(3/5) (O_left; O_auto takes the right tail here).
    score = (
        ECOD(0.1, 0)
        .fit(np.array([[1.0], [2.0], [3.0], [4.0]]))
        .decision_function(np.array([[5.0], [2.0]]))
    )
    np.testing.assert_allclose(score, [np.log(5), -np.log(3 / 5)], rtol=1e-12)

    rng = np.random.default_rng(0)
    # Rounded so that ties occur, between training rows and with the scored rows.
    X_train = np.round(rng.standard_gamma(1.5, size=(15, 4)) * [1, -1, 1, 1], 1)
    X_test = np.vstack([np.round(rng.normal(size=(6, 4)) * 3, 1), X_train[:3]])
    n = len(X_train)
    expected, per_feature = [], []
    for x in X_test:
        sums, larger_tails = np.zeros(3), 0.0
        for j in range(X_train.shape[1]):
            column = [*X_train[:, j], x[j]]  # the scored row as one more row
            left = sum(v <= x[j] for v in column) / (n + 1)
            right = sum(v >= x[j] for v in column) / (n + 1)
            auto = left if skew(X_train[:, j]) < 0 else right
            sums += [-np.log(left), -np.log(right), -np.log(auto)]
            larger_tails += max(-np.log(left), -np.log(right))
        expected.append(sums.max())
        per_feature.append(larger_tails)
    ecod = ECOD(0.1, 0).fit(X_train)
    assert list(ecod.left_skewed_) == [False, True, False, False], ecod.left_skewed_
    # Same counts, same logs, summed in another order: equal to rounding.
    np.testing.assert_allclose(ecod.decision_function(X_test), expected, rtol=1e-12)
    ecod_pyod = ECOD(0.1, 0, per_feature=True).fit(X_train)
    np.testing.assert_allclose(ecod_pyod.decision_function(X_test), per_feature, rtol=1e-12)

    X_train = rng.normal(size=(40, 3))
    X_test = rng.normal(size=(7, 3)) * 2
    brute = [np.sort(np.linalg.norm(X_train - x, axis=1))[4] for x in X_test]
    knn = KNN(0.1, 0).fit(X_train)
    np.testing.assert_allclose(knn.decision_function(X_test), brute, rtol=1e-12)
    print("selftest: ECOD (hand example, brute force with ties) and kNN (brute force) agree")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    parser.add_argument("--detectors", nargs="+", default=list(DETECTORS), choices=DETECTORS)
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument(
        "--threads",
        type=int,
        default=torch.get_num_threads(),
        help="torch threads, and the OpenMP/BLAS pools of numpy and scikit-learn",
    )
    parser.add_argument("--out", type=Path, help="JSON cache to write (default: --reuse's file)")
    parser.add_argument("--reuse", type=Path, help="JSON cache whose figures are not re-measured")
    parser.add_argument(
        "--refresh", nargs="+", default=[], choices=DETECTORS, help="re-measure these anyway"
    )
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--selftest", action="store_true", help="check ECOD and kNN, then exit")
    args = parser.parse_args()
    if args.selftest:
        selftest()
        return
    if args.out is None:
        args.out = args.reuse
    cache = load_cache(args.reuse)
    torch.set_num_threads(args.threads)
    versions = {"torch": torch.__version__, "sklearn": sklearn.__version__}
    if available("pyod_ae"):
        import pyod

        versions["pyod"] = pyod.__version__
    cache["meta"].update(threads=args.threads, versions=versions, python=platform.python_version())
    # IsolationForest, NearestNeighbors and numpy use these pools; torch has its own setting.
    with threadpool_limits(limits=args.threads):
        run(args, cache)

    # Every detector with figures, measured now or cached: the references beside aekit.
    detectors = [n for n in DETECTORS if any(cache["results"].get(s, {}).get(n) for s in args.sets)]
    table = summarise(cache, args.sets, detectors, args.splits)
    shapes = cache["meta"].get("shapes", {})
    print(
        f"ROC-AUC on the test part, mean of {args.splits} splits (60/40, z-score fitted on the "
        f"training part, contamination = its true outlier share); fit seconds: mean per split; "
        f"{args.threads} thread(s)"
    )
    lines = format_table(table, shapes, detectors, args.splits, args.markdown)
    print("\n".join(lines))
    notes = verdicts(table, detectors)
    print("\n".join(f"- {line}" if args.markdown else line for line in notes))
    footnotes = [
        "kNN: exact, the whole training part indexed (no subsampling); its fit builds the tree, "
        "its cost is in scoring (score_s in the JSON)."
    ]
    if any(f["splits"] < args.splits for row in table.values() for f in row.values()):
        footnotes.append(f"*: fewer than {args.splits} splits measured.")
    threads = {
        name: sorted(
            {
                figure.get("threads")
                for set_name in args.sets
                for figure in cache["results"].get(set_name, {}).get(name, {}).values()
            },
            key=str,
        )
        for name in detectors
    }
    if any(used != [args.threads] for used in threads.values()):
        footnotes.append(
            "Threads the figures were measured with: "
            + ", ".join(f"{LABELS[n]} {'/'.join(map(str, used))}" for n, used in threads.items())
            + "."
        )
    # Markdown joins consecutive lines into one paragraph.
    print(("\n\n" if args.markdown else "\n").join(footnotes))


if __name__ == "__main__":
    main()
