"""Input validation shared by the estimators: one clear ValueError for each kind of bad input."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils import check_array
from sklearn.utils.validation import validate_data


def _is_stack(X: Any) -> bool:
    """True for arrays of rank > 2 (image stacks, sequences), which sklearn's 2-D checks refuse."""
    if hasattr(X, "columns") or hasattr(X, "toarray") or hasattr(X, "tocsr"):
        return False
    try:
        return np.ndim(X) > 2
    except (ValueError, TypeError):
        return False


def check_samples(
    estimator: Any, X: Any, *, reset: bool, min_samples: int = 1
) -> tuple[np.ndarray, tuple[int, ...]]:
    """Validate ``X`` and return it as float32 rows ``(n, n_features_in_)`` and its sample shape.

    2-D input (arrays, lists, DataFrames) goes through scikit-learn's ``validate_data``, which
    also records ``feature_names_in_``. Higher-rank input (an image stack ``(n, h, w)``) is
    accepted as it is and flattened; its sample shape is remembered as ``input_shape_`` so that
    outputs come back in it. With ``reset=False`` the feature count must match the fit.
    """
    if _is_stack(X):
        X = check_array(
            X, allow_nd=True, ensure_2d=False, dtype=np.float32, ensure_min_samples=min_samples
        )
        sample_shape = tuple(X.shape[1:])
        n_features = int(np.prod(sample_shape))
        if reset:
            if hasattr(estimator, "feature_names_in_"):
                del estimator.feature_names_in_
            estimator.n_features_in_ = n_features
        elif n_features != estimator.n_features_in_:
            raise ValueError(
                f"X has samples of shape {sample_shape} ({n_features} features), but "
                f"{type(estimator).__name__} is expecting {estimator.n_features_in_} features "
                "as input"
            )
        X = X.reshape(X.shape[0], n_features)
    else:
        X = validate_data(
            estimator, X, reset=reset, dtype=np.float32, ensure_min_samples=min_samples
        )
        sample_shape = (X.shape[1],)
    if reset:
        estimator.input_shape_ = sample_shape
    return np.ascontiguousarray(X, dtype=np.float32), sample_shape
