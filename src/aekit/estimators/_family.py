"""The shared base of the autoencoder family (:class:`~aekit.Autoencoder`, :class:`~aekit.VAE`):
one fit pipeline and the inference methods, as scikit-learn's ``_BasePCA`` serves ``PCA`` and
``IncrementalPCA``.

``fit`` = check the parameters (the class's ``_parameter_constraints``, before any data work)
-> check the data -> resolve the plan (:func:`aekit.estimators._plan.resolve_plan`, a pure
function of explicit arguments) -> build the objective from the plan -> split -> build and
train (:meth:`TorchEstimator._fit_network`). A subclass says what differs: its constraints,
its plan settings (:meth:`_plan_settings`), its objective (:meth:`_objective`) and, if any, its
split of the validation data and its inference output.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import TransformerMixin
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from aekit._lazy import LazyArray, is_lazy
from aekit._text import plural
from aekit._validation import (
    Boolean,
    Bytes,
    Constraint,
    Integer,
    Options,
    OrNone,
    Real,
    Widths,
    check_value,
)
from aekit.data import FeatureStats, check_dense, check_samples, input_dtype
from aekit.data.scaling import SCALINGS
from aekit.estimators._architectures import Network
from aekit.estimators._plan import Plan, resolve_plan
from aekit.estimators._streaming import (
    ScaledRows,
    SparseRows,
    check_source,
    in_chunks,
    load_rows,
    memory_budget,
    source_stats,
    streamed,
)
from aekit.estimators.base import TRAINING_CONSTRAINTS, TorchEstimator
from aekit.losses import LOSSES, LossOutput
from aekit.models import ACTIVATIONS, MODULES
from aekit.models.conv import UPSAMPLERS
from aekit.training import OPTIMIZERS, BatchSource, TensorSource
from aekit.training.streaming import StreamSource

Objective = Callable[..., LossOutput]

# Code activation -> the value above which a unit is bit 1 in transform(X, binary=True).
BIT_THRESHOLDS: dict[str, float] = {"binary": 0.5, "sigmoid": 0.5, "tanh": 0.0}

# The constraints every member of the family shares (architecture choices are each class's).
FAMILY_CONSTRAINTS: dict[str, Constraint] = {
    "latent_dim": Integer(1),
    "hidden": Widths("width"),
    "activation": Options([*ACTIVATIONS, None]),
    "weight_decay": Real(0),
    "dropout": Real(0, 1),
    "spatial_dims": Options([None, 1, 2, 3]),
    "upsample": Options(list(UPSAMPLERS)),
    "scaling": Options(["auto", None, *SCALINGS]),
    "max_memory": Bytes(auto=True),
    "epochs": Integer(1),
    "batch_size": OrNone(Integer(1)),
    "lr": Real(0, closed="neither"),
    "optimizer": Options(list(OPTIMIZERS)),
    "validation_fraction": Real(0, 1),
    "early_stopping": Boolean(),
    "patience": Integer(1),
    **TRAINING_CONSTRAINTS,
}


def _arrays_of(X: Any) -> list[np.ndarray]:
    """The arrays whose memory ``X`` holds, as far as numpy sees without copying: an array
    itself, a DataFrame's one block (validation may return a view of either)."""
    if isinstance(X, np.ndarray):
        return [X]
    if hasattr(X, "to_numpy") and hasattr(X, "columns"):
        try:
            return [X.to_numpy(copy=False)]
        except (TypeError, ValueError):
            return []
    return []


