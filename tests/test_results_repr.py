"""The result objects of `aekit.tasks` print short: arrays by shape and dtype, never values."""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from aekit import VAE, Autoencoder
from aekit._repr import MAX_ITEMS, result_repr
from aekit.cli.demo import DemoResult
from aekit.datasets import load_digits
from aekit.tasks import (
    CompressionReport,
    CompressionRow,
    DenoiseResult,
    Generation,
    QuantizedCodes,
    compression_report,
    generate,
    quantize,
    run_denoise,
)

FAST = {"epochs": 2, "random_state": 0, "verbose": False}
# Every result's repr fits in a few lines of a terminal, whatever the size of its arrays.
MAX_REPR = 700


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    return load_digits()[0][:300]


def fields_in_order(text: str) -> list[str]:
    """The names of the top-level ``name=`` fields of a repr (not those inside an array's)."""
    depth, names = 0, []
    for match in re.finditer(r"[([{]|[)\]}]|(?<=[(,] )(\w+)=|(?<=\()(\w+)=", text):
        token = match.group()
        if token in "([{":
            depth += 1
        elif token in ")]}":
            depth -= 1
        elif depth == 1:
            names.append(match.group(1) or match.group(2))
    return names


def test_generation_repr_shows_shapes_not_values(X, tmp_path) -> None:
    vae = VAE(latent_dim=2, hidden=(16,), **FAST).fit(X)
    result = generate(vae, n=16, steps=10, random_state=0, out=tmp_path / "gen")
    assert isinstance(result, Generation)
    text = repr(result)
    # The paths are the caller's (as long as their folder's name); the rest is bounded.
    assert len(text) - sum(len(repr(p)) for p in result.files.values()) < MAX_REPR, text
    assert text.startswith("Generation(samples=array(shape=(16, 8, 8), dtype=float32), ")
    assert "interpolation=array(shape=(10, 8, 8), dtype=float32)" in text
    assert "image_shape=(8, 8)" in text
    assert "'samples': <Figure" in text
    assert f"'samples.npy': {Path(tmp_path / 'gen' / 'samples.npy')!r}" in text
    assert fields_in_order(text)[:5] == list(Generation._fields)
    assert str(result) == text  # print() shows the same


def test_denoise_result_repr(X) -> None:
    ae = Autoencoder(latent_dim=8, hidden=(), **FAST).fit(X)
    noisy = np.clip(X + 0.1, 0.0, 1.0)
    result = run_denoise(ae, noisy, clean=X)
    assert isinstance(result, DenoiseResult)
    text = repr(result)
    assert len(text) < MAX_REPR, text
    assert text.startswith("DenoiseResult(denoised=array(shape=(300, 8, 8), dtype=float32), ")
    assert f"psnr_noisy={result.psnr_noisy!r}" in text  # scalars as they are
    assert text.endswith("trained_with_noise=False)")
    assert fields_in_order(text) == list(DenoiseResult._fields)


def test_compression_results_repr(X) -> None:
    ae = Autoencoder(latent_dim=4, **FAST).fit(X)
    codes = quantize(ae.transform(X), "int8")
    assert isinstance(codes, QuantizedCodes)
    assert repr(codes) == (
        "QuantizedCodes(codes=array(shape=(300, 4), dtype=int8), "
        "scale=array(shape=(4,), dtype=float32), offset=array(shape=(4,), dtype=float32), "
        "dtype='int8')"
    )
    report = compression_report(ae, X)
    assert isinstance(report, CompressionReport)
    text = repr(report)
    assert len(text) < 6 * MAX_REPR, text  # six rows of scalars, each in full
    assert text.startswith("CompressionReport(rows=[CompressionRow(method='aekit', ")
    assert text.endswith("n_samples=300, n_features=64, latent_dim=4, unit_interval=True)")
    assert text.count("CompressionRow(") == len(report) == 6
    row = report.row("pca", "int8")
    assert isinstance(row, CompressionRow)
    assert f"sse={row.sse!r}" in repr(row) and fields_in_order(repr(row)) == list(row._fields)


def test_demo_result_repr() -> None:
    files = {"model": Path("out/model"), "report": Path("out/report.html")}
    result = DemoResult("64-32-16-2", 2, 1437, 120, 3.5, 3.25, 4.0625, files)
    assert repr(result) == (
        "DemoResult(architecture='64-32-16-2', latent_dim=2, n_train=1437, epochs=120, "
        f"fit_seconds=3.5, ae_error=3.25, pca_error=4.0625, files={files!r})"
    )


def test_result_repr_of_nested_and_long_containers() -> None:
    import torch

    class Holder(NamedTuple):
        arrays: list[np.ndarray]
        table: dict[str, np.ndarray]
        one: tuple[np.float32]
        tensor: torch.Tensor
        scalar: float

        __repr__ = result_repr

    many = [np.zeros((1000, 1000)) for _ in range(MAX_ITEMS + 3)]
    holder = Holder(
        many, {"x": np.ones(3, dtype=np.int64)}, (np.float32(2.5),), torch.zeros(2, 3), 1e-3
    )
    assert repr(holder) == (
        "Holder(arrays=["
        + ", ".join(["array(shape=(1000, 1000), dtype=float64)"] * MAX_ITEMS)
        + ", ... 3 more], table={'x': array(shape=(3,), dtype=int64)}, "
        f"one=({np.float32(2.5)!r},), tensor=tensor(shape=(2, 3), dtype=torch.float32), "
        "scalar=0.001)"
    )
