"""Checkpoints of the training engine: a stopped run resumes to the same bits."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import aekit
import aekit.training.engine as engine
from aekit.cli import main
from aekit.losses import LossOutput
from aekit.training import (
    Callback,
    Checkpoint,
    TrainConfig,
    seeded,
    train,
)

PLAN = {"estimator": "toy", "params": {"lr": 0.01}}


def _data():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(300, 6, generator=g)
    y = X @ torch.randn(6, 1, generator=g)
    return X, y


def _objective(module, x, y):
    # Noise and dropout draw from torch's generator: a resumed run must restore it.
    noisy = x + 0.1 * torch.randn_like(x)
    loss = (module(noisy) - y).square().mean()
    return LossOutput(loss, {"mse": loss.detach()})


def _module():
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 1))


class _Crash(Exception):
    pass


class _CrashAt(Callback):
    """Stands for a kill: raises at the end of an epoch, before its checkpoint is written."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, state, record):
        if state.epoch == self.epoch:
            raise _Crash


class _InterruptAtBatch(Callback):
    """Sends the process a real SIGINT (Ctrl-C) after the given number of batches in all."""

    def __init__(self, batch):
        self.batch, self.seen = batch, 0

    def on_after_backward(self, state):
        self.seen += 1
        if self.seen == self.batch:
            os.kill(os.getpid(), signal.SIGINT)


def _run(config, path=None, resume=False, extra=(), seed=5):
    from aekit.training import default_callbacks

    X, y = _data()
    stage = None
    if path is not None:
        stage = Checkpoint(path, PLAN, seed, resume=resume).stage("fit")
    with seeded(seed, torch.device("cpu")):
        module = _module()
        result = train(
            module,
            _objective,
            [X[:240], y[:240]],
            config,
            val_data=[X[240:], y[240:]],
            callbacks=[*default_callbacks(config), *extra],
            checkpoint=stage,
        )
    return module, result


def _weights(module):
    return [p.detach().clone() for p in module.state_dict().values()]


def _same(a, b):
    return all(torch.equal(p, q) for p, q in zip(a, b, strict=True))


CONFIG = TrainConfig(epochs=12, batch_size=32, lr=0.01, patience=3, lr_schedule="cosine")


def test_a_crash_between_epochs_resumes_to_the_same_bits(tmp_path):
    reference, ref_result = _run(CONFIG)
    with pytest.raises(_Crash):
        _run(CONFIG, tmp_path / "ck", extra=[_CrashAt(5)])
    module, result = _run(CONFIG, tmp_path / "ck", resume=True, extra=[_CrashAt(-1)])
    assert _same(_weights(module), _weights(reference))
    assert result.best_epoch == ref_result.best_epoch
    assert result.stop_reason == ref_result.stop_reason
    strip = [{k: v for k, v in r.items() if k != "time"} for r in result.history]
    assert strip == [{k: v for k, v in r.items() if k != "time"} for r in ref_result.history]
    assert "lr" in result.history[-1]  # the cosine schedule ran, and resumed with its state


def test_ctrl_c_mid_epoch_saves_a_resumable_state(tmp_path, ctrl_c_raises):
    config = TrainConfig(epochs=6, batch_size=32, lr=0.01, early_stopping=False)
    reference, _ = _run(config)
    # 8 batches an epoch: the interruption lands in the middle of epoch 3.
    with pytest.warns(RuntimeWarning, match="interrupted"):
        _, stopped = _run(config, tmp_path / "ck", extra=[_InterruptAtBatch(20)])
    assert stopped.stop_reason == "interrupted" and len(stopped.history) == 2
    record = json.loads(next((tmp_path / "ck").glob("fit-*.json")).read_text())
    assert record["position"]["next_batch"] == 4
    module, result = _run(config, tmp_path / "ck", resume=True)
    assert result.stop_reason == "max_epochs" and len(result.history) == 6
    assert _same(_weights(module), _weights(reference))


def test_a_finished_stage_is_not_trained_again(tmp_path):
    first, _ = _run(CONFIG, tmp_path / "ck")
    records = sorted(p.name for p in (tmp_path / "ck").iterdir())
    assert len(records) == 3 and records[-1] == "plan.json"  # one pair and the plan
    calls = {"n": 0}

    class Count(Callback):
        def on_epoch_end(self, state, record):
            calls["n"] += 1

    again, result = _run(CONFIG, tmp_path / "ck", resume=True, extra=[Count()])
    assert calls["n"] == 0
    assert _same(_weights(again), _weights(first))
    assert len(result.history) == len(first and result.history)


