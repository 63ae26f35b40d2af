"""Does ``AnomalyDetector.explain`` name the columns that made a row abnormal? Injection on ODDS.

The answer is known when we make the anomaly ourselves. Per set of ``../shared/data/odds``:

1. a random 60/40 split (``train_test_split(test_size=0.4, random_state=--seed)``, as in
   ``benchmarks/odds_detectors.py``); a default ``AnomalyDetector(random_state=0,
   verbose=False)`` is fitted on the inliers (label 0) of the 60% part, raw (the detector
   z-scores inside);
2. up to 100 inlier rows of the 40% part (all when fewer) are drawn; into each, k columns
   chosen at random (k = 1, then k = 2, separately) get +-``--sigma`` standard deviations of
   that column added (the training inliers' deviation, sign at random);
3. a row *hits top-k* when its injected columns are exactly its k largest shares of
   ``explain(rows).shares``, and *hits top-3* when all its injected columns are among its three
   largest. The table gives the share of rows that hit.

Beside it, in the same run and on the same rows and columns, the naive explanation: columns
ranked by the row's |z-score| under the training inliers' mean and standard deviation (each
value's plain deviation, which ignores how the columns go together). An injection of 5
standard deviations is large in a column's own units, so the naive ranking is a strong
reference; the detector's ranking is scored against it, not against chance (chance for k = 1
is 3/d at top 3). ``flagged`` is the share of injected rows the detector's ``predict`` flags.

Run with one thread for timings comparable across machines::

    OMP_NUM_THREADS=1 python benchmarks/explain_injection.py --threads 1

The done-when line counts the sets where the detector's top-3 hit rate is at least 90% for
both k (the issue's criterion c asks for three sets).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from aekit import AnomalyDetector

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "odds"
SETS = ("cardio", "satellite", "thyroid", "pima", "breastw", "page-blocks")
# The other ODDS sets, on request (--sets): http and smtp have 3 columns, where top 3 is all.
OTHER_SETS = ("letter", "vertebral", "wine", "pc1", "kc1", "cover", "http", "smtp")
ROWS = 100
KS = (1, 2)
DONE_RATE = 0.9  # the criterion c: top-3 hit rate >= 90%


def inject(
    rows: np.ndarray, std: np.ndarray, k: int, sigma: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` with ``sigma`` standard deviations added to k random columns of each (random
    sign), and those columns (n, k). Columns without spread on the training inliers are never
    chosen: adding 5 x 0 would inject nothing."""
    usable = np.flatnonzero(std > 0)
    columns = np.stack([rng.choice(usable, size=k, replace=False) for _ in rows])
    signs = rng.choice([-1.0, 1.0], size=columns.shape)
    out = rows.copy()
    np.add.at(out, (np.arange(len(rows))[:, None], columns), signs * sigma * std[columns])
    return out, columns


def hit_rates(weights: np.ndarray, columns: np.ndarray) -> tuple[float, float]:
    """Shares of rows whose injected ``columns`` (n, k) are their k largest ``weights``
    (top-k), and all within their 3 largest (top-3)."""
    k = columns.shape[1]
    order = np.argsort(-np.nan_to_num(weights, nan=-np.inf), axis=1, kind="stable")

    def rate(top: int) -> float:
        leading = order[:, :top]
        hit = [set(cols) <= set(lead) for cols, lead in zip(columns, leading, strict=True)]
        return float(np.mean(hit))

    return rate(k), rate(min(3, weights.shape[1]))


@dataclass
class SetResult:
    name: str
    n_train: int
    d: int
    rows: int
    fit_s: float
    explain_s: float = 0.0
    # (method, k) -> (top-k, top-3) hit rates; method "explain" or "naive"
    hits: dict[tuple[str, int], tuple[float, float]] = field(default_factory=dict)
    flagged: dict[int, float] = field(default_factory=dict)  # k -> share predict() flags

    def passes(self) -> bool:
        return min(self.hits["explain", k][1] for k in KS) >= DONE_RATE


