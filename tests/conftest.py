"""Shared fixtures: the embedded digits and the real MNIST files beside the project."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from aekit.datasets import load_digits, load_mnist

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_file(name: str) -> Path:
    """A file of ../shared/data; skipped when absent, except in CI where it must be there."""
    path = SHARED_DATA / name
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing in CI")
        pytest.skip(f"{path} is not available")
    return path


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray]:
    return load_digits()


@pytest.fixture(scope="session")
def mnist():
    return load_mnist(shared_file("mnist.npz"))
