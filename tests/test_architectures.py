"""The architecture registry: every entry fits, saves, loads and exports as it says, every
derived list agrees with it, and a new architecture is one entry plus its module."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
import torch
from torch import nn

import aekit
from aekit.estimators._architectures import (
    ARCHITECTURES,
    Architecture,
    detector_architectures,
    exportable_kinds,
    vae_architectures,
)
from aekit.models import MODULES, AutoencoderOutput, make_activation

FAST = dict(epochs=2, random_state=0, verbose=False)


@pytest.fixture(scope="module")
def digits():
    return aekit.datasets.load_digits()[0][:120]  # (120, 8, 8) in [0, 1]


def _round_trip(estimator, X, tmp_path):
    estimator.fit(X)
    path = estimator.save(tmp_path / "model")
    loaded = aekit.load(path)
    np.testing.assert_array_equal(loaded.transform(X), estimator.transform(X))
    return loaded


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_every_architecture_fits_saves_loads_and_exports_as_it_says(name, digits, tmp_path):
    record = ARCHITECTURES[name]
    ae = _round_trip(aekit.Autoencoder(architecture=name, latent_dim=4, **FAST), digits, tmp_path)
    assert type(ae.module_) is MODULES[record.module][1]
    if record.vae_module is not None:
        vae = aekit.VAE(architecture=name, latent_dim=4, **FAST)
        vae = _round_trip(vae, digits, tmp_path / "vae")
        assert type(vae.module_) is MODULES[record.vae_module][1]
    else:
        with pytest.raises(ValueError, match=f"architecture={name!r} is not valid"):
            aekit.VAE(architecture=name, **FAST).fit(digits)
    if record.detector:
        det = aekit.AnomalyDetector(architecture=name, n_estimators=2, **FAST).fit(digits)
        assert det.decision_scores_.shape == (len(digits),)
    else:
        with pytest.raises(ValueError, match=f"architecture={name!r} is not valid"):
            aekit.AnomalyDetector(architecture=name, **FAST).fit(digits)
    if record.onnx:
        pytest.importorskip("onnxruntime")
        result = aekit.io.export_onnx(ae, tmp_path / "onnx", X=digits[:8])
        assert set(result.max_abs_diff) == {"encoder", "decoder", "model"}
        assert max(result.max_abs_diff.values()) < 1e-4  # float32 kernels of two runtimes


def test_the_derived_lists_agree_with_the_registry():
    from aekit.cli.train import OPTIONS

    for record in ARCHITECTURES.values():
        assert record.module in MODULES
        assert record.vae_module is None or record.vae_module in MODULES
    assert exportable_kinds() == ["dense", "vae-dense", "conv", "vae-conv", "recurrent"]
    assert vae_architectures() == ["dense", "conv"]
    assert detector_architectures() == ["dense", "conv"]
    # The CLI's help is written out (reading the registry would import torch for --help);
    # it must name every architecture.
    (text,) = [text for flag, *_, text in OPTIONS if flag == "--architecture"]
    assert set(re.findall(r"\w+", text.split(":", 1)[1])) - {"or"} == set(ARCHITECTURES)


def test_export_follows_the_registry(digits, tmp_path, monkeypatch):
    ae = aekit.Autoencoder(architecture="recurrent", latent_dim=2, **FAST).fit(digits)
    monkeypatch.setitem(ARCHITECTURES, "recurrent", ARCHITECTURES["recurrent"]._replace(onnx=False))
    with pytest.raises(ValueError, match="'recurrent' network cannot be exported"):
        aekit.io.export_onnx(ae, tmp_path / "onnx")


# ---------------------------------------------------------------------- a toy architecture
# What adding an architecture takes: its module (below, a one-layer dense autoencoder with a
# tanh code) and one registry entry (the monkeypatched lines of the test). Nothing else.
@dataclasses.dataclass(frozen=True)
class ToyConfig:
    n_features: int  # flattened input width
    latent_dim: int  # code width
    output_activation: str = "linear"  # maps the decoder's logits to x_hat


class ToyAutoencoder(nn.Module):
    def __init__(self, config: ToyConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = nn.Linear(config.n_features, config.latent_dim)
        self.decoder = nn.Linear(config.latent_dim, config.n_features)
        self.output_activation = make_activation(config.output_activation)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.encoder(x))  # (B, K)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.output_activation(self.decoder(z))  # (B, D)

    def forward(self, x: torch.Tensor) -> AutoencoderOutput:
        z = self.encode(x)
        return AutoencoderOutput(self.decoder(z), z, self.output_activation)


def _toy_config(network, shape, unit_interval, sigmoid_code):
    return ToyConfig(
        int(np.prod(shape)), network.latent_dim, "sigmoid" if unit_interval else "linear"
    )


def test_a_toy_architecture_is_one_entry_and_its_module(digits, tmp_path, monkeypatch):
    monkeypatch.setitem(MODULES, "toy", (ToyConfig, ToyAutoencoder))
    monkeypatch.setitem(
        ARCHITECTURES,
        "toy",
        Architecture(
            lambda shape, spatial_dims: (int(np.prod(shape)),),  # rows, as "dense"
            lambda shape: None,  # one scaling per feature
            _toy_config,
            module="toy",
        ),
    )
    ae = aekit.Autoencoder(architecture="toy", latent_dim=3, epochs=100, lr=1e-2, random_state=0)
    ae.set_params(verbose=False)
    loaded = _round_trip(ae, digits, tmp_path)
    assert type(loaded.module_) is ToyAutoencoder and loaded.loss_ == "bce"
    # It learned something: better than reconstructing every image as the mean image.
    mean_error = float(np.mean((digits - digits.mean(0)) ** 2))
    assert float(np.mean((loaded.reconstruct(digits) - digits) ** 2)) < mean_error
    with pytest.raises(ValueError, match="architecture='toy' is not valid"):
        aekit.VAE(architecture="toy", **FAST).fit(digits)
