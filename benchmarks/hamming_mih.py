"""Multi-index hashing against exact Hamming search on large collections of binary codes.

LatentIndex's ``backend="mih"`` (FAISS's ``IndexBinaryMultiHash``: 16-bit substrings, one
flipped bit probed) compares a query only with the codes near it; ``"faiss"``
(``IndexBinaryFlat``) and ``"exact"`` (numpy's XOR and popcount) compare every code. This
times the three search structures of :mod:`aekit.tasks.retrieval` on the same codes and gives
the recall of multi-index hashing:

- the codes: ``n`` 64-bit codes around ``n / 100`` random centres, each bit of a code flipped
  from its centre with probability ``--flip`` (what codes of documents on shared topics look
  like: clusters, not uniform noise, on which no index beats a scan);
- the queries: 1,000 codes drawn the same way, ``k`` = 10;
- recall@k: the share of the exact k nearest distances that multi-index hashing returns (equal
  distances are interchangeable, so distances are compared, not ids), and the share of
  queries it answers exactly.

Run by hand (FAISS needed: ``pip install "aekit[index]"``)::

    python benchmarks/hamming_mih.py [--sizes 100000 1000000] [--flip 0.05] [--threads 2]
"""

from __future__ import annotations

import argparse

import faiss
import numpy as np

from aekit.tasks.retrieval import (
    _FaissHammingSearch,
    _FaissMultiHashSearch,
    _HammingSearch,
)
from retrieval_mnist import timed  # best of n wall times, one definition (run from benchmarks/)

BITS, QUERIES, K = 64, 1000, 10


def _codes(centres: np.ndarray, n: int, flip: float, rng: np.random.Generator) -> np.ndarray:
    out = np.empty((n, BITS // 8), dtype=np.uint8)
    for start in range(0, n, 100_000):  # bounded memory for the flip masks
        rows = min(100_000, n - start)
        masks = np.packbits(rng.random((rows, BITS)) < flip, axis=1)
        out[start : start + rows] = centres[rng.integers(0, len(centres), rows)] ^ masks
    return out


def _found_distances(queries: np.ndarray, codes: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Hamming distances (Q, K) of each query to its K found codes (not to all n codes)."""
    return np.unpackbits(queries[:, None, :] ^ codes[ids], axis=-1).sum(-1)


def _one_size(n: int, flip: float, seed: int) -> None:
    """One line of the table: the three searches over ``n`` clustered codes."""
    rng = np.random.default_rng(seed)
    centres = np.packbits(rng.integers(0, 2, (max(1, n // 100), BITS)), axis=1)
    codes = _codes(centres, n, flip, rng)
    queries = _codes(centres, QUERIES, flip, rng)
    exact, flat = _HammingSearch(codes), _FaissHammingSearch(codes)
    mih, build = timed(lambda: _FaissMultiHashSearch(codes), repeat=1)
    want, t_exact = timed(lambda: exact.candidates(queries, K))
    _, t_flat = timed(lambda: flat.candidates(queries, K))
    got, t_mih = timed(lambda: mih.candidates(queries, K))
    truth = _found_distances(queries, codes, want)  # (Q, K), ascending
    found = np.sort(_found_distances(queries, codes, got), 1)
    # Distances as multisets: each exact distance matched by one found at most.
    hits = sum(
        np.minimum(*(np.bincount(r, minlength=BITS + 1) for r in (t, f))).sum()
        for t, f in zip(truth, found, strict=True)
    )
    recall = hits / truth.size
    whole = float(np.mean((truth == found).all(1)))
    print(f"{n:>10,d} {t_exact:>8.3f} {t_flat:>8.3f} {t_mih:>8.3f} {t_flat / t_mih:>8.1f}x "
          f"{recall:>10.4f} {whole:>11.3f} {build:>12.2f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--flip", type=float, default=0.05)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    faiss.omp_set_num_threads(args.threads)
    print(f"{BITS}-bit codes, {QUERIES} queries, k={K}, flip {args.flip}, "
          f"{args.threads} FAISS thread(s), best of 3")  # fmt: skip
    print(f"{'n':>10s} {'exact s':>8s} {'flat s':>8s} {'mih s':>8s} {'flat/mih':>9s} "
          f"{'recall@10':>10s} {'exact rows':>11s} {'build mih s':>12s}")  # fmt: skip
    for n in args.sizes:
        _one_size(n, args.flip, args.seed)


if __name__ == "__main__":
    main()
