"""Anomaly scores: their histogram with the threshold, the ROC curve when labels are known, a
series' scores against time, and where in an image its score comes from."""

from __future__ import annotations

from typing import Any

import numpy as np

from aekit._validation import Integer, check_value
from aekit.plot._base import _as_images, _figure

# Scores spread over more than this ratio (largest to median, all positive) get a log x axis:
# squared distances and reconstruction errors have long right tails.
LOG_SPREAD = 100.0


def displayable_scores(scores: np.ndarray) -> tuple[np.ndarray, int]:
    """``scores`` with +inf (a row the detector could not score, and flagged) moved just past
    the largest finite score, which keeps every ranking (ROC) and lets a histogram draw it;
    returns them and how many there were. NaN or -inf are refused."""
    scores = np.asarray(scores, dtype=np.float64)
    unscorable = np.isposinf(scores)
    if np.isnan(scores).any() or np.isneginf(scores).any():
        raise ValueError("scores hold NaN or -inf values")
    if not unscorable.any():
        return scores, 0
    finite = scores[~unscorable]
    top = float(finite.max()) if finite.size else 1.0
    spread = float(np.ptp(finite)) if finite.size > 1 else 0.0
    return np.where(unscorable, top + 0.05 * max(spread, abs(top), 1.0), scores), int(
        unscorable.sum()
    )


def _scores_and_threshold(
    source: Any, X: Any, threshold: float | None
) -> tuple[np.ndarray, float | None]:
    if hasattr(source, "get_params"):  # a detector
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(source, "decision_scores_")
        scores = source.decision_scores_ if X is None else source.decision_function(X)
        return np.asarray(scores, dtype=np.float64), (
            float(source.threshold_) if threshold is None else float(threshold)
        )
    if X is not None:
        raise ValueError("X is only used with a fitted detector; pass the scores alone")
    return np.asarray(source, dtype=np.float64), None if threshold is None else float(threshold)


def anomaly_scores(
    detector_or_scores: Any,
    X: Any = None,
    labels: np.ndarray | None = None,
    threshold: float | None = None,
    bins: int = 50,
    title: str | None = None,
) -> Any:
    """Histogram of the anomaly scores with the threshold; beside it the ROC curve when the true
    labels are known.

    Parameters
    ----------
    detector_or_scores : fitted AnomalyDetector or array of shape (n,)
        A detector (its training ``decision_scores_`` and ``threshold_``, or the scores of
        ``X``) or the scores themselves, higher = more abnormal.
    X : array, optional
        Data to score with the detector instead of its training scores.
    labels : array of shape (n,), optional
        True labels, 1 (or True) for an outlier, 0 for an inlier: the histogram is split in
        the two groups and a second axes shows the ROC curve with its area (ROC-AUC).
    threshold : float, optional
        The threshold line; by default the detector's ``threshold_`` (none for bare scores).
    bins : int, default=50
        Histogram bins (log-spaced when the positive scores span more than a factor of 100).
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        One axes (the histogram), or two (histogram, ROC curve) with labels.

    Examples
    --------
    >>> import numpy as np
    >>> from aekit import plot
    >>> rng = np.random.default_rng(0)
    >>> scores = np.concatenate([rng.normal(0, 1, 95), rng.normal(4, 1, 5)])
    >>> fig = plot.anomaly_scores(scores, labels=np.r_[np.zeros(95), np.ones(5)], threshold=2.5)
    >>> len(fig.axes), fig.axes[1].get_xlabel()
    (2, 'false positive rate')
    """
    check_value("bins", bins, Integer(1))
    scores, threshold = _scores_and_threshold(detector_or_scores, X, threshold)
    if scores.ndim != 1 or len(scores) == 0:
        raise ValueError(f"scores must be a non-empty 1-D array, got shape {scores.shape}")
    scores, unscorable = displayable_scores(scores)
    truth = None
    if labels is not None:
        truth = np.asarray(labels)
        if truth.shape != scores.shape:
            raise ValueError(
                f"labels must hold one value per score: shape {scores.shape}, got {truth.shape}"
            )
        if not np.isin(truth, (0, 1)).all():
            raise ValueError("labels must be 0 (inlier) or 1 (outlier)")
        truth = truth.astype(bool)

    log_x = bool((scores > 0).all() and scores.max() > LOG_SPREAD * np.median(scores))
    if log_x:
        edges = np.geomspace(scores.min(), scores.max(), int(bins) + 1)
    else:
        edges = np.linspace(scores.min(), scores.max(), int(bins) + 1)
    with_roc = truth is not None and 0 < truth.sum() < len(truth)
    fig = _figure(10.0 if with_roc else 6.0, 4.0)
    axes = fig.subplots(1, 2 if with_roc else 1, squeeze=False)[0]
    ax = axes[0]
    if unscorable:
        ax.plot([], [], " ", label=f"{unscorable} unscorable (+inf), drawn at the right edge")
    if truth is None:
        ax.hist(scores, bins=edges, color="C0", label="samples")
    else:
        ax.hist(
            [scores[~truth], scores[truth]],
            bins=edges,
            stacked=True,
            color=["C0", "C3"],
            label=[f"inliers ({(~truth).sum()})", f"outliers ({truth.sum()})"],
        )
    if threshold is not None:
        flagged = float((scores > threshold).mean())
        ax.axvline(threshold, color="k", linestyle="--", label=f"threshold ({flagged:.1%} above)")
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel("anomaly score (higher = more abnormal)")
    ax.set_ylabel("samples")
    ax.legend(fontsize="small", loc="best")
    if with_roc:
        from sklearn.metrics import roc_auc_score, roc_curve

        fpr, tpr, _ = roc_curve(truth, scores)
        auc = roc_auc_score(truth, scores)
        roc = axes[1]
        roc.plot(fpr, tpr, color="C3", label=f"ROC-AUC {auc:.3f}")
        roc.plot([0, 1], [0, 1], color="0.6", linestyle=":", label="chance")
        roc.set_xlabel("false positive rate")
        roc.set_ylabel("true positive rate")
        roc.set_xlim(0, 1)
        roc.set_ylim(0, 1.01)
        roc.set_aspect("equal")
        roc.legend(fontsize="small", loc="lower right")
    if title:
        fig.suptitle(title)
    return fig


