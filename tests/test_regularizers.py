"""The penalties of aekit.losses.regularizers against direct computations."""

import math

import pytest
import torch
from torch import nn

from aekit.losses.regularizers import (
    SPARSITY,
    jacobian_frobenius,
    kl_sparsity,
    l1_activity,
    weight_penalty,
)
from aekit.models import RecurrentAutoencoder, RecurrentConfig


def test_l1_activity_sums_absolute_codes():
    z = torch.tensor([[1.0, -2.0, 0.5], [0.0, 0.0, -3.0]])
    assert l1_activity(z).tolist() == [3.5, 3.0]


def test_kl_sparsity_matches_formula_on_batch_means():
    z = torch.tensor([[0.1, 0.5], [0.3, 0.7]])  # unit means 0.2 and 0.6
    rho = 0.05
    expected = sum(
        rho * math.log(rho / m) + (1 - rho) * math.log((1 - rho) / (1 - m)) for m in (0.2, 0.6)
    )
    out = kl_sparsity(z, rho)
    assert out.shape == (2,)
    assert out.tolist() == pytest.approx([expected, expected], rel=1e-6)


def test_kl_sparsity_is_zero_at_target_and_finite_when_saturated():
    assert kl_sparsity(torch.full((4, 3), 0.05), 0.05).abs().max() < 1e-6
    assert torch.isfinite(kl_sparsity(torch.ones(4, 3), 0.05)).all()
    assert set(SPARSITY) == {"l1", "kl"}


def test_weight_penalty_is_half_squared_weights_without_biases():
    net = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    with torch.no_grad():
        net[0].bias.fill_(10.0)
    expected = 0.5 * (net[0].weight.square().sum() + net[2].weight.square().sum())
    assert weight_penalty(net).item() == pytest.approx(expected.item())


def _encoder():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3))


def test_jacobian_frobenius_matches_autograd_jacobian():
    enc = _encoder()
    x = torch.randn(6, 5, requires_grad=True)
    got = jacobian_frobenius(enc(x), x, create_graph=False)
    expected = [
        torch.autograd.functional.jacobian(enc, x[b : b + 1].detach()).square().sum().item()
        for b in range(6)
    ]
    assert got.tolist() == pytest.approx(expected, rel=1e-5)


def test_jacobian_frobenius_of_a_linear_map_is_its_frobenius_norm():
    lin = nn.Linear(5, 3)
    x = torch.randn(4, 5, requires_grad=True)
    got = jacobian_frobenius(lin(x), x, create_graph=False)
    assert got.tolist() == pytest.approx([lin.weight.square().sum().item()] * 4, rel=1e-5)


def test_jacobian_frobenius_is_differentiable_for_training():
    enc = _encoder()
    x = torch.randn(6, 5, requires_grad=True)
    jacobian_frobenius(enc(x), x, create_graph=True).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in enc[0].parameters())


def test_jacobian_frobenius_falls_back_for_recurrent_encoders():
    torch.manual_seed(0)
    ae = RecurrentAutoencoder(RecurrentConfig((6, 1), latent_dim=2, hidden=(4,), cell="gru"))
    x = torch.randn(3, 6, requires_grad=True)
    got = jacobian_frobenius(ae.encode(x), x, create_graph=False)
    expected = [
        torch.autograd.functional.jacobian(ae.encode, x[b : b + 1].detach()).square().sum().item()
        for b in range(3)
    ]
    assert got.tolist() == pytest.approx(expected, rel=1e-4)
