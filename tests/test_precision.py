"""Training at 16-bit precision, compiled, in channels-last layout (aekit.training.precision)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import aekit
import aekit.training.precision as precision
from aekit.cli import main
from aekit.cli.train import add_parser, estimator_params
from aekit.losses import LossOutput
from aekit.training import (
    Callback,
    Checkpoint,
    GradientClipping,
    NanGuard,
    TrainConfig,
    seeded,
    train,
)
from aekit.training.precision import StepRunner, check_precision, use_channels_last

CPU = torch.device("cpu")
ESTIMATORS = [aekit.Autoencoder, aekit.VAE, aekit.AnomalyDetector, aekit.AutoencoderClassifier]


def _fit(X, precision, epochs=15):
    est = aekit.Autoencoder(
        latent_dim=8, epochs=epochs, early_stopping=False, precision=precision,
        random_state=0, verbose=False,
    )  # fmt: skip
    # The dtype of the first layer's output, in training and at inference.
    seen: list[torch.dtype] = []
    original = est._fit_network

    def fit_network(build, *args, **kwargs):
        def hooked():
            module = build()
            first = next(m for m in module.modules() if isinstance(m, nn.Linear))
            first.register_forward_hook(lambda mod, i, out: seen.append(out.dtype))
            return module

        return original(hooked, *args, **kwargs)

    est._fit_network = fit_network
    est.fit(X)
    del est._fit_network
    return est, seen


@pytest.fixture(scope="module")
def fp32_fit(digits):
    return _fit(digits[0], "fp32")


@pytest.mark.parametrize("name", ["bf16", "fp16"])
def test_16_bit_training_follows_fp32_on_the_digits(name, digits, fp32_fit):
    X = digits[0]
    reference, _ = fp32_fit
    est, seen = _fit(X, name)
    dtype = precision.PRECISIONS[name]
    # Autocast was on: the layers computed in 16 bits in training, the run is not fp32's.
    assert seen and set(seen) == {dtype}
    val = [h["val_loss"] for h in est.history_]
    val_fp32 = [h["val_loss"] for h in reference.history_]
    assert val != val_fp32
    # Each epoch's validation loss within 0.5% of fp32's: 10x the gap measured (0.05% for
    # bf16, whose 8-bit significands round each product by at most 0.4%, and for fp16), and
    # below the 1.2% one more epoch gains at the end, so a run that skipped steps would fail.
    np.testing.assert_allclose(val, val_fp32, rtol=5e-3)
    assert val[-1] < 0.6 * val[0]  # it trained
    # Inference runs the plain module in float32, batch-independently.
    seen.clear()
    codes = est.transform(X)
    assert codes.dtype == np.float32 and set(seen) == {torch.float32}
    assert np.array_equal(est.transform(X[:7]), codes[:7])


def _overflowing_objective(module, x):
    # The gradient of each fp16 output is the loss scale itself: 2**16 overflows float16
    # (largest 65504), so the first step is skipped and the scale halves; 2**15 passes (with
    # inputs of 1/64 and no bias, no other fp16 gradient reaches 65504 either).
    loss = module(x).float().sum()
    return LossOutput(loss, {})


SMALL = torch.full((64, 4), 1 / 64)


def _linear(bias=True):
    with seeded(0, CPU):
        return nn.Linear(4, 4, bias=bias)


def test_fp16_skips_overflowed_steps_without_tripping_the_nan_guard():
    module = _linear(bias=False)
    before = module.weight.detach().clone()
    X = SMALL
    runner = StepRunner(module, "fp16")
    optimizer = torch.optim.SGD(module.parameters(), lr=0.1)
    runner.forward_backward(_overflowing_objective, [X], optimizer)
    runner.optimizer_step(optimizer)
    assert torch.equal(module.weight, before)  # skipped
    assert runner.scaler.get_scale() == 2.0**15
    runner.forward_backward(_overflowing_objective, [X], optimizer)
    runner.optimizer_step(optimizer)
    assert not torch.equal(module.weight, before)

    config = TrainConfig(epochs=3, batch_size=16, precision="fp16", early_stopping=False)
    result = train(_linear(bias=False), _overflowing_objective, [X], config)
    assert result.stop_reason == "max_epochs" and len(result.history) == 3
    assert all(np.isfinite(h["loss"]) for h in result.history)


def test_gradient_clipping_sees_the_unscaled_fp16_gradients():
    norms: dict[str, list[float]] = {"before": [], "after": []}

    class Norm(Callback):
        def __init__(self, key):
            self.key = key

        def on_after_backward(self, state):
            grads = torch.cat([p.grad.flatten() for p in state.module.parameters()])
            norms[self.key].append(float(grads.norm()))

    def objective(module, x):
        loss = (module(x).float() - 3 * x).square().mean()
        return LossOutput(loss, {})

    X = torch.linspace(-1, 1, 32).reshape(8, 4)
    fp32 = _linear()
    objective(fp32, X).total.backward()
    true_norm = float(torch.cat([p.grad.flatten() for p in fp32.parameters()]).norm())
    config = TrainConfig(epochs=1, batch_size=8, precision="fp16", early_stopping=False)
    callbacks = [NanGuard(), Norm("before"), GradientClipping(0.5), Norm("after")]
    train(_linear(), objective, [X], config, callbacks=callbacks)
    # Scaled, the norm would be 2**16 times larger; fp16 rounding leaves 0.1%.
    assert true_norm > 1 and norms["before"] == pytest.approx([true_norm], rel=1e-2)
    assert norms["after"] == pytest.approx([0.5], rel=1e-6)


def _scaled_run(path, resume=False, crash_at=None):
    class Crash(Callback):
        def on_epoch_end(self, state, record):
            if state.epoch == crash_at:
                raise KeyError("crash")

    stage = Checkpoint(path, {"estimator": "toy"}, 5, resume=resume).stage("fit")
    X = torch.linspace(0, 1 / 64, 256).reshape(64, 4)
    config = TrainConfig(epochs=4, batch_size=16, lr=0.01, precision="fp16")
    module = _linear(bias=False)
    with seeded(1, CPU):  # the epochs' orders; a resumed run restores the generator
        result = train(
            module, _overflowing_objective, [X], config, callbacks=[NanGuard(), Crash()],
            checkpoint=stage,
        )  # fmt: skip
    return module, result


def test_the_loss_scale_survives_a_checkpoint_resume(tmp_path):
    reference, _ = _scaled_run(tmp_path / "whole")
    with pytest.raises(KeyError):
        _scaled_run(tmp_path / "ck", crash_at=2)
    (record,) = (tmp_path / "ck").glob("fit-*.json")
    saved = json.loads(record.read_text())["scaler"]
    # Epoch 1 (saved): the first step overflowed and halved the scale, 3 steps followed.
    assert saved["scale"] == 2.0**15 and saved["_growth_tracker"] == 3
    module, result = _scaled_run(tmp_path / "ck", resume=True)
    assert len(result.history) == 4
    # A fresh scaler (2**16) would skip the first resumed step, and the weights would differ.
    assert torch.equal(module.weight, reference.weight)


def test_check_precision_refuses_what_autocast_cannot_do(monkeypatch):
    monkeypatch.setattr(precision, "_autocast_works", lambda device, dtype: dtype is torch.bfloat16)
    with pytest.raises(ValueError) as info:
        check_precision("fp16", CPU)
    assert str(info.value) == (
        f"precision='fp16' is not available on cpu with torch {torch.__version__} "
        "(no torch.float16 autocast there); use one of ['fp32', 'bf16']"
    )
    check_precision("bf16", CPU)
    check_precision("fp32", CPU)


# ---------------------------------------------------------------------- torch.compile
def _compile_fit(X, **params):
    est = aekit.Autoencoder(
        hidden=(16,), latent_dim=4, epochs=2, batch_size=60, early_stopping=False,
        random_state=0, verbose=False, **params,
    )  # fmt: skip
    return est.fit(X[:400])


def _same_weights(a, b):
    sa, sb = a.module_.state_dict(), b.module_.state_dict()
    return list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_compile_trains_the_plain_module(digits, monkeypatch, tmp_path):
    # Inductor works here but takes 10 s or more to generate C++; aot_eager runs the same
    # dynamo capture and AOT autograd forward and backward graphs in seconds.
    real = torch.compile
    compiled = []

    def compile_(module, **kwargs):
        compiled.append(module)
        return real(module, backend="aot_eager", **kwargs)

    monkeypatch.setattr(torch, "compile", compile_)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no fallback
        est = _compile_fit(digits[0], compile=True)
    plain = _compile_fit(digits[0])
    assert compiled == [est.module_]
    keys = list(est.module_.state_dict())
    assert keys == list(plain.module_.state_dict()) and not any("_orig_mod" in k for k in keys)
    for a, b in zip(est.history_, plain.history_, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)  # other kernels, same math
    est.save(tmp_path / "model")
    again = aekit.load(tmp_path / "model")
    assert again.get_params()["compile"] is True
    assert np.array_equal(again.transform(digits[0][:5]), est.transform(digits[0][:5]))


class _Broken(nn.Module):
    """Stands for a compiled module whose compiler fails at its first call."""

    def forward(self, *args):
        raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found\nmore detail")


def test_a_compiler_failure_falls_back_to_the_plain_module(digits, monkeypatch):
    monkeypatch.setattr(torch, "compile", lambda module, **kw: _Broken())
    with pytest.warns(RuntimeWarning) as caught:
        est = _compile_fit(digits[0], compile=True)
    (warning,) = [w for w in caught if "torch.compile" in str(w.message)]
    assert str(warning.message) == (
        "torch.compile could not compile the model (RuntimeError: InvalidCxxCompiler: No "
        "working C++ compiler found); training it uncompiled"
    )
    assert _same_weights(est, _compile_fit(digits[0]))  # the plain run, bit for bit


def test_torch_compile_refusing_at_once_falls_back(digits, monkeypatch):
    def refuse(module, **kw):
        raise RuntimeError("Windows not yet supported for torch.compile")

    monkeypatch.setattr(torch, "compile", refuse)
    with pytest.warns(RuntimeWarning, match="Windows not yet supported"):
        est = _compile_fit(digits[0], compile=True)
    assert _same_weights(est, _compile_fit(digits[0]))


def test_a_mistake_of_the_model_is_raised_as_itself_under_compile(monkeypatch):
    monkeypatch.setattr(torch, "compile", lambda module, **kw: _Broken())

    def objective(module, x):
        module(x)
        raise ValueError("the objective's own error")

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no fallback warning either
        with pytest.raises(ValueError, match="the objective's own error"):
            train(_linear(), objective, [torch.ones(8, 4)], TrainConfig(epochs=1, compile=True))


# --------------------------------------------------------------------- channels-last
def test_channels_last_is_for_16_bit_2d_convolutions_on_cuda():
    cuda = torch.device("cuda")
    conv = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())
    up = nn.Sequential(nn.Linear(4, 16), nn.ConvTranspose2d(1, 1, 3))
    assert use_channels_last(conv, cuda, "bf16") and use_channels_last(up, cuda, "fp16")
    assert not use_channels_last(conv, cuda, "fp32")
    assert not use_channels_last(conv, CPU, "bf16")
    assert not use_channels_last(conv, torch.device("mps"), "bf16")
    assert not use_channels_last(nn.Conv1d(1, 4, 3), cuda, "bf16")
    assert not use_channels_last(nn.Linear(4, 4), cuda, "bf16")


def test_channels_last_training_round_trip(monkeypatch, tmp_path):
    # The layout is tried on a CPU by forcing the decision: training holds the weights
    # channels-last, the module ends contiguous, and a resumed run's moments match.
    monkeypatch.setattr(precision, "use_channels_last", lambda *args: True)
    layouts = []

    class Layout(Callback):
        def on_after_backward(self, state):
            w = state.module[0].weight
            layouts.append(w.is_contiguous(memory_format=torch.channels_last))

    def objective(module, x):
        assert x.is_contiguous(memory_format=torch.channels_last)
        loss = module(x).float().square().mean()
        return LossOutput(loss, {})

    class Crash(Callback):
        def on_epoch_end(self, state, record):
            if state.epoch == 2:
                raise KeyError("crash")  # before the epoch's checkpoint: epoch 1 is saved

    def run(path, resume=False, crash=False):
        stage = Checkpoint(path, {"estimator": "toy"}, 1, resume=resume).stage("fit")
        X = torch.linspace(-1, 1, 16 * 2 * 8 * 8).reshape(16, 2, 8, 8)
        config = TrainConfig(epochs=3, batch_size=8, precision="bf16", early_stopping=False)
        callbacks = [Layout(), *([Crash()] if crash else [])]
        with seeded(0, CPU):
            module = nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 3))
            train(module, objective, [X], config, callbacks=callbacks, checkpoint=stage)
        return module

    whole = run(tmp_path / "whole")
    assert len(layouts) == 6 and all(layouts)
    assert all(p.is_contiguous() for p in whole.parameters())
    with pytest.raises(KeyError):
        run(tmp_path / "ck", crash=True)
    resumed = run(tmp_path / "ck", resume=True)
    for a, b in zip(resumed.parameters(), whole.parameters(), strict=True):
        assert torch.equal(a, b)


def test_optimizer_moments_get_the_layout_of_their_parameter():
    # Fused Adam pairs elements by memory position: contiguous moments of channels-last
    # weights (as a checkpoint restores them) updated the wrong elements.
    def model():
        with seeded(0, CPU):
            return nn.Conv2d(3, 4, 3).to(memory_format=torch.channels_last)

    x = torch.linspace(-1, 1, 2 * 3 * 8 * 8).reshape(2, 3, 8, 8)
    runs = []
    for fix in (False, True):
        conv = model()
        optimizer = torch.optim.Adam(conv.parameters(), lr=0.1, fused=True)
        for step in range(3):
            optimizer.zero_grad()
            conv(x).square().sum().backward()
            optimizer.step()
            if step == 0:
                state = optimizer.state_dict()
                for values in state["state"].values():
                    for key in ("exp_avg", "exp_avg_sq"):
                        values[key] = values[key].contiguous()
                optimizer.load_state_dict(state)
                if fix:
                    precision._match_layouts(optimizer)
        runs.append(conv.weight.detach().clone())
    reference = model()
    optimizer = torch.optim.Adam(reference.parameters(), lr=0.1, fused=True)
    for _ in range(3):
        optimizer.zero_grad()
        reference(x).square().sum().backward()
        optimizer.step()
    assert torch.equal(runs[1], reference.weight)
    assert not torch.equal(runs[0], reference.weight)


# ------------------------------------------------------------- estimators and CLI
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_every_estimator_takes_and_checks_precision_and_compile(cls, digits):
    params = cls().get_params()
    assert params["precision"] == "fp32" and params["compile"] is False
    est = cls(precision="bf16", compile=True)
    config = est._train_config(100)
    assert (config.precision, config.compile) == ("bf16", True)
    X, y = digits
    with pytest.raises(ValueError) as info:
        cls(precision="fp8").fit(X[:50], y[:50])
    assert str(info.value) == "precision='fp8' is not valid; choose one of ['fp32', 'bf16', 'fp16']"
    with pytest.raises(ValueError, match=r"^compile must be True or False, got 'yes'$"):
        cls(compile="yes").fit(X[:50], y[:50])


def test_train_config_refuses_unknown_settings():
    with pytest.raises(ValueError, match=r"^precision='half' is not valid"):
        train(_linear(), _overflowing_objective, [torch.ones(4, 4)], TrainConfig(precision="half"))
    with pytest.raises(ValueError, match=r"^compile must be True or False, got 1$"):
        train(_linear(), _overflowing_objective, [torch.ones(4, 4)], TrainConfig(compile=1))


def _parse(argv):
    import argparse

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    return parser.parse_args(argv)


def test_cli_flags_reach_the_estimator(tmp_path, capsys):
    args = _parse(["train", "digits", "--out", "m", "--precision", "bf16", "--compile"])
    params = estimator_params(args)
    assert (params["precision"], params["compile"]) == ("bf16", True)
    assert "compile" not in estimator_params(_parse(["train", "digits", "--out", "m"]))
    out = tmp_path / "model"
    argv = ["train", "digits", "--out", str(out), "--precision", "bf16", "--epochs", "1"]
    assert main([*argv, "--quiet", "--hidden", "8"]) == 0
    assert aekit.load(out).get_params()["precision"] == "bf16"
    capsys.readouterr()
    assert main(["train", "digits", "--out", str(tmp_path / "m2"), "--precision", "fp8"]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "aekit train: error: precision='fp8' is not valid; choose one of ['fp32', 'bf16', 'fp16']"
    ]