def test_a_checkpoint_is_refused_for_another_run(tmp_path):
    _run(CONFIG, tmp_path / "ck")
    with pytest.raises(ValueError, match="holds a checkpoint of an earlier run"):
        Checkpoint(tmp_path / "ck", PLAN, 1)
    other = {"estimator": "toy", "params": {"lr": 0.1}}
    with pytest.raises(ValueError, match=r"another run: params.lr: 0.01 there, 0.1 now"):
        Checkpoint(tmp_path / "ck", other, 1, resume=True)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not an aekit checkpoint"):
        Checkpoint(tmp_path / "mine", PLAN, 1)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="checkpoint_every must be a positive integer"):
        Checkpoint(tmp_path / "new", PLAN, 1, every=0)


def test_resume_without_a_checkpoint_starts_fresh_with_the_given_seed(tmp_path):
    ck = Checkpoint(tmp_path / "ck", PLAN, 42, resume=True)
    assert ck.seed == 42 and not ck.resumed
    again = Checkpoint(tmp_path / "ck", PLAN, 7, resume=True)
    assert again.seed == 42  # the plan's seed, not the new draw


def test_a_damaged_checkpoint_is_refused(tmp_path):
    with pytest.raises(_Crash):
        _run(CONFIG, tmp_path / "ck", extra=[_CrashAt(3)])
    tensors = next((tmp_path / "ck").glob("fit-*.safetensors"))
    data = bytearray(tensors.read_bytes())
    data[-1] ^= 0xFF
    tensors.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"does not match .* \(damaged\)"):
        _run(CONFIG, tmp_path / "ck", resume=True)


def test_a_newer_checkpoint_version_is_refused(tmp_path):
    Checkpoint(tmp_path / "ck", PLAN, 1)
    plan = json.loads((tmp_path / "ck" / "plan.json").read_text())
    plan["version"] = 99
    (tmp_path / "ck" / "plan.json").write_text(json.dumps(plan))
    with pytest.raises(ValueError, match="newer aekit"):
        Checkpoint(tmp_path / "ck", PLAN, 1, resume=True)


def test_a_plan_with_a_boolean_seed_or_version_is_refused(tmp_path):
    # JSON's true is not the integer 1: a plan holding it was not written by aekit.
    for key, message in (("seed", "is damaged: no plan or seed"), ("version", "newer aekit")):
        Checkpoint(tmp_path / key, PLAN, 1)
        plan = json.loads((tmp_path / key / "plan.json").read_text())
        plan[key] = True
        (tmp_path / key / "plan.json").write_text(json.dumps(plan))
        with pytest.raises(ValueError, match=message):
            Checkpoint(tmp_path / key, PLAN, 1, resume=True)


def test_checkpoint_every_takes_numpy_integers(tmp_path):
    assert Checkpoint(tmp_path / "ck", PLAN, 1, every=np.int64(2)).every == 2
    with pytest.raises(ValueError, match="checkpoint_every must be a positive integer, got True"):
        Checkpoint(tmp_path / "new", PLAN, 1, every=True)


def test_gradient_clipping_bounds_the_step():
    config = TrainConfig(epochs=1, batch_size=300, lr=1.0, optimizer="sgd", clip_grad_norm=1e-3)
    X, y = _data()
    module = nn.Linear(6, 1)
    before = torch.cat([p.detach().flatten() for p in module.parameters()])
    train(module, _objective, [X, 100 * y], config)
    after = torch.cat([p.detach().flatten() for p in module.parameters()])
    # SGD with lr 1 moves the weights by the clipped gradient: a norm of at most 1e-3.
    assert 0 < float((after - before).norm()) <= 1e-3 * (1 + 1e-5)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("lr_schedule", "warp", "unknown lr_schedule"), ("clip_grad_norm", 0, "clip_grad_norm")],
)
def test_bad_callback_settings(field, value, message):
    X, y = _data()
    with pytest.raises(ValueError, match=message):
        train(nn.Linear(6, 1), _objective, [X, y], TrainConfig(**{field: value}))


# ------------------------------------------------------------------- the estimators

ESTIMATORS = {
    "denoising dropout autoencoder": lambda: aekit.Autoencoder(
        latent_dim=4, noise="gaussian", dropout=0.1, epochs=6, random_state=0, verbose=False
    ),
    "conv VAE": lambda: aekit.VAE(
        architecture="conv", latent_dim=2, epochs=5, random_state=0, verbose=False
    ),
    "detector": lambda: aekit.AnomalyDetector(
        n_estimators=2, epochs=6, random_state=0, verbose=False
    ),
}


@pytest.fixture(scope="module")
def digits():
    return aekit.datasets.load_digits()[0][:200]


