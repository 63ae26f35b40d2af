import math

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from torch import nn

from aekit.models import (
    CELLS,
    MODULES,
    ElmanRNN,
    JordanRNN,
    RecurrentAutoencoder,
    RecurrentConfig,
    RecurrentEncoder,
    module_kind,
)

# Small known weights: input 2, hidden 2, output 1.
W_XH = [[0.5, -0.3], [0.2, 0.1]]
W_HH = [[0.1, 0.4], [-0.2, 0.3]]
B_H = [0.05, -0.1]
W_HY = [[0.7, -0.6]]
B_Y = [0.2]
W_YH = [[0.9], [-0.4]]
X = [[1.0, 2.0], [0.5, -1.0], [-1.5, 0.3]]  # one sequence of T = 3 steps


def _set(module: nn.Module, **values: list) -> nn.Module:
    module.double()
    with torch.no_grad():
        for name, value in values.items():
            getattr(module, name).copy_(torch.tensor(value, dtype=torch.float64))
    return module


def _dot(row: list[float], vec: list[float]) -> float:
    return sum(a * b for a, b in zip(row, vec, strict=True))


def test_parameter_names_and_shapes():
    elman = dict(ElmanRNN(3, 5, 2).named_parameters())
    expected = {"W_xh": (5, 3), "W_hh": (5, 5), "b_h": (5,), "W_hy": (2, 5), "b_y": (2,)}
    assert {name: tuple(p.shape) for name, p in elman.items()} == expected
    jordan = dict(JordanRNN(3, 5, 2).named_parameters())
    assert {name: tuple(p.shape) for name, p in jordan.items()} == {**expected, "W_yh": (5, 2)}


@pytest.mark.parametrize("rnn_cls", [ElmanRNN, JordanRNN])
def test_initialisation(rnn_cls):
    torch.manual_seed(0)
    rnn = rnn_cls(3, 16, 4)
    bound = 1 / math.sqrt(16)
    for name, p in rnn.named_parameters():
        if name.startswith("W_"):
            assert p.abs().max() <= bound
            assert p.std() > bound / 3  # drawn, not left at zero
        else:
            assert torch.equal(p, torch.zeros_like(p))


def test_elman_matches_hand_computation():
    rnn = _set(ElmanRNN(2, 2, 1), W_xh=W_XH, W_hh=W_HH, b_h=B_H, W_hy=W_HY, b_y=B_Y)
    h, ys = [0.0, 0.0], []
    for x in X:
        h = [math.tanh(_dot(W_HH[i], h) + _dot(W_XH[i], x) + B_H[i]) for i in range(2)]
        ys.append(_dot(W_HY[0], h) + B_Y[0])
    y_out, h_out = rnn(torch.tensor([X], dtype=torch.float64))
    assert y_out.shape == (1, 3, 1) and h_out.shape == (1, 2)
    assert_allclose(y_out[0, :, 0].detach().numpy(), ys, rtol=1e-12)
    assert_allclose(h_out[0].detach().numpy(), h, rtol=1e-12)
    # Step one by hand in numbers: h_1 = tanh([0.5 - 0.6 + 0.05, 0.2 + 0.2 - 0.1]).
    h1 = [math.tanh(-0.05), math.tanh(0.3)]
    assert_allclose(y_out[0, 0, 0].item(), 0.7 * h1[0] - 0.6 * h1[1] + 0.2, rtol=1e-12)


def test_jordan_matches_hand_computation():
    rnn = _set(JordanRNN(2, 2, 1), W_xh=W_XH, W_hh=W_HH, b_h=B_H, W_hy=W_HY, b_y=B_Y, W_yh=W_YH)
    h, y, ys = [0.0, 0.0], [0.0], []
    for x in X:
        h = [
            math.tanh(_dot(W_HH[i], h) + _dot(W_XH[i], x) + _dot(W_YH[i], y) + B_H[i])
            for i in range(2)
        ]
        y = [_dot(W_HY[0], h) + B_Y[0]]
        ys.append(y[0])
    # A batch of two: the sequence and its negation, to check that rows do not mix.
    x = torch.tensor([X, [[-v for v in step] for step in X]], dtype=torch.float64)
    y_out, h_out = rnn(x)
    assert y_out.shape == (2, 3, 1) and h_out.shape == (2, 2)
    assert_allclose(y_out[0, :, 0].detach().numpy(), ys, rtol=1e-12)
    assert_allclose(h_out[0].detach().numpy(), h, rtol=1e-12)
    assert not torch.allclose(y_out[0], y_out[1])


