"""The one training loop behind every estimator: an epoch runner and its callbacks.

Batches come from a batch source (:mod:`aekit.training.sources`): in memory, each epoch draws
one permutation and gathers each mini-batch by indexing, so there is no per-sample
Dataset/DataLoader path. Loss terms are summed on the device and read back once per epoch,
never per batch. Everything else (NaN guard, early stopping, learning-rate schedule, gradient
clipping, progress) is a callback (:mod:`aekit.training.callbacks`), and a checkpoint
(:mod:`aekit.training.checkpoint`) saves and restores the whole state between batches. Each
step (forward, backward, optimiser step) runs through a
:class:`~aekit.training.precision.StepRunner`: float32 as written, or in 16-bit autocast,
compiled, in channels-last layout, as the config asks.
"""

from __future__ import annotations

import math
import signal
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import torch
from torch import nn

from aekit._validation import Boolean, Integer, Options, Real, check_value, is_number
from aekit.losses import LossOutput
from aekit.training.callbacks import SCHEDULES, Callback, default_callbacks
from aekit.training.distributed import world
from aekit.training.precision import PRECISIONS, StepRunner
from aekit.training.sources import BatchSource, as_source

if TYPE_CHECKING:
    from aekit.training.checkpoint import StageCheckpoint

# The objective maps (module, *batch tensors) to the loss and its breakdown.
Objective = Callable[..., LossOutput]


def _adam(params: Any, lr: float) -> torch.optim.Optimizer:
    # The fused kernel (CPU and CUDA since torch 2.4) updates each tensor in one pass; it
    # matters for small networks, whose steps are dominated by per-tensor overheads.
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr)


# Name -> optimiser factory(params, lr).
OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "adam": _adam,
    "sgd": lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=0.9),
}


@dataclass
class TrainConfig:
    epochs: int = 100  # passes over the training data
    batch_size: int = 256  # samples per gradient step
    lr: float = 1e-3  # optimiser step size
    optimizer: str = "adam"  # key of OPTIMIZERS
    early_stopping: bool = True  # stop after `patience` epochs without improvement, keep the best
    patience: int = 10  # epochs without improvement of the monitored loss before stopping
    eval_batch_size: int = 4096  # samples per forward pass when evaluating the validation loss
    verbose: bool = False  # progress bar (only on a terminal or in a notebook)
    desc: str = "fit"  # label of the progress bar
    lr_schedule: str | None = None  # key of aekit.training.callbacks.SCHEDULES, or constant lr
    clip_grad_norm: float | None = None  # largest global L2 norm of the gradients, or no clipping
    precision: str = "fp32"  # key of aekit.training.precision.PRECISIONS (autocast type)
    compile: bool = False  # train through torch.compile of the module (plain one on failure)


@dataclass
class TrainResult:
    history: list[dict[str, float]] = field(default_factory=list)  # one dict per epoch
    best_epoch: int = 0  # 1-based epoch whose weights the module holds at the end
    stop_reason: str = "max_epochs"  # "max_epochs", "early_stopping", "interrupted" or "nan"


class Position(NamedTuple):
    """Where in an epoch training stopped between two batches (an interruption)."""

    order: torch.Tensor  # (N,) the epoch's sample order
    next_batch: int  # batches of the epoch already done
    rows: torch.Tensor  # (done, T): per batch done, the loss and its terms
    names: list[str]  # "loss" and the names of the terms, in the order of each row


@dataclass
class TrainState:
    """Everything the loop changes, shared with the callbacks and written into checkpoints."""

    module: nn.Module
    optimizer: torch.optim.Optimizer
    monitor: str  # "val_loss" with validation data, else "loss"
    epoch: int = 0  # epochs completed
    history: list[dict[str, Any]] = field(default_factory=list)
    best: float = math.inf  # lowest monitored loss so far
    best_epoch: int = 0  # its epoch (0: none yet)
    best_state: dict[str, torch.Tensor] | None = None  # the module's weights at best_epoch
    stop_reason: str | None = None  # set by a callback (or an interruption) to stop
    position: Position | None = None  # set when stopped inside an epoch
    runner: StepRunner | None = None  # precision, compiled forward, layout (None: plain fp32)


