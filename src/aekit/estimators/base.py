"""Machinery shared by the estimators: validation, seeding, batched inference, saved state."""

from __future__ import annotations

import contextlib
import hashlib
import inspect
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from torch.utils._python_dispatch import TorchDispatchMode

from aekit._lazy import is_lazy
from aekit._validation import Boolean, Constraint, Options, OrNone, Real, check_params
from aekit.data import Scaling, check_samples, nonfinite_rows, refuse_nonfinite
from aekit.estimators._streaming import source_digest
from aekit.training import (
    SCHEDULES,
    BatchSource,
    Checkpoint,
    TrainConfig,
    TrainResult,
    default_batch_size,
    resolve_device,
    seeded,
    train,
)
from aekit.training.distributed import launched_rank, local_device, world
from aekit.training.precision import PRECISIONS

# Inference is batch-independent: a row's result does not depend on the rows computed with it,
# nor on how many there are (at a fixed thread count, on one device). Three things in the
# kernels break that, all seen on an AMD EPYC with torch 2.13's MKL and oneDNN:
#
# 1. the kernel depends on the row count (one row takes the matrix-vector path, and the issue's
#    1.19e-7 came from there): so every forward pass takes chunks of one fixed row count per
#    model, the last one zero-padded;
# 2. MKL's gemm gives a row a result that depends on its position in the batch for some shapes:
#    in float32 when the output width is small (2 to 11) and the contraction not a multiple of
#    4 (a 10-feature table: one row in two differed), in float64 (the detector's quadratic
#    forms) for most widths that are not multiples of 16. So on a CPU every matrix product
#    runs with both widths zero-padded to a multiple of `PRODUCT_ALIGNMENT`, which adds exact
#    zeros only (see `_AlignedProducts`); no padded shape tried was position-dependent;
# 3. vectorised elementwise kernels (sigmoid, softplus) compute the ragged end of a tensor, or
#    of each thread's share of it, with scalar code that rounds differently: so a CPU chunk
#    holds a multiple of 32 rows per thread, and every contiguous activation splits into whole
#    32-float loops (16-float AVX-512 vectors, two per iteration).
#
# tests/test_numerics.py checks the promise bit for bit at 1 and 2 threads. On other devices
# only the fixed chunks apply; that is not tested here (no GPU in CI).

# Rows per chunk on a CPU: at most `CPU_CHUNK_ROWS`, and about `CPU_CHUNK_VALUES` input values.
# Larger chunks amortise the per-chunk cost on whole data sets; smaller ones keep a one-row
# query cheap (it pays for a whole chunk) and bound the activations (conv and recurrent networks
# ran fastest per row at 64 to 256 rows of 784 values). Measured on one AMD EPYC thread against
# the earlier 4096-row batches (which were not batch-independent): the default dense network on
# 60,000 x 784 values 0.86 s against 0.76 s, a one-row query 2.2 ms against 0.4 ms; the default
# detector on 50,000 rows of 10 features 0.066 s against 0.050 s, one row 1.9 ms against 0.3 ms.
# 2**16 values and 512 rows made whole tables 2x slower; 2**20 made a one-row query 12 ms.
CPU_CHUNK_VALUES = 2**17
CPU_CHUNK_ROWS = 1024
# Rows per chunk on an accelerator: one wide chunk costs about what one row does there.
DEVICE_CHUNK_VALUES = 2**22
DEVICE_CHUNK_ROWS = 4096
# Width that the contraction and output sizes of CPU matrix products are padded to (the width
# of an AVX-512 vector of float32; every shape tried was then position-independent).
PRODUCT_ALIGNMENT = 16


def _pow2_floor(n: int) -> int:
    return 1 << (max(1, int(n)).bit_length() - 1)