def test_jordan_without_feedback_is_elman():
    torch.manual_seed(1)
    jordan = JordanRNN(3, 4, 2)
    elman = ElmanRNN(3, 4, 2)
    elman.load_state_dict({k: v for k, v in jordan.state_dict().items() if k != "W_yh"})
    x = torch.randn(5, 6, 3)
    assert not torch.allclose(jordan(x)[0], elman(x)[0])  # the feedback changes the outputs
    with torch.no_grad():
        jordan.W_yh.zero_()
    for a, b in zip(jordan(x), elman(x), strict=True):
        assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("rnn_cls", [ElmanRNN, JordanRNN])
def test_first_step_sees_only_the_input(rnn_cls):
    # h_0 = 0 (and y_0 = 0): the first state is tanh(W_xh x_1 + b_h), whatever W_hh and W_yh.
    torch.manual_seed(2)
    rnn = rnn_cls(3, 4, 2)
    with torch.no_grad():
        rnn.b_h.uniform_(-1, 1)
        rnn.b_y.uniform_(-1, 1)
    x = torch.randn(5, 7, 3)
    y, _ = rnn(x)
    h1 = torch.tanh(x[:, 0] @ rnn.W_xh.T + rnn.b_h)
    assert torch.allclose(y[:, 0], h1 @ rnn.W_hy.T + rnn.b_y, atol=1e-6)
    _, h = rnn(x[:, :1])
    assert torch.allclose(h, h1, atol=1e-6)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_cell_layer_interface(cell, bidirectional):
    layer = CELLS[cell](3, 5, bidirectional)
    width = 10 if bidirectional else 5
    y, h = layer(torch.randn(4, 6, 3))
    assert y.shape == (4, 6, width)
    assert h.shape == (4, width)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_bidirectional_halves_read_opposite_ways(cell):
    torch.manual_seed(3)
    layer = CELLS[cell](2, 4, True)
    x = torch.randn(3, 5, 2)
    y, h = layer(x)
    late = x.clone()
    late[:, -1] += 1.0
    y_late, h_late = layer(late)
    # The forward half at step 1 has not seen the last step; the backward half has.
    assert torch.allclose(y[:, 0, :4], y_late[:, 0, :4])
    assert not torch.allclose(y[:, 0, 4:], y_late[:, 0, 4:])
    early = x.clone()
    early[:, 0] += 1.0
    y_early, h_early = layer(early)
    # The backward half at the last step has read only that step.
    assert torch.allclose(y[:, -1, 4:], y_early[:, -1, 4:])
    # Both final states have read every step.
    for changed in (h_late, h_early):
        assert not torch.allclose(h[:, :4], changed[:, :4])
        assert not torch.allclose(h[:, 4:], changed[:, 4:])


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_autoencoder_shapes_and_gradients(cell, bidirectional):
    torch.manual_seed(4)
    config = RecurrentConfig(
        (7, 3), latent_dim=2, hidden=(6, 5), cell=cell, bidirectional=bidirectional
    )
    ae = RecurrentAutoencoder(config)
    x = torch.randn(4, 21)
    out = ae(x)
    assert out.logits.shape == (4, 21)
    assert out.z.shape == (4, 2)
    assert torch.equal(out.x_hat, out.logits)  # linear output by default
    assert torch.equal(ae.encode(x), out.z)
    assert torch.allclose(ae.decode(out.z), out.x_hat)
    ((out.logits - x) ** 2).mean().backward()
    for name, p in ae.named_parameters():
        assert p.grad is not None, name
        assert p.grad.abs().sum() > 0, name