def _check_config(config: TrainConfig) -> None:
    if config.optimizer not in OPTIMIZERS:
        raise ValueError(
            f"unknown optimizer {config.optimizer!r}; choose one of {sorted(OPTIMIZERS)}"
        )
    for name in ("epochs", "batch_size", "patience"):
        check_value(name, getattr(config, name), Integer(1))
    check_value("lr", config.lr, Real(0, closed="neither"))
    if config.lr_schedule is not None and config.lr_schedule not in SCHEDULES:
        raise ValueError(
            f"unknown lr_schedule {config.lr_schedule!r}; choose one of {sorted(SCHEDULES)}"
        )
    clip = config.clip_grad_norm
    if clip is not None and not (is_number(clip) and 0 < clip < math.inf):
        raise ValueError(f"clip_grad_norm must be a positive number or None, got {clip!r}")
    check_value("precision", config.precision, Options(PRECISIONS))
    check_value("compile", config.compile, Boolean())


@torch.no_grad()
def evaluate(
    module: nn.Module,
    objective: Objective,
    data: BatchSource | Sequence[torch.Tensor],
    batch_size: int,
    runner: StepRunner | None = None,
) -> dict[str, float]:
    """Mean of every loss term over ``data``, in eval mode, batched; at the precision and in
    the layout of ``runner`` (the training's), with the plain module (never compiled: eval
    mode would compile a second graph for a few batches per epoch)."""
    source = as_source(data)
    was_training = module.training
    module.eval()
    n = len(source)
    sums: torch.Tensor | None = None
    names: list[str] = []
    for batch in source.batches(None, batch_size):
        if runner is None:
            out = objective(module, *batch)
        else:
            with runner.autocast():
                out = objective(module, *runner.inputs(batch))
        names = ["loss", *out.terms]
        values = torch.stack(
            [out.total.detach().float(), *(v.detach().float() for v in out.terms.values())]
        )
        sums = values * batch[0].shape[0] if sums is None else sums + values * batch[0].shape[0]
    module.train(was_training)
    assert sums is not None
    return dict(zip(names, (sums / n).tolist(), strict=True))


