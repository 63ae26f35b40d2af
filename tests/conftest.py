"""Shared fixtures: the embedded digits and the real MNIST files beside the project."""

from __future__ import annotations

import contextlib
import io
import os
import signal
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

from aekit.cli import main
from aekit.cli.demo import run_demo
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


@pytest.fixture
def ctrl_c_raises():
    """A SIGINT raises KeyboardInterrupt during the test, as a Ctrl-C in a terminal does, even
    when the suite was started with SIGINT ignored (a background job of a non-interactive shell
    inherits SIG_IGN, and Python then keeps it)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray]:
    return load_digits()


@pytest.fixture(scope="session")
def mnist():
    return load_mnist(shared_file("mnist.npz"))


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory):
    """One `aekit demo --out DIR --quiet`, keeping what `aekit.cli.demo.run_demo` returned.

    The demo trains for a while, so the CLI run, the library's result and the browser test
    of its report share one run: `aekit.cli.demo.run_demo`, which the verb calls when it runs,
    is wrapped (not replaced) to record its return value.
    """
    out_dir = tmp_path_factory.mktemp("demo") / "out"
    results = []

    def recording_run_demo(*args, **kwargs):
        result = run_demo(*args, **kwargs)
        results.append(result)
        return result

    stdout = io.StringIO()
    with mock.patch("aekit.cli.demo.run_demo", recording_run_demo):
        with contextlib.redirect_stdout(stdout):
            rc = main(["demo", "--out", str(out_dir), "--quiet"])
    assert len(results) == 1
    return rc, stdout.getvalue(), out_dir, results[0]