def _crash_in_epoch(monkeypatch, epoch):
    """Make the next fit crash at the end of its `epoch`-th epoch in all (counted over every
    training stage of the fit), before that epoch's checkpoint is written."""
    seen = {"n": 0}

    class Crash(Callback):
        def on_epoch_end(self, state, record):
            seen["n"] += 1
            if seen["n"] == epoch:
                raise _Crash

    real = engine.default_callbacks
    monkeypatch.setattr(engine, "default_callbacks", lambda config: [*real(config), Crash()])


def _untimed(history):
    return [{k: v for k, v in record.items() if k != "time"} for record in history]


def _state(estimator):
    return [t.detach().clone() for t in estimator.module_.state_dict().values()]


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_every_estimator_resumes_a_crashed_fit_to_the_same_bits(
    name, digits, tmp_path, monkeypatch
):
    reference = ESTIMATORS[name]().fit(digits)
    with monkeypatch.context() as patch:
        _crash_in_epoch(patch, 3)
        with pytest.raises(_Crash):
            ESTIMATORS[name]().fit(digits, checkpoint=tmp_path / "ck")
    resumed = ESTIMATORS[name]().fit(digits, checkpoint=tmp_path / "ck", resume=True)
    assert _same(_state(resumed), _state(reference))
    np.testing.assert_array_equal(resumed.transform(digits), reference.transform(digits))
    assert len(resumed.history_) == len(reference.history_)


def test_the_classifier_resumes_in_any_stage(digits, tmp_path, monkeypatch):
    X = digits.reshape(len(digits), -1)
    y = aekit.datasets.load_digits()[1][:200]

    def make():
        return aekit.AutoencoderClassifier(
            hidden=(16, 8), pretrain_epochs=2, epochs=3, random_state=0, verbose=False
        )

    reference = make().fit(X, y)
    # Epochs 1-2 pretrain layer 1, 3-4 layer 2, 5-7 fine-tune: crash in each stage.
    for crash, folder in ((2, "a"), (4, "b"), (6, "c")):
        with monkeypatch.context() as patch:
            _crash_in_epoch(patch, crash)
            with pytest.raises(_Crash):
                make().fit(X, y, checkpoint=tmp_path / folder)
        resumed = make().fit(X, y, checkpoint=tmp_path / folder, resume=True)
        assert _same(_state(resumed), _state(reference)), crash
        assert resumed.pretrain_history_ == reference.pretrain_history_ or all(
            {k: v for k, v in a.items() if k != "time"}
            == {k: v for k, v in b.items() if k != "time"}
            for a, b in zip(resumed.pretrain_history_, reference.pretrain_history_, strict=True)
        )


def test_resuming_with_other_data_or_parameters_is_refused(digits, tmp_path):
    make = ESTIMATORS["denoising dropout autoencoder"]
    make().fit(digits, checkpoint=tmp_path / "ck")
    with pytest.raises(ValueError, match=r"another run: data.sha256"):
        make().fit(digits[:150], checkpoint=tmp_path / "ck", resume=True)
    with pytest.raises(ValueError, match=r"another run: params.latent_dim: 4 there, 5 now"):
        make().set_params(latent_dim=5).fit(digits, checkpoint=tmp_path / "ck", resume=True)
    with pytest.raises(ValueError, match="resume=True needs checkpoint=DIR"):
        make().fit(digits, resume=True)


def test_a_checkpoint_older_than_a_parameter_resumes_while_it_has_its_default(
    digits, tmp_path, monkeypatch
):
    make = ESTIMATORS["denoising dropout autoencoder"]
    reference = make().fit(digits)
    with monkeypatch.context() as patch:
        _crash_in_epoch(patch, 2)
        with pytest.raises(_Crash):
            make().fit(digits, checkpoint=tmp_path / "ck")
    # As an aekit written before `precision` and `max_memory` existed saved it.
    plan_file = tmp_path / "ck" / "plan.json"
    saved = json.loads(plan_file.read_text())
    del saved["plan"]["params"]["precision"], saved["plan"]["params"]["max_memory"]
    plan_file.write_text(json.dumps(saved))
    resumed = make().fit(digits, checkpoint=tmp_path / "ck", resume=True)
    assert _same(_state(resumed), _state(reference))
    with pytest.raises(ValueError, match=r"params.precision: 'fp32' there, 'bf16' now"):
        make().set_params(precision="bf16").fit(digits, checkpoint=tmp_path / "ck", resume=True)


