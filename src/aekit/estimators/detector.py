"""Anomaly detection with an ensemble of autoencoders, with PyOD's conventions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from scipy.linalg import cho_factor, cho_solve
from sklearn.base import TransformerMixin
from sklearn.covariance import ledoit_wolf
from sklearn.utils.validation import check_is_fitted

from aekit._validation import (
    Constraint,
    Integer,
    Options,
    OrNone,
    Real,
    Widths,
)
from aekit.data import (
    check_dense,
    check_samples,
    fit_scaling,
    nonfinite_rows,
)
from aekit.datasets.windows import sliding_windows, window_scores_to_steps
from aekit.estimators._architectures import ARCHITECTURES, Network, detector_architectures
from aekit.estimators.base import TRAINING_CONSTRAINTS, TorchEstimator
from aekit.losses import LossOutput
from aekit.models.ensemble import EnsembleAutoencoder, EnsembleConfig, mahalanobis

# Widest [code, residual] vector whose Gaussian keeps a full covariance with
# `covariance="auto"`; wider ones (large images) keep its diagonal: a full one would hold
# F^2 numbers per member and need far more samples than features to be estimated.
FULL_COVARIANCE_MAX = 1024

# Folds of the honest training scores (see `AnomalyDetector._fit_gaussians`).
CALIBRATION_FOLDS = 5

# Code size and channels of convolutional members when `latent_dim` / `hidden` are None:
# small members, as for tables (on MNIST, one member of (16, 32) channels trains about 2.5
# times faster than the Autoencoder's default (32, 64, 128)).
CONV_LATENT = 16
CONV_HIDDEN = (16, 32)


def _dense_widths(n_features: int) -> tuple[tuple[int, ...], int]:
    """A small hourglass for ``n_features`` inputs: one hidden layer of about half the width and
    a code of about a quarter (at least 2)."""
    latent = max(2, math.ceil(n_features / 4))
    return (max(latent + 1, math.ceil(n_features / 2)),), latent


def _gaussian(
    v: np.ndarray, errors: np.ndarray, trim: float, covariance: str
) -> tuple[np.ndarray, np.ndarray]:
    """Mean (F,) and precision ((F, F), or (F,) for ``"diag"``) of the rows of ``v`` (n, F)
    whose reconstruction ``errors`` lie below their ``1 - trim`` quantile."""
    inliers = v[errors <= np.quantile(errors, 1.0 - trim)]
    if len(inliers) < 2:
        inliers = v
    inliers = inliers.astype(np.float64)
    if covariance == "full":
        mean = inliers.mean(0)
        shrunk, _ = ledoit_wolf(inliers - mean, assume_centered=True)
        # Shrinkage makes the covariance positive definite (the ridge covers data with no
        # spread at all), so a Cholesky solve inverts it, far faster than the
        # eigendecomposition a general pseudo-inverse needs.
        shrunk[np.diag_indices_from(shrunk)] += 1e-9 * max(float(np.trace(shrunk)), 1e-12)
        factor = cho_factor(shrunk, lower=True)
        return mean, cho_solve(factor, np.eye(len(shrunk)))
    variance = inliers.var(0)
    # The floor keeps a feature that every inlier reconstructs exactly (a constant pixel) from
    # weighing infinitely.
    return inliers.mean(0), 1.0 / np.maximum(variance, 1e-6 * max(variance.mean(), 1e-12))


def _mahalanobis_np(v: np.ndarray, mean: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """:func:`aekit.models.mahalanobis` of the rows of ``v`` (n, F) under one Gaussian, (n,)."""
    args = (torch.from_numpy(np.asarray(a, np.float64)[None]) for a in (v, mean, precision))
    return mahalanobis(*args)[0].numpy()


def _trimmed_objective(trim: float) -> Any:
    """Mean squared error of each member, leaving out each batch's ``trim`` share of worst
    reconstructed samples: outliers in the training data then pull the members much less
    towards reconstructing them (a trimmed loss, as in least trimmed squares)."""

    def objective(module: torch.nn.Module, x: torch.Tensor) -> LossOutput:
        out = module(x)
        errors = (out.x_hat - x).square().mean(2)  # (M, B)
        keep = max(1, math.ceil((1.0 - trim) * errors.shape[1]))
        kept = errors.topk(keep, dim=1, largest=False).values  # (M, keep)
        # Members share no weights, so the mean over members trains each on its own loss.
        total = kept.mean()
        return LossOutput(total, {"reconstruction": total.detach()})

    return objective


class AnomalyDetector(TransformerMixin, TorchEstimator):
    """Outlier detector: an ensemble of small autoencoders and a Gaussian model of their outputs.

    Training (on data assumed mostly normal, as in PyOD):

    1. the data are z-scored with statistics of the training data (per feature for tables, per
       channel for images and series), whatever their dtype: uint8 images are z-scored too,
       not divided by 255 as :class:`Autoencoder`'s ``scaling="auto"`` does. For an image
       both are one affine map per channel, but that division exists to give a sigmoid
       output and binary cross-entropy targets in [0, 1], and the members have a linear
       output and a squared error by design (the Gaussians model their residuals, which a
       sigmoid would bound); z-scoring gives every input unit spread whatever part of its
       dtype's range it uses (12-bit values in uint16 included);
    2. ``n_estimators`` autoencoders, each from its own random initialisation, learn to
       reconstruct them with a trimmed squared error: in every batch the ``trim`` share of worst
       reconstructed samples is left out of the loss, so that the outliers among the training
       data do not teach the members to reconstruct outliers;
    3. each member m describes a sample x by v = [z, x_hat - x], its code next to its residual,
       and a Gaussian N(mu_m, Sigma_m) is fitted (Ledoit-Wolf shrinkage) to the v of the
       training samples that member reconstructs best (all but the ``trim`` share).

    The outlier score of x is the mean over the members of the squared Mahalanobis distance
    (v - mu_m)^T Sigma_m^{-1} (v - mu_m): high when x reconstructs badly in directions where the
    training data reconstruct well, or when its code lies away from the training codes. As in
    PyOD, ``threshold_`` is the ``1 - contamination`` quantile of the training scores
    ``decision_scores_``, and higher scores are more abnormal.

    A Gaussian scores the samples it was fitted on lower than new ones, so the training
    scores are computed out of fold (5 folds; contiguous blocks for a series, whose
    neighbouring windows overlap): each training sample is scored by Gaussians fitted
    without it, as a new sample would be, and new data from the training distribution are
    flagged at about the ``contamination`` rate. ``decision_function`` on the training data
    itself uses the final Gaussians, fitted on all the inliers, so it scores those inliers a
    little lower than ``decision_scores_`` does (about 2% on the ODDS tables); the outliers,
    trimmed from the fit, score alike. ``labels_`` are the training data's labels.

    A sample whose score cannot be computed, because its values leave float32's range once
    scaled or in the network (``np.full(10, 1e37)`` for data of small spread), is flagged
    rather than refused: it scores +inf, is labelled 1 and has outlier probability 1 (an input
    that overflows the model is abnormal by any measure, and one such row does not stop a
    stream); for a series, so are the steps of every window that holds it.

    On the ODDS benchmark sets (PyOD's protocol) this scoring and the trimmed loss each raised
    the mean ROC-AUC over the plain mean squared error of an untrimmed ensemble; see
    ``benchmarks/odds_detectors.py``.

    Input kinds:

    - tables ``(n, d)``: dense members ``d - d/2 - d/4``, trained side by side in one batched
      network;
    - images ``(n, h, w)`` / ``(n, c, h, w)``: convolutional members (``architecture="auto"``);
    - a time series ``(T,)`` or ``(T, F)`` with ``window=W``: the series is cut into windows of W
      steps (stride 1), every window is scored, and each step gets the mean score of the
      windows that cover it, so ``decision_function`` returns one score per time step,
      shape ``(T,)``. W of about one period of the series (a day of samples) works well. A
      window holds an anomaly of L steps in L + W - 1 windows: when the training series holds
      anomalies, give a ``trim`` that covers those windows.

    Parameters
    ----------
    contamination : float, default=0.1
        Expected share of outliers in the training data, in (0, 0.5]; sets ``threshold_`` and,
        unless ``trim`` is given, the trimmed share of the loss.
    n_estimators : int, default=5
        Autoencoders in the ensemble.
    architecture : {"auto", "dense", "conv"}, default="auto"
        ``"auto"``: conv for image stacks (samples of rank 2 or 3), dense otherwise.
    hidden : sequence of int or None, default=None
        Encoder widths of dense members (``None``: one layer of half the input width) or
        channels of the stride-2 blocks of conv members (``None``: (16, 32)).
    latent_dim : int or None, default=None
        Code size of each member (``None``: a quarter of the input width, at least 2, for dense
        members; 16 for conv members).
    window : int or None, default=None
        Window length for a time series; ``None`` treats rows as independent samples.
    stride : int or None, default=None
        A series is trained on every ``stride``-th window (every window is scored):
        neighbouring windows share all but one step, so a stride of a small fraction of the
        window loses little and trains that many times faster. ``None``: ``window // 32``
        (at least 1); on NAB's series (window 288, stride 9) the ROC-AUC was within 0.01 of
        stride 1's.
    trim : float or None, default=None
        Share of each batch's worst reconstructed samples left out of the loss and of the
        Gaussians' fit, in (0, 0.5]; ``None`` uses ``contamination``.
    covariance : {"auto", "full", "diag"}, default="auto"
        Covariance of the Gaussians: ``"auto"`` is full up to 1024 numbers per sample (code
        plus residual) and diagonal beyond.
    epochs : int, default=50
        Maximum passes over the training data; training stops earlier when the trimmed loss
        has not improved for ``patience`` epochs, keeping the best epoch's weights.
    batch_size : int or None, default=None
        Samples per step; ``None`` takes about a twentieth of the training rows, 16 to 256
        (:func:`aekit.training.default_batch_size`, as for the other estimators), so small
        tables still get enough steps per epoch.
    lr : float, default=1e-3
        Adam's learning rate.
    patience : int, default=10
    lr_schedule, clip_grad_norm, precision, compile : see :class:`~aekit.Autoencoder`
    device : str, default="auto"
        ``"auto"`` uses CUDA, then MPS, then the CPU.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation and data order; an int gives bit-identical runs on the CPU.
    verbose : bool, default=True
        A progress bar over epochs, only on a terminal or in a notebook.

    Attributes
    ----------
    module_ : aekit.models.EnsembleAutoencoder
        The trained members.
    gaussian_mean_ : ndarray of shape (n_estimators, latent_dim + n_features)
    gaussian_precision_ : ndarray of shape (n_estimators, F, F) or (n_estimators, F)
        The members' Gaussians over [code, residual] (a diagonal precision has shape (M, F)).
    decision_scores_ : ndarray of shape (n_samples,) or (T,)
        Outlier scores of the training data (per time step for a series).
    threshold_ : float
        Scores above it are outliers.
    labels_ : ndarray of int
        1 for the training samples (or steps) above ``threshold_``, 0 otherwise.
    history_ : list of dict
        Per-epoch training loss (the members' mean trimmed squared error) and time.
    batch_size_ : int
        Samples per gradient step used in training (``batch_size``, or its size-aware
        default).
    n_features_in_ : int
        Features per sample (per window for a series: ``window * F``).
    input_shape_ : tuple of int
        Shape of one sample (of one window for a series).

    Examples
    --------
    >>> import numpy as np
    >>> from aekit import AnomalyDetector
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6))
    >>> X[:5] += 6  # five outliers
    >>> det = AnomalyDetector(contamination=0.05, epochs=20, random_state=0).fit(X)
    >>> det.decision_scores_.shape, int(det.labels_[:5].sum())
    ((300,), 5)
    >>> det.predict(X[:7]).tolist()
    [1, 1, 1, 1, 1, 0, 0]
    """

    def __init__(
        self,
        *,
        contamination: float = 0.1,
        n_estimators: int = 5,
        architecture: str = "auto",
        hidden: Sequence[int] | None = None,
        latent_dim: int | None = None,
        window: int | None = None,
        stride: int | None = None,
        trim: float | None = None,
        covariance: str = "auto",
        epochs: int = 50,
        batch_size: int | None = None,
        lr: float = 1e-3,
        patience: int = 10,
        lr_schedule: str | None = None,
        clip_grad_norm: float | None = None,
        precision: str = "fp32",
        compile: bool = False,
        device: str = "auto",
        random_state: int | np.random.RandomState | None = None,
        verbose: bool = True,
    ) -> None:
        self.contamination = contamination
        self.n_estimators = n_estimators
        self.architecture = architecture
        self.hidden = hidden
        self.latent_dim = latent_dim
        self.window = window
        self.stride = stride
        self.trim = trim
        self.covariance = covariance
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.patience = patience
        self.lr_schedule = lr_schedule
        self.clip_grad_norm = clip_grad_norm
        self.precision = precision
        self.compile = compile
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    _json_state = (*TorchEstimator._json_state, "threshold_", "trim_", "batch_size_")
    capabilities = frozenset({"encode", "score"})
    _parameter_constraints: ClassVar[dict[str, Constraint]] = {
        "contamination": Real(0, 0.5, closed="right"),
        "n_estimators": Integer(1),
        "architecture": Options(lambda: ["auto", *detector_architectures()]),
        "hidden": Widths("width"),
        "latent_dim": OrNone(Integer(1)),
        "window": OrNone(Integer(1)),
        "stride": OrNone(Integer(1)),
        "trim": OrNone(Real(0, 0.5, closed="right")),
        "covariance": Options(["auto", "full", "diag"]),
        "epochs": Integer(1),
        "batch_size": OrNone(Integer(1)),
        "lr": Real(0, closed="neither"),
        "patience": Integer(1),
        **TRAINING_CONSTRAINTS,
    }

    def image_shape(self) -> tuple[int, int] | None:
        """As for every estimator; ``None`` for a series (``window``), whose samples are steps."""
        return None if self.window else super().image_shape()

    _array_state = ("gaussian_mean_", "gaussian_precision_", "decision_scores_", "labels_")

    # ------------------------------------------------------------------ helpers
    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        # The codes of transform are float32 (the network's precision), whatever comes in.
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def _rows(self, X: Any, *, reset: bool) -> tuple[np.ndarray, int | None]:
        """Rows to score ``(n, n_features_in_)``, and the series length T for a windowed series."""
        if not reset:
            check_is_fitted(self, "module_")
        check_dense(X)
        if self.window is None:
            if not hasattr(X, "columns") and np.asarray(X).ndim == 1:
                raise ValueError(
                    "X is 1-D; for a time series give window=W (one score per time step). "
                    "Reshape your data with X.reshape(-1, 1) for a table of one feature"
                )
            rows, _ = check_samples(self, X, reset=reset, min_samples=2 if reset else 1)
            return rows, None
        series = np.asarray(X)
        if series.ndim not in (1, 2):
            raise ValueError(
                f"with window={self.window} X must be a series of shape (T,) or (T, F), "
                f"got shape {series.shape}"
            )
        windows = sliding_windows(series, int(self.window), 1)  # (T - W + 1, W[, F])
        rows, _ = check_samples(self, windows, reset=reset, min_samples=2 if reset else 1)
        return rows, len(series)

    def _kind(self) -> str:
        if self.architecture != "auto":
            return self.architecture
        return "conv" if len(self.input_shape_) in (2, 3) and self.window is None else "dense"

    def _network(self) -> Network:
        """Settings of convolutional members: small ones, with a linear output (the members
        reconstruct z-scored data)."""
        return Network(
            latent_dim=CONV_LATENT if self.latent_dim is None else int(self.latent_dim),
            hidden=CONV_HIDDEN if self.hidden is None else tuple(int(w) for w in self.hidden),
            output_activation="linear",
        )

    def _groups(self, kind: str) -> np.ndarray | None:
        """Features that share one scaling: each channel of an image or of a series."""
        if kind != "dense":
            record = ARCHITECTURES[kind]
            return record.groups(record.read(self.input_shape_, None))
        if self.window is not None and len(self.input_shape_) == 2:
            steps, channels = self.input_shape_
            return np.tile(np.arange(channels), steps)  # (W * F,), time-major like the rows
        if self.window is not None:
            return np.zeros(self.n_features_in_, dtype=int)  # one channel over every step
        return None

    def _ensemble_config(self, kind: str, X: np.ndarray) -> EnsembleConfig:
        n_features = int(X.shape[1])
        if kind != "dense":
            record, network = ARCHITECTURES[kind], self._network()
            config = record.config(network, record.read(self.input_shape_, None), False, False)
            return EnsembleConfig(
                n_members=int(self.n_estimators),
                n_features=n_features,
                latent_dim=int(network.latent_dim),
                conv=config,
            )
        hidden, latent = _dense_widths(n_features)
        if self.hidden is not None:
            hidden = tuple(self.hidden)
        if self.latent_dim is not None:
            latent = int(self.latent_dim)
        return EnsembleConfig(
            n_members=int(self.n_estimators),
            n_features=n_features,
            latent_dim=latent,
            hidden=tuple(int(w) for w in hidden),
        )

    def _scaled(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scaled ``rows``, and the mask of the rows that left float32 on the way (set to zero,
        so that they compute harmlessly; their results are to be discarded)."""
        scaled = self._scale(rows)
        bad = nonfinite_rows(scaled)
        if bad.any():
            scaled = np.where(bad[:, None], np.float32(0.0), scaled)
        return scaled, bad

    def _describe(self, rows: np.ndarray) -> np.ndarray:
        """[code, residual] of every member for scaled ``rows``: (M, n, K + D), float32."""
        V = self._map_batches(lambda x: self.module_.describe(x).transpose(0, 1), rows)
        return np.ascontiguousarray(V.transpose(1, 0, 2))

    def _folds(self, n: int, seed: int) -> list[np.ndarray]:
        """Rows of each calibration fold: contiguous blocks for a series (neighbouring windows
        overlap), a seeded shuffle otherwise; none when there are too few rows."""
        k = min(CALIBRATION_FOLDS, n // 2)
        if k < 2:
            return []
        order = np.arange(n)
        if self.window is None:
            order = np.random.RandomState(seed).permutation(n)
        return np.array_split(order, k)

    def _fit_gaussians(
        self, rows: np.ndarray, covariance: str, stride: int, seed: int
    ) -> np.ndarray:
        """Fit one Gaussian per member over [code, residual] of the training samples it
        reconstructs best (all but the ``trim_`` share); return honest scores of ``rows``.

        A Gaussian scores the samples it was fitted on lower than new ones (markedly so for
        the wide, strongly correlated windows of a series), which would put ``threshold_``
        too low for new data. So each row is scored by Gaussians fitted without its fold
        (and, for a series, without the windows that overlap it), like a new sample, and the
        Gaussians kept for inference are fitted on every training row. A series is fitted on
        every ``stride``-th window, as the networks were trained, and every window is scored.
        """
        V = self._describe(rows)  # (M, n, F)
        n = V.shape[1]
        fit_rows = np.arange(0, n, stride)  # the windows the networks were trained on
        errors = np.square(V[:, fit_rows, self.module_.config.latent_dim :]).mean(2)  # (M, n_fit)
        folds = self._folds(n, seed)
        margin = 0 if self.window is None else int(self.window) - 1
        means, precisions = [], []
        scores = np.zeros((len(V), n))
        for m in range(len(V)):
            v, e = V[m, fit_rows], errors[m]
            for fold in folds:
                if self.window is None:
                    keep = ~np.isin(fit_rows, fold)
                else:  # windows overlapping the fold's block hold its steps too
                    keep = (fit_rows < fold[0] - margin) | (fit_rows > fold[-1] + margin)
                mean, precision = _gaussian(v[keep], e[keep], self.trim_, covariance)
                scores[m, fold] = _mahalanobis_np(V[m, fold], mean, precision)
            mean, precision = _gaussian(v, e, self.trim_, covariance)
            means.append(mean)
            precisions.append(precision)
            if not folds:
                scores[m] = _mahalanobis_np(V[m], mean, precision)
        self.gaussian_mean_ = np.asarray(means, dtype=np.float32)
        self.gaussian_precision_ = np.asarray(precisions, dtype=np.float32)
        return scores.mean(0)

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        """Mean over the members of the squared Mahalanobis distance, for raw ``rows``; +inf
        for a row whose score cannot be computed (it overflows float32 on the way)."""
        scaled, bad = self._scaled(rows)
        # float64 for the quadratic form: a float32 sum over F terms loses digits that the
        # threshold comparison can need.
        mean = torch.from_numpy(self.gaussian_mean_).to(self.device_, torch.float64)
        precision = torch.from_numpy(self.gaussian_precision_).to(self.device_, torch.float64)

        def score(x: torch.Tensor) -> torch.Tensor:
            d2 = mahalanobis(self.module_.describe(x).double(), mean, precision)  # (M, B)
            return d2.mean(0)  # (B,)

        scores = self._map_batches(score, scaled)
        bad |= ~np.isfinite(scores)
        scores[bad] = np.inf
        return scores

    def _scores(self, rows: np.ndarray, n_steps: int | None) -> np.ndarray:
        scores = self._score_rows(rows)
        if n_steps is None:
            return scores
        window = int(self.window)
        bad = np.isinf(scores)
        steps = window_scores_to_steps(np.where(bad, 0.0, scores), n_steps, window, 1)
        if bad.any():  # a step that an unscorable window covers is unscorable too
            covered = window_scores_to_steps(bad.astype(np.float64), n_steps, window, 1, "max")
            steps[covered > 0] = np.inf
        return steps

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        checkpoint: str | Path | None = None,
        resume: bool = False,
        checkpoint_every: int = 1,
    ) -> AnomalyDetector:
        """Train the ensemble on ``X`` (assumed mostly normal) and set the threshold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, *image_shape), or a
            series (T,) / (T, F) with ``window``
        y : ignored
        checkpoint, resume, checkpoint_every
            Save the training state to a folder and resume from it: see
            :meth:`aekit.Autoencoder.fit`.

        Returns
        -------
        self : AnomalyDetector
        """
        self._begin_fit()
        contamination = float(self.contamination)
        self.trim_ = contamination if self.trim is None else float(self.trim)
        rows, n_steps = self._rows(X, reset=True)
        kind = self._kind()
        self.scaling_ = fit_scaling(rows, "standard", self._groups(kind))
        scaled = self._scale(rows)
        config = self._ensemble_config(kind, scaled)
        covariance = self.covariance
        if covariance == "auto":
            covariance = "full" if config.n_scored <= FULL_COVARIANCE_MAX else "diag"
        stride = 1
        if self.window is not None:
            stride = max(1, int(self.window) // 32) if self.stride is None else int(self.stride)
        train_rows = scaled[::stride]  # (n_train, D): neighbouring windows differ by one step
        train_config = self._train_config(len(train_rows))
        self.batch_size_ = train_config.batch_size
        self._resolve_device()
        seed, opened = self._open_checkpoint(checkpoint, resume, checkpoint_every, [rows])
        self._fit_network(
            lambda: EnsembleAutoencoder(config),
            _trimmed_objective(self.trim_),
            self._tensors(train_rows),  # type: ignore[arg-type]
            train_config,
            seed,
            checkpoint=opened,
        )
        scores = self._fit_gaussians(scaled, covariance, stride, seed)
        if n_steps is not None:
            scores = window_scores_to_steps(scores, n_steps, int(self.window), 1)
        self.decision_scores_ = scores
        self.threshold_ = float(np.quantile(self.decision_scores_, 1.0 - contamination))
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)
        return self

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit on ``X`` and return ``labels_`` (1 outlier, 0 inlier)."""
        return self.fit(X).labels_

    # ---------------------------------------------------------------- inference
    def decision_function(self, X: Any) -> np.ndarray:
        """Outlier score of every sample (or time step); higher is more abnormal.

        A sample whose score cannot be computed (its values overflow float32 once scaled, or
        in the network) scores +inf, so that :meth:`predict` flags it.

        Returns
        -------
        scores : ndarray of shape (n_samples,), or (T,) for a series
        """
        rows, n_steps = self._rows(X, reset=False)
        return self._scores(rows, n_steps)

    def predict(self, X: Any) -> np.ndarray:
        """1 for outliers (score above ``threshold_``, or no score at all: see
        :meth:`decision_function`), 0 for inliers."""
        return (self.decision_function(X) > self.threshold_).astype(np.int64)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probability of [inlier, outlier], shape ``(n, 2)``.

        The score scaled linearly between the smallest and largest training score and clipped
        to [0, 1], as PyOD's ``method="linear"``; a sample without a score (+inf) is an
        outlier with probability 1.
        """
        scores = self.decision_function(X)
        low, high = float(self.decision_scores_.min()), float(self.decision_scores_.max())
        outlier = np.clip((scores - low) / max(high - low, 1e-12), 0.0, 1.0)
        return np.column_stack([1.0 - outlier, outlier])

    def score_samples(self, X: Any) -> np.ndarray:
        """Minus the outlier score, the scikit-learn way: higher is more normal."""
        return -self.decision_function(X)

    def transform(self, X: Any) -> np.ndarray:
        """Codes of the first ensemble member, shape ``(n_samples, latent_dim)``.

        One code per sample, or per window of ``window`` steps (stride 1, ``T - window + 1``
        of them) for a series: the latent map of :func:`aekit.plot.latent_map` and the
        report, or similar-item search with :class:`aekit.LatentIndex`. The members differ
        only by their random initialisation, so the first one stands for all.

        A code cannot be flagged as a score can: a row that overflows float32 on the way
        (once scaled, or in the network) is a ValueError that names it.
        """
        rows, _ = self._rows(X, reset=False)
        return self._infer(lambda x: self.module_.encode(x)[0], rows)