def _spans(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) step of every run of True in ``mask``."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def anomaly_timeline(
    detector_or_scores: Any,
    series: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    threshold: float | None = None,
    title: str | None = None,
) -> Any:
    """Per-step anomaly scores of a time series against time, with the threshold; above them
    the series itself when given. Labelled anomalous steps are shaded red, flagged ones
    (score above the threshold) marked on the time axis.

    Parameters
    ----------
    detector_or_scores : fitted AnomalyDetector (with ``window``) or array of shape (T,)
        A detector scores ``series`` (or gives its training ``decision_scores_`` without
        one); an array is taken as the scores of the T steps.
    series : array of shape (T,) or (T, F), optional
        The series, drawn on its own axes (each feature a line).
    labels : array of shape (T,), optional
        1 for the steps of a labelled anomaly (NAB's windows, say), 0 elsewhere.
    threshold : float, optional
        The threshold line; by default the detector's ``threshold_``.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        One axes (the scores), or two (the series above the scores).

    Examples
    --------
    >>> import numpy as np
    >>> from aekit import plot
    >>> scores = np.abs(np.random.default_rng(0).normal(size=500))
    >>> labels = (np.arange(500) > 300) & (np.arange(500) < 340)
    >>> fig = plot.anomaly_timeline(scores, labels=labels, threshold=2.0)
    >>> fig.axes[-1].get_xlabel()
    'time step'
    """
    # A detector scores the series it is shown with; bare scores come with their series.
    X = series if hasattr(detector_or_scores, "get_params") else None
    scores, threshold = _scores_and_threshold(detector_or_scores, X, threshold)
    if scores.ndim != 1 or len(scores) == 0:
        raise ValueError(f"scores must be a non-empty 1-D array, got shape {scores.shape}")
    scores, _ = displayable_scores(scores)
    steps = np.arange(len(scores))
    values = None
    if series is not None:
        values = np.asarray(series, dtype=np.float64)
        if values.ndim not in (1, 2) or len(values) != len(scores):
            raise ValueError(
                f"series must have shape (T,) or (T, F) with T = {len(scores)} steps, "
                f"got {values.shape}"
            )
    truth = None
    if labels is not None:
        truth = np.asarray(labels)
        if truth.shape != scores.shape or not np.isin(truth, (0, 1)).all():
            raise ValueError(f"labels must be 0 or 1 for each of the {len(scores)} steps")
        truth = truth.astype(bool)
    fig = _figure(10.0, 5.0 if values is not None else 3.0)
    axes = fig.subplots(2 if values is not None else 1, 1, sharex=True, squeeze=False)[:, 0]
    ax = axes[-1]
    ax.plot(steps, scores, color="C0", linewidth=0.8, label="score")
    if threshold is not None:
        ax.axhline(threshold, color="k", linestyle="--", linewidth=1, label="threshold")
        flagged = scores > threshold
        if flagged.any():
            ax.plot(
                steps[flagged],
                np.full(int(flagged.sum()), scores.min()),
                "|",
                color="C1",
                markersize=8,
                label=f"flagged ({int(flagged.sum())} steps)",
            )
    if values is not None:
        axes[0].plot(steps, values, linewidth=0.8)
        axes[0].set_ylabel("value")
    if truth is not None:
        for i, (start, stop) in enumerate(_spans(truth)):
            for a in axes:
                a.axvspan(start, stop, color="C3", alpha=0.15, label="labelled" if i == 0 else None)
    ax.set_xlabel("time step")
    ax.set_ylabel("anomaly score")
    ax.legend(fontsize="small", loc="upper left")
    if title:
        fig.suptitle(title)
    return fig


