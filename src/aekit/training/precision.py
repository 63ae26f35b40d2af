"""How a training step runs on fast hardware: mixed precision, torch.compile, channels-last.

Three settings of :class:`~aekit.training.TrainConfig` (and of every estimator), all off by
default, so that training stays exact float32 unless asked otherwise:

- ``precision``: ``"fp32"`` runs every step in float32, bit for bit as without this module.
  ``"bf16"`` and ``"fp16"`` run the objective (the network's forward pass and the loss) under
  :func:`torch.autocast`: matrix products and convolutions in 16 bits, losses and reductions
  in float32 (torch's autocast lists), while the weights, gradients and optimiser moments stay
  float32. bfloat16 has float32's exponent range and needs nothing more; float16 has five
  exponent bits, so small gradients would underflow to zero: its loss is multiplied by a
  :class:`torch.amp.GradScaler` factor before the backward pass (2**16 at first, halved when
  the gradients overflow, when that step is skipped; doubled after 2,000 steps without
  overflow). A skipped step is not a NaN loss: the NaN guard watches the loss only. The
  gradients are unscaled before any ``on_after_backward`` callback, so gradient clipping sees
  their true norm. The scaler's state is part of a checkpoint.
- ``compile``: the training forward passes go through :func:`torch.compile` of the module;
  the module itself (saved, checkpointed, evaluated, used for inference) stays the plain
  one, so no state-dict key gets ``_orig_mod.``. Where torch cannot compile (no C++ compiler
  for inductor on a CPU, an unsupported platform, an operation it cannot trace such as the
  contractive penalty's double backward), training goes on with the plain module after a
  ``RuntimeWarning``: compiling is an optimisation, never a reason to fail a fit.
- channels-last, decided by :func:`use_channels_last`: on CUDA, with ``"bf16"`` or
  ``"fp16"``, a module with 2-D convolutions holds its 4-D weights (and takes 4-D batches)
  in ``torch.channels_last`` layout, which tensor cores read without a transposition; the
  module goes back to the standard layout when training ends.

Inference (``transform``, ``reconstruct``, scores) is never affected: it runs the plain module
in float32, so its results stay exact and independent of the batching whatever the training
precision.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import torch
from torch import nn

from aekit.losses import LossOutput

# Name -> the dtype autocast computes in (None: no autocast, plain float32).
PRECISIONS: dict[str, torch.dtype | None] = {
    "fp32": None,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}

# Modules whose weights and inputs tensor cores prefer in channels-last layout.
_CONV2D = (nn.Conv2d, nn.ConvTranspose2d)


@functools.cache
def _autocast_works(device: torch.device, dtype: torch.dtype) -> bool:
    # Probed rather than read from a table: what autocast supports depends on the torch build
    # and the GPU (bfloat16 needs compute capability 8.0 on CUDA; older torch builds refuse
    # float16 on CPUs with a warning and run float32).
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with torch.autocast(device.type, dtype=dtype):
                a = torch.ones(2, 2, device=device)
                return (a @ a).dtype == dtype
    except (RuntimeError, ValueError):
        return False


def check_precision(precision: str, device: torch.device) -> None:
    """Refuse a ``precision`` that torch cannot autocast to on ``device``.

    Parameters
    ----------
    precision : {"fp32", "bf16", "fp16"}
        A key of :data:`PRECISIONS`.
    device : torch.device
        The training device.

    Raises
    ------
    ValueError
        For an unknown name, or a 16-bit type that autocast does not support on ``device``.

    Examples
    --------
    >>> import torch
    >>> check_precision("bf16", torch.device("cpu"))  # bfloat16 autocast runs on CPUs
    >>> check_precision("fp8", torch.device("cpu"))
    Traceback (most recent call last):
    ...
    ValueError: precision='fp8' is not valid; choose one of ['fp32', 'bf16', 'fp16']
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is not valid; choose one of {list(PRECISIONS)}")
    dtype = PRECISIONS[precision]
    if dtype is not None and not _autocast_works(device, dtype):
        others = [p for p, d in PRECISIONS.items() if d is None or _autocast_works(device, d)]
        raise ValueError(
            f"precision={precision!r} is not available on {device} with torch "
            f"{torch.__version__} (no {dtype} autocast there); use one of {others}"
        )


def use_channels_last(module: nn.Module, device: torch.device, precision: str) -> bool:
    """Whether training holds ``module`` and its 4-D batches in channels-last layout.

    Only on CUDA with 16-bit precision, where tensor cores read NHWC data directly (in
    NCHW every convolution transposes its input and output), and only for a module with 2-D
    convolutions, the layout's one user; float32 training is never changed.

    Parameters
    ----------
    module : torch.nn.Module
        The network to train.
    device : torch.device
        The training device.
    precision : {"fp32", "bf16", "fp16"}
        The training precision.

    Returns
    -------
    bool

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> conv = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU())
    >>> use_channels_last(conv, torch.device("cuda"), "bf16")
    True
    >>> use_channels_last(conv, torch.device("cuda"), "fp32")
    False
    >>> use_channels_last(nn.Linear(4, 2), torch.device("cuda"), "fp16")
    False
    """
    return (
        device.type == "cuda"
        and PRECISIONS[precision] is not None
        and any(isinstance(m, _CONV2D) for m in module.modules())
    )


