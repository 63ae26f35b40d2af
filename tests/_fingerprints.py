"""Fingerprints of fixed-seed fits, to show that a refactoring preserves behaviour (issue 16).

Every estimator and architecture is fitted on the digits (or a series made from them) with a
fixed seed at one thread; its fingerprint is the SHA-256 of the weights file it saves and of
its outputs (``transform``, and ``decision_function`` or ``predict_proba`` where it has one).
Bit-identity is a promise of one machine and one torch build (other CPUs may take other
vectorised kernels), so this is a tool to run by hand before and after a change on the same
machine, not a test::

    python tests/_fingerprints.py record before.json
    ... change the code ...
    python tests/_fingerprints.py check before.json    # exit 1 and the cases that differ
    python tests/_fingerprints.py fixtures tests/fixtures/models   # saved models + outputs

``tests/test_fingerprints.py`` runs the cases on a few samples to keep this script working.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

import aekit
from aekit.datasets import load_digits

SEED = 0
EPOCHS = 3


def _digits(n: int) -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits()
    return X[:n], y[:n]


def _series(n: int) -> np.ndarray:
    # A daily-like signal with a level shift: the detector's series path, deterministic.
    t = np.arange(max(n, 64), dtype=np.float64)
    values = np.sin(2 * np.pi * t / 24.0) + (t > 0.7 * len(t))
    return values[:, None]  # (T, 1)


def _fit(estimator: Any, X: np.ndarray, y: np.ndarray | None = None) -> Any:
    return estimator.fit(X) if y is None else estimator.fit(X, y)


# Case name -> (estimator factory, data(n) -> (X, y or None)). Small models, few epochs: what
# is fingerprinted is the code path, not a good model.
def _cases() -> dict[str, tuple[Callable[[], Any], Callable[[int], tuple[Any, Any]]]]:
    common = {"epochs": EPOCHS, "random_state": SEED, "verbose": False}
    images = lambda n: (_digits(n)[0], None)  # noqa: E731  (n, 8, 8)
    rows = lambda n: (_digits(n)[0].reshape(n, -1), None)  # noqa: E731  (n, 64)
    cases: dict[str, tuple[Callable[[], Any], Callable[[int], tuple[Any, Any]]]] = {
        "autoencoder-dense": (lambda: aekit.Autoencoder(latent_dim=4, **common), rows),
        "autoencoder-dense-sparse-denoising": (
            lambda: aekit.Autoencoder(latent_dim=4, sparsity="kl", noise="gaussian", **common),
            rows,
        ),
        "autoencoder-conv": (
            lambda: aekit.Autoencoder(architecture="conv", latent_dim=4, **common),
            images,
        ),
        "vae-dense": (lambda: aekit.VAE(latent_dim=2, **common), rows),
        "vae-conv": (lambda: aekit.VAE(architecture="conv", latent_dim=2, **common), images),
        "detector-table": (lambda: aekit.AnomalyDetector(n_estimators=2, **common), rows),
        "detector-images": (lambda: aekit.AnomalyDetector(n_estimators=2, **common), images),
        "detector-series": (
            lambda: aekit.AnomalyDetector(n_estimators=2, window=12, **common),
            lambda n: (_series(n), None),
        ),
        "classifier": (
            lambda: aekit.AutoencoderClassifier(hidden=(16, 8), pretrain_epochs=1, **common),
            lambda n: _digits(n),
        ),
    }
    for cell in ("lstm", "gru", "elman", "jordan"):
        cases[f"autoencoder-recurrent-{cell}"] = (
            lambda cell=cell: aekit.Autoencoder(
                architecture="recurrent", cell=cell, latent_dim=4, hidden=(8,), **common
            ),
            images,  # 8 steps of 8 features
        )
    return cases


def _sha(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def fingerprint(name: str, n: int = 400) -> dict[str, str]:
    """The fingerprint of case ``name`` fitted on ``n`` samples at one thread."""
    make, data = _cases()[name]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        X, y = data(n)
        model = _fit(make(), X, y)
        with tempfile.TemporaryDirectory() as folder:
            path = model.save(Path(folder) / "model")
            weights = hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()
        out = {"weights": weights, "transform": _sha(model.transform(X))}
        for method in ("decision_function", "predict_proba"):
            if hasattr(model, method):
                out[method] = _sha(getattr(model, method)(X))
        return out
    finally:
        torch.set_num_threads(threads)


# Models saved as test fixtures, so that models saved before a change are shown to load with
# the same outputs after it (tests/test_fingerprints.py), and the samples they are run on.
FIXTURES = ("autoencoder-dense", "vae-conv", "detector-table", "classifier")
FIXTURE_SAMPLES = 40


def save_fixtures(folder: Path) -> None:
    """Fit the :data:`FIXTURES` cases (200 samples, one thread), save each model under
    ``folder/NAME`` and its outputs on the first :data:`FIXTURE_SAMPLES` samples as
    ``folder/NAME.npz``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name in FIXTURES:
            make, data = _cases()[name]
            X, y = data(200)
            model = _fit(make(), X, y)
            model.save(folder / name)
            sample = X[:FIXTURE_SAMPLES]
            outputs = {"transform": model.transform(sample)}
            for method in ("decision_function", "predict_proba"):
                if hasattr(model, method):
                    outputs[method] = getattr(model, method)(sample)
            np.savez(folder / f"{name}.npz", X=sample, **outputs)
    finally:
        torch.set_num_threads(threads)


def record(n: int = 400) -> dict[str, Any]:
    return {
        "torch": torch.__version__,
        "n": n,
        "cases": {name: fingerprint(name, n) for name in sorted(_cases())},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["record", "check", "fixtures"])
    parser.add_argument("file", type=Path)
    parser.add_argument("-n", type=int, default=400, help="samples per fit (default 400)")
    args = parser.parse_args(argv)
    if args.action == "fixtures":
        save_fixtures(args.file)
        print(f"saved {len(FIXTURES)} models and their outputs in {args.file}")
        return 0
    if args.action == "record":
        args.file.write_text(json.dumps(record(args.n), indent=2) + "\n", encoding="utf-8")
        print(f"recorded {len(_cases())} fingerprints in {args.file}")
        return 0
    before = json.loads(args.file.read_text(encoding="utf-8"))
    now = record(before["n"])
    differ = [
        f"{name}: {key}"
        for name, prints in before["cases"].items()
        for key, value in prints.items()
        if now["cases"].get(name, {}).get(key) != value
    ]
    for line in differ:
        print(f"differs: {line}")
    print(f"{len(before['cases'])} cases, {len(differ)} fingerprints differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