def inference_rows(n_features: int, device: torch.device) -> int:
    """Rows per inference forward pass of a model whose samples have ``n_features`` values.

    A power of two up to a budget of input values, on a CPU rounded up to a multiple of 32 rows
    per thread (see the note at the top of :mod:`aekit.estimators.base`). The same model at the
    same thread count always gets the same count, whatever the input.
    """
    if device.type != "cpu":
        return min(DEVICE_CHUNK_ROWS, _pow2_floor(DEVICE_CHUNK_VALUES // max(1, n_features)))
    rows = min(CPU_CHUNK_ROWS, _pow2_floor(CPU_CHUNK_VALUES // max(1, n_features)))
    unit = 32 * max(1, torch.get_num_threads())
    return unit * -(-rows // unit)


# Input values per forward pass of the validation loss during training (the engine's
# eval_batch_size): 4,096 rows of a table, fewer of wide samples. A conv network multiplies the
# input by its channels: 4,096 MNIST images made 411 MB per 32-channel activation, the peak of
# a whole fit (2.2 GB), while 1,024 make a quarter of that.
EVAL_VALUES = 2**20
EVAL_ROWS = 4096


def evaluation_rows(n_features: int, batch_size: int) -> int:
    """Rows per forward pass of the validation loss: at most :data:`EVAL_VALUES` input values
    (a power of two of rows, at most :data:`EVAL_ROWS`), never fewer than a training batch.

    Examples
    --------
    >>> evaluation_rows(784, 256), evaluation_rows(10, 256), evaluation_rows(10**6, 64)
    (1024, 4096, 64)
    """
    return max(int(batch_size), min(EVAL_ROWS, _pow2_floor(EVAL_VALUES // max(1, n_features))))


def _pad_dim(t: torch.Tensor, dim: int, extra: int) -> torch.Tensor:
    """``t`` with ``extra`` zeros appended along ``dim`` (a negative axis)."""
    if not extra:
        return t
    pad = [0, 0] * (-dim - 1) + [0, extra]
    return torch.constant_pad_nd(t, pad, 0.0)


# The matrix products _AlignedProducts pads: aten op -> arguments before the two factors.
_PRODUCTS: dict[Any, int] = {
    torch.ops.aten.mm.default: 0,
    torch.ops.aten.bmm.default: 0,
    torch.ops.aten.addmm.default: 1,
    torch.ops.aten.baddbmm.default: 1,
}


class _AlignedProducts(TorchDispatchMode):
    """Runs every CPU matrix product with its contraction and output widths zero-padded to a
    multiple of :data:`PRODUCT_ALIGNMENT`.

    The padded terms are exact zeros, so the result is the same sum; only the kernel changes,
    to one that treats every row alike (point 2 of the note above). Other operations pass
    through untouched.
    """

    # Padded right-hand operands kept for the life of the mode (one inference call), where they
    # are the same weights chunk after chunk. The entry holds its source, so that its memory
    # cannot be reused by another tensor of the same key.
    _CACHE_SIZE = 64

    def __init__(self) -> None:
        super().__init__()
        self._padded: dict[tuple[Any, ...], tuple[torch.Tensor, torch.Tensor]] = {}

    def _pad_right(self, b: torch.Tensor, extra_k: int, extra_n: int) -> torch.Tensor:
        key = (b.data_ptr(), tuple(b.shape), b.stride(), b.dtype, b._version)
        hit = self._padded.get(key)
        if hit is not None:
            return hit[1]
        if b.dim() >= 2 and b.stride(-2) == 1 and b.stride(-1) != 1:
            # A transposed weight (nn.Linear's W^T): pad W and transpose back, so that the
            # product keeps the memory layout, and the speed, of the unpadded one.
            padded = _pad_dim(_pad_dim(b.mT, -1, extra_k), -2, extra_n).mT
        else:
            padded = _pad_dim(_pad_dim(b, -2, extra_k), -1, extra_n)
        if len(self._padded) < self._CACHE_SIZE:
            self._padded[key] = (b, padded)
        return padded

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        lead = _PRODUCTS.get(func)
        if lead is None or args[lead].device.type != "cpu":
            return func(*args, **kwargs)
        a, b = args[lead], args[lead + 1]  # (..., M, K) @ (..., K, N)
        k, n = a.shape[-1], b.shape[-1]
        extra_k, extra_n = -k % PRODUCT_ALIGNMENT, -n % PRODUCT_ALIGNMENT
        if not (extra_k or extra_n):
            return func(*args, **kwargs)
        a = _pad_dim(a, -1, extra_k)
        b = self._pad_right(b, extra_k, extra_n)
        if lead:  # the added term: a single column broadcasts over the padded ones as it is
            c = args[0]
            if c.dim() and c.shape[-1] == n != 1:
                c = _pad_dim(c, -1, extra_n)
            out = func(c, a, b, **kwargs)
        else:
            out = func(a, b, **kwargs)
        return out[..., :n].contiguous() if extra_n else out


@contextlib.contextmanager
def batch_independent(device: torch.device) -> Iterator[None]:
    """Context in which CPU matrix products treat every row alike (see :class:`_AlignedProducts`).

    Together with :func:`inference_rows` chunks it makes an eval-mode forward pass give every
    row the same bits whatever the other rows and their number.
    """
    if device.type != "cpu":
        yield
        return
    with _AlignedProducts():
        yield


# The engine's optional callbacks and step settings, parameters of every estimator.
TRAINING_CONSTRAINTS: dict[str, Constraint] = {
    "lr_schedule": Options([None, *SCHEDULES]),
    "clip_grad_norm": OrNone(Real(0, closed="neither")),
    "precision": Options(PRECISIONS),
    "compile": Boolean(),
}


class TorchEstimator(BaseEstimator):
    """Base of every aekit estimator: owns the torch module as ``module_``.

    Subclasses define their parameters in ``__init__`` (stored as they are) and their model in
    ``fit``; this class gives them validated input, a seed drawn from ``random_state``, batched
    inference on the fitted device and the state a saved model is made of.

    Inference results do not depend on how rows are batched, at a fixed thread count: a row
    gets the same bits alone, in a slice of ``X`` or in the whole of it (see
    :meth:`_map_batches`; sampled quantities such as the VAE's ``elbo`` draw their noise per
    batch and are the exception).
    """

    # What the estimator can do, declared so that the report and the CLI read it instead of
    # probing for methods: "encode" (transform gives codes), "reconstruct" (reconstruct,
    # reconstruction_error), "generate" (sample, interpolate), "likelihood" (elbo), "classify"
    # (predict, predict_proba), "score" (anomaly scores and a threshold).
    capabilities: ClassVar[frozenset[str]] = frozenset()

    # Parameter -> what it may be (aekit._validation); checked first thing in fit.
    _parameter_constraints: ClassVar[dict[str, Constraint]] = {}

    # Fitted attributes written to config.json (JSON values) by `aekit.io.save`.
    _json_state: tuple[str, ...] = ("n_features_in_", "input_shape_", "history_", "best_epoch_")
    # Fitted numpy arrays written beside the weights in model.safetensors.
    _array_state: tuple[str, ...] = ()

    def _set_state(self, name: str, value: Any) -> None:
        """Restore the fitted attribute ``name`` from its JSON value (see ``_json_state``)."""
        setattr(self, name, tuple(value) if name == "input_shape_" else value)

    def _validate(self, X: Any, *, reset: bool) -> tuple[np.ndarray, tuple[int, ...]]:
        if not reset:
            check_is_fitted(self, "module_")
        return check_samples(self, X, reset=reset, min_samples=2 if reset else 1)

    def _draw_seed(self) -> int:
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        # Under torchrun every process trains the same network: rank 0's seed everywhere
        # (random_state=None draws a different one per process).
        processes = world()
        return seed if processes is None else int(processes.broadcast_json(seed))

    # ------------------------------------------------------------- the fit pipeline
    def _begin_fit(self, *fitted: str) -> None:
        """Forget an earlier fit (``module_``, ``scaling_`` and the ``fitted`` attributes),
        then check every parameter against ``_parameter_constraints``: the first step of every
        ``fit``, before any data work."""
        for attr in ("module_", "scaling_", *fitted):
            self.__dict__.pop(attr, None)
        check_params(self.get_params(deep=False), self._parameter_constraints)

    def _open_checkpoint(
        self,
        checkpoint: str | Path | None,
        resume: bool,
        every: int,
        data: Sequence[Any],
    ) -> tuple[int, Checkpoint | None]:
        """The fit's seed, and its checkpoint folder when ``checkpoint`` is given.

        A checkpoint records the run's plan (estimator, parameters, a SHA-256 of the training
        ``data``) and its seed; resuming takes the saved seed, so a run with
        ``random_state=None`` continues as it began.
        """
        if not isinstance(resume, bool):
            raise ValueError(f"resume must be True or False, got {resume!r}")
        if checkpoint is None:
            if resume:
                raise ValueError("resume=True needs checkpoint=DIR, the folder to resume from")
            return self._draw_seed(), None
        digest = hashlib.sha256()
        shapes = []
        sampled = {}
        for array in data:
            if is_lazy(array):  # a file larger than memory: sampled, not hashed whole
                sampled = source_digest(array)
                shapes.extend(sampled.pop("shapes"))
            elif array is not None:
                array = np.ascontiguousarray(array)
                shapes.append([*array.shape, str(array.dtype)])
                digest.update(memoryview(array).cast("B"))

        def as_json(v: Any) -> Any:
            return v if isinstance(v, (str, int, float, bool, type(None), list, tuple)) else repr(v)

        params = {k: as_json(v) for k, v in self.get_params(deep=False).items() if k != "verbose"}
        defaults = {
            k: as_json(p.default)
            for k, p in inspect.signature(type(self).__init__).parameters.items()
            if k in params and p.default is not inspect.Parameter.empty
        }
        plan = {
            "estimator": type(self).__name__,
            "params": params,
            "data": {"shapes": shapes, "sha256": digest.hexdigest(), **sampled},
        }
        opened = Checkpoint(
            checkpoint, plan, self._draw_seed(), every=every, resume=resume, defaults=defaults
        )
        return opened.seed, opened

    def _train_config(self, n_train: int, **settings: Any) -> TrainConfig:
        """The engine settings for ``n_train`` training samples: the estimator's own
        ``epochs``, ``batch_size`` (or its size-aware default), ``lr``, ... overridden by
        ``settings``."""
        batch_size = getattr(self, "batch_size", None)
        values: dict[str, Any] = {
            "epochs": int(settings.get("epochs", self.epochs)),
            "batch_size": default_batch_size(n_train) if batch_size is None else int(batch_size),
            "lr": float(self.lr),
            "optimizer": getattr(self, "optimizer", "adam"),
            "early_stopping": bool(getattr(self, "early_stopping", True)),
            "patience": int(self.patience),
            "verbose": bool(self.verbose),
            "desc": type(self).__name__,
            "lr_schedule": getattr(self, "lr_schedule", None),
            "clip_grad_norm": getattr(self, "clip_grad_norm", None),
            "precision": getattr(self, "precision", "fp32"),
            "compile": bool(getattr(self, "compile", False)),
        }
        values.update(settings)
        n_features = int(getattr(self, "n_features_in_", 1))  # known once the data is read
        values.setdefault("eval_batch_size", evaluation_rows(n_features, values["batch_size"]))
        return TrainConfig(**values)

    def _tensors(self, *arrays: np.ndarray | None) -> list[torch.Tensor] | None:
        """``arrays`` as tensors on the fitted device (``None`` when the first is ``None``)."""
        if arrays[0] is None:
            return None
        return [torch.from_numpy(np.ascontiguousarray(a)).to(self.device_) for a in arrays]

    def _fit_network(
        self,
        build: Callable[[], torch.nn.Module],
        objective: Callable[..., Any],
        train_data: BatchSource | list[torch.Tensor],
        config: TrainConfig,
        seed: int,
        val_data: BatchSource | list[torch.Tensor] | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> TrainResult:
        """Build the module under ``seed`` and train it: sets ``module_``, ``history_`` and
        ``best_epoch_``. The one build-and-train step of every single-stage estimator."""
        with seeded(seed, self.device_):
            module = build().to(self.device_)
            result = train(
                module,
                objective,
                train_data,
                config,
                val_data=val_data,
                checkpoint=None if checkpoint is None else checkpoint.stage("fit"),
            )
        self.module_ = module
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        return result

    def _resolve_device(self) -> torch.device:
        # Under torchrun "cuda" is this process's GPU (cuda:LOCAL_RANK).
        self.device_ = local_device(resolve_device(self.device))
        return self.device_

    def _scale(self, X: np.ndarray) -> np.ndarray:
        """``X`` in the units the network works in (float32; an overflow becomes inf, which
        the callers check for)."""
        scaling: Scaling | None = self.scaling_
        return X if scaling is None else scaling.transform(X)

    def _unscale(self, X: np.ndarray) -> np.ndarray:
        scaling: Scaling | None = self.scaling_
        return X if scaling is None else scaling.inverse_transform(X)

    def _scale_finite(self, X: np.ndarray) -> np.ndarray:
        """:meth:`_scale`, refusing rows that leave float32 (a ValueError naming them)."""
        scaled = self._scale(X)
        refuse_nonfinite(nonfinite_rows(scaled), "X", "once scaled")
        return scaled

    def _finite(self, out: np.ndarray, name: str = "X") -> np.ndarray:
        """``out`` (one result per row of ``name``), refusing rows whose result is not finite."""
        refuse_nonfinite(nonfinite_rows(out), name, "in the network")
        return out

    def _infer(self, fn: Callable[[torch.Tensor], torch.Tensor], X: np.ndarray) -> np.ndarray:
        """``fn`` over the scaled rows of ``X`` (:meth:`_map_batches`), refusing by name the
        rows that leave float32 once scaled or in the network."""
        return self._finite(self._map_batches(fn, self._scale_finite(X)))

    def _inference_rows(self) -> int:
        return inference_rows(int(self.n_features_in_), self.device_)

    @torch.no_grad()
    def _map_batches(
        self,
        fn: Callable[[torch.Tensor], torch.Tensor],
        X: np.ndarray,
        *,
        exact: bool = True,
    ) -> np.ndarray:
        """Apply ``fn`` to float32 rows of ``X`` chunk by chunk on the fitted device.

        ``fn`` maps a chunk (B, ...) to an output whose first axis is the chunk's rows. Every
        chunk has the model's one row count (:func:`inference_rows`), the last zero-padded, and
        runs under :func:`batch_independent`, so that each row's output is the same bits
        whatever the rest of ``X``. ``exact=False`` skips both, for sampled quantities whose
        draws depend on the batch anyway. Outputs come back as float32, or float64
        when ``fn`` returns float64.
        """
        self.module_.eval()
        rows = self._inference_rows()
        n = X.shape[0]
        outputs = []
        with batch_independent(self.device_) if exact else contextlib.nullcontext():
            for start in range(0, n, rows):
                chunk = X[start : start + rows]
                k = chunk.shape[0]
                if not chunk.flags.writeable:  # torch warns on read-only memory (a memmap)
                    chunk = chunk.copy()
                if exact and k < rows:
                    padded = np.zeros((rows, *chunk.shape[1:]), dtype=chunk.dtype)
                    padded[:k] = chunk
                    chunk = padded
                out = fn(torch.from_numpy(np.ascontiguousarray(chunk)).to(self.device_))[:k]
                if out.dtype != torch.float64:
                    out = out.float()
                outputs.append(out.cpu().numpy())
        return np.concatenate(outputs, axis=0)

    def image_shape(self) -> tuple[int, int] | None:
        """The ``(h, w)`` of the fitted samples when they are one-channel images, else ``None``.

        Samples fitted as ``(h, w)`` or ``(1, h, w)`` are images; rows of a table (``(d,)``),
        even with a square ``d``, and multi-channel samples are not.
        """
        check_is_fitted(self, "module_")
        shape = tuple(self.input_shape_)
        if len(shape) == 3 and shape[0] == 1:
            shape = shape[1:]
        return (int(shape[0]), int(shape[1])) if len(shape) == 2 else None

    def loss_name(self) -> str | None:
        """The training loss in words (``"bce"``, ``"negative ELBO, bernoulli likelihood"``),
        as ``aekit info`` says it of the saved model."""
        from aekit.io.model_dir import loss_name

        return loss_name(vars(self))

    def save(self, path: str | Path) -> Path:
        """Save the fitted model to the directory ``path`` (see :func:`aekit.io.save`).

        Returns the path of the directory. Under torchrun only rank 0 writes (every rank
        holds the same model; the others return the path at once, without waiting for rank
        0 to finish).
        """
        # The model format sits below the estimators; aekit.io (the package) also holds
        # loading and ONNX export, which sit above them.
        from aekit.io.model_dir import save

        if launched_rank() != 0:
            return Path(path).resolve()
        return save(self, path)
