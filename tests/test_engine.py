import numpy as np
import pytest
import torch
from torch import nn

import aekit.training.progress as progress
from aekit.losses import LossOutput
from aekit.training import TrainConfig, resolve_device, seeded, train


def _regression():
    torch.manual_seed(0)
    X = torch.randn(200, 5)
    y = X @ torch.tensor([1.0, -2.0, 0.5, 0.0, 3.0])
    return X, y[:, None]


def _mse(module, x, y):
    loss = (module(x) - y).square().mean()
    return LossOutput(loss, {"mse": loss.detach()})


def test_training_reduces_loss_and_records_history():
    X, y = _regression()
    module = nn.Linear(5, 1)
    result = train(module, _mse, [X, y], TrainConfig(epochs=30, batch_size=32, lr=0.05))
    assert len(result.history) == 30
    first, last = result.history[0], result.history[-1]
    assert set(first) == {"epoch", "loss", "mse", "time"}
    assert last["loss"] < 0.01 * first["loss"]
    assert last["mse"] == pytest.approx(last["loss"])
    assert not module.training  # left in eval mode


def test_sgd_optimizer_trains():
    X, y = _regression()
    module = nn.Linear(5, 1)
    result = train(
        module, _mse, [X, y], TrainConfig(epochs=20, batch_size=20, lr=0.02, optimizer="sgd")
    )
    assert result.history[-1]["loss"] < 0.05 * result.history[0]["loss"]


def test_validation_and_early_stopping_restore_best_weights():
    # Training pulls w from 0 towards 1; the validation loss is best at w = 0.5.
    def objective(module, x):
        w = module.weight[0, 0]
        target = 1.0 if float(x[0, 0]) == 0.0 else 0.5
        loss = (w - target).square() + 0.0 * x.sum()
        return LossOutput(loss, {})

    module = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(module.weight)
    cfg = TrainConfig(epochs=200, batch_size=4, lr=0.01, optimizer="sgd", patience=5)
    result = train(module, objective, [torch.zeros(4, 1)], cfg, val_data=[torch.ones(4, 1)])
    assert result.stop_reason == "early_stopping"
    assert len(result.history) == result.best_epoch + 5
    val = [h["val_loss"] for h in result.history]
    assert result.best_epoch == 1 + val.index(min(val))
    assert abs(module.weight.item() - 0.5) ** 2 == pytest.approx(min(val), rel=1e-4)


def test_without_early_stopping_keeps_last_weights():
    X, y = _regression()
    module = nn.Linear(5, 1)
    cfg = TrainConfig(epochs=5, lr=0.05, early_stopping=False)
    result = train(module, _mse, [X, y], cfg)
    assert result.best_epoch == 5
    assert result.stop_reason == "max_epochs"


def _nan_from_epoch(epoch: int, n_batches: int):
    calls = {"n": 0}

    def objective(module, x, y):
        calls["n"] += 1
        out = _mse(module, x, y)
        if calls["n"] > (epoch - 1) * n_batches:
            return LossOutput(out.total * float("nan"), out.terms)
        return out

    return objective


def test_nan_loss_stops_and_keeps_last_good_weights():
    X, y = _regression()
    module = nn.Linear(5, 1)
    cfg = TrainConfig(epochs=10, batch_size=200, lr=0.05, early_stopping=False)
    with pytest.warns(RuntimeWarning, match="NaN or infinite in epoch 3"):
        result = train(module, _nan_from_epoch(3, 1), [X, y], cfg)
    assert result.stop_reason == "nan"
    assert len(result.history) == 3
    assert result.best_epoch == 2
    assert all(torch.isfinite(p).all() for p in module.parameters())


def test_nan_in_first_epoch_raises():
    X, y = _regression()
    with pytest.raises(FloatingPointError, match="first epoch"):
        train(nn.Linear(5, 1), _nan_from_epoch(1, 1), [X, y], TrainConfig(epochs=3))


def test_keyboard_interrupt_keeps_best_weights():
    X, y = _regression()
    calls = {"n": 0}

    def objective(module, x, y):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return _mse(module, x, y)

    module = nn.Linear(5, 1)
    with pytest.warns(RuntimeWarning, match="interrupted in epoch 3"):
        result = train(module, objective, [X, y], TrainConfig(epochs=10, batch_size=200))
    assert result.stop_reason == "interrupted"
    assert len(result.history) == 2


def test_same_seed_gives_bit_identical_training():
    X, y = _regression()

    def run():
        with seeded(123, torch.device("cpu")):
            module = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 1))
            train(module, _mse, [X, y], TrainConfig(epochs=5, batch_size=16))
        return [p.detach().clone() for p in module.parameters()]

    a, b = run(), run()
    assert all(torch.equal(p, q) for p, q in zip(a, b, strict=True))


def test_seeded_restores_global_generator():
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    with seeded(1, torch.device("cpu")):
        torch.rand(100)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("optimizer", "rmsprop", "unknown optimizer"),
        ("epochs", 0, "epochs must be a positive integer"),
        ("batch_size", 2.5, "batch_size must be a positive integer"),
        ("lr", -1.0, "lr must be a positive number"),
        ("lr", True, "lr must be a positive number, got True"),
        ("epochs", np.True_, "epochs must be a positive integer, got np.True_"),
        ("clip_grad_norm", True, "clip_grad_norm must be a positive number or None, got True"),
    ],
)
def test_bad_config(field, value, message):
    X, y = _regression()
    cfg = TrainConfig(**{field: value})
    with pytest.raises(ValueError, match=message):
        train(nn.Linear(5, 1), _mse, [X, y], cfg)


def test_numpy_scalars_train_as_python_numbers_do():
    # What the estimators' parameter checks accept (aekit._validation), the engine accepts.
    X, y = _regression()
    weights = []
    python, numpy = (3, 32, 0.0625), (np.int64(3), np.int32(32), np.float32(0.0625))
    for epochs, batch_size, lr in (python, numpy):
        torch.manual_seed(0)
        module = nn.Linear(5, 1)
        cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, optimizer="sgd")
        result = train(module, _mse, [X, y], cfg)
        assert [r["epoch"] for r in result.history] == [1, 2, 3]
        weights.append(module.weight.detach().clone())
    assert torch.equal(weights[0], weights[1])  # 0.0625 is exact in float32: the same steps


def test_resolve_device():
    expected = "cuda" if torch.cuda.is_available() else None
    if expected is None:
        assert resolve_device("auto").type in ("cpu", "mps")
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu-9000")


def test_progress_bar_only_when_interactive(monkeypatch, capsys):
    X, y = _regression()
    train(nn.Linear(5, 1), _mse, [X, y], TrainConfig(epochs=2, verbose=True))
    assert capsys.readouterr().err == ""  # not a terminal under pytest
    monkeypatch.setattr(progress, "_interactive", lambda: True)
    train(nn.Linear(5, 1), _mse, [X, y], TrainConfig(epochs=2, verbose=True, desc="demo-bar"))
    err = capsys.readouterr().err
    assert "demo-bar" in err and "2/2" in err
    train(nn.Linear(5, 1), _mse, [X, y], TrainConfig(epochs=2, verbose=False))
    assert capsys.readouterr().err == ""
