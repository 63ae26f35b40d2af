"""What the engine does around its epochs, one callback per concern.

A callback sees the :class:`~aekit.training.engine.TrainState` at four points:

- ``on_train_begin(state)``: once, after the optimiser exists (and after a resumed state was
  loaded: ``state.epoch`` is then the number of epochs already done);
- ``on_after_backward(state)``: after each batch's backward pass, before the optimiser step,
  with the true gradients (with ``precision="fp16"`` the engine divides the loss scale out
  first); only called for callbacks that override it, so the others cost nothing per batch;
- ``on_epoch_end(state, record)``: after each epoch, with its history record already appended;
  a callback stops training by setting ``state.stop_reason``;
- ``on_train_end(state)``: once, when the loop has stopped for any reason (also after an
  interruption, when ``state.position`` says where in the epoch it stopped).

``state_dict()`` / ``load_state_dict(d)`` hold a callback's own state as JSON values, written
into checkpoints. The engine runs the callbacks in list order; :func:`default_callbacks` gives
the order the estimators use (NaN guard first, so that nothing else sees a broken epoch).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch

from aekit.training.distributed import launched_rank
from aekit.training.progress import Progress

if TYPE_CHECKING:
    from aekit.training.engine import TrainConfig, TrainState


class Callback:
    """Base class: every hook does nothing."""

    def on_train_begin(self, state: TrainState) -> None:
        pass

    def on_after_backward(self, state: TrainState) -> None:
        pass

    def on_epoch_end(self, state: TrainState, record: dict[str, Any]) -> None:
        pass

    def on_train_end(self, state: TrainState) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class NanGuard(Callback):
    """Stop when the training or the monitored loss is NaN or infinite (``stop_reason="nan"``);
    the engine then restores the best weights seen, or raises if there were none."""

    def on_epoch_end(self, state: TrainState, record: dict[str, Any]) -> None:
        if not (math.isfinite(record["loss"]) and math.isfinite(record[state.monitor])):
            state.stop_reason = "nan"


class EarlyStopping(Callback):
    """Keep the weights of the best epoch (lowest monitored loss) and, when ``enabled``, stop
    after ``patience`` epochs without improvement (``stop_reason="early_stopping"``).

    The best weights are kept even without early stopping: a NaN or an interruption falls back
    on them.
    """

    def __init__(self, patience: int, enabled: bool = True) -> None:
        self.patience = patience
        self.enabled = enabled
        self.since_best = 0

    def on_epoch_end(self, state: TrainState, record: dict[str, Any]) -> None:
        if state.stop_reason is not None:
            return
        monitored = record[state.monitor]
        if monitored < state.best:
            state.best, state.best_epoch, self.since_best = monitored, state.epoch, 0
            state.best_state = {k: v.detach().clone() for k, v in state.module.state_dict().items()}
        else:
            self.since_best += 1
            if self.enabled and self.since_best >= self.patience:
                state.stop_reason = "early_stopping"

    def state_dict(self) -> dict[str, Any]:
        return {"since_best": self.since_best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.since_best = int(state["since_best"])


class ProgressBar(Callback):
    """A progress bar over epochs (on a terminal or in a notebook only; under torchrun, on
    rank 0 only)."""

    def __init__(self, total: int, desc: str, enabled: bool) -> None:
        self.total, self.desc, self.enabled = total, desc, enabled
        self._bar: Progress | None = None

    def on_train_begin(self, state: TrainState) -> None:
        self._bar = Progress(self.total, self.desc, self.enabled and launched_rank() == 0)
        if state.epoch and self._bar is not None:
            self._bar.skip(state.epoch)

    def on_epoch_end(self, state: TrainState, record: dict[str, Any]) -> None:
        if self._bar is not None and state.stop_reason != "nan":
            self._bar.update(**{k: v for k, v in record.items() if k in ("loss", "val_loss")})

    def on_train_end(self, state: TrainState) -> None:
        if self._bar is not None:
            self._bar.close()


class GradientClipping(Callback):
    """Scale the gradients so that their global L2 norm is at most ``max_norm``.

    The norm is that of the true gradients: with fp16 the engine unscales them before this
    hook. Overflowed fp16 gradients (an infinite norm) are left to the loss scaler, which
    skips that step.
    """

    def __init__(self, max_norm: float) -> None:
        self.max_norm = float(max_norm)

    def on_after_backward(self, state: TrainState) -> None:
        torch.nn.utils.clip_grad_norm_(state.module.parameters(), self.max_norm)


# Name -> factory(optimizer, epochs) of the learning-rate schedules, stepped once per epoch.
SCHEDULES: dict[str, Any] = {
    # Cosine annealing from lr to 0 over the run (Loshchilov & Hutter 2017, without restarts).
    "cosine": lambda opt, epochs: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs),
    # Divide the learning rate by 10 after 5 epochs without improvement of the monitored loss.
    "plateau": lambda opt, epochs: torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, factor=0.1, patience=5
    ),
}


class LRSchedule(Callback):
    """A learning-rate schedule of :data:`SCHEDULES`, stepped at the end of every epoch."""

    def __init__(self, name: str, epochs: int) -> None:
        if name not in SCHEDULES:
            raise ValueError(f"unknown lr_schedule {name!r}; choose one of {sorted(SCHEDULES)}")
        self.name, self.epochs = name, epochs
        self._scheduler: Any = None
        self._pending: dict[str, Any] | None = None

    def on_train_begin(self, state: TrainState) -> None:
        self._scheduler = SCHEDULES[self.name](state.optimizer, self.epochs)
        if self._pending is not None:
            self._scheduler.load_state_dict(self._pending)

    def on_epoch_end(self, state: TrainState, record: dict[str, Any]) -> None:
        if state.stop_reason is not None:
            return
        if isinstance(self._scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self._scheduler.step(record[state.monitor])
        else:
            self._scheduler.step()
        record["lr"] = state.optimizer.param_groups[0]["lr"]

    def state_dict(self) -> dict[str, Any]:
        # The schedulers' own state dicts hold numbers, lists and None only.
        return {} if self._scheduler is None else dict(self._scheduler.state_dict())

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._pending = state or None


def default_callbacks(config: TrainConfig) -> list[Callback]:
    """The callbacks that ``config`` asks for, in the order they run."""
    callbacks: list[Callback] = [
        NanGuard(),
        EarlyStopping(config.patience, config.early_stopping),
    ]
    if config.lr_schedule is not None:
        callbacks.append(LRSchedule(config.lr_schedule, config.epochs))
    if config.clip_grad_norm is not None:
        callbacks.append(GradientClipping(config.clip_grad_norm))
    callbacks.append(ProgressBar(config.epochs, config.desc, config.verbose))
    return callbacks
