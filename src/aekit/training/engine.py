"""The one training loop behind every estimator.

Data lives in memory as tensors already on the training device; each epoch draws one permutation
and gathers each mini-batch by indexing, so there is no per-sample Dataset/DataLoader path. Loss
terms are summed on the device and read back once per epoch, never per batch.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from aekit.losses import LossOutput
from aekit.training.progress import Progress

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


@dataclass
class TrainResult:
    history: list[dict[str, float]] = field(default_factory=list)  # one dict per epoch
    best_epoch: int = 0  # 1-based epoch whose weights the module holds at the end
    stop_reason: str = "max_epochs"  # "max_epochs", "early_stopping", "interrupted" or "nan"


def _check_config(config: TrainConfig) -> None:
    if config.optimizer not in OPTIMIZERS:
        raise ValueError(
            f"unknown optimizer {config.optimizer!r}; choose one of {sorted(OPTIMIZERS)}"
        )
    for name in ("epochs", "batch_size", "patience"):
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not (isinstance(config.lr, (int, float)) and config.lr > 0 and math.isfinite(config.lr)):
        raise ValueError(f"lr must be a positive number, got {config.lr!r}")


@torch.no_grad()
def evaluate(
    module: nn.Module, objective: Objective, data: Sequence[torch.Tensor], batch_size: int
) -> dict[str, float]:
    """Mean of every loss term over ``data``, in eval mode, batched."""
    was_training = module.training
    module.eval()
    n = data[0].shape[0]
    sums: torch.Tensor | None = None
    names: list[str] = []
    for start in range(0, n, batch_size):
        batch = [t[start : start + batch_size] for t in data]
        out = objective(module, *batch)
        names = ["loss", *out.terms]
        values = torch.stack([out.total.detach(), *(v.detach() for v in out.terms.values())])
        sums = values * batch[0].shape[0] if sums is None else sums + values * batch[0].shape[0]
    module.train(was_training)
    assert sums is not None
    return dict(zip(names, (sums / n).tolist(), strict=True))


def train(
    module: nn.Module,
    objective: Objective,
    train_data: Sequence[torch.Tensor],
    config: TrainConfig,
    val_data: Sequence[torch.Tensor] | None = None,
) -> TrainResult:
    """Train ``module`` in place by minimising ``objective`` over mini-batches of ``train_data``.

    The monitored quantity is ``val_loss`` when ``val_data`` is given, ``loss`` otherwise. With
    early stopping the module ends with the weights of its best epoch. A loss that turns NaN or
    infinite, or a KeyboardInterrupt, stops training and restores the best weights seen so far;
    both are reported by a ``RuntimeWarning`` and ``TrainResult.stop_reason``. Randomness (the
    permutations) comes from torch's global generator, which the caller seeds.
    """
    _check_config(config)
    n = train_data[0].shape[0]
    device = train_data[0].device
    optimizer = OPTIMIZERS[config.optimizer](module.parameters(), config.lr)
    result = TrainResult()
    best = math.inf
    best_state: dict[str, torch.Tensor] | None = None
    since_best = 0
    progress = Progress(config.epochs, config.desc, config.verbose)
    module.train()
    try:
        for epoch in range(1, config.epochs + 1):
            start_time = time.perf_counter()
            perm = torch.randperm(n).to(device)
            rows: list[list[torch.Tensor]] = []  # per batch: loss and terms, still on the device
            names: list[str] = []
            for start in range(0, n, config.batch_size):
                batch = [t[perm[start : start + config.batch_size]] for t in train_data]
                out = objective(module, *batch)
                optimizer.zero_grad(set_to_none=True)
                out.total.backward()
                optimizer.step()
                names = ["loss", *out.terms]
                rows.append([out.total.detach(), *(v.detach() for v in out.terms.values())])
            sizes = torch.tensor(
                [min(config.batch_size, n - s) for s in range(0, n, config.batch_size)],
                dtype=torch.float32,
                device=device,
            )
            means = (sizes[:, None] * torch.stack([torch.stack(r) for r in rows])).sum(0) / n
            record: dict[str, Any] = {"epoch": epoch}
            record.update(zip(names, means.tolist(), strict=True))  # the epoch's one sync
            if val_data is not None:
                val = evaluate(module, objective, val_data, config.eval_batch_size)
                record.update({f"val_{k}": v for k, v in val.items()})
            record["time"] = time.perf_counter() - start_time
            monitored = record["val_loss" if val_data is not None else "loss"]
            if not math.isfinite(record["loss"]) or not math.isfinite(monitored):
                result.stop_reason = "nan"
                result.history.append(record)
                break
            result.history.append(record)
            progress.update(**{k: v for k, v in record.items() if k in ("loss", "val_loss")})
            if monitored < best:
                best, since_best, result.best_epoch = monitored, 0, epoch
                best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
            else:
                since_best += 1
                if config.early_stopping and since_best >= config.patience:
                    result.stop_reason = "early_stopping"
                    break
    except KeyboardInterrupt:
        result.stop_reason = "interrupted"
    finally:
        progress.close()

    if result.stop_reason in ("nan", "interrupted"):
        if best_state is None:
            if result.stop_reason == "nan":
                raise FloatingPointError(
                    "the training loss was NaN or infinite in the first epoch; lower `lr`, "
                    "scale the data, or check it for extreme values"
                )
            raise KeyboardInterrupt
        module.load_state_dict(best_state)
        what = (
            f"the training loss became NaN or infinite in epoch {len(result.history)}"
            if result.stop_reason == "nan"
            else f"training was interrupted in epoch {len(result.history) + 1}"
        )
        warnings.warn(
            f"{what}; stopped and kept the weights of epoch {result.best_epoch}",
            RuntimeWarning,
            stacklevel=3,
        )
    elif config.early_stopping and best_state is not None:
        module.load_state_dict(best_state)
    else:
        result.best_epoch = len(result.history)
    module.eval()
    return result