def explanation(
    images: np.ndarray,
    shares: np.ndarray,
    scores: np.ndarray | None = None,
    image_shape: tuple[int, int] | None = None,
    title: str | None = None,
) -> Any:
    """Images (top row) above the heat maps of their anomaly scores' shares (bottom row), as
    :meth:`aekit.AnomalyDetector.explain` gives them: where in each image its score comes from.

    Parameters
    ----------
    images : array of shape (n, h, w), (n, 1, h, w) or (n, h * w)
        The samples, one column each.
    shares : array with one value per pixel of each image
        Each pixel's share of its image's score (``explain(images).shares``). Every heat map
        has its own scale, from 0 (black) to its largest share (white), so the pixels that
        stand out in one image show whatever its score; a sample without a score (NaN shares)
        leaves its heat map blank.
    scores : array of shape (n,), optional
        The samples' anomaly scores, written above each column.
    image_shape : tuple (h, w), optional
        Shape of one image, for flat rows that are not square.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        ``2 * n`` axes: the n images, then the n heat maps.

    Examples
    --------
    >>> import numpy as np
    >>> from aekit import plot
    >>> images = np.random.default_rng(0).random((3, 8, 8))
    >>> shares = np.zeros((3, 8, 8))
    >>> shares[:, 2, 5] = 1.0  # the whole score from one pixel
    >>> fig = plot.explanation(images, shares, scores=[9.5, 7.25, 4.0])
    >>> len(fig.axes), fig.axes[0].get_title()
    (6, 'score 9.5')
    """
    top = _as_images(images, image_shape)
    n = len(top)
    if n == 0:
        raise ValueError("no images to show")
    heat = np.asarray(shares, dtype=np.float64)
    if heat.size != top.size or len(heat) != n:
        raise ValueError(
            f"shares must hold one value per pixel of the {n} images of shape "
            f"{top.shape[1:]}, got shape {heat.shape}"
        )
    heat = heat.reshape(top.shape)
    if np.isinf(heat).any() or (np.nan_to_num(heat) < 0).any():
        raise ValueError("shares must be finite and >= 0 (NaN for a sample without a score)")
    titles = None
    if scores is not None:
        values = np.asarray(scores, dtype=np.float64)
        if values.shape != (n,):
            raise ValueError(f"scores must hold one score per image ({n}), got {values.shape}")
        titles = [f"score {s:.3g}" for s in values]
    fig = _figure(1.1 * n + 0.4, 2.8 if titles else 2.6)
    axes = fig.subplots(2, n, squeeze=False)
    low, high = float(top.min()), float(top.max())
    for i in range(n):
        finite = heat[i][np.isfinite(heat[i])]
        peak = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
        axes[0, i].imshow(top[i], cmap="gray", vmin=low, vmax=high)
        axes[1, i].imshow(heat[i], cmap="inferno", vmin=0.0, vmax=peak)
        if titles:
            axes[0, i].set_title(titles[i], fontsize="small")
        for ax in axes[:, i]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("sample")
    axes[1, 0].set_ylabel("share of score")
    if title:
        fig.suptitle(title)
    return fig