def test_random_state_none_resumes_with_the_seed_it_drew(digits, tmp_path, monkeypatch):
    def make():
        return aekit.Autoencoder(latent_dim=3, epochs=4, random_state=None, verbose=False)

    with monkeypatch.context() as patch:
        _crash_in_epoch(patch, 2)
        with pytest.raises(_Crash):
            make().fit(digits, checkpoint=tmp_path / "ck")
    seed = json.loads((tmp_path / "ck" / "plan.json").read_text())["seed"]
    resumed = make().fit(digits, checkpoint=tmp_path / "ck", resume=True)
    reference = make().set_params(random_state=np.random.RandomState(0))
    # The same run as the one the seed came from: a fit whose first draw is that seed.
    reference._draw_seed = lambda: seed  # type: ignore[method-assign]
    reference.fit(digits)
    assert _same(_state(resumed), _state(reference))


def test_the_command_line_checkpoints_and_resumes(tmp_path, capsys):
    ck, out = tmp_path / "ck", tmp_path / "model"
    base = ["train", "digits", "--epochs", "3", "--seed", "0", "--quiet"]
    assert main([*base, "--out", str(out), "--checkpoint", str(ck)]) == 0
    first = aekit.load(out)
    assert main([*base, "--out", str(out), "--resume", str(ck)]) == 0  # finished: nothing to do
    again = aekit.load(out)
    assert _same(_state(first), _state(again))
    capsys.readouterr()
    assert main([*base, "--out", str(out), "--checkpoint", str(ck)]) == 1
    assert "holds a checkpoint of an earlier run" in capsys.readouterr().err
    assert main([*base, "--out", str(out), "--checkpoint", "a", "--resume", "b"]) == 1
    assert "not both" in capsys.readouterr().err
    assert main([*base, "--out", str(out), "--checkpoint", str(ck), "--checkpoint-every", "0"]) == 1
    assert "--checkpoint-every must be a positive integer" in capsys.readouterr().err
    for folder in (out, out / "ck", tmp_path):  # the model folder, inside it, around it
        assert main([*base, "--out", str(out), "--checkpoint", str(folder)]) == 1
        assert "must be apart" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main([*base, "--out", str(out), "--checkpoint", str(tmp_path / "file")]) == 1
    assert "exists and is not a folder" in capsys.readouterr().err


def test_sigkill_at_random_moments_then_resume_gives_the_same_bits():
    # The full check (20 kills on MNIST) is benchmarks/kill_resume.py; two here, on digits.
    script = Path(__file__).parents[1] / "benchmarks" / "kill_resume.py"
    done = subprocess.run(
        [sys.executable, str(script), "--data", "digits", "--kills", "2", "--epochs", "6"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2/2 resumed runs bit-identical" in done.stdout


def test_the_estimators_take_a_schedule_and_clipping(digits):
    ae = aekit.Autoencoder(
        latent_dim=3, epochs=4, lr_schedule="cosine", clip_grad_norm=1.0, verbose=False
    ).fit(digits)
    lrs = [record["lr"] for record in ae.history_]
    # Cosine annealing from 1e-3 to 0 over 4 epochs: cos(pi * t / 4) steps.
    expected = [5e-4 * (1 + np.cos(np.pi * t / 4)) for t in range(1, 5)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-6, atol=1e-12)  # float lr arithmetic
    with pytest.raises(ValueError, match="lr_schedule='step' is not valid"):
        aekit.VAE(lr_schedule="step").fit(digits)
    with pytest.raises(ValueError, match="clip_grad_norm must be a positive number"):
        aekit.AnomalyDetector(clip_grad_norm=-1.0).fit(digits.reshape(200, -1))


def test_a_killed_writers_temporary_files_are_removed_on_resume(tmp_path):
    Checkpoint(tmp_path / "ck", PLAN, 1)
    # What a kill during an atomic write leaves: aekit's marker, a process that is gone.
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    from aekit.io.atomic import _host

    leftover = (
        tmp_path / "ck" / f".fit-000003.json.aekit-new-{_host()}-{dead.stdout.strip()}-ab12.tmp"
    )
    leftover.write_text("{")
    mine = tmp_path / "ck" / ".notes.tmp"
    mine.write_text("not aekit's")
    Checkpoint(tmp_path / "ck", PLAN, 1, resume=True)
    assert not leftover.exists() and mine.exists()


def test_numpy_settings_checkpoint_as_python_numbers_do(digits, tmp_path):
    ae = aekit.Autoencoder(
        latent_dim=np.int64(3), lr=np.float32(2**-10), epochs=2, random_state=0, verbose=False
    )  # 2**-10: the same number in float32 and float64
    ae.fit(digits, checkpoint=tmp_path / "ck")
    same = aekit.Autoencoder(latent_dim=3, lr=2**-10, epochs=2, random_state=0, verbose=False)
    assert _same(_state(ae), _state(same.fit(digits)))
