"""Peak memory and time of fitting an autoencoder on a sparse matrix, against its dense copy.

Each case runs in a fresh Python process, which reports its peak resident set size
(``ru_maxrss``) after building its data and after the fit, so the figures do not mix:

- ``r8 sparse`` / ``r8 dense``: the TF-IDF matrix of the 5,485 R8 training documents
  (:class:`aekit.datasets.text.TextFeatures`, up to 20,000 words) fitted as a scipy CSR matrix
  and as the dense array ``X.toarray()`` (the reference: what aekit did before sparse input);
- ``wide sparse``: a random CSR matrix of 10,000 rows and 200,000 columns at density 1e-3
  (2 million stored values, 24 MB), whose dense float32 copy would take 8 GB: the fit shows
  it never densifies it whole. With ``--with-dense-wide`` the dense copy is fitted too (it
  needs about 8 GB free, more than the laptops this is for);
- ``movielens autorec``: ``AutoRec(epochs=E)`` (item-based, 500 hidden units) on the 100,836
  MovieLens ratings (610 users x 9,724 movies, a dense copy 24 MB);
- ``ratings autorec``: ``AutoRec(epochs=E)`` on 3 million random ratings (1 to 5) of 20,000
  items by 30,000 users, whose dense float32 copy would take 2.4 GB (and its mask as much).

The autoencoder fits: ``Autoencoder(latent_dim=32, hidden=(H,), loss="multinomial",
epochs=E)``, with H = 256 for R8 and 64 for the wide matrix (its first layer has 200,000 x H
weights). AutoRec trains E epochs and then its second network E more (its refit on every
rating; fewer when early stopping kept an earlier epoch).

Run by hand::

    python benchmarks/sparse_memory.py [--epochs 3] [--threads 2] [--cases "ratings autorec"]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

R8 = Path(__file__).resolve().parents[2] / "shared" / "data" / "text" / "r8-train-all-terms.txt"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _child(case: str, epochs: int, threads: int) -> None:
    import numpy as np
    import scipy.sparse as sp
    import torch

    from aekit import Autoencoder
    from aekit.datasets.text import TextFeatures

    torch.set_num_threads(threads)
    if case.endswith("autorec"):
        _autorec(case, epochs)
        return
    if case.startswith("r8"):
        docs = [line.split("\t", 1)[1] for line in R8.read_text(encoding="utf-8").splitlines()]
        _, X = TextFeatures.fit(docs)
    else:
        X = sp.random(10_000, 200_000, density=1e-3, format="csr", dtype=np.float32,
                      random_state=np.random.default_rng(0))  # fmt: skip
        X.data = np.abs(X.data) + 0.01
    if case.endswith("dense"):
        X = X.toarray()
    before = _peak_mb()
    start = time.perf_counter()
    hidden = (256,) if case.startswith("r8") else (64,)
    ae = Autoencoder(latent_dim=32, hidden=hidden, loss="multinomial", epochs=epochs,
                     random_state=0, verbose=False).fit(X)  # fmt: skip
    seconds = time.perf_counter() - start
    shape = X.shape
    stored = X.nnz if sp.issparse(X) else int(np.count_nonzero(X))
    print(json.dumps({
        "case": case, "shape": list(shape), "stored": stored, "data_mb": before,
        "peak_mb": _peak_mb(), "fit_s": seconds, "loss": ae.history_[-1]["loss"],
    }))  # fmt: skip


def _autorec(case: str, epochs: int) -> None:
    import numpy as np
    import scipy.sparse as sp

    from aekit import AutoRec
    from aekit.estimators.autorec import read_ratings

    if case.startswith("movielens"):
        columns = read_ratings(R8.parents[1] / "movielens" / "ratings.csv")
        data: object = {k: columns[k] for k in ("userId", "movieId", "rating")}
        shape = [len(np.unique(columns["userId"])), len(np.unique(columns["movieId"]))]
        stored = len(columns["rating"])
    else:
        rng = np.random.default_rng(0)
        users, items = 30_000, 20_000
        cells = np.unique(rng.integers(0, users * items, 3_000_000))  # distinct pairs
        ratings = rng.integers(1, 6, len(cells)).astype(np.float32)
        data = sp.csr_matrix((ratings, (cells // items, cells % items)), shape=(users, items))
        shape, stored = [users, items], len(cells)
    before = _peak_mb()
    start = time.perf_counter()
    model = AutoRec(epochs=epochs, random_state=0, verbose=False).fit(data)
    seconds = time.perf_counter() - start
    print(json.dumps({
        "case": case, "shape": shape, "stored": stored, "data_mb": before,
        "peak_mb": _peak_mb(), "fit_s": seconds, "loss": model.history_[-1]["loss"],
    }))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--with-dense-wide", action="store_true")
    parser.add_argument("--cases", nargs="+", help="a subset of the cases, by name")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.epochs, args.threads)
        return
    cases = ["r8 sparse", "r8 dense", "wide sparse", "movielens autorec", "ratings autorec"]
    if args.with_dense_wide:
        cases.append("wide dense")
    if args.cases:
        unknown = sorted(set(args.cases) - set(cases) - {"wide dense"})
        if unknown:
            parser.error(f"unknown cases {unknown}; the cases are {[*cases, 'wide dense']}")
        cases = args.cases
    print(f"{'case':17s} {'shape':>17s} {'stored':>10s} {'RSS data MB':>12s} "
          f"{'peak RSS MB':>12s} {'fit s':>7s} {'last loss':>10s}")  # fmt: skip
    found = {}
    for case in cases:
        run = subprocess.run(
            [sys.executable, __file__, "--child", case, "--epochs", str(args.epochs),
             "--threads", str(args.threads)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if run.returncode:
            tail = (run.stderr.strip().splitlines() or ["?"])[-1]
            print(f"{case:17s} failed: {tail}")
            continue
        r = json.loads(run.stdout.strip().splitlines()[-1])
        found[case] = r
        shape = "x".join(str(d) for d in r["shape"])
        print(f"{case:17s} {shape:>17s} {r['stored']:>10d} {r['data_mb']:>12.0f} "
              f"{r['peak_mb']:>12.0f} {r['fit_s']:>7.1f} {r['loss']:>10.4f}")  # fmt: skip
    if "r8 sparse" in found and "r8 dense" in found:
        s, d = found["r8 sparse"], found["r8 dense"]
        print(f"\nR8: peak RSS sparse / dense = {s['peak_mb'] / d['peak_mb']:.2f}, "
              f"fit time sparse / dense = {s['fit_s'] / d['fit_s']:.2f}")  # fmt: skip
    if "ratings autorec" in found:
        r = found["ratings autorec"]
        print(f"ratings: AutoRec's peak RSS {r['peak_mb']:.0f} MB for ratings whose dense "
              f"copy is {4 * r['shape'][0] * r['shape'][1] / 1e9:.1f} GB")  # fmt: skip
    if "wide sparse" in found:
        w = found["wide sparse"]
        dense_gb = 4 * w["shape"][0] * w["shape"][1] / 1e9
        print(f"wide: peak RSS {w['peak_mb']:.0f} MB for a matrix whose dense copy is "
              f"{dense_gb:.0f} GB")  # fmt: skip


if __name__ == "__main__":
    main()
