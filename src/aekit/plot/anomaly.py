"""Anomaly scores: their histogram with the threshold, and the ROC curve when labels are known."""

from __future__ import annotations

from typing import Any

import numpy as np

from aekit.plot._base import _figure

# Scores spread over more than this ratio (largest to median, all positive) get a log x axis:
# squared distances and reconstruction errors have long right tails.
LOG_SPREAD = 100.0


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
    if not (isinstance(bins, (int, np.integer)) and not isinstance(bins, bool) and bins >= 1):
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    scores, threshold = _scores_and_threshold(detector_or_scores, X, threshold)
    if scores.ndim != 1 or len(scores) == 0:
        raise ValueError(f"scores must be a non-empty 1-D array, got shape {scores.shape}")
    if not np.isfinite(scores).all():
        raise ValueError("scores hold NaN or infinite values")
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
