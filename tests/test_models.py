import math

import pytest
import torch
from torch import nn

from aekit.models import (
    ACTIVATIONS,
    MODULES,
    DenseAutoencoder,
    DenseConfig,
    halving_widths,
    init_linear,
    make_activation,
)


def test_halving_rule():
    assert halving_widths(784, 30) == (392, 196, 98, 49)
    assert halving_widths(784, 32) == (392, 196, 98, 49)
    assert halving_widths(64, 2) == (32, 16)
    assert halving_widths(784, 2) == (392, 196, 98, 49, 24)
    assert halving_widths(8, 32) == ()  # overcomplete: no hidden layer
    assert halving_widths(100_000, 32)[0] == 1024  # capped first layer


def test_shapes_and_mirrored_decoder():
    ae = DenseAutoencoder(DenseConfig(n_features=20, latent_dim=3, hidden=(12, 6)))
    out = ae(torch.rand(7, 20))
    assert out.x_hat.shape == (7, 20)
    assert out.logits.shape == (7, 20)
    assert out.z.shape == (7, 3)
    enc = [m.out_features for m in ae.encoder.modules() if isinstance(m, nn.Linear)]
    dec = [m.out_features for m in ae.decoder.modules() if isinstance(m, nn.Linear)]
    assert enc == [12, 6, 3]
    assert dec == [6, 12, 20]
    assert torch.equal(ae.encode(torch.ones(1, 20)), ae(torch.ones(1, 20)).z)
    assert torch.allclose(ae.decode(out.z), out.x_hat)


def test_output_activation_applied_to_logits():
    x = torch.rand(4, 10)
    sig = DenseAutoencoder(DenseConfig(10, 2, output_activation="sigmoid"))
    out = sig(x)
    assert torch.allclose(out.x_hat, torch.sigmoid(out.logits))
    assert 0 <= out.x_hat.min() and out.x_hat.max() <= 1
    lin = DenseAutoencoder(DenseConfig(10, 2, output_activation="linear"))
    out = lin(x)
    assert torch.equal(out.x_hat, out.logits)


def test_linear_network_is_linear():
    torch.manual_seed(0)
    ae = DenseAutoencoder(
        DenseConfig(6, 2, hidden=(4,), activation="linear", output_activation="linear")
    )
    a, b = torch.randn(3, 6), torch.randn(3, 6)
    f = lambda x: ae(x).x_hat - ae(torch.zeros_like(x)).x_hat  # noqa: E731 (remove the bias)
    assert torch.allclose(f(2 * a + 3 * b), 2 * f(a) + 3 * f(b), atol=1e-5)
    assert not any(isinstance(m, (nn.ReLU, nn.Sigmoid)) for m in ae.modules())


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_he_initialisation(activation):
    torch.manual_seed(0)
    layer = nn.Linear(1000, 500)
    init_linear(layer, activation)
    # He uniform: U(-b, b) with b = sqrt(6 / fan_in) (times ~1 for slope 0.01).
    bound = math.sqrt(6 / 1000)
    assert layer.weight.abs().max() <= bound * 1.0001
    assert layer.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert torch.count_nonzero(layer.bias) == 0


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "linear"])
def test_xavier_initialisation(activation):
    torch.manual_seed(0)
    layer = nn.Linear(1000, 500)
    init_linear(layer, activation)
    bound = math.sqrt(6 / (1000 + 500))
    assert layer.weight.abs().max() <= bound * 1.0001
    assert layer.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert torch.count_nonzero(layer.bias) == 0


def test_activation_registry():
    assert set(ACTIVATIONS) == {"relu", "leaky_relu", "tanh", "sigmoid", "linear"}
    x = torch.tensor([-2.0, 0.5])
    assert torch.equal(make_activation("relu")(x), torch.tensor([0.0, 0.5]))
    assert torch.equal(make_activation("linear")(x), x)
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        make_activation("swish")


def test_architecture_registry_builds_dense():
    config_cls, module_cls = MODULES["dense"]
    assert isinstance(module_cls(config_cls(n_features=5, latent_dim=2)), DenseAutoencoder)
