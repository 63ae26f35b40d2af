"""Training in many processes (DDP under torchrun), on the CPU with gloo.

The in-process tests check the pieces (shares, weights, the probe of unused parameters, the
single process paying nothing); the torchrun tests run two real processes: a fit equal to the
one-process fit, a kill and a resume, and the command line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
from safetensors.numpy import load_file
from torch import nn

from aekit import Autoencoder
from aekit.datasets import load_digits
from aekit.losses import LossOutput
from aekit.training import TensorSource, evaluate
from aekit.training.distributed import (
    EvalShard,
    TrainShard,
    _has_unused_parameters,
    launched_rank,
    world,
)

# One fit's settings, shared by the processes and the reference: 1617 training rows in
# batches of 101 (16 of them, then one row), so ranks get unequal shares (50 and 51) and
# rank 1's share of the last batch is empty.
PARAMS = {
    "latent_dim": 8,
    "epochs": 6,
    "batch_size": 101,
    "random_state": 0,
    "verbose": False,
}
KILL_AFTER = 3  # the epoch after which the interrupted run is killed

# The figure: the weights of two processes against one. The sums of the gradients
# and losses are taken in another order (a batch's mean is the mean of two shares' means,
# averaged by DDP), so the bits differ; 1e-6 is about ten float32 roundings of weights of
# order 1, and these 6 epochs measured 1.0e-7.
TOLERANCE = 1e-6

needs_gloo = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()),
    reason="this torch build has no torch.distributed with gloo",
)

SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys
    import numpy as np
    import torch
    import torch.distributed as dist
    from aekit import Autoencoder
    from aekit.datasets import load_digits
    from aekit.training import checkpoint

    out, params, kill_after = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
    X, _ = load_digits()
    rank = int(os.environ["RANK"])

    ae = Autoencoder(**params).fit(X)
    report = {
        "history": ae.history_,
        "best_epoch": ae.best_epoch_,
        "world": dist.get_world_size(),
        "module": type(ae.module_).__name__,
    }
    # The wrapper is gone: a backward pass on one rank alone waits for no other.
    ae.module_.train()
    ae.module_(torch.from_numpy(X[:4].reshape(4, -1))).x_hat.sum().backward()
    # A mistake seen by rank 0 alone (the checkpoint folder) is every rank's error.
    foreign = os.path.join(out, "foreign")
    os.makedirs(foreign, exist_ok=True)
    if rank == 0:
        open(os.path.join(foreign, "notes.txt"), "w").close()
    dist.barrier()
    try:
        Autoencoder(**params).fit(X, checkpoint=foreign)
    except ValueError as exc:
        report["error"] = str(exc)
    try:  # each rank given other data: refused on every rank alike
        Autoencoder(**params).fit(X[: 400 + rank])
    except ValueError as exc:
        report["sizes"] = str(exc)
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump(report, f)
    ae.save(os.path.join(out, "model"))
    if rank == 0:
        weights = {k: v.numpy() for k, v in ae.module_.state_dict().items()}
        np.savez(os.path.join(out, "fit.npz"), **weights)

    # The same fit again, checkpointed, and killed (both ranks, SIGKILL) after an epoch.
    original = checkpoint.StageCheckpoint.save_every

    def save_then_die(self, state, callbacks):
        original(self, state, callbacks)
        if state.epoch == kill_after:
            dist.barrier()  # rank 0 has written the epoch's checkpoint
            os.kill(os.getpid(), signal.SIGKILL)

    checkpoint.StageCheckpoint.save_every = save_then_die
    Autoencoder(**params).fit(X, checkpoint=os.path.join(out, "ckpt"))
    """
)