class _DeferredInterrupt:
    """Ctrl-C during training: the first one asks the loop to stop after the current batch
    (so that the weights and the optimiser are never caught half-updated, and a checkpoint can
    be written); a second one interrupts at once. Only the main thread can take signals; in
    any other thread this does nothing and Ctrl-C raises where it lands, as before."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            signal.signal(signal.SIGINT, self._previous)
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> _DeferredInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGINT)
            if self._previous is signal.default_int_handler:
                signal.signal(signal.SIGINT, self._handle)
            else:  # someone else's handler: leave Ctrl-C to it
                self._previous = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _epoch(
    state: TrainState,
    objective: Objective,
    source: BatchSource,
    config: TrainConfig,
    backward_hooks: list[Callback],
    interrupt: _DeferredInterrupt,
) -> tuple[torch.Tensor, list[str]] | None:
    """One pass over ``source`` (or the rest of an interrupted one): the loss rows of every
    batch (B, T) and their names, or ``None`` when interrupted (``state.position`` says where).

    The rows are copied into one tensor as the batches go: keeping each batch's 0-d tensors
    until the epoch's end scattered small live allocations among the batches' large freed
    ones, so that the heap could not reuse or return them (glibc: +360 MB over an epoch of 700
    batches of 256 x 784)."""
    optimizer = state.optimizer
    runner = state.runner
    if runner is None:
        runner = state.runner = StepRunner(state.module)
    n_batches = -(-len(source) // config.batch_size)
    rows: torch.Tensor | None = None
    if state.position is None:
        order, done, before, names = source.order(), 0, None, []
    else:
        order, done, before, names = state.position
        state.position = None
    for batch in source.batches(order, config.batch_size, done):
        out = runner.forward_backward(objective, batch, optimizer)
        if backward_hooks:
            runner.unscale(optimizer)  # fp16: the hooks see (and clip) the true gradients
            for callback in backward_hooks:
                callback.on_after_backward(state)
        runner.optimizer_step(optimizer)
        names = ["loss", *out.terms]
        if rows is None:
            rows = out.total.new_empty((n_batches, len(names)), dtype=torch.float32)
            if before is not None:
                rows[: len(before)] = before
        # Autocast may leave a term in 16 bits; the epoch's means are float32.
        terms = [out.total.detach().float(), *(v.detach().float() for v in out.terms.values())]
        rows[done] = torch.stack(terms)
        done += 1
        if interrupt.requested and done < n_batches:
            state.position = Position(order, done, rows[:done], names)
            return None
    if rows is None:  # resumed after the epoch's last batch: nothing left to run
        assert before is not None
        rows = before
    return rows, names


def train(
    module: nn.Module,
    objective: Objective,
    train_data: BatchSource | Sequence[torch.Tensor],
    config: TrainConfig,
    val_data: BatchSource | Sequence[torch.Tensor] | None = None,
    *,
    callbacks: Sequence[Callback] | None = None,
    checkpoint: StageCheckpoint | None = None,
) -> TrainResult:
    """Train ``module`` in place by minimising ``objective`` over mini-batches of ``train_data``.

    ``train_data`` and ``val_data`` are batch sources (:mod:`aekit.training.sources`) or
    sequences of aligned tensors (data, targets, ...) on the training device. The monitored
    quantity is ``val_loss`` when ``val_data`` is given, ``loss`` otherwise. ``callbacks``
    (default: :func:`~aekit.training.callbacks.default_callbacks` of ``config``) run around
    each epoch; with the defaults the module ends with the weights of its best epoch when early
    stopping is on, and a loss that turns NaN or infinite, or a Ctrl-C, stops training and
    restores the best weights seen so far, reported by a ``RuntimeWarning`` and
    ``TrainResult.stop_reason``. Randomness (the permutations) comes from torch's global
    generator, which the caller seeds.

    ``checkpoint`` (a stage of :class:`~aekit.training.checkpoint.Checkpoint`) first restores
    the stage's last saved state, if any: a finished stage returns its result at once; an
    unfinished one continues where it stopped, bit-identically on the CPU. It then saves the
    state every ``checkpoint.every`` epochs, on a Ctrl-C (between two batches) and at the end.

    Under torchrun (several processes, :mod:`aekit.training.distributed`) every process calls
    ``train`` alike: the module trains through DistributedDataParallel, each process on its
    shares of the batches (``config.batch_size`` is the global batch), and the history is the
    same on every process.
    """
    _check_config(config)
    source = as_source(train_data)
    val = None if val_data is None else as_source(val_data)
    callbacks = default_callbacks(config) if callbacks is None else list(callbacks)
    # Under torchrun: DDP around the module and each rank's shares of the batches
    # (aekit.training.distributed); a single process gets None and pays nothing.
    processes = world()
    parallel = None
    if processes is not None:
        parallel = processes.data_parallel(module, objective, source, val, config.batch_size)
        source, val = parallel.source, parallel.val
    runner = StepRunner(
        module,
        config.precision,
        config.compile,
        source.device,
        forward=None if parallel is None else parallel.forward,
    )
    optimizer = OPTIMIZERS[config.optimizer](module.parameters(), config.lr)
    state = TrainState(module, optimizer, "val_loss" if val is not None else "loss", runner=runner)
    if checkpoint is not None:
        finished = checkpoint.restore(state, callbacks)
        if finished is not None:
            return finished
    backward_hooks = [
        c for c in callbacks if type(c).on_after_backward is not Callback.on_after_backward
    ]
    device = source.device
    runner.begin(optimizer)
    module.train()
    epoch_objective = objective if parallel is None else parallel.objective
    # Several processes stop on a Ctrl-C at the end of an epoch, once they all agree: one
    # stopping between two batches alone would leave the others waiting for it.
    never = _DeferredInterrupt()  # never entered, so never requested
    with _DeferredInterrupt() as interrupt:
        for callback in callbacks:
            callback.on_train_begin(state)
        try:
            while state.epoch < config.epochs and state.stop_reason is None:
                start_time = time.perf_counter()
                ran = _epoch(
                    state,
                    epoch_objective,
                    source,
                    config,
                    backward_hooks,
                    interrupt if parallel is None else never,
                )
                if ran is None:
                    state.stop_reason = "interrupted"
                    break
                rows, names = ran
                n = len(source)
                sizes = torch.tensor(
                    [min(config.batch_size, n - s) for s in range(0, n, config.batch_size)],
                    dtype=torch.float32,
                    device=device,
                )
                means = (sizes[:, None] * rows).sum(0) / n
                state.epoch += 1
                record: dict[str, Any] = {"epoch": state.epoch}
                values: dict[str, float] | None = None
                if val is not None:
                    values = evaluate(module, objective, val, config.eval_batch_size, runner)
                interrupted = interrupt.requested
                if parallel is not None:  # all ranks' parts summed: the same record everywhere
                    means, values, interrupted = parallel.reduce_epoch(means, values, interrupted)
                record.update(zip(names, means.tolist(), strict=True))  # the epoch's one sync
                if values is not None:
                    record.update({f"val_{k}": v for k, v in values.items()})
                record["time"] = time.perf_counter() - start_time
                state.history.append(record)
                for callback in callbacks:
                    callback.on_epoch_end(state, record)
                if interrupted and state.stop_reason is None:
                    state.stop_reason = "interrupted"
                if parallel is not None:
                    state.stop_reason = parallel.agree(state.stop_reason)
                if checkpoint is not None and state.stop_reason not in ("nan", "interrupted"):
                    checkpoint.save_every(state, callbacks)
        except KeyboardInterrupt:
            state.stop_reason = "interrupted"
            state.position = None  # stopped anywhere: nothing consistent to save mid-epoch
        finally:
            for callback in callbacks:
                callback.on_train_end(state)
        if checkpoint is not None and state.stop_reason == "interrupted":
            checkpoint.save(state, callbacks)

    runner.end()
    result = _finish(state, config)
    if checkpoint is not None and result.stop_reason != "interrupted":
        checkpoint.finish(module, result)
    return result


def _finish(state: TrainState, config: TrainConfig) -> TrainResult:
    """Leave the module with the weights it should keep, and say why training stopped."""
    module = state.module
    history = state.history  # a NaN epoch stays in it, as the warning says
    result = TrainResult(history, state.best_epoch, state.stop_reason or "max_epochs")
    if result.stop_reason in ("nan", "interrupted"):
        if state.best_state is None:
            if result.stop_reason == "nan":
                raise FloatingPointError(
                    "the training loss was NaN or infinite in the first epoch; lower `lr`, "
                    "scale the data, or check it for extreme values"
                )
            raise KeyboardInterrupt
        module.load_state_dict(state.best_state)
        what = (
            f"the training loss became NaN or infinite in epoch {len(history)}"
            if result.stop_reason == "nan"
            else f"training was interrupted in epoch {len(history) + 1}"
        )
        warnings.warn(
            f"{what}; stopped and kept the weights of epoch {result.best_epoch}",
            RuntimeWarning,
            stacklevel=4,
        )
    elif config.early_stopping and state.best_state is not None:
        module.load_state_dict(state.best_state)
    else:
        result.best_epoch = len(history)
    module.eval()
    return result