def run_set(name: str, seed: int, sigma: float) -> SetResult:
    data = np.load(DATA / f"{name}.npz")
    X, y = data["X"].astype(np.float64), data["y"].astype(int)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.4, random_state=seed)
    train = X_train[y_train == 0]
    start = time.perf_counter()
    detector = AnomalyDetector(random_state=0, verbose=False).fit(train)
    fit_s = time.perf_counter() - start
    mean, std = train.mean(0), train.std(0)
    rng = np.random.default_rng(seed)
    held_out = X_test[y_test == 0]
    rows = held_out[rng.permutation(len(held_out))[:ROWS]]
    result = SetResult(name, len(train), X.shape[1], len(rows), fit_s)
    for k in KS:
        injected, columns = inject(rows, std, k, sigma, rng)
        start = time.perf_counter()
        explanation = detector.explain(injected)
        result.explain_s += time.perf_counter() - start
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(std > 0, np.abs(injected - mean) / std, 0.0)
        result.hits["explain", k] = hit_rates(explanation.shares, columns)
        result.hits["naive", k] = hit_rates(z, columns)
        result.flagged[k] = float(np.mean(explanation.scores > detector.threshold_))
    return result


def format_table(results: list[SetResult], sigma: float) -> list[str]:
    def pct(value: float) -> str:
        return f"{100 * value:5.1f}"

    def rates(hits: dict[tuple[str, int], tuple[float, float]]) -> str:
        return " | ".join(
            f"{pct(hits['explain', k][0]):>8} {pct(hits['explain', k][1])} "
            f"{pct(hits['naive', k][0])}/{pct(hits['naive', k][1])}"
            for k in KS
        )

    head = (
        f"{'set':<12} {'n_train':>7} {'d':>3} {'rows':>4} | "
        + " | ".join(f"{f'k={k} top{k}':>8} {'top3':>5} {'naive':>11}" for k in KS)
        + f" | {'flag1':>5} {'flag2':>5} | {'fit s':>6} {'expl s':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r.name:<12} {r.n_train:>7} {r.d:>3} {r.rows:>4} | {rates(r.hits)} | "
            + " ".join(pct(r.flagged[k]) for k in KS)
            + f" | {r.fit_s:6.2f} {r.explain_s:6.3f}"
        )
    keys = results[0].hits.keys()
    means = {key: tuple(np.mean([r.hits[key] for r in results], axis=0)) for key in keys}
    lines.append("-" * len(head))
    lines.append(f"{'mean':<12} {'':>7} {'':>3} {'':>4} | {rates(means)} |")
    lines.append(
        "explain / naive, mean top-3 hit rate: "
        + ", ".join(
            f"k={k}: {means['explain', k][1] / max(means['naive', k][1], 1e-12):.2f}" for k in KS
        )
    )
    passed = [r.name for r in results if r.passes()]
    lines.append(
        f"done when (issue 18 c: 3 sets): top-3 hit rate >= {DONE_RATE:.0%} on {len(passed)} "
        f"sets, k = 1 and k = 2 ({', '.join(passed) or 'none'})"
    )
    return [
        f"explain() on injected anomalies (+-{sigma:g} training std in k random columns of "
        f"held-out inliers); hit rates in %, naive = |z-score| ranking as top-k/top-3; "
        f"flag = share of injected rows predict() flags",
        *lines,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS + OTHER_SETS)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--seed", type=int, default=0, help="split, rows, columns and signs")
    parser.add_argument("--sigma", type=float, default=5.0, help="injected standard deviations")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = []
    with threadpool_limits(limits=args.threads):
        for name in args.sets:
            if not (DATA / f"{name}.npz").is_file():
                print(f"{name}: {DATA / name}.npz is missing, skipped", file=sys.stderr)
                continue
            results.append(run_set(name, args.seed, args.sigma))
            print(f"{name}: done", file=sys.stderr, flush=True)
    if not results:
        raise SystemExit(f"no set of {args.sets} in {DATA}")
    print(f"{args.threads} thread(s), seed {args.seed}")
    print("\n".join(format_table(results, args.sigma)))


if __name__ == "__main__":
    main()
