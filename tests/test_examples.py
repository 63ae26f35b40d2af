"""The lecture scripts of examples/: each runs end to end on tiny settings and writes its PNGs."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_file

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Script -> the figures it writes into --out.
FIGURES = {
    "undercomplete": [
        "undercomplete_reconstructions.png",
        "undercomplete_latent.png",
        "undercomplete_curves.png",
    ],
    "sparse": ["sparse_features.png", "sparse_features_plain.png"],
    "denoising": ["denoising.png"],
    "contractive": ["contractive_reconstructions.png", "contractive_curves.png"],
    "convolutional": ["convolutional_reconstructions.png", "convolutional_kernels.png"],
    "variational": [
        "variational_samples.png",
        "variational_interpolation.png",
        "variational_latent.png",
    ],
    "recurrent": ["recurrent.png"],
    "stacked": ["stacked_features.png", "stacked_pretraining.png"],
}


def run_example(name: str, *args: str) -> None:
    """Run ``examples/NAME.py`` in this process (torch is imported once for all of them)."""
    main = runpy.run_path(str(EXAMPLES / f"{name}.py"))["main"]
    main(list(args))


def assert_pngs(out: Path, names: list[str]) -> None:
    for name in names:
        data = (out / name).read_bytes()
        assert data[:8] == PNG_SIGNATURE and len(data) > 1000, name
    assert sorted(p.name for p in out.iterdir()) == sorted(names)  # nothing else is written


def test_every_example_is_covered_and_listed_in_the_readme() -> None:
    scripts = sorted(p.stem for p in EXAMPLES.glob("*.py"))
    assert scripts == sorted(FIGURES)
    readme = (EXAMPLES / "README.md").read_text()
    for name in scripts:
        assert f"examples/{name}.py" in readme


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_example_runs_on_the_digits(name, tmp_path, capsys) -> None:
    out = tmp_path / "figures"
    run_example(name, "--out", str(out), "--epochs", "2")
    assert_pngs(out, FIGURES[name])
    printed = capsys.readouterr().out.strip().splitlines()
    assert 1 <= len(printed) <= 2  # the figures of the lecture, one or two lines


def test_examples_take_mnist_files(tmp_path, capsys) -> None:
    # A small file in the layout of mnist.npz: the --mnist path of the image examples.
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (300, 28, 28), dtype=np.uint8),
        "y_train": np.arange(300) % 10,
        "x_test": rng.integers(0, 256, (50, 28, 28), dtype=np.uint8),
        "y_test": np.arange(50) % 10,
    }
    npz = tmp_path / "mnist.npz"
    np.savez(npz, **arrays)
    for name in ("undercomplete", "variational", "stacked"):
        out = tmp_path / name
        run_example(name, "--out", str(out), "--epochs", "1", "--mnist", str(npz))
        assert_pngs(out, FIGURES[name])
        assert capsys.readouterr().out.strip()


def test_recurrent_example_on_a_nab_series(tmp_path, capsys) -> None:
    csv = shared_file("nab/art_daily_jumpsup.csv")
    run_example("recurrent", "--out", str(tmp_path), "--epochs", "1", "--csv", str(csv))
    assert_pngs(tmp_path, FIGURES["recurrent"])
    assert "worst test window" in capsys.readouterr().out
