"""Anomaly detection with an ensemble of autoencoders, with PyOD's conventions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch
from scipy.linalg import cho_factor, cho_solve
from sklearn.base import TransformerMixin
from sklearn.covariance import ledoit_wolf
from sklearn.utils.validation import check_is_fitted

from aekit._repr import result_repr
from aekit._validation import (
    Boolean,
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
from aekit.training import TrainConfig, default_batch_size

# Widest [code, residual] vector whose Gaussian keeps a full covariance with
# `covariance="auto"`; wider ones (large images) keep its diagonal: a full one would hold
# F^2 numbers per member and need far more samples than features to be estimated.
FULL_COVARIANCE_MAX = 1024

# `epochs=None`: at most this many passes, and no more than it takes to make about
# STEP_BUDGET gradient steps. A small table gets all the passes (about 20 steps each); a large
# one, whose batches are full (256 rows), gets the same order of updates in a few passes,
# which fit members this small as well and keep cover (286,048 rows) to seconds per fit.
MAX_EPOCHS = 50
STEP_BUDGET = 10_000

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


class Explanation(NamedTuple):
    """What :meth:`AnomalyDetector.explain` returns: where each score comes from.

    For a table the arrays are (n, d), for images (n, *image_shape) (heat maps), for a series
    (T, F): one value per time step and channel.
    """

    scores: np.ndarray  # (n,) or (T,): decision_function of the same data
    contributions: np.ndarray  # squared residual in units of its spread on the training inliers
    shares: np.ndarray  # contributions / their sum: per row (tables, images), whole series
    residuals: np.ndarray  # x - x_hat in the data's own units (mean reconstruction)
    features: list[str] | None  # names (feature_names_in_, else x0, x1, ...); None: images

    __repr__ = result_repr

    def top(self, k: int = 3) -> list[list[tuple[str, float]]]:
        """The ``k`` largest shares of each row as ``(feature, share)`` pairs, largest first
        (tables, and the channels of a series step)."""
        if self.features is None:
            raise ValueError("top() names features; an image's explanation is a heat map")
        shares = np.nan_to_num(self.shares.reshape(len(self.shares), -1), nan=-1.0)
        k = min(int(k), shares.shape[1])
        order = np.argsort(-shares, axis=1, kind="stable")[:, :k]
        return [
            [(self.features[j], float(row[j])) for j in idx if row[j] >= 0]
            for row, idx in zip(shares, order, strict=True)
        ]


def leading_steps(
    contributions: np.ndarray, steps: Any, window: int, causal: bool, k: int = 3
) -> list[list[tuple[int, float]]]:
    """For each of ``steps`` of a series, the ``k`` steps of the windows behind its score
    with the largest contributions (all channels), as ``(step, share)`` pairs, largest first.

    ``contributions`` is ``explain(series).contributions`` (T, F); the windows behind step t's
    score span steps t - W + 1 to t when ``causal``, else t - W + 1 to t + W - 1. A share is
    the step's part of the contributions in that span.

    Examples
    --------
    >>> c = np.zeros((10, 1))
    >>> c[6] = 3.0
    >>> c[5] = 1.0
    >>> leading_steps(c, [7], window=4, causal=True, k=2)
    [[(6, 0.75), (5, 0.25)]]
    """
    weight = np.nan_to_num(
        np.asarray(contributions, dtype=np.float64).reshape(len(contributions), -1).sum(1)
    )
    found = []
    for t in np.asarray(steps, dtype=np.int64).tolist():
        first = max(0, t - int(window) + 1)
        last = t + 1 if causal else min(len(weight), t + int(window))
        span = weight[first:last]
        total = span.sum()
        share = span / total if total > 0 else np.zeros_like(span)
        best = np.argsort(-share, kind="stable")[: int(k)]
        found.append([(first + int(j), float(share[j])) for j in best])
    return found


def _rank_probability(scores: np.ndarray, train: np.ndarray, threshold: float) -> np.ndarray:
    """[1 - p, p] for ``scores``: p the training scores' ECDF at the score, mapped piecewise
    linearly so that ``threshold`` lands on 0.5 (see :meth:`AnomalyDetector.predict_proba`)."""
    ranked = np.sort(train[np.isfinite(train)])
    if ranked.size == 0:
        ranked = np.zeros(1)
    below = np.searchsorted(ranked, scores, side="right") / ranked.size  # F(s)
    at = np.searchsorted(ranked, threshold, side="right") / ranked.size  # F(t)
    outlier = np.where(
        scores > threshold,
        0.5 + 0.5 * (below - at) / max(1.0 - at, 1e-12),
        0.5 * below / max(at, 1e-12),
    )
    outlier = np.clip(outlier, 0.0, 1.0)
    # A score above the threshold is an outlier even when it ties the training data's ECDF.
    outlier[scores > threshold] = np.maximum(outlier[scores > threshold], np.nextafter(0.5, 1))
    outlier[np.isinf(scores)] = 1.0
    return np.column_stack([1.0 - outlier, outlier])


def _overlap_mean(values: np.ndarray, n_steps: int) -> np.ndarray:
    """Per-step mean (T, F) of per-window values (n_windows, W, F) over the stride-1 windows
    that cover each step (NaN windows left out)."""
    n_windows, window, channels = values.shape
    total = np.zeros((n_steps, channels))
    count = np.zeros((n_steps, channels))
    finite = np.isfinite(values)
    for k in range(window):  # position k of window j is step j + k
        total[k : k + n_windows] += np.where(finite[:, k], values[:, k], 0.0)
        count[k : k + n_windows] += finite[:, k]
    with np.errstate(invalid="ignore"):
        return total / count


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

    ``decision_scores_`` are the final model's scores of the training data, the very
    scores ``decision_function`` gives them, so ``labels_`` equals ``predict`` on the
    training data and flags its ``contamination`` share. A model scores the samples it was
    fitted on a little lower than new ones (the Gaussians' fit sees them), so new data from
    the same process are flagged somewhat more often: about 1.2 times ``contamination`` on
    the ODDS tables, more for the wide windows of a series. ``predict_proba`` ranks a score
    among the training scores (0.5 at the threshold).

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
    causal : bool, default=False
        For a series: ``True`` gives each step the score of the window that ends at it, so a
        step's score uses only that step and the W - 1 before it (monitoring a stream; the
        first W - 1 steps share the first window's score); ``False`` gives it the mean score
        of the W windows that cover it, which centres a long anomaly's scores on it (looking
        back at a recorded series).
    trim : float or None, default=None
        Share of each batch's worst reconstructed samples left out of the loss and of the
        Gaussians' fit, in (0, 0.5]; ``None`` uses ``contamination``.
    covariance : {"auto", "full", "diag"}, default="auto"
        Covariance of the Gaussians: ``"auto"`` is full up to 1024 numbers per sample (code
        plus residual) and diagonal beyond.
    epochs : int or None, default=None
        Maximum passes over the training data; training stops earlier when the trimmed loss
        has not improved for ``patience`` epochs, keeping the best epoch's weights. ``None``:
        50 passes, or fewer on large data, enough for about 10,000 gradient steps (cover's
        172k training rows get 15 passes of 256-row batches).
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
        causal: bool = False,
        trim: float | None = None,
        covariance: str = "auto",
        epochs: int | None = None,
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
        self.causal = causal
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
        "causal": Boolean(),
        "trim": OrNone(Real(0, 0.5, closed="right")),
        "covariance": Options(["auto", "full", "diag"]),
        "epochs": OrNone(Integer(1)),
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

    def _fit_gaussians(self, train_rows: np.ndarray, covariance: str) -> None:
        """Fit one Gaussian per member over [code, residual] of the scaled ``train_rows`` it
        reconstructs best (all but the ``trim_`` share)."""
        V = self._describe(train_rows)  # (M, n, F)
        errors = np.square(V[:, :, self.module_.config.latent_dim :]).mean(2)  # (M, n)
        fitted = [_gaussian(V[m], errors[m], self.trim_, covariance) for m in range(len(V))]
        self.gaussian_mean_ = np.asarray([mean for mean, _ in fitted], dtype=np.float32)
        self.gaussian_precision_ = np.asarray([prec for _, prec in fitted], dtype=np.float32)

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        """Mean over the members of the squared Mahalanobis distance, for raw ``rows``; +inf
        for a row whose score cannot be computed (it overflows float32 on the way)."""
        return self._row_pass(rows, explain=False)[0]

    def _row_pass(
        self, rows: np.ndarray, explain: bool
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray]:
        """One pass of the members over raw ``rows``: their scores (n,) (+inf where a row
        overflows float32), and with ``explain`` each feature's contribution (n, D) and the
        mean reconstruction in scaled units (n, D) (see :meth:`explain`); and the mask of
        the rows that overflowed."""
        scaled, bad = self._scaled(rows)
        # float64 for the quadratic form: a float32 sum over F terms loses digits that the
        # threshold comparison can need.
        mean = torch.from_numpy(self.gaussian_mean_).to(self.device_, torch.float64)
        precision = torch.from_numpy(self.gaussian_precision_).to(self.device_, torch.float64)
        latent = int(self.module_.config.latent_dim)
        if explain:
            residual_mean, spread = self._residual_spread()

        def run(x: torch.Tensor) -> torch.Tensor:
            v = self.module_.describe(x).double()  # (M, B, K + D): [code, x_hat - x]
            score = mahalanobis(v, mean, precision).mean(0)  # (B,)
            if not explain:
                return score
            r = v[..., latent:]  # (M, B, D)
            parts = ((r - residual_mean[:, None]) / spread[:, None]).square().mean(0)  # (B, D)
            x_hat = x.reshape(len(x), -1).double() + r.mean(0)  # (B, D)
            return torch.cat([score[:, None], parts, x_hat], dim=1)  # (B, 1 + 2D)

        out = self._map_batches(run, scaled)
        scores = out if not explain else np.ascontiguousarray(out[:, 0])
        bad |= ~np.isfinite(scores)
        scores[bad] = np.inf
        if not explain:
            return scores, None, None, bad
        width = (out.shape[1] - 1) // 2
        return scores, out[:, 1 : 1 + width], out[:, 1 + width :], bad

    def _scores(self, rows: np.ndarray, n_steps: int | None) -> np.ndarray:
        scores = self._score_rows(rows)
        if n_steps is None:
            return scores
        return self._steps(scores, n_steps)

    def _steps(self, window_scores: np.ndarray, n_steps: int) -> np.ndarray:
        """Per-step scores (T,) from per-window ones (T - W + 1,): the score of the window
        that ends at the step when ``causal`` (the first W - 1 steps take the first window's),
        else the mean over the windows that cover it; +inf spreads to every step whose score
        uses it."""
        window = int(self.window)
        if self.causal:
            return np.concatenate([np.repeat(window_scores[:1], window - 1), window_scores])
        bad = np.isinf(window_scores)
        steps = window_scores_to_steps(np.where(bad, 0.0, window_scores), n_steps, window, 1)
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
        self._fit_gaussians(train_rows, covariance)
        self.decision_scores_ = self._scores(rows, n_steps)
        finite = self.decision_scores_[np.isfinite(self.decision_scores_)]
        self.threshold_ = float(np.quantile(finite, 1.0 - contamination)) if finite.size else 0.0
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)
        return self

    def _train_config(self, n_train: int, **settings: Any) -> TrainConfig:
        """The base's settings, with ``epochs=None`` made size-aware (see
        :data:`STEP_BUDGET`)."""
        if self.epochs is None and "epochs" not in settings:
            batch_size = settings.get("batch_size", self.batch_size)
            batch_size = default_batch_size(n_train) if batch_size is None else int(batch_size)
            steps = math.ceil(n_train / batch_size)
            settings["epochs"] = max(1, min(MAX_EPOCHS, math.ceil(STEP_BUDGET / steps)))
        return super()._train_config(n_train, **settings)

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
        """Outlier probability as a calibrated rank: [inlier, outlier], shape ``(n, 2)``.

        The outlier column is the share F(s) of training scores (``decision_scores_``) at or
        below the sample's score s, mapped piecewise linearly so that ``threshold_`` lands on
        0.5: ``0.5 F(s) / F(t)`` up to the threshold t, ``0.5 + 0.5 (F(s) - F(t)) / (1 -
        F(t))`` above it. So it is above 0.5 exactly for the samples :meth:`predict` flags,
        1 for a sample scoring above every training sample (or without a score, +inf), and
        a training inlier's value is its rank among the inliers. It says how a score ranks
        against the training data, not a likelihood: unlike PyOD's linear scaling between the
        smallest and largest training score, one huge score does not squash every other
        probability towards 0.
        """
        return self._probability(self.decision_function(X))

    def _probability(self, scores: np.ndarray) -> np.ndarray:
        """:meth:`predict_proba` of samples whose ``decision_function`` is ``scores``."""
        check_is_fitted(self, "decision_scores_")
        return _rank_probability(scores, self.decision_scores_, self.threshold_)

    def explain(self, X: Any) -> Explanation:
        """Each feature's share of every sample's anomaly score.

        A member m reconstructs x with a residual r = x_hat - x (in scaled units). Feature i
        contributes ``((r_i - mu_i) / sigma_i)^2``, its residual in units of the spread
        ``sigma_i`` that member's Gaussian gives it on the training inliers (``mu_i`` their
        mean residual), averaged over the members: the residual part of the score, read
        feature by feature, without the cross terms of the full covariance. A feature the
        training data reconstruct precisely weighs more than a noisy one for the same error,
        as in the score. ``shares`` divides each row's contributions by their sum.

        - Tables: ``top(3)`` of the result names each row's three leading columns.
        - Images: the arrays have the image's shape, a heat map per sample.
        - A series (``window``): each step's (and channel's) contribution is the mean over
          the windows that cover it, and ``shares`` divides by the sum over the whole series,
          so the steps that stand out have the largest shares.

        A row whose score cannot be computed (it overflows float32) has NaN contributions
        and shares; for a series, so do the steps that no computable window covers.

        Returns
        -------
        Explanation
            ``scores``, ``contributions``, ``shares``, ``residuals`` (x - x_hat in the
            data's units) and ``features``.

        Examples
        --------
        >>> import numpy as np
        >>> from aekit import AnomalyDetector
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(400, 6)) @ rng.normal(size=(6, 6))
        >>> det = AnomalyDetector(epochs=20, random_state=0).fit(X)
        >>> odd = X[:2].copy()
        >>> odd[:, 4] += 8 * X[:, 4].std()  # column x4 is off
        >>> [top[0][0] for top in det.explain(odd).top(3)]
        ['x4', 'x4']
        """
        rows, n_steps = self._rows(X, reset=False)
        scores, parts, x_hat, bad = self._row_pass(rows, explain=True)
        assert parts is not None and x_hat is not None
        residuals = np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)
        residuals = residuals - self._unscale(x_hat.astype(np.float32))
        parts[bad], residuals[bad] = np.nan, np.nan  # no score, so no shares of one
        if n_steps is not None:
            scores = self._steps(scores, n_steps)
        if n_steps is not None:
            channels = 1 if len(self.input_shape_) == 1 else int(self.input_shape_[1])
            parts = _overlap_mean(parts.reshape(len(parts), -1, channels), n_steps)  # (T, F)
            residuals = _overlap_mean(residuals.reshape(len(rows), -1, channels), n_steps)
            total = np.nansum(parts)
            shares = parts / total if total > 0 else np.zeros_like(parts)
            features = self._feature_names(channels)
            return Explanation(scores, parts, shares, residuals, features)
        total = np.sum(parts, axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            shares = np.where(total > 0, parts / total, 1.0 / parts.shape[1])
        shares[bad] = np.nan
        image = len(self.input_shape_) > 1
        shape = (len(rows), *self.input_shape_)
        features = None if image else self._feature_names(parts.shape[1])
        return Explanation(
            scores,
            parts.reshape(shape),
            shares.reshape(shape),
            residuals.reshape(shape),
            features,
        )

    def _feature_names(self, n: int) -> list[str]:
        names = getattr(self, "feature_names_in_", None)
        if names is not None and len(names) == n:
            return [str(name) for name in names]
        return [f"x{i}" for i in range(n)]

    def _residual_spread(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean (M, D) and standard deviation (M, D) of the residual part of each member's
        Gaussian: the marginal spread, from the covariance (the precision's inverse)."""
        latent = int(self.module_.config.latent_dim)
        precision = np.asarray(self.gaussian_precision_, dtype=np.float64)
        if precision.ndim == 2:  # diagonal
            variance = 1.0 / precision
        else:
            variance = np.stack([np.diag(np.linalg.inv(p)) for p in precision])
        spread = np.sqrt(np.maximum(variance[:, latent:], 1e-12))
        mean = np.asarray(self.gaussian_mean_, dtype=np.float64)[:, latent:]
        return (
            torch.from_numpy(mean).to(self.device_),
            torch.from_numpy(spread).to(self.device_),
        )

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
