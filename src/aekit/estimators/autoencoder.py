"""The autoencoder estimator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.base import TransformerMixin
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from aekit.data import check_samples, fit_scaling, in_unit_interval
from aekit.estimators.base import TorchEstimator
from aekit.losses import LOSSES, LossOutput, resolve_loss
from aekit.models import ACTIVATIONS, MODULES, halving_widths
from aekit.training import TrainConfig, seeded, train


def _check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not valid; choose one of {list(choices)}")


def _check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


class Autoencoder(TransformerMixin, TorchEstimator):
    """Autoencoder x -> z = f(x) -> x_hat = g(z), trained to minimise the loss L(x, x_hat).

    The encoder f and decoder g are stacks of layers y = x W^T + b with an activation, trained by
    backpropagation with Adam (or SGD) on mini-batches. The default dense network halves its
    width from the input down to the code and mirrors it in the decoder; ``hidden=()`` gives the
    shallow input-code-output model and ``activation=None`` a linear autoencoder, which, trained
    with squared error, spans the same subspace as PCA.

    Parameters
    ----------
    architecture : {"dense"}, default="dense"
        Network family. ``"dense"`` flattens each sample (an image stack ``(n, h, w)`` becomes
        ``(n, h * w)``) and returns outputs in the input's shape.
    latent_dim : int, default=32
        Size of the code z.
    hidden : sequence of int or None, default=None
        Encoder widths between input and code; the decoder mirrors them. ``None`` applies the
        halving rule of :func:`aekit.models.halving_widths` (no hidden layer for a linear
        network, whose stacked layers would compose to one); ``()`` means no hidden layer.
    activation : {"relu", "leaky_relu", "tanh", "sigmoid", "linear"} or None, default="relu"
        Hidden units. ``None`` or ``"linear"`` makes the whole network linear (code and output
        too, unless they are given explicitly).
    code_activation : str, default="auto"
        Activation of the code. ``"auto"``: with no hidden layer the code is the hidden layer
        and uses ``activation`` (the classic shallow autoencoder); a deep encoder ends in a
        linear code, as in Hinton & Salakhutdinov (2006).
    output_activation : {"auto", "sigmoid", "linear", "tanh", ...}, default="auto"
        ``"auto"``: sigmoid when the (scaled) training data lies in [0, 1], linear otherwise.
    loss : {"auto", "bce", "mse"}, default="auto"
        ``"auto"``: binary cross-entropy with a sigmoid output, squared error otherwise. Both
        are means over features, per sample.
    scaling : {"auto", "standard", "minmax"} or None, default="auto"
        Per-feature scaling fitted on the training data and undone on outputs. ``"auto"``
        leaves data in [0, 1] unchanged and z-scores anything else.
    epochs : int, default=100
        Maximum passes over the training data.
    batch_size : int, default=256
        Samples per gradient step.
    lr : float, default=1e-3
        Learning rate.
    optimizer : {"adam", "sgd"}, default="adam"
        ``"sgd"`` is SGD with momentum 0.9.
    validation_fraction : float, default=0.1
        Share of the training data held out to monitor the validation loss (ignored when
        ``fit`` gets ``validation_data``). 0 trains on everything and monitors the training loss.
    early_stopping : bool, default=True
        Stop after ``patience`` epochs without improvement of the monitored loss and restore
        the weights of the best epoch.
    patience : int, default=10
        Epochs without improvement before early stopping.
    device : str, default="auto"
        ``"auto"`` uses CUDA, then MPS, then the CPU.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, data order and the validation split; an int gives bit-identical
        runs on the CPU.
    verbose : bool, default=True
        Show a progress bar over epochs, only on a terminal or in a notebook.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network (:class:`aekit.models.DenseAutoencoder`).
    history_ : list of dict
        One dict per epoch: ``loss``, ``reconstruction``, ``val_loss``,
        ``val_reconstruction`` (with validation) and ``time`` in seconds.
    best_epoch_ : int
        Epoch whose weights the model holds.
    loss_ : str
        The loss used (``"bce"`` or ``"mse"``).
    scaling_ : aekit.data.Scaling or None
        The fitted scaling.
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
    >>> from aekit import Autoencoder
    >>> from aekit.datasets import load_digits
    >>> X, y = load_digits()
    >>> ae = Autoencoder(latent_dim=2, epochs=5, random_state=0).fit(X)
    >>> ae.transform(X).shape
    (1797, 2)
    >>> ae.reconstruct(X).shape
    (1797, 8, 8)
    """

    def __init__(
        self,
        *,
        architecture: str = "dense",
        latent_dim: int = 32,
        hidden: Sequence[int] | None = None,
        activation: str | None = "relu",
        code_activation: str = "auto",
        output_activation: str = "auto",
        loss: str = "auto",
        scaling: str | None = "auto",
        epochs: int = 100,
        batch_size: int = 256,
        lr: float = 1e-3,
        optimizer: str = "adam",
        validation_fraction: float = 0.1,
        early_stopping: bool = True,
        patience: int = 10,
        device: str = "auto",
        random_state: int | np.random.RandomState | None = None,
        verbose: bool = True,
    ) -> None:
        self.architecture = architecture
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.activation = activation
        self.code_activation = code_activation
        self.output_activation = output_activation
        self.loss = loss
        self.scaling = scaling
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.patience = patience
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    _json_state = (*TorchEstimator._json_state, "loss_")

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        # The network computes in float32, whatever precision comes in.
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    # ------------------------------------------------------------------ fitting
    def _module_config(self, X: np.ndarray) -> Any:
        """Resolve the ``"auto"`` choices for training data ``X`` (scaled rows)."""
        _check_choice("architecture", self.architecture, list(MODULES))
        _check_positive_int("latent_dim", self.latent_dim)
        activation = "linear" if self.activation is None else self.activation
        _check_choice("activation", activation, list(ACTIVATIONS))
        linear = activation == "linear"
        if self.hidden is None:
            # Stacked linear layers compose to a single one, so a linear network stays shallow.
            hidden = () if linear else halving_widths(X.shape[1], self.latent_dim)
        else:
            hidden = tuple(self.hidden)
            for width in hidden:
                _check_positive_int("every width in hidden", width)
        code = self.code_activation
        if code == "auto":
            code = activation if (not hidden or linear) else "linear"
        _check_choice("code_activation", code, list(ACTIVATIONS))
        output = self.output_activation
        if output == "auto":
            output = "sigmoid" if in_unit_interval(X) and not linear else "linear"
        _check_choice("output_activation", output, list(ACTIVATIONS))
        config_cls, _ = MODULES[self.architecture]
        return config_cls(
            n_features=int(X.shape[1]),
            latent_dim=int(self.latent_dim),
            hidden=tuple(int(w) for w in hidden),
            activation=activation,
            code_activation=code,
            output_activation=output,
        )

    def _objective(self, module: torch.nn.Module, x: torch.Tensor) -> LossOutput:
        out = module(x)
        reconstruction = LOSSES[self.loss_](out, x, reduction="mean")
        return LossOutput(reconstruction, {"reconstruction": reconstruction.detach()})

    def _train_config(self) -> TrainConfig:
        return TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            optimizer=self.optimizer,
            early_stopping=bool(self.early_stopping),
            patience=self.patience,
            verbose=bool(self.verbose),
            desc=type(self).__name__,
        )

    def _split(
        self, X: np.ndarray, validation_data: Any, seed: int
    ) -> tuple[np.ndarray, np.ndarray | None]:
        if validation_data is not None:
            X_val, _ = check_samples(self, validation_data, reset=False)
            return X, self._scale(X_val)
        fraction = self.validation_fraction
        if not (isinstance(fraction, (int, float)) and 0 <= fraction < 1):
            raise ValueError(f"validation_fraction must be in [0, 1), got {fraction!r}")
        n_val = round(fraction * X.shape[0])
        if n_val < 1 or n_val >= X.shape[0]:
            return X, None
        perm = np.random.RandomState(seed).permutation(X.shape[0])
        return X[perm[n_val:]], X[perm[:n_val]]

    def fit(self, X: Any, y: Any = None, *, validation_data: Any = None) -> Autoencoder:
        """Train the autoencoder on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, *sample_shape)
            Training data: a 2-D table (array, list or DataFrame) or a stack of images.
        y : ignored
        validation_data : array-like, optional
            Held-out data of the same shape; monitored instead of a ``validation_fraction``
            split.

        Returns
        -------
        self : Autoencoder
        """
        for attr in ("module_", "scaling_"):
            self.__dict__.pop(attr, None)
        X, _ = self._validate(X, reset=True)
        seed = self._draw_seed()
        self.scaling_ = fit_scaling(X, self.scaling)
        X = self._scale(X)
        config = self._module_config(X)
        self.loss_ = resolve_loss(self.loss, config.output_activation)
        X_train, X_val = self._split(X, validation_data, seed)
        train_config = self._train_config()
        device = self._resolve_device()
        _, module_cls = MODULES[self.architecture]
        with seeded(seed, device):
            module = module_cls(config).to(device)
            result = train(
                module,
                self._objective,
                [torch.from_numpy(X_train).to(device)],
                train_config,
                val_data=None if X_val is None else [torch.from_numpy(X_val).to(device)],
            )
        self.module_ = module
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        return self

    # ---------------------------------------------------------------- inference
    def transform(self, X: Any) -> np.ndarray:
        """Encode ``X`` into codes of shape ``(n_samples, latent_dim)``."""
        X, _ = self._validate(X, reset=False)
        return self._map_batches(self.module_.encode, self._scale(X))

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Decode codes ``(n_samples, latent_dim)`` into data of the training samples' shape."""
        check_is_fitted(self, "module_")
        Z = check_array(X, dtype=np.float32)
        if Z.shape[1] != self.module_.config.latent_dim:
            raise ValueError(
                f"codes have {Z.shape[1]} columns, but {type(self).__name__} has "
                f"latent_dim={self.module_.config.latent_dim}"
            )
        out = self._unscale(self._map_batches(self.module_.decode, np.ascontiguousarray(Z)))
        return out.reshape(Z.shape[0], *self.input_shape_)

    def reconstruct(self, X: Any) -> np.ndarray:
        """Return x_hat = g(f(x)) for every sample, in the shape of ``X``."""
        X, shape = self._validate(X, reset=False)
        out = self._map_batches(lambda x: self.module_(x).x_hat, self._scale(X))
        return self._unscale(out).reshape(X.shape[0], *shape)

    def reconstruction_error(self, X: Any) -> np.ndarray:
        """Per-sample value of the training loss, shape ``(n_samples,)``.

        The mean over features of the binary cross-entropy or squared error, computed where the
        network works (after ``scaling_``), so features weigh alike.
        """
        X, _ = self._validate(X, reset=False)
        loss = LOSSES[self.loss_]
        return self._map_batches(lambda x: loss(self.module_(x), x), self._scale(X))

    def score(self, X: Any, y: Any = None) -> float:
        """Minus the mean reconstruction error (higher is better, for model selection)."""
        return -float(np.mean(self.reconstruction_error(X)))