def test_encoder_reads_flat_rows_step_by_step():
    torch.manual_seed(5)
    encoder = RecurrentEncoder(RecurrentConfig((5, 2), latent_dim=3, cell="gru"), n_out=6)
    x = torch.randn(4, 5, 2)  # (B, T, F)
    _, h = encoder.rnn(x)
    z = encoder(x.reshape(4, 10))
    assert z.shape == (4, 6)  # n_out overrides latent_dim, as a VAE needs
    assert torch.allclose(z, encoder.code(h))


def test_activations_and_dropout():
    config = RecurrentConfig(
        (6, 1),
        latent_dim=3,
        hidden=(8, 4),
        code_activation="tanh",
        output_activation="sigmoid",
        dropout=0.5,
    )
    ae = RecurrentAutoencoder(config)
    assert sum(isinstance(m, nn.Dropout) for m in ae.modules()) == 2  # one per stack
    ae.eval()
    x = torch.randn(10, 6) * 10
    out = ae(x)
    assert out.z.abs().max() < 1
    assert torch.allclose(out.x_hat, torch.sigmoid(out.logits))
    assert torch.equal(ae(x).logits, out.logits)  # no dropout in evaluation


def test_decoder_widths_mirror_the_encoder():
    ae = RecurrentAutoencoder(RecurrentConfig((6, 2), latent_dim=3, hidden=(8, 4), cell="lstm"))
    enc = [layer.rnn.hidden_size for layer in ae.encoder.rnn.layers]
    dec = [layer.rnn.hidden_size for layer in ae.decoder.rnn.layers]
    assert enc == [8, 4]
    assert dec == [4, 8]
    assert ae.decoder.readout.out_features == 2


def test_registered_module():
    assert MODULES["recurrent"] == (RecurrentConfig, RecurrentAutoencoder)
    ae = RecurrentAutoencoder(RecurrentConfig((4, 1), latent_dim=2))
    assert module_kind(ae) == "recurrent"


def _noisy_sines(n: int = 64, steps: int = 16, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    amplitude = rng.uniform(0.5, 1.5, (n, 1))
    x = amplitude * np.sin(2 * np.pi * t / 8 + phase) + 0.05 * rng.normal(size=(n, steps))
    return torch.tensor(x, dtype=torch.float32)  # (n, T) with F = 1


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_training_reconstructs_sine_windows(cell):
    torch.manual_seed(0)
    x = _noisy_sines()
    # The error of predicting each window by its own mean: what a code without shape gives.
    baseline = ((x - x.mean(dim=1, keepdim=True)) ** 2).mean().item()
    ae = RecurrentAutoencoder(RecurrentConfig((16, 1), latent_dim=4, hidden=(16,), cell=cell))
    optimizer = torch.optim.Adam(ae.parameters(), lr=1e-2)
    for _ in range(200):
        optimizer.zero_grad()
        loss = ((ae(x).logits - x) ** 2).mean()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        mse = ((ae(x).logits - x) ** 2).mean().item()
    assert mse < 0.1 * baseline


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"input_shape": (16,)}, "input_shape"),
        ({"input_shape": (16, 0)}, "input_shape"),
        ({"input_shape": [16, 1]}, "input_shape"),
        ({"latent_dim": 0}, "latent_dim"),
        ({"latent_dim": 2.0}, "latent_dim"),
        ({"hidden": ()}, "hidden"),
        ({"hidden": (8, -1)}, "hidden"),
        ({"cell": "transformer"}, "cell"),
        ({"bidirectional": 1}, "bidirectional"),
        ({"code_activation": "swish"}, "code_activation"),
        ({"output_activation": "softmax"}, "output_activation"),
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": -0.1}, "dropout"),
    ],
)
def test_config_validation(kwargs, match):
    params = {"input_shape": (16, 1), "latent_dim": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        RecurrentConfig(**params)