class BaseAutoencoder(TransformerMixin, TorchEstimator):
    """Base of the autoencoder family: fit pipeline, encoding, decoding, reconstruction.

    Not for direct use: see :class:`~aekit.Autoencoder` and :class:`~aekit.VAE`.
    """

    _json_state = (*TorchEstimator._json_state, "loss_", "batch_size_")
    capabilities = frozenset({"encode", "reconstruct"})

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        # The network computes in float32, whatever precision comes in.
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.input_tags.sparse = True  # kept sparse, densified batch by batch
        return tags

    # ------------------------------------------------------------------ fitting
    def _network(self) -> Network:
        """The network settings among the parameters."""
        return Network.of(self.get_params(deep=False))

    def _plan_settings(self) -> dict[str, Any]:
        """Keyword arguments of :func:`resolve_plan` beyond the shared ones."""
        return {}

    def _objective(self, plan: Plan) -> Objective:
        """The training objective for the plan."""
        raise NotImplementedError

    def _fixed_validation(self, rows: Callable[[], np.ndarray], seed: int) -> np.ndarray | None:
        """Validation rows drawn once for the whole fit from the scaled ones (``rows()``), or
        ``None`` to validate on the scaled rows as they are (the default; a VAE that binarizes
        its data draws its validation rows once)."""
        return None

    def _split_rows(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Training and validation rows of ``n``: a seeded ``validation_fraction`` share for
        validation (none when it rounds to no row)."""
        n_val = round(self.validation_fraction * n)
        if n_val < 1 or n_val >= n:
            return np.arange(n), None
        perm = np.random.RandomState(seed).permutation(n)
        return perm[n_val:], perm[:n_val]

    def _fit_rows(self, X: Any) -> tuple[np.ndarray | LazyArray, FeatureStats, bool]:
        """The training data as float32 rows in memory, or the lazy source to stream; their
        per-feature statistics; and whether the rows in memory are this fit's own (so that
        they may be scaled in place) rather than the caller's array."""
        stream = streamed(X, memory_budget(self.max_memory))
        if stream is not None:
            shape = check_source(stream)
            self.__dict__.pop("feature_names_in_", None)
            self.__dict__.pop("table_", None)
            self.__dict__.pop("text_", None)
            self.n_features_in_ = int(np.prod(shape))
            self.input_shape_ = shape
            if len(stream) < 2:
                raise ValueError(f"{stream.describe()}: at least 2 samples are needed to fit")
            return stream, source_stats(stream), True
        if is_lazy(X):
            X = load_rows(X).reshape(X.shape)  # one float32 copy, then validated in place
            rows, _ = self._validate(X, reset=True)
            return rows, FeatureStats.of(rows), True
        rows, _ = self._validate(X, reset=True)
        mine = not any(np.may_share_memory(rows, a) for a in _arrays_of(X))
        return rows, FeatureStats.of(rows), mine

    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        validation_data: Any = None,
        checkpoint: str | Path | None = None,
        resume: bool = False,
        checkpoint_every: int = 1,
    ) -> BaseAutoencoder:
        """Train the model on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, *sample_shape)
            Training data: a 2-D table (array, list or DataFrame), a stack of images, or a
            file source read lazily (:func:`aekit.datasets.open_source`: HDF5/NeXus, zarr,
            ``.npy``, image stacks, Parquet), loaded or streamed by ``max_memory``; or a
            scipy sparse matrix (a TF-IDF matrix, say), which stays sparse: every batch is
            densified when it is drawn, never the whole matrix.
        y : ignored
        validation_data : array-like, optional
            Held-out data of the same shape; monitored instead of a ``validation_fraction``
            split.
        checkpoint : str or Path, optional
            A folder to save the training state in (weights, optimiser, random generators,
            history, early stopping: :mod:`aekit.training.checkpoint`), every
            ``checkpoint_every`` epochs, on Ctrl-C and at the end. It must be absent, empty,
            or a checkpoint of this run with ``resume=True``.
        resume : bool, default=False
            Continue from the checkpoint in ``checkpoint`` (a fresh start when there is none
            yet): same parameters and data, and on the CPU at the same thread count the
            result is bit-identical to a run that was never stopped.
        checkpoint_every : int, default=1
            Epochs between two checkpoints.

        Returns
        -------
        self
        """
        self._begin_fit()
        dtype = input_dtype(X)  # before validation casts it to float32
        rows, stats, mine = self._fit_rows(X)
        val_raw = None
        if validation_data is not None:
            val_raw, _ = check_samples(self, validation_data, reset=False)
        seed, opened = self._open_checkpoint(checkpoint, resume, checkpoint_every, [rows, val_raw])
        plan = resolve_plan(
            stats,
            input_shape=self.input_shape_,
            dtype=dtype,
            architecture=self.architecture,
            network=self._network(),
            scaling=self.scaling,
            **self._plan_settings(),
        )
        self.scaling_ = plan.scaling
        self.loss_ = plan.loss
        objective = self._objective(plan)
        if val_raw is None:
            train_rows, val_rows = self._split_rows(len(rows), seed)
        else:  # validation_data replaces the split
            train_rows, val_rows = np.arange(len(rows)), None
        config = self._train_config(len(train_rows))
        self.batch_size_ = config.batch_size
        device = self._resolve_device()
        if is_lazy(rows):
            prepare = ScaledRows(plan.scaling)
            # A sparse matrix in memory densifies its rows faster than reader processes start.
            workers = 0 if isinstance(rows, SparseRows) else None
            train: BatchSource = StreamSource(
                rows, train_rows, prepare, device, config.batch_size, workers
            )
            val: BatchSource | None = None
            if val_rows is not None:
                fixed = self._fixed_validation(lambda: prepare(rows[np.sort(val_rows)]), seed)
                val = (
                    StreamSource(rows, val_rows, prepare, device, config.eval_batch_size, workers)
                    if fixed is None
                    else TensorSource(self._tensors(fixed))  # type: ignore[arg-type]
                )
        else:
            # The caller's array is never scaled in place, and torch takes writable memory
            # only (a read-only memmap): a copy then, else the rows as they are.
            if (plan.scaling is not None and not mine) or not rows.flags.writeable:
                rows = rows.copy()
            if plan.scaling is not None:
                plan.scaling.transform_inplace(rows)
            data = torch.from_numpy(rows).to(device)  # (n, D): a view on the CPU
            train = TensorSource([data], torch.from_numpy(train_rows))
            val = None
            if val_rows is not None:
                fixed = self._fixed_validation(lambda: rows[val_rows], seed)
                val = (
                    TensorSource([data], torch.from_numpy(val_rows))
                    if fixed is None
                    else TensorSource(self._tensors(fixed))  # type: ignore[arg-type]
                )
        if val_raw is not None:
            scaled = self._scale(val_raw)
            fixed = self._fixed_validation(lambda: scaled, seed)
            val = TensorSource(self._tensors(scaled if fixed is None else fixed))  # type: ignore[arg-type]
        _, module_cls = MODULES[plan.module_kind]
        self._fit_network(
            lambda: module_cls(plan.module_config),
            objective,
            train,
            config,
            seed,
            val_data=val,
            checkpoint=opened,
        )
        return self

    # ---------------------------------------------------------------- inference
    def _output(self, x: torch.Tensor) -> Any:
        """The network's deterministic output for scaled rows ``x`` (B, D) at inference."""
        return self.module_(x)

    @in_chunks
    def transform(self, X: Any, binary: bool = False) -> np.ndarray:
        """Encode ``X`` into codes of shape ``(n_samples, latent_dim)``.

        Raises a ValueError naming the rows whose values overflow float32 on the way (once
        scaled, or in the network), whose codes would be NaN or infinite; the same holds for
        every inference method.

        Parameters
        ----------
        X : array-like, lazy source or scipy sparse matrix
            Samples of the fitted shape.
        binary : bool, default=False
            Return the codes as packed bits, for Hamming search (semantic hashing,
            ``LatentIndex(metric="hamming")``): a uint8 array of shape
            ``(n_samples, ceil(latent_dim / 8))`` in :func:`numpy.packbits` order (bit j of a
            code is ``np.unpackbits(codes, axis=1, count=latent_dim)[:, j]``). A bit is 1
            where the code unit is above the middle of its range: 1/2 for
            ``code_activation="binary"`` (whose codes are bits already) or ``"sigmoid"``, 0
            for ``"tanh"``. Other codes have no middle to cut at: a ValueError.

        Examples
        --------
        >>> from aekit import Autoencoder
        >>> from aekit.datasets import load_digits
        >>> X, _ = load_digits()
        >>> ae = Autoencoder(latent_dim=16, code_activation="binary", epochs=2,
        ...                  random_state=0, verbose=False).fit(X)
        >>> bits = ae.transform(X[:3], binary=True)
        >>> bits.shape, bits.dtype
        ((3, 2), dtype('uint8'))
        """
        X, _ = self._validate(X, reset=False)
        if not check_value("binary", binary, Boolean()):
            return self._infer(self.module_.encode, X)
        middle = self._bit_threshold()
        codes = self._infer(self.module_.encode, X)
        return np.packbits(codes > middle, axis=1)

    def _bit_threshold(self) -> float:
        """Where a code unit turns from bit 0 to bit 1 (see :meth:`transform`)."""
        activation = getattr(self.module_.config, "code_activation", "linear")
        middle = BIT_THRESHOLDS.get(activation)
        if middle is None:
            raise ValueError(
                f"binary codes need code units with a middle to cut at: code_activation "
                f"'binary' (trained as bits), 'sigmoid' or 'tanh'; this model's is "
                f"{activation!r}. Fit with code_activation='binary'"
            )
        return middle

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Decode codes ``(n_samples, latent_dim)`` into data of the training samples' shape."""
        check_is_fitted(self, "module_")
        check_dense(X)
        Z = check_array(X, dtype=np.float32)
        if Z.shape[1] != self.module_.config.latent_dim:
            raise ValueError(
                f"codes have {plural(Z.shape[1], 'column')}, but {type(self).__name__} has "
                f"latent_dim={self.module_.config.latent_dim}"
            )
        out = self._unscale(self._map_batches(self.module_.decode, np.ascontiguousarray(Z)))
        return self._finite(out).reshape(Z.shape[0], *self.input_shape_)

    @in_chunks
    def reconstruct(self, X: Any) -> np.ndarray:
        """Return x_hat = g(f(x)) for every sample, in the shape of ``X``."""
        X, shape = self._validate(X, reset=False)
        out = self._map_batches(lambda x: self._output(x).x_hat, self._scale_finite(X))
        return self._finite(self._unscale(out)).reshape(X.shape[0], *shape)

    def denoise(self, X: Any) -> np.ndarray:
        """Return g(f(x_tilde)) for noisy samples x_tilde, in the shape of ``X``.

        The same computation as :meth:`reconstruct`, named for its use: a model trained with
        ``noise`` maps corrupted inputs back towards clean ones.
        """
        return self.reconstruct(X)

    @in_chunks
    def reconstruction_error(self, X: Any) -> np.ndarray:
        """Per-sample value of the training loss, shape ``(n_samples,)``.

        The mean over features of the binary cross-entropy or squared error, computed where the
        network works (after ``scaling_``), so features weigh alike.
        """
        X, _ = self._validate(X, reset=False)
        loss = LOSSES[self.loss_]
        return self._infer(lambda x: loss(self._output(x), x), X)

    def score(self, X: Any, y: Any = None) -> float:
        """Minus the mean reconstruction error (higher is better, for model selection)."""
        return -float(np.mean(self.reconstruction_error(X)))
