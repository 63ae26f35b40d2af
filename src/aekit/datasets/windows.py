"""Windows of a time series, and per-window scores mapped back onto the time steps.

A sequence model sees fixed-length windows: ``sliding_windows`` cuts a series of T steps into
windows of ``window`` steps starting at 0, stride, 2 stride, ... (the last one ends at or before
step T). A per-window score (a reconstruction error, say) then describes a stretch of time;
``window_scores_to_steps`` gives every step the mean (or max) of the scores of the windows that
cover it, so an anomaly can be located on the series itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from aekit._text import plural
from aekit._validation import Integer, check_value


def _check_window(window: Any, stride: Any, n_steps: int) -> None:
    for name, value in (("window", window), ("stride", stride)):
        check_value(name, value, Integer(1))
    if window > n_steps:
        raise ValueError(f"window ({window}) is longer than the series ({plural(n_steps, 'step')})")


def _real_array(values: Any, name: str) -> np.ndarray:
    """``values`` as a numpy array of finite real numbers, or a ValueError naming ``name``."""
    arr = np.asarray(values)
    # bool and complex are numbers to numpy, but not values a series can be scored on.
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def sliding_windows(series: Any, window: int, stride: int = 1) -> np.ndarray:
    """Cut a series into overlapping windows of ``window`` consecutive steps.

    Parameters
    ----------
    series : array-like of shape (T,) or (T, F)
        A univariate series or F channels over T steps (time along the first axis).
    window : int
        Steps per window, at most T.
    stride : int, default=1
        Steps between the starts of consecutive windows.

    Returns
    -------
    windows : ndarray of shape (n_windows, window) or (n_windows, window, F)
        A fresh, writeable copy; window i holds steps ``i * stride`` to ``i * stride + window - 1``
        and ``n_windows = (T - window) // stride + 1``. Steps after the last window are left out
        when ``(T - window) % stride != 0``. ``windows.reshape(n_windows, -1)`` gives the flat
        rows (time-major) that the estimators and the recurrent autoencoder take.

    Examples
    --------
    >>> import numpy as np
    >>> from aekit.datasets import sliding_windows
    >>> sliding_windows(np.arange(6), window=3, stride=2)
    array([[0, 1, 2],
           [2, 3, 4]])
    >>> sliding_windows(np.arange(10.0).reshape(5, 2), window=4).shape
    (2, 4, 2)
    """
    arr = _real_array(series, "series")
    if arr.ndim not in (1, 2):
        raise ValueError(f"series must be 1-D (T,) or 2-D (T, F), got shape {arr.shape}")
    _check_window(window, stride, arr.shape[0])
    # The view puts the window axis last: (T - window + 1, [F,] window).
    view = sliding_window_view(arr, window, axis=0)[::stride]
    if arr.ndim == 2:
        view = np.moveaxis(view, -1, 1)  # (n_windows, window, F)
    # The view is read-only and aliases the series; the copy is neither, and C-contiguous.
    return view.copy()


class Reducer(NamedTuple):
    combine: np.ufunc  # folds the scores of the windows covering a step into one number
    initial: float  # value of a step before any window is folded in
    finish: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (folded, counts) -> step scores


# Reduction name -> how the scores of the windows that cover a step become the step's score.
REDUCERS: dict[str, Reducer] = {
    "mean": Reducer(np.add, 0.0, lambda total, count: total / np.maximum(count, 1)),
    "max": Reducer(np.maximum, -np.inf, lambda best, count: best),
}


def window_scores_to_steps(
    scores: Any, n_steps: int, window: int, stride: int = 1, reduce: str = "mean"
) -> np.ndarray:
    """Spread one score per window (as cut by :func:`sliding_windows`) over the time steps.

    Parameters
    ----------
    scores : array-like of shape (n_windows,)
        One score per window, ``n_windows = (n_steps - window) // stride + 1``.
    n_steps : int
        Length T of the series the windows were cut from.
    window, stride : int
        The arguments given to :func:`sliding_windows`.
    reduce : {"mean", "max"}, default="mean"
        How the scores of the windows covering a step combine (a key of :data:`REDUCERS`).

    Returns
    -------
    step_scores : ndarray of shape (n_steps,)
        Every step's score. Steps no window covers (the tail after the last window, or gaps
        when ``stride > window``) take the score of the nearest window, the earlier one on a tie.

    Examples
    --------
    >>> from aekit.datasets import window_scores_to_steps
    >>> window_scores_to_steps([1.0, 3.0], n_steps=6, window=3, stride=2)
    array([1., 1., 2., 3., 3., 3.])
    >>> window_scores_to_steps([1.0, 3.0], n_steps=6, window=3, stride=2, reduce="max")
    array([1., 1., 3., 3., 3., 3.])
    """
    if reduce not in REDUCERS:
        raise ValueError(f"unknown reduce {reduce!r}; choose one of {sorted(REDUCERS)}")
    check_value("n_steps", n_steps, Integer(1))
    _check_window(window, stride, n_steps)
    scores = _real_array(scores, "scores").astype(np.float64)
    n_windows = (n_steps - window) // stride + 1
    if scores.shape != (n_windows,):
        raise ValueError(
            f"scores must hold one score per window, {n_windows} for n_steps={n_steps}, "
            f"window={window}, stride={stride}; got shape {scores.shape}"
        )
    reducer = REDUCERS[reduce]
    folded = np.full(n_steps, reducer.initial)
    counts = np.zeros(n_steps, dtype=np.int64)
    # Offset j of every window is the strided slice j, j + stride, ...: one vectorised fold per
    # offset, O(window) numpy calls whatever the number of windows.
    last = (n_windows - 1) * stride  # start of the last window
    for j in range(window):
        steps = slice(j, j + last + 1, stride)
        folded[steps] = reducer.combine(folded[steps], scores)
        counts[steps] += 1
    step_scores = reducer.finish(folded, counts)
    uncovered = np.flatnonzero(counts == 0)
    if uncovered.size:
        # The windows starting just before and just after each uncovered step; the nearer wins.
        before = np.minimum(uncovered // stride, n_windows - 1)
        after = np.minimum(before + 1, n_windows - 1)
        gap_before = uncovered - (before * stride + window - 1)
        gap_after = np.where(after > before, after * stride - uncovered, np.inf)
        nearest = np.where(gap_after < gap_before, after, before)
        step_scores[uncovered] = scores[nearest]
    return step_scores