def _match_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Give every per-parameter optimiser tensor its parameter's strides.

    Moments restored from a checkpoint are contiguous while channels-last weights are not,
    and the fused Adam kernel pairs elements by memory position, not by index: with the
    layouts mismatched it updated the wrong elements (measured on a CPU, torch 2.13).
    """
    for param, values in optimizer.state.items():
        for key, value in values.items():
            if (
                isinstance(value, torch.Tensor)
                and value.shape == param.shape
                and value.stride() != param.stride()
            ):
                values[key] = torch.empty_like(param, dtype=value.dtype).copy_(value)


def _uncompiled(exc: BaseException) -> None:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    warnings.warn(
        f"torch.compile could not compile the model ({type(exc).__name__}: {first}); "
        "training it uncompiled",
        RuntimeWarning,
        stacklevel=4,
    )


class StepRunner:
    """Runs the engine's training steps at a precision, compiled or not, in a memory layout.

    Parameters
    ----------
    module : torch.nn.Module
        The module trained (the one whose weights are saved and checkpointed).
    precision : {"fp32", "bf16", "fp16"}, default="fp32"
        See the module docstring; checked against ``device`` by :func:`check_precision`.
    compile : bool, default=False
        Run the training forward passes through ``torch.compile(forward)``.
    device : torch.device or None, default=None
        The training device (``None``: that of the module's first parameter).
    forward : torch.nn.Module or None, default=None
        What the objective is called with in training, when it is not ``module`` itself (a
        wrapper sharing its parameters, such as DistributedDataParallel).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from aekit.losses import LossOutput
    >>> net = nn.Linear(4, 4)
    >>> runner = StepRunner(net, "bf16")
    >>> optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    >>> def objective(module, x):
    ...     loss = (module(x).float() - x).square().mean()
    ...     return LossOutput(loss, {})
    >>> out = runner.forward_backward(objective, [torch.ones(8, 4)], optimizer)
    >>> runner.optimizer_step(optimizer)
    >>> out.total.dtype, net.weight.dtype
    (torch.float32, torch.float32)
    """

    def __init__(
        self,
        module: nn.Module,
        precision: str = "fp32",
        compile: bool = False,
        device: torch.device | None = None,
        forward: nn.Module | None = None,
    ) -> None:
        if device is None:
            device = next(module.parameters()).device
        check_precision(precision, device)
        self.module = module
        self.precision = precision
        self.device = device
        self._dtype = PRECISIONS[precision]
        self.scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None
        self.channels_last = use_channels_last(module, device, precision)
        self._plain: Callable[..., Any] = module if forward is None else forward
        self.forward = self._plain
        if compile:
            try:
                self.forward = torch.compile(self._plain)
            except Exception as exc:  # any refusal of torch.compile: warn, go on
                _uncompiled(exc)
        self._no_autocast = contextlib.nullcontext()

    @property
    def compiled(self) -> bool:
        """Whether the training forward passes run compiled (False after a fallback)."""
        return self.forward is not self._plain

    def autocast(self) -> AbstractContextManager[Any]:
        """The context the objective runs in: autocast to the 16-bit type, or nothing."""
        if self._dtype is None:
            return self._no_autocast
        return torch.autocast(self.device.type, dtype=self._dtype)

    def inputs(self, batch: Sequence[torch.Tensor]) -> Sequence[torch.Tensor]:
        """``batch`` with its 4-D tensors in channels-last layout when that is on."""
        if not self.channels_last:
            return batch
        return [
            t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t for t in batch
        ]

    def begin(self, optimizer: torch.optim.Optimizer) -> None:
        """Put the module (and any restored optimiser state) in the training layout."""
        if self.channels_last:
            self.module.to(memory_format=torch.channels_last)
            _match_layouts(optimizer)

    def end(self) -> None:
        """Give the module back its standard layout (saved files want contiguous tensors)."""
        if self.channels_last:
            self.module.to(memory_format=torch.contiguous_format)

    def _run(
        self,
        forward: Callable[..., Any],
        objective: Callable[..., LossOutput],
        batch: Sequence[torch.Tensor],
        optimizer: torch.optim.Optimizer,
    ) -> LossOutput:
        with self.autocast():
            out = objective(forward, *batch)
        optimizer.zero_grad(set_to_none=True)
        total = out.total if self.scaler is None else self.scaler.scale(out.total)
        total.backward()
        return out

    def forward_backward(
        self,
        objective: Callable[..., LossOutput],
        batch: Sequence[torch.Tensor],
        optimizer: torch.optim.Optimizer,
    ) -> LossOutput:
        """The objective on ``batch`` and the gradients of its total (scaled for fp16)."""
        batch = self.inputs(batch)
        if self.compiled:
            try:
                return self._run(self.forward, objective, batch, optimizer)
            except Exception as exc:  # the compiler's failure, or the step's (see below)
                failure = exc
            # The plain module retries the step: a mistake of the model or the data raises
            # here as it would uncompiled; otherwise the compiler was at fault.
            out = self._run(self._plain, objective, batch, optimizer)
            self.forward = self._plain
            _uncompiled(failure)
            return out
        return self._run(self._plain, objective, batch, optimizer)

    def unscale(self, optimizer: torch.optim.Optimizer) -> None:
        """Divide fp16 gradients by the loss scale (at most once per step)."""
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)

    def optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Step the optimiser; with fp16, skip a step whose gradients overflowed and adapt the
        scale."""
        if self.scaler is None:
            optimizer.step()
        else:
            self.scaler.step(optimizer)
            self.scaler.update()

    def state_dict(self) -> dict[str, Any]:
        """The loss scaler's state, JSON numbers (empty without one)."""
        return {} if self.scaler is None else dict(self.scaler.state_dict())

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the loss scaler's state written by :meth:`state_dict`."""
        if self.scaler is not None and state:
            self.scaler.load_state_dict(dict(state))
