"""Per-feature scaling fitted on the training data and undone on the way out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Scaling:
    kind: str  # "standard" (z-score) or "minmax" (to [0, 1])
    offset: np.ndarray  # (D,) subtracted first
    scale: np.ndarray  # (D,) divided by next; never zero

    # Both map float32 to float32 through float64. A value beyond float32's range becomes inf
    # without a numpy warning: the estimators check their arrays for non-finite rows and name
    # them in a ValueError (or flag them, in the anomaly detector).

    def transform(self, X: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            return ((X - self.offset) / self.scale).astype(np.float32)

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            return (X * self.scale + self.offset).astype(np.float32)


def _standard(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return X.mean(0), X.std(0)


def _minmax(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    low = X.min(0)
    return low, X.max(0) - low


# Name -> function returning (offset, scale) per feature.
SCALINGS = {"standard": _standard, "minmax": _minmax}


def in_unit_interval(X: np.ndarray) -> bool:
    """True when every value lies in [0, 1] (the case for pixels and probabilities)."""
    return bool(X.size) and float(X.min()) >= 0.0 and float(X.max()) <= 1.0


def fit_scaling(
    X: np.ndarray, scaling: str | None, groups: np.ndarray | None = None
) -> Scaling | None:
    """Fit ``scaling`` on ``X`` of shape (n, D).

    ``"auto"`` leaves data that lies in [0, 1] as it is and z-scores anything else; ``None``
    never scales. Constant features get a scale of 1 so they pass through unchanged.

    ``groups`` (D,) gives each feature a group id; features of one group share their offset and
    scale, fitted on all their values together. Convolutional and recurrent networks scale per
    channel this way (every position of a channel alike), which keeps a signal's shape intact.
    """
    if scaling is None or (scaling == "auto" and in_unit_interval(X)):
        return None
    kind = "standard" if scaling == "auto" else scaling
    if kind not in SCALINGS:
        raise ValueError(
            f"unknown scaling {scaling!r}; choose None, 'auto' or one of {sorted(SCALINGS)}"
        )
    X64 = X.astype(np.float64, copy=False)
    if groups is None:
        offset, scale = SCALINGS[kind](X64)
    else:
        groups = np.asarray(groups)
        offset, scale = np.empty(X.shape[1]), np.empty(X.shape[1])
        for g in np.unique(groups):
            columns = groups == g
            o, s = SCALINGS[kind](X64[:, columns].reshape(-1, 1))
            offset[columns], scale[columns] = o[0], s[0]
    scale = np.where(scale > 1e-12 * np.maximum(1.0, np.abs(offset)), scale, 1.0)
    return Scaling(kind, offset, scale)
