"""Causal anomaly scores of a growing series: a detector refitted on the past as it grows."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import clone

from aekit._validation import Real, check_value

__all__ = ["STREAM_OUTPUTS", "onset_scores", "refit_points", "streaming_scores"]


def onset_scores(levels: Any, window: int) -> np.ndarray:
    """How far each step's level rises above the highest level of the ``window`` steps
    before it: ``level_t / max(level_{t-window}, ..., level_{t-1})`` (the first step: 1).

    A level score stays high while an anomalous stretch is inside the detector's window, so
    thresholding it raises an alarm on every one of those steps; this ratio peaks where the
    level jumps and falls back below 1 while it stays up, so it raises one alarm per event,
    as NAB's scoring (every detection outside a window is a false positive) expects.

    Examples
    --------
    >>> onset_scores([1.0, 1.0, 4.0, 4.0, 4.0, 1.0], window=2).tolist()
    [1.0, 1.0, 4.0, 1.0, 1.0, 0.25]
    """
    levels = np.asarray(levels, dtype=np.float64)
    window = int(window)
    padded = np.concatenate([np.full(window, levels[0]), levels[:-1]])  # (T + W - 1,)
    previous = np.lib.stride_tricks.sliding_window_view(padded, window).max(axis=1)  # (T,)
    return levels / np.maximum(previous, np.finfo(np.float64).tiny)


# What streaming_scores returns: the level, or its onset (see onset_scores).
STREAM_OUTPUTS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "level": lambda levels, window: levels,
    "onset": onset_scores,
}


def refit_points(n_steps: int, window: int, warmup: float = 0.15, growth: float = 2.0) -> list[int]:
    """Steps at which :func:`streaming_scores` fits a detector on everything before them.

    The first after ``warmup`` of the series (and at least two windows), then each
    ``growth`` times the previous, while it lies inside the series.

    Examples
    --------
    >>> refit_points(4000, window=288)
    [600, 1200, 2400]
    """
    first = max(math.ceil(warmup * n_steps), 2 * int(window))
    if first >= n_steps:
        raise ValueError(
            f"a series of {n_steps} steps is too short to stream with window={window}: the "
            f"first fit needs {first} steps (warmup {warmup:g} of the series, and at least "
            "two windows)"
        )
    points = [first]
    while math.ceil(points[-1] * growth) < n_steps:
        points.append(math.ceil(points[-1] * growth))
    return points


def streaming_scores(
    detector: Any,
    X: Any,
    *,
    warmup: float = 0.15,
    growth: float = 2.0,
    output: str = "level",
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Per-step anomaly scores of a series in which no step's score uses a later step.

    A stream is scored as it would be live: a copy of ``detector`` is fitted on the first
    ``warmup`` share of the series, scores the steps that follow with the window that ends
    at each one (``causal=True``), and is refitted on everything seen so far whenever the
    series has grown ``growth``-fold (:func:`refit_points`): a few fits in all, each on
    the whole past. Each model's scores are divided by its own ``threshold_``, so that the
    scores of successive models are on one scale and a score above 1 is a step that model
    flags. The warm-up steps are scored by the first model, which was fitted on them
    (NAB's probationary period is the same first 15%).

    Parameters
    ----------
    detector : AnomalyDetector
        Unfitted, with ``window`` set; its other parameters are kept (``causal`` is set).
    X : array-like of shape (T,) or (T, F)
        The series.
    warmup : float, default=0.15
        Share of the series the first model is fitted on, in (0, 1).
    growth : float, default=2.0
        Refit whenever the series has grown by this factor, > 1.
    output : {"level", "onset"}, default="level"
        ``"level"``: how abnormal the window ending at each step is (for ranking steps,
        monitoring a level); ``"onset"``: its rise over the past window's highest level
        (:func:`onset_scores`), one peak per event (for alarms, and for NAB's scoring).
    progress : callable, optional
        Called as ``progress(done, total)`` after each fit.

    Returns
    -------
    scores : ndarray of shape (T,)

    Examples
    --------
    >>> import numpy as np
    >>> from aekit import AnomalyDetector
    >>> from aekit.tasks import streaming_scores
    >>> t = np.arange(3000)
    >>> x = np.sin(2 * np.pi * t / 50) + 0.05 * np.random.default_rng(0).normal(size=3000)
    >>> x[2500:2505] += 2.0  # a burst
    >>> det = AnomalyDetector(window=50, epochs=5, random_state=0, verbose=False)
    >>> scores = streaming_scores(det, x)
    >>> scores.shape, bool(scores[2504] > 1 > np.median(scores))
    ((3000,), True)
    """
    window = getattr(detector, "window", None)
    if window is None:
        raise ValueError("streaming_scores needs a detector with window=W (a series detector)")
    check_value("warmup", warmup, Real(0, 1, closed="neither"))
    check_value("growth", growth, Real(1, closed="neither"))
    if output not in STREAM_OUTPUTS:
        raise ValueError(f"unknown output {output!r}; choose one of {sorted(STREAM_OUTPUTS)}")
    series = np.asarray(X)
    if series.ndim not in (1, 2):
        raise ValueError(f"X must be a series of shape (T,) or (T, F), got shape {series.shape}")
    n_steps = len(series)
    points = refit_points(n_steps, int(window), warmup, growth)
    ends = [*points[1:], n_steps]
    scores = np.empty(n_steps)
    for k, (start, end) in enumerate(zip(points, ends, strict=True)):
        model = clone(detector).set_params(causal=True)
        model.fit(series[:start])
        scale = max(float(model.threshold_), np.finfo(np.float64).tiny)
        if k == 0:
            scores[:start] = model.decision_scores_ / scale
        # The windows ending at steps start..end-1 begin W - 1 steps before start.
        part = model.decision_function(series[start - int(window) + 1 : end])
        scores[start:end] = part[int(window) - 1 :] / scale
        if progress is not None:
            progress(k + 1, len(points))
    return STREAM_OUTPUTS[output](scores, int(window))
