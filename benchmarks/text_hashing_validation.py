"""Choosing aekit's hashing settings without the test queries: a validation split of R8's
training documents.

The training documents of R8 are split 80/20 (split seed 123); the 20 % are queries against
the 80 %, with the TF-IDF of ``text_hashing.VECTORIZER`` fitted on the 80 % only. For each
candidate setting and code length, the tie-averaged precision@100 of aekit's binary codes
(``loss="multinomial"`` plus the candidate) is printed for seeds 0 and 1 and their mean, beside
LSA's on the same split. ``text_hashing.AEKIT_SETTINGS`` holds the setting this chose.

Run by hand (about 10 minutes a candidate on one thread)::

    python benchmarks/text_hashing_validation.py [--candidates default wd1e-4 ...] [--bits 8 16 64]
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import torch
from sklearn.feature_extraction.text import TfidfVectorizer

import text_hashing as th  # run from benchmarks/
from aekit import Autoencoder

CANDIDATES: dict[str, dict[str, Any]] = {
    "default": {},
    "wd1e-4": {"weight_decay": 1e-4},
    "h1000-500-250": {"hidden": (1000, 500, 250)},
    "wd1e-4-bs32": {"weight_decay": 1e-4, "batch_size": 32},
    "wd1e-4-bs64": {"weight_decay": 1e-4, "batch_size": 64},
    "wd1e-4-plateau": {"weight_decay": 1e-4, "lr_schedule": "plateau"},
}
SPLIT_SEED = 123


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES))
    parser.add_argument("--bits", type=int, nargs="+", default=[8, 16, 64])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    labels, texts = th.load_r8(th.DATA / "r8-train-all-terms.txt")
    perm = np.random.default_rng(SPLIT_SEED).permutation(len(texts))
    fit_part, held = perm[: int(0.8 * len(texts))], perm[int(0.8 * len(texts)) :]
    words = TfidfVectorizer(**th.VECTORIZER).fit([texts[i] for i in fit_part])
    X = words.transform([texts[i] for i in fit_part]).astype(np.float32)
    Q = words.transform([texts[i] for i in held]).astype(np.float32)

    def precision(train_codes: np.ndarray, query_codes: np.ndarray) -> float:
        distances = th.hamming_distances(query_codes, train_codes)
        return th.tie_averaged_precision(distances, labels[fit_part], labels[held], th.K)

    for bits in args.bits:
        print(f"LSA {bits} bits: {precision(*th.lsa_codes(X, Q, bits, 0)):.4f}", flush=True)
    for name in args.candidates:
        for bits in args.bits:
            found = []
            for seed in (0, 1):
                model = Autoencoder(latent_dim=bits, code_activation="binary",
                                    loss="multinomial", random_state=seed, verbose=False,
                                    **CANDIDATES[name]).fit(X)  # fmt: skip
                found.append(precision(model.transform(X, binary=True),
                                       model.transform(Q, binary=True)))  # fmt: skip
            shown = " ".join(f"{p:.4f}" for p in found)
            print(f"{name} {bits} bits: {shown} mean {np.mean(found):.4f}", flush=True)


if __name__ == "__main__":
    main()
