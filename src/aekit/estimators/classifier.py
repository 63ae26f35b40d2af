"""The stacked autoencoder classifier: greedy layer-wise pretraining, then softmax fine-tuning."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import softmax
from sklearn.base import ClassifierMixin, TransformerMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_array, column_or_1d
from sklearn.utils.multiclass import check_classification_targets

from aekit._text import plural
from aekit._validation import Boolean, Constraint, Integer, Options, OrNone, Real, Widths
from aekit.data import check_samples, fit_scaling, in_unit_interval, input_dtype
from aekit.data.scaling import SCALINGS
from aekit.estimators.base import TRAINING_CONSTRAINTS, TorchEstimator
from aekit.losses import LOSSES, LossOutput
from aekit.models import ACTIVATIONS, DenseAutoencoder, DenseConfig
from aekit.models.classifier import StackedClassifier, StackedConfig
from aekit.noise import NOISES, check_noise, corrupt
from aekit.training import OPTIMIZERS, Checkpoint, TrainConfig, seeded, train

# Hidden widths when `hidden=None`: two layers, wide enough for MNIST's 1.6% target (1.54% and
# 1.51% test error with seeds 0 and 1) and small enough to pretrain and fine-tune on one CPU
# thread in under 2.5 minutes (benchmarks/stacked_mnist.py); (1000, 1000) costs 3x per epoch.
DEFAULT_HIDDEN = (512, 256)


def _denoising_objective(
    module: torch.nn.Module,
    x: torch.Tensor,
    *,
    loss: str,
    noise: str | None,
    level: float,
    low: float | None,
    high: float | None,
) -> LossOutput:
    """L(x, g(f(x_tilde))) with x_tilde a fresh corruption of the batch x (B, D)."""
    x_tilde = x if noise is None else corrupt(x, noise, level, low, high)  # (B, D)
    reconstruction = LOSSES[loss](module(x_tilde), x, reduction="mean")
    return LossOutput(reconstruction, {"reconstruction": reconstruction.detach()})


def _classification_objective(
    module: torch.nn.Module, x: torch.Tensor, y: torch.Tensor
) -> LossOutput:
    """Softmax cross-entropy -log p(y | x) of the batch x (B, D), labels y (B,) in 0..C-1."""
    logits = module(x)  # (B, C)
    cross_entropy = F.cross_entropy(logits, y)
    error = (logits.argmax(1) != y).float().mean()  # reported only, not differentiated
    return LossOutput(cross_entropy, {"cross_entropy": cross_entropy.detach(), "error": error})


@torch.no_grad()
def _codes(encoder: torch.nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """The encoder's output for every row of x (N, D), batched: the next layer's data."""
    encoder.eval()
    return torch.cat([encoder(x[s : s + batch_size]) for s in range(0, len(x), batch_size)])


class AutoencoderClassifier(ClassifierMixin, TransformerMixin, TorchEstimator):
    """Stacked (denoising) autoencoder classifier: layer-wise pretraining, softmax fine-tuning.

    Each hidden layer h_i = s(h_{i-1} W_i^T + b_i) is first trained alone, bottom up, as the
    encoder of a one-hidden-layer autoencoder on the codes h_{i-1} of the layers below
    (h_0 = x): it minimises L(h_{i-1}, g_i(f_i(h~_{i-1}))), where h~ is a fresh corruption of
    each batch (``noise``; a plain autoencoder with ``noise=None``) and L is binary
    cross-entropy with a sigmoid output for data in [0, 1] (the first layer on pixels, or the
    codes of sigmoid units), squared error with a linear output otherwise (e.g. ReLU codes).
    This greedy pretraining (Bengio et al. 2007; Vincent et al. 2010) needs no labels, so it
    uses ``X`` and ``X_unlabeled`` together. The pretrained encoders then initialise the stack,
    a softmax layer p(y | x) = softmax(h_L U^T + d) is put on top, and the whole network is
    fine-tuned with backpropagation by minimising the cross-entropy -log p(y | x) on the
    labelled samples, with dropout and early stopping on a validation split.

    Parameters
    ----------
    hidden : sequence of int or None, default=None
        Widths of the hidden layers, bottom first. ``None`` means ``(512, 256)``: with the
        other defaults it reaches 1.5% test error on MNIST (60,000 labels), below the 1.6% of
        plain backpropagation in Hinton & Salakhutdinov (2006), in about 2.5 minutes on one
        CPU thread (``benchmarks/stacked_mnist.py``). ``()`` gives softmax regression on the
        inputs (nothing to pretrain).
    activation : {"relu", "leaky_relu", "tanh", "sigmoid", "linear"}, default="relu"
        Hidden units.
    dropout : float, default=0.5
        Dropout probability after every hidden layer during fine-tuning (pretraining uses
        ``noise`` instead). On MNIST 0.5 beat 0.2 both with 60,000 labels (1.54% against
        1.57% test error) and with 1,000 (8.83% against 9.06%, fine-tuned in batches of 256).
    noise : {"masking", "gaussian", "salt_pepper"} or None, default="masking"
        Corruption of each pretraining layer's input (a stacked *denoising* autoencoder);
        ``None`` pretrains plain autoencoders.
    noise_level : float or None, default=None
        Masking or flip probability, or the Gaussian standard deviation. ``None`` takes the
        default of :data:`aekit.noise.DEFAULT_LEVELS` (a quarter of the inputs masked).
    pretrain_epochs : int, default=10
        Epochs of pretraining per layer; 0 skips pretraining (the network is trained from
        random weights: the baseline that pretraining is measured against).
    epochs : int, default=100
        Maximum fine-tuning epochs.
    batch_size : int or None, default=None
        Samples per gradient step, in pretraining and fine-tuning. ``None`` sizes each stage
        to its own data (:func:`aekit.training.default_batch_size`: about 20 steps an epoch,
        16 to 256 samples a step): pretraining to the labelled and unlabelled samples,
        fine-tuning to the labelled ones left after the validation split, so that 1,000
        labels among 59,000 unlabelled images fine-tune in steps of 45, not 4 steps an epoch
        of 256 (MNIST test error, seeds 0 and 1: 9.13% and 8.94% against 8.83% and 9.34%
        with 256: alike, since early stopping lets either run long enough).
        ``pretrain_batch_size_`` and ``batch_size_`` hold the sizes used.
    lr : float, default=1e-3
        Learning rate, in pretraining and fine-tuning.
    optimizer : {"adam", "sgd"}, default="adam"
        ``"sgd"`` is SGD with momentum 0.9.
    validation_fraction : float, default=0.1
        Share of the labelled samples held out (stratified by class when every class has two
        samples or more) to monitor the validation cross-entropy during fine-tuning; ignored
        when ``fit`` gets ``validation_data``. 0 monitors the training loss. With very few
        labels (tens) the held-out handful is a noisy guide: there, ``validation_fraction=0``
        with ``early_stopping=False`` and a fixed ``epochs`` worked better (50 labels of the
        digits: from scratch 0.21 accuracy with the split, see examples/stacked.py).
    early_stopping : bool, default=True
        Stop fine-tuning after ``patience`` epochs without improvement and restore the weights
        of the best epoch. Pretraining always runs ``pretrain_epochs`` epochs.
    patience : int, default=10
        Epochs without improvement before early stopping.
    lr_schedule, clip_grad_norm, precision, compile : see :class:`~aekit.Autoencoder`
        They apply to every stage: each pretrained layer and the fine-tuning.
    scaling : {"auto", "standard", "minmax", "center", "range"} or None, default="auto"
        Per-feature scaling fitted on ``X`` and ``X_unlabeled`` (see :class:`Autoencoder`);
        ``"auto"`` leaves data in [0, 1] unchanged, scales uint8 and uint16 data (images; both
        arrays of that dtype) to [0, 1] by the dtype's range (``"range"``) and z-scores
        anything else. New data is scaled as the training data was, whatever its dtype.
    device : str, default="auto"
        ``"auto"`` uses CUDA, then MPS, then the CPU.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, corruption, data order, dropout and the validation split; an int
        gives bit-identical runs on the CPU.
    verbose : bool, default=True
        Show progress bars (each pretrained layer, then fine-tuning), only on a terminal or in
        a notebook.

    Attributes
    ----------
    module_ : aekit.models.classifier.StackedClassifier
        The fine-tuned network; ``module_.layer(i)`` is hidden layer i.
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted; ``predict`` returns them.
    history_ : list of dict
        One dict per fine-tuning epoch: ``stage`` (``"finetune"``), ``epoch``, ``loss`` and
        ``cross_entropy`` (the same number), ``error`` (misclassified share), their ``val_``
        counterparts with validation, and ``time`` in seconds.
    pretrain_history_ : list of dict
        One dict per pretraining epoch, bottom layer first: ``stage`` (``"pretrain-1"``,
        ``"pretrain-2"``, ...), ``layer`` (1-based), ``epoch``, ``loss`` and
        ``reconstruction`` (the denoising loss on the training samples), ``n_samples`` (the
        samples it was trained on: labelled plus unlabelled) and ``time``. Empty with
        ``pretrain_epochs=0``.
    best_epoch_ : int
        Fine-tuning epoch whose weights the model holds.
    batch_size_, pretrain_batch_size_ : int
        Samples per gradient step used in fine-tuning and in pretraining (``batch_size``, or
        its size-aware default for each stage).
    scaling_ : aekit.data.Scaling or None
        The fitted scaling (None when the data was left as it is).
    n_features_in_ : int
        Features per sample (pixels of an image).
    input_shape_ : tuple of int
        Shape of one sample as seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names, when ``fit`` got a DataFrame with string column names.
    device_ : torch.device
        Where the module lives.

    Examples
    --------
    >>> from aekit import AutoencoderClassifier
    >>> from aekit.datasets import load_digits
    >>> X, y = load_digits()
    >>> clf = AutoencoderClassifier(
    ...     hidden=(64, 32), pretrain_epochs=5, epochs=50, batch_size=32, lr=3e-3, random_state=0
    ... )
    >>> clf = clf.fit(X[:500], y[:500], X_unlabeled=X[500:1500])  # 500 labels, 1000 without
    >>> clf.predict(X[1500:1505]).tolist(), y[1500:1505].tolist()
    ([1, 7, 4, 6, 3], [1, 7, 4, 6, 3])
    >>> clf.predict_proba(X[:2]).shape, clf.transform(X[:2]).shape
    ((2, 10), (2, 32))
    >>> float(clf.score(X[1500:], y[1500:])) > 0.85
    True
    """

    def __init__(
        self,
        *,
        hidden: Sequence[int] | None = None,
        activation: str = "relu",
        dropout: float = 0.5,
        noise: str | None = "masking",
        noise_level: float | None = None,
        pretrain_epochs: int = 10,
        epochs: int = 100,
        batch_size: int | None = None,
        lr: float = 1e-3,
        optimizer: str = "adam",
        validation_fraction: float = 0.1,
        early_stopping: bool = True,
        patience: int = 10,
        lr_schedule: str | None = None,
        clip_grad_norm: float | None = None,
        precision: str = "fp32",
        compile: bool = False,
        scaling: str | None = "auto",
        device: str = "auto",
        random_state: int | np.random.RandomState | None = None,
        verbose: bool = True,
    ) -> None:
        self.hidden = hidden
        self.activation = activation
        self.dropout = dropout
        self.noise = noise
        self.noise_level = noise_level
        self.pretrain_epochs = pretrain_epochs
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.patience = patience
        self.lr_schedule = lr_schedule
        self.clip_grad_norm = clip_grad_norm
        self.precision = precision
        self.compile = compile
        self.scaling = scaling
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    _json_state = (
        *TorchEstimator._json_state,
        "classes_",
        "pretrain_history_",
        "batch_size_",
        "pretrain_batch_size_",
    )
    capabilities = frozenset({"encode", "classify"})
    _parameter_constraints: ClassVar[dict[str, Constraint]] = {
        "hidden": Widths("width"),
        "activation": Options(list(ACTIVATIONS)),
        "dropout": Real(0, 1),
        "noise": Options([None, *NOISES]),
        "noise_level": OrNone(Real(0)),
        "pretrain_epochs": Integer(0),
        "epochs": Integer(1),
        "batch_size": OrNone(Integer(1)),
        "lr": Real(0, closed="neither"),
        "optimizer": Options(list(OPTIMIZERS)),
        "validation_fraction": Real(0, 1),
        "early_stopping": Boolean(),
        "patience": Integer(1),
        "scaling": Options(["auto", None, *SCALINGS]),
        **TRAINING_CONSTRAINTS,
    }

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        # The network computes in float32, whatever precision comes in.
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def _set_state(self, name: str, value: Any) -> None:
        if name == "classes_":
            # JSON keeps ints, floats, bools and strings apart, so the array gets their dtype.
            self.classes_ = np.asarray(value)
        else:
            super()._set_state(name, value)

    # ------------------------------------------------------------------ fitting
    def _stacked_config(self, n_features: int, n_classes: int) -> StackedConfig:
        hidden = DEFAULT_HIDDEN if self.hidden is None else tuple(self.hidden)
        return StackedConfig(
            n_features=n_features,
            hidden=tuple(int(w) for w in hidden),
            n_classes=n_classes,
            activation=self.activation,
            dropout=float(self.dropout),
        )

    def _check_targets(self, y: Any, n_samples: int) -> np.ndarray:
        if y is None:
            raise ValueError(
                f"This {type(self).__name__} estimator requires y to be passed, but the target "
                "y is None."
            )
        y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
        y = column_or_1d(y, warn=True)
        if y.shape[0] != n_samples:
            raise ValueError(
                f"X has {plural(n_samples, 'sample')} but y has {plural(y.shape[0], 'label')}"
            )
        check_classification_targets(y)
        return y

    def _encode_targets(self, y: np.ndarray) -> np.ndarray:
        """Labels -> indices into ``classes_``; unknown labels raise a ValueError."""
        index = np.searchsorted(self.classes_, y)
        index = np.clip(index, 0, len(self.classes_) - 1)
        unknown = self.classes_[index] != y
        if np.any(unknown):
            raise ValueError(
                f"y contains labels not seen in fit: {np.unique(y[unknown])[:5].tolist()}"
            )
        return index.astype(np.int64)

    def _split(
        self, X: np.ndarray, y: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        n_val = round(self.validation_fraction * X.shape[0])
        if n_val < 1 or n_val >= X.shape[0]:
            return X, y, None, None
        counts = np.bincount(y, minlength=len(self.classes_))
        n_classes = len(self.classes_)
        stratify = y if counts.min() >= 2 and n_classes <= n_val <= X.shape[0] - n_classes else None
        X_train, X_val, y_train, y_val = train_test_split(
            X, y, test_size=n_val, random_state=seed, stratify=stratify
        )
        return X_train, y_train, X_val, y_val

    def _pretrain(
        self,
        module: StackedClassifier,
        X: np.ndarray,
        level: float,
        unit_interval: bool,
        train_config: TrainConfig,
        checkpoint: Checkpoint | None,
    ) -> list[dict[str, Any]]:
        """Greedy layer-wise pretraining of ``module``'s hidden layers on the rows of ``X``
        (``unit_interval``: they lie in [0, 1]); each layer is a checkpoint stage."""
        history: list[dict[str, Any]] = []
        config = module.config
        codes = torch.from_numpy(X).to(self.device_)  # (N, D): the data of the bottom layer
        for i, width in enumerate(config.hidden):
            # Pixels (or sigmoid codes) in [0, 1]: sigmoid output and cross-entropy; anything
            # else (z-scored data, ReLU codes): linear output and squared error.
            bounded = unit_interval if i == 0 else config.activation == "sigmoid"
            layer_ae = DenseAutoencoder(
                DenseConfig(
                    n_features=codes.shape[1],
                    latent_dim=width,
                    activation=config.activation,
                    code_activation=config.activation,
                    output_activation="sigmoid" if bounded else "linear",
                )
            ).to(self.device_)
            objective = functools.partial(
                _denoising_objective,
                loss="bce" if bounded else "mse",
                noise=self.noise,
                level=level,
                low=0.0 if bounded else None,
                high=1.0 if bounded else None,
            )
            stage = f"pretrain-{i + 1}"
            result = train(
                layer_ae,
                objective,
                [codes],
                dataclasses.replace(train_config, desc=f"pretrain layer {i + 1}"),
                checkpoint=None if checkpoint is None else checkpoint.stage(stage),
            )
            module.layer(i).load_state_dict(layer_ae.encoder[0].state_dict())
            history.extend(
                {"stage": stage, "layer": i + 1, "n_samples": len(codes), **r}
                for r in result.history
            )
            if i + 1 < len(config.hidden):
                codes = _codes(layer_ae.encoder, codes, train_config.eval_batch_size)  # (N, width)
        return history

    def fit(
        self,
        X: Any,
        y: Any,
        X_unlabeled: Any = None,
        *,
        validation_data: tuple[Any, Any] | None = None,
        checkpoint: str | Path | None = None,
        resume: bool = False,
        checkpoint_every: int = 1,
    ) -> AutoencoderClassifier:
        """Pretrain layer by layer on ``X`` and ``X_unlabeled``, then fine-tune on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, *sample_shape)
            Labelled samples: a 2-D table (array, list or DataFrame) or a stack of images.
        y : array-like of shape (n_samples,)
            Their class labels (any sortable labels: ints, strings, ...).
        X_unlabeled : array-like, optional
            More samples of the same shape without labels, used by pretraining (and by the
            fitted scaling) only: the semi-supervised case.
        validation_data : tuple (X_val, y_val), optional
            Held-out labelled data monitored during fine-tuning instead of a
            ``validation_fraction`` split; not used for pretraining.
        checkpoint, resume, checkpoint_every
            Save the training state to a folder and resume from it: see
            :meth:`aekit.Autoencoder.fit`. Each pretrained layer and the fine-tuning are
            stages of the checkpoint; a resumed fit skips the finished ones.

        Returns
        -------
        self : AutoencoderClassifier
        """
        self._begin_fit("classes_")
        level = check_noise(self.noise, self.noise_level)
        # The one dtype of X and X_unlabeled as given, before validation casts them to float32.
        dtypes = {input_dtype(A) for A in (X, X_unlabeled) if A is not None}
        dtype = dtypes.pop() if len(dtypes) == 1 else None
        X, _ = check_samples(self, X, reset=True, min_samples=2)
        y = self._check_targets(y, X.shape[0])
        self.classes_, y_index = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes; y has only one "
                f"class: {self.classes_[0]!r}"
            )
        config = self._stacked_config(X.shape[1], len(self.classes_))
        if X_unlabeled is not None:
            X_unlabeled, _ = check_samples(self, X_unlabeled, reset=False)
            pool = np.concatenate([X, X_unlabeled])
        else:
            pool = X
        X_val = y_val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data must be a tuple (X_val, y_val)")
            X_val, _ = check_samples(self, validation_data[0], reset=False)
            y_val = self._encode_targets(self._check_targets(validation_data[1], X_val.shape[0]))
        seed, opened = self._open_checkpoint(
            checkpoint, resume, checkpoint_every, [X, y_index, X_unlabeled, X_val, y_val]
        )
        self.scaling_ = fit_scaling(pool, self.scaling, dtype=dtype)
        X, pool = self._scale(X), self._scale(pool)
        if X_val is not None:
            X_train, y_train, X_val = X, y_index, self._scale(X_val)
        else:
            X_train, y_train, X_val, y_val = self._split(X, y_index, seed)

        device = self._resolve_device()
        pretrain = self._train_config(len(pool), epochs=self.pretrain_epochs, early_stopping=False)
        finetune = self._train_config(len(X_train), desc="fine-tune")
        self.pretrain_batch_size_ = pretrain.batch_size
        self.batch_size_ = finetune.batch_size
        with seeded(seed, device):
            module = StackedClassifier(config).to(device)
            pretrain_history = (
                self._pretrain(module, pool, level, in_unit_interval(pool), pretrain, opened)
                if self.pretrain_epochs > 0
                else []
            )
            del pool
            result = train(
                module,
                _classification_objective,
                self._tensors(X_train, y_train),  # type: ignore[arg-type]
                finetune,
                val_data=self._tensors(X_val, y_val),
                checkpoint=None if opened is None else opened.stage("finetune"),
            )
        self.module_ = module
        self.pretrain_history_ = pretrain_history
        self.history_ = [{"stage": "finetune", **r} for r in result.history]
        self.best_epoch_ = result.best_epoch
        return self

    # ---------------------------------------------------------------- inference
    def _logits(self, X: Any) -> np.ndarray:
        X, _ = self._validate(X, reset=False)
        return self._infer(self.module_, X)  # (n, C)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities p(y = k | x), shape ``(n_samples, n_classes)``, in the order of
        ``classes_``.

        Rows whose values overflow float32 (once scaled, or in the network) have no
        probabilities: they raise a ValueError that names them, in every inference method.
        """
        return softmax(self._logits(X).astype(np.float64), axis=1)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of every sample, shape ``(n_samples,)``."""
        proba = self.predict_proba(X)  # (n, C); validates X and checks that fit was called
        return self.classes_[np.argmax(proba, axis=1)]

    def transform(self, X: Any) -> np.ndarray:
        """Top hidden layer's features h_L, shape ``(n_samples, hidden[-1])`` (learned
        features for another model).

        Like :meth:`predict` and :meth:`predict_proba`, raises a ValueError naming the rows
        whose values overflow float32 on the way (once scaled, or in the network).
        """
        X, _ = self._validate(X, reset=False)
        return self._infer(self.module_.encode, X)