def _torchrun(args: list[str], tmp_path: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    """``python -m torch.distributed.run --standalone --nproc_per_node 2 ARGS``, one thread a
    process (the machine may have two cores), each rank's output in tmp_path/logs."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "--log-dir",
        str(tmp_path / "logs"),
        "--redirects",
        "3",
        *args,
    ]
    return subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout
    )


def _rank_logs(tmp_path: Path, rank: int) -> tuple[str, str]:
    """The last run's (stdout, stderr) of ``rank``."""
    runs = sorted((tmp_path / "logs").iterdir(), key=lambda p: p.stat().st_mtime)
    folder = runs[-1] / "attempt_0" / str(rank)
    return (folder / "stdout.log").read_text(), (folder / "stderr.log").read_text()


def _max_difference(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    assert sorted(a) == sorted(b)
    return max(float(np.abs(a[k] - b[k]).max()) for k in a)


# ------------------------------------------------------------------ in one process
def test_a_single_process_starts_no_process_group_and_rank_0_alone_saves(monkeypatch, tmp_path):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert world() is None and launched_rank() == 0
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert world() is None
    X, _ = load_digits()
    ae = Autoencoder(latent_dim=2, epochs=1, random_state=0, verbose=False).fit(X[:100])
    assert not (dist.is_available() and dist.is_initialized())
    # As torchrun's rank 1 sees it: the path, and nothing written.
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert ae.save(tmp_path / "model") == (tmp_path / "model").resolve()
    assert not (tmp_path / "model").exists()
    monkeypatch.setenv("RANK", "0")
    assert (ae.save(tmp_path / "model") / "model.safetensors").is_file()


@needs_gloo
def test_a_world_without_torchrun_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    for name in ("RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match=r"^WORLD_SIZE=2 asks for 2 processes, .*torchrun") as e:
        world()
    assert "\n" not in str(e.value)
    assert not dist.is_initialized()


@pytest.mark.parametrize(("n", "batch_size", "size"), [(23, 7, 3), (1617, 101, 2), (10, 4, 4)])
def test_weighted_shares_give_the_gradient_of_the_whole_batch(n, batch_size, size):
    torch.manual_seed(0)
    X = torch.randn(n, 5)
    source = TensorSource([X])
    order = torch.randperm(n)
    net = nn.Linear(5, 5)

    def gradient(x, weight=1.0):
        net.zero_grad()
        ((net(x) - x).square().mean() * weight).backward()
        return net.weight.grad.clone()

    shares = [list(TrainShard(source, r, size).batches(order, batch_size)) for r in range(size)]
    assert {len(s) for s in shares} == {-(-n // batch_size)}  # every rank takes every step
    for j, first in enumerate(range(0, n, batch_size)):
        rows = order[first : first + batch_size]
        weights = [float(s[j][1]) for s in shares]
        # The real rows of the shares are the batch's, each once, in order.
        real = [s[j][0] for s, w in zip(shares, weights, strict=True) if w > 0]
        assert torch.equal(torch.cat(real), X[rows])
        # DDP averages the ranks' gradients of the weighted losses.
        averaged = sum(gradient(s[j][0], w) for s, w in zip(shares, weights, strict=True)) / size
        # float32 sums in another order: a few roundings of gradients of order 1.
        torch.testing.assert_close(averaged, gradient(X[rows]), rtol=0, atol=1e-6)


def test_an_empty_share_is_a_weight_zero_row():
    source = TensorSource([torch.arange(10.0)[:, None]])
    batches = list(TrainShard(source, 1, 2).batches(torch.arange(10), 4))
    assert [(b[0].flatten().tolist(), float(b[1])) for b in batches] == [
        ([2.0, 3.0], 1.0),
        ([6.0, 7.0], 1.0),
        ([6.0], 0.0),  # the last batch is row 8 alone, rank 0's
    ]


def test_a_batch_smaller_than_the_processes_is_refused():
    shard = TrainShard(TensorSource([torch.zeros(10, 2)]), 0, 4)
    with pytest.raises(ValueError, match=r"batch_size \(2\) must be at least the number of"):
        next(iter(shard.batches(torch.arange(10), 2)))


@pytest.mark.parametrize("n", [9, 2])  # shared out, and fewer rows than ranks (evaluated whole)
def test_validation_parts_add_up_to_the_mean(n):
    torch.manual_seed(0)
    source = TensorSource([torch.randn(n, 4)])
    net = nn.Linear(4, 4)

    def mse(module, x):
        loss = (module(x) - x).square().mean()
        return LossOutput(loss, {"mse": loss.detach()})

    whole = evaluate(net, mse, source, 2)
    parts = [EvalShard(source, r, 3) for r in range(3)]
    summed = sum(evaluate(net, mse, p, 2)["loss"] * p.factor for p in parts)
    assert summed == pytest.approx(whole["loss"], rel=1e-6)  # float32 partial sums


def test_the_probe_finds_unused_parameters_and_leaves_no_trace():
    class WithSpare(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5))
            self.spare = nn.Parameter(torch.zeros(3))  # like a VAE's log_scale under Bernoulli

        def forward(self, x):
            return self.net(x)

    def noisy(module, x):
        loss = (module(x + torch.randn_like(x)) - x).square().mean()
        return LossOutput(loss, {})

    source = TensorSource([torch.randn(8, 3)])
    module = WithSpare()
    before = torch.get_rng_state()
    assert _has_unused_parameters(module, noisy, source)
    assert not _has_unused_parameters(module.net, noisy, source)
    assert torch.equal(torch.get_rng_state(), before)
    assert module.training  # put back in training mode


# ------------------------------------------------------------------ two processes
@pytest.fixture(scope="module")
def reference() -> tuple[dict[str, np.ndarray], list[dict]]:
    """The one-process fit: weights and history."""
    X, _ = load_digits()
    ae = Autoencoder(**PARAMS).fit(X)
    return {k: v.numpy() for k, v in ae.module_.state_dict().items()}, ae.history_


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One torchrun launch of SCRIPT: a fit, then the same fit checkpointed and killed after
    epoch KILL_AFTER. (Each launch starts two Pythons that import torch: one launch for both.)"""
    tmp_path = tmp_path_factory.mktemp("ddp")
    script = tmp_path / "fit.py"
    script.write_text(SCRIPT)
    out = tmp_path / "out"
    out.mkdir()
    done = _torchrun([str(script), str(out), json.dumps(PARAMS), str(KILL_AFTER)], tmp_path)
    assert done.returncode != 0  # killed
    assert (out / "fit.npz").is_file(), done.stderr[-3000:]
    return out


@needs_gloo
def test_two_processes_train_the_one_process_model(two_processes, reference):
    out = two_processes
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["world"] == 2 and ranks[0]["module"] == "DenseAutoencoder"
    # Every rank holds the same history (losses summed across ranks), so the same decisions.
    for rank in ranks:
        assert all(record.pop("time") > 0 for record in rank["history"])
    assert ranks[0]["history"] == ranks[1]["history"]
    assert ranks[0]["best_epoch"] == ranks[1]["best_epoch"]
    weights, history = reference
    assert len(ranks[0]["history"]) == len(history) == PARAMS["epochs"]
    for two, one in zip(ranks[0]["history"], history, strict=True):
        for key in ("loss", "val_loss"):
            assert two[key] == pytest.approx(one[key], rel=1e-5)  # float32 sums of 17 batches
    assert _max_difference(dict(np.load(out / "fit.npz")), weights) <= TOLERANCE
    # Rank 0's error, the same on rank 1; the model written once, by rank 0.
    assert ranks[0]["error"] == ranks[1]["error"]
    assert ranks[0]["error"].endswith(
        "is not an aekit checkpoint (it has no plan.json); give an empty or a new folder"
    )
    assert (
        ranks[0]["sizes"]
        == ranks[1]["sizes"]
        == (
            "the processes were given different data: from [360, 40] to [361, 40] samples "
            "(training, validation); every process of a torchrun job must fit on the same data"
        )
    )
    assert sorted(p.name for p in (out / "model").iterdir()) == [
        "config.json",
        "history.json",
        "model.safetensors",
    ]


@needs_gloo
def test_torchrun_cli_resumes_the_killed_run_and_rank_1_is_silent(two_processes, tmp_path):
    ckpt, model = two_processes / "ckpt", tmp_path / "model"
    records = sorted(ckpt.glob("fit-*.json"))
    assert [json.loads(r.read_text())["epoch"] for r in records] == [KILL_AFTER]
    flags = ["--latent-dim", "8", "--epochs", "6", "--batch-size", "101", "--seed", "0"]
    args = ["-m", "aekit", "train", "digits", "--out", str(model), "--resume", str(ckpt)]
    done = _torchrun([*args, *flags], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    out0, err0 = _rank_logs(tmp_path, 0)
    assert out0.startswith("trained 6 epochs in ") and out0.endswith(f"saved {model}\n")
    assert " s on cpu, 2 processes; kept epoch 6 (loss " in out0
    assert err0 == "aekit train: digits: values used as they are (no scaling)\n"
    assert _rank_logs(tmp_path, 1) == ("", "")
    # The resumed model is the uninterrupted one (measured: the same bits).
    saved = load_file(model / "model.safetensors")
    resumed = {k[len("module.") :]: v for k, v in saved.items() if k.startswith("module.")}
    assert _max_difference(resumed, dict(np.load(two_processes / "fit.npz"))) <= TOLERANCE
    # The checkpoint now holds the finished stage, written by rank 0 alone.
    assert [json.loads(r.read_text())["kind"] for r in ckpt.glob("fit-*.json")] == ["done"]


@needs_gloo
def test_torchrun_trains_the_one_process_autorec(tmp_path):
    # AutoRec's batches come from its own rating rows (densified from CSR), and it trains a
    # second network on all ratings after the first: both stages shared out by DDP still give
    # the one-process model (measured: 2.4e-8 on 2,000 MovieLens ratings).
    from aekit.cli import main

    rng = np.random.default_rng(0)
    users, items = np.nonzero(rng.random((40, 30)) < 0.4)
    ratings = tmp_path / "ratings.csv"
    ratings.write_text(
        "userId,movieId,rating\n"
        + "".join(f"{u},{i},{rng.integers(1, 6)}\n" for u, i in zip(users, items, strict=True))
    )
    flags = ["--model", "autorec", "--hidden", "16", "--epochs", "4", "--seed", "0"]
    flags += ["--device", "cpu", "--quiet"]
    assert main(["train", str(ratings), "--out", str(tmp_path / "one"), *flags]) == 0
    done = _torchrun(
        ["-m", "aekit", "train", str(ratings), "--out", str(tmp_path / "two"), *flags], tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    one = load_file(tmp_path / "one" / "model.safetensors")
    two = load_file(tmp_path / "two" / "model.safetensors")
    assert sorted(one) == sorted(two)
    floats = [k for k in one if one[k].dtype.kind == "f"]
    assert "module.encoder.0.weight" in floats
    assert _max_difference({k: one[k] for k in floats}, {k: two[k] for k in floats}) <= TOLERANCE
    assert all(np.array_equal(one[k], two[k]) for k in one if k not in floats)  # the ids
