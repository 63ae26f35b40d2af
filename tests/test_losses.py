import pytest
import torch
from torch import nn

from aekit.losses import LOSSES, binary_cross_entropy, resolve_loss, squared_error
from aekit.models import AutoencoderOutput


def _out(logits: torch.Tensor, activation: nn.Module) -> AutoencoderOutput:
    return AutoencoderOutput(logits, torch.zeros(len(logits), 1), activation)


def test_bce_matches_formula_per_sample():
    torch.manual_seed(0)
    logits = torch.randn(4, 6, dtype=torch.float64)
    x = torch.rand(4, 6, dtype=torch.float64)
    p = torch.sigmoid(logits)
    expected = -(x * p.log() + (1 - x) * (1 - p).log()).mean(1)
    got = binary_cross_entropy(_out(logits, nn.Sigmoid()), x)
    assert got.shape == (4,)
    assert torch.allclose(got, expected)
    mean = binary_cross_entropy(_out(logits, nn.Sigmoid()), x, reduction="mean")
    assert torch.allclose(mean, expected.mean())


def test_bce_stable_at_extreme_logits():
    logits = torch.tensor([[200.0, -200.0, 50.0]])
    x = torch.tensor([[1.0, 0.0, 0.0]])
    value = binary_cross_entropy(_out(logits, nn.Sigmoid()), x)
    assert torch.isfinite(value).all()
    assert value.item() == pytest.approx(50.0 / 3, rel=1e-5)  # only the wrong third costs


def test_squared_error_per_sample_and_mean():
    x = torch.zeros(2, 4)
    logits = torch.tensor([[1.0, 1.0, 1.0, 1.0], [2.0, 0.0, 0.0, 0.0]])
    per = squared_error(_out(logits, nn.Identity()), x)
    assert torch.equal(per, torch.tensor([1.0, 1.0]))
    assert squared_error(_out(logits, nn.Identity()), x, reduction="mean").item() == 1.0


def test_resolve_loss():
    assert resolve_loss("auto", "sigmoid") == "bce"
    assert resolve_loss("auto", "linear") == "mse"
    assert resolve_loss("mse", "sigmoid") == "mse"
    with pytest.raises(ValueError, match="needs a sigmoid output"):
        resolve_loss("bce", "linear")
    with pytest.raises(ValueError, match="unknown loss"):
        resolve_loss("hinge", "linear")
    assert set(LOSSES) == {"mse", "bce", "multinomial"}
    assert resolve_loss("multinomial", "softmax") == "multinomial"
    with pytest.raises(ValueError, match="needs a softmax output"):
        resolve_loss("multinomial", "sigmoid")
