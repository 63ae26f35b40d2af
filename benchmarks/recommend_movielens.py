"""Rating prediction on MovieLens "latest-small": aekit's AutoRec beside three references.

Five random 90/10 splits of the ratings (seeded); each method is fitted on the 90 % and scored
by the RMSE of its predictions of the held-out 10 %:

- global mean: the mean training rating;
- user + item biases: r = mu + b_u + b_i, fitted by alternating ridge least squares, the
  damping chosen on a validation share of the training ratings;
- biased matrix factorisation: r = mu + b_u + b_i + p_u . q_i with 64 factors, the squared error
  plus lambda (||p_u||^2 + ||q_i||^2 + b_u^2 + b_i^2) per rating (Koren, Bell and Volinsky
  2009), fitted by Adam on mini-batches with early stopping on a validation share of the
  training ratings, and lambda chosen on that share among {0.03, 0.05, 0.1, 0.2};
- aekit: ``aekit.AutoRec()`` with its default settings (I-AutoRec, 500 hidden units, L2
  weight decay, early stopping on a share of the training ratings).

Every tuning choice of the references is made on a validation share of the training part;
the held-out 10 % is used for the final score only. A held-out rating whose user or item is not
in the training part gets the biases' prediction with every method. All predictions are
clipped to the training ratings' range.

Run: ``python benchmarks/recommend_movielens.py [--data PATH] [--splits 5] [--threads 1]``.
The data are not in the repository (MovieLens' terms: non-commercial research use, no
redistribution; see its README): F. M. Harper and J. A. Konstan, "The MovieLens Datasets:
History and Context", ACM TiiS 5(4), 2015.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

import aekit
from aekit.estimators.autorec import read_ratings

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "movielens" / "ratings.csv"

# The L2 weights tried for the factorisation (the best on the validation share is kept): the
# usual range for MovieLens; on a trial split 0.1 won, 0.03 and 0.2 were worse.
MF_REGS = (0.03, 0.05, 0.1, 0.2)

# Returns a predictor of (user index, item index) -> rating for pairs seen in training.
Predictor = Callable[[np.ndarray, np.ndarray], np.ndarray]


def split_validation(n: int, seed: int, share: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.RandomState(seed).permutation(n)
    n_val = round(share * n)
    return perm[n_val:], perm[:n_val]


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


# ---------------------------------------------------------------------------- biases
def als_biases(
    u: np.ndarray, i: np.ndarray, r: np.ndarray, n_users: int, n_items: int, reg: float
) -> tuple[float, np.ndarray, np.ndarray]:
    """mu, b_u, b_i minimising sum (r - mu - b_u - b_i)^2 + reg (sum b_u^2 + sum b_i^2),
    by alternating exact ridge solves for each side until the change is negligible."""
    mu = float(r.mean())
    b_u, b_i = np.zeros(n_users), np.zeros(n_items)
    n_u = np.bincount(u, minlength=n_users)
    n_i = np.bincount(i, minlength=n_items)
    for _ in range(100):
        old = b_i
        b_i = np.bincount(i, r - mu - b_u[u], n_items) / (reg + n_i)
        b_u = np.bincount(u, r - mu - b_i[i], n_users) / (reg + n_u)
        if np.abs(b_i - old).max() < 1e-6:
            break
    return mu, b_u, b_i


def fit_biases(u, i, r, n_users, n_items, seed):
    """Biases with the damping of lowest validation RMSE among a grid, refitted on all."""
    fit_rows, val_rows = split_validation(len(r), seed)
    best = min(
        (1.0, 2.0, 5.0, 10.0, 20.0),
        key=lambda reg: rmse(
            _bias_predict(
                *als_biases(u[fit_rows], i[fit_rows], r[fit_rows], n_users, n_items, reg),
                u[val_rows],
                i[val_rows],
            ),
            r[val_rows],
        ),
    )
    return als_biases(u, i, r, n_users, n_items, best)


def _bias_predict(mu, b_u, b_i, u, i):
    return mu + b_u[u] + b_i[i]


# ------------------------------------------------------------------ biased MF in torch
class BiasedMF(torch.nn.Module):
    def __init__(self, n_users: int, n_items: int, factors: int, mu: float) -> None:
        super().__init__()
        self.p = torch.nn.Embedding(n_users, factors)
        self.q = torch.nn.Embedding(n_items, factors)
        self.b_u = torch.nn.Embedding(n_users, 1)
        self.b_i = torch.nn.Embedding(n_items, 1)
        for table in (self.p, self.q):
            torch.nn.init.normal_(table.weight, std=0.1)
        for table in (self.b_u, self.b_i):
            torch.nn.init.zeros_(table.weight)
        self.mu = mu

    def forward(self, u: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        p, q = self.p(u), self.q(i)  # (B, F)
        return self.mu + self.b_u(u)[:, 0] + self.b_i(i)[:, 0] + (p * q).sum(1)  # (B,)

    def penalty(self, u: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        """Per rating: ||p_u||^2 + ||q_i||^2 + b_u^2 + b_i^2, (B,)."""
        return (
            self.p(u).square().sum(1)
            + self.q(i).square().sum(1)
            + self.b_u(u)[:, 0].square()
            + self.b_i(i)[:, 0].square()
        )


def train_mf(u, i, r, n_users, n_items, reg, seed, val, factors=64, max_epochs=200):
    """Adam on mini-batches of 1024 ratings, lr 5e-3, early stopping (patience 10) on the
    validation ratings ``val`` = (u, i, r); returns the best model and its validation RMSE."""
    torch.manual_seed(seed)
    model = BiasedMF(n_users, n_items, factors, float(r.mean()))
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    tu, ti, tr = (torch.from_numpy(a) for a in (u, i, r.astype(np.float32)))
    vu, vi, vr = (torch.from_numpy(a) for a in (val[0], val[1], val[2].astype(np.float32)))
    best, best_state, waited = np.inf, None, 0
    for _ in range(max_epochs):
        order = torch.randperm(len(tr))
        for start in range(0, len(tr), 1024):
            b = order[start : start + 1024]
            pred = model(tu[b], ti[b])
            loss = ((pred - tr[b]).square() + reg * model.penalty(tu[b], ti[b])).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            score = float((model(vu, vi) - vr).square().mean().sqrt())
        if score < best - 1e-5:
            best, waited = score, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
            if waited >= 10:
                break
    model.load_state_dict(best_state)
    return model, best


def fit_mf(u, i, r, n_users, n_items, seed) -> Predictor:
    fit_rows, val_rows = split_validation(len(r), seed)
    val = (u[val_rows], i[val_rows], r[val_rows])
    trained = [
        train_mf(u[fit_rows], i[fit_rows], r[fit_rows], n_users, n_items, reg, seed, val)
        for reg in MF_REGS
    ]
    model = min(trained, key=lambda pair: pair[1])[0]

    def predict(pu: np.ndarray, pi: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(pu), torch.from_numpy(pi)).double().numpy()

    return predict


# ------------------------------------------------------------------------ the run
def run_split(columns: dict[str, np.ndarray], seed: int) -> dict[str, tuple[float, float]]:
    """{method: (held-out RMSE, fit seconds)} for the split drawn with ``seed``."""
    n = len(columns["rating"])
    train, test = split_validation(n, seed)
    users, u_all = np.unique(columns["userId"], return_inverse=True)
    items, i_all = np.unique(columns["movieId"], return_inverse=True)
    u, i, r = u_all[train], i_all[train], columns["rating"][train]
    tu, ti, truth = u_all[test], i_all[test], columns["rating"][test]
    low, high = float(r.min()), float(r.max())
    seen = np.isin(tu, u) & np.isin(ti, i)
    results: dict[str, tuple[float, float]] = {}

    start = time.perf_counter()
    mu = float(r.mean())
    results["global mean"] = (rmse(np.full(len(truth), mu), truth), time.perf_counter() - start)

    start = time.perf_counter()
    biases = fit_biases(u, i, r, len(users), len(items), seed)
    elapsed = time.perf_counter() - start
    # Unseen users and items have biases of 0 here: the fallback of every method.
    fallback = np.clip(_bias_predict(*biases, tu, ti), low, high)
    results["user + item biases"] = (rmse(fallback, truth), elapsed)

    def score(predict: Predictor) -> float:
        pred = fallback.copy()
        pred[seen] = np.clip(predict(tu[seen], ti[seen]), low, high)
        return rmse(pred, truth)

    start = time.perf_counter()
    mf = fit_mf(u, i, r, len(users), len(items), seed)
    results["biased MF (64 factors)"] = (score(mf), time.perf_counter() - start)

    table = {"userId": users[u], "movieId": items[i], "rating": r}
    start = time.perf_counter()
    model = aekit.AutoRec(random_state=seed, verbose=False).fit(table)
    elapsed = time.perf_counter() - start
    results["aekit AutoRec (defaults)"] = (
        score(lambda pu, pi: model.predict(users[pu], items[pi])),
        elapsed,
    )
    return results


def run_split_of(job: tuple[Path, int]) -> dict[str, tuple[float, float]]:
    """:func:`run_split` in a worker process, which reads the data itself."""
    path, seed = job
    return run_split(read_ratings(path), seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="MovieLens ratings.csv")
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0, help="seed of the first split")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--jobs", type=int, default=1, help="splits run at once (processes)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    columns = read_ratings(args.data)
    print(
        f"{args.data}: {len(columns['rating']):,} ratings, "
        f"{len(np.unique(columns['userId']))} users, {len(np.unique(columns['movieId']))} items; "
        f"{args.splits} random 90/10 splits, {args.threads} thread(s)"
    )
    runs: dict[str, list[tuple[float, float]]] = {}
    seeds = [args.seed + s for s in range(args.splits)]
    with multiprocessing.get_context("spawn").Pool(
        args.jobs, initializer=torch.set_num_threads, initargs=(args.threads,)
    ) as pool:
        results = pool.imap(run_split_of, [(args.data, seed) for seed in seeds])
        for s, split in enumerate(results):
            for method, value in split.items():
                runs.setdefault(method, []).append(value)
            line = ", ".join(f"{m} {v[0]:.4f} ({v[1]:.0f} s)" for m, v in split.items())
            print(f"split {s + 1}: {line}", flush=True)
    ours = np.mean([v[0] for v in runs["aekit AutoRec (defaults)"]])
    print()
    print(f"| method | RMSE (mean ± std over {args.splits}) | fit s (mean) | aekit / method |")
    print("|---|---|---|---|")
    for method, values in runs.items():
        scores = np.array([v[0] for v in values])
        seconds = np.mean([v[1] for v in values])
        spread = scores.std(ddof=1) if len(scores) > 1 else 0.0
        ratio = ours / scores.mean()
        print(f"| {method} | {scores.mean():.4f} ± {spread:.4f} | {seconds:.1f} | {ratio:.3f} |")


if __name__ == "__main__":
    main()
