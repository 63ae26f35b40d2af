"""Input validation shared by the estimators: one clear ValueError for each kind of bad input."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse
from sklearn.utils import check_array
from sklearn.utils.validation import validate_data

from aekit._text import plural
from aekit.data.scaling import chunk_rows

# Rows a non-finite error names before "and N more".
NAMED_ROWS = 5


def check_dense(X: Any, name: str = "X") -> None:
    """Refuse a scipy sparse matrix or array with a ValueError that says how to densify it,
    where sparse input is not taken (the autoencoder family's ``fit`` and inference methods
    take it; scikit-learn's own refusal is a TypeError).
    """
    if scipy.sparse.issparse(X):
        raise ValueError(
            f"{name} is a scipy sparse {type(X).__name__}; this takes dense input: pass "
            f"{name}.toarray() (Autoencoder and VAE take sparse matrices)"
        )


def _refuse_text_columns(X: Any) -> None:
    """Name a DataFrame's text columns (scikit-learn's error names only a value)."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(X, "columns"):
        return
    text = [c for c, d in zip(X.columns, dtypes, strict=False) if getattr(d, "kind", "O") in "OSU"]
    if text:
        shown = ", ".join(repr(str(c)) for c in text[:5]) + (" ..." if len(text) > 5 else "")
        raise ValueError(
            f"X has text in column{'s' if len(text) > 1 else ''} {shown}; aekit needs numbers: "
            f"encode {'them' if len(text) > 1 else 'it'} (e.g. sklearn.preprocessing."
            f"OneHotEncoder) or drop {'them' if len(text) > 1 else 'it'}"
        )


def refuse_missing(X: np.ndarray, names: Any = None, name: str = "X") -> None:
    """Raise a ValueError naming the first row and column of ``X`` (n, ...) that holds NaN or
    an infinity, if any (rows and columns counted from 0, as Python indexes them)."""
    flat = X.reshape(len(X), -1)
    step = chunk_rows(flat.shape[1])  # a mask of one chunk at a time, not of the whole data
    if all(np.isfinite(flat[i : i + step]).all() for i in range(0, len(flat), step)):
        return
    bad_rows = ~np.isfinite(flat).all(axis=1)
    row = int(np.argmax(bad_rows))
    col = int(np.argmax(~np.isfinite(flat[row])))
    value = flat[row, col]
    if X.ndim > 2:
        where = (
            f"sample {row}, position {tuple(int(i) for i in np.unravel_index(col, X.shape[1:]))}"
        )
    else:
        label = f" ({str(names[col])!r})" if names is not None else ""
        where = f"row {row}, column {col}{label}"
    count = int(bad_rows.sum())
    if np.isnan(value):
        what = "NaN (a missing value)"
        fix = "fill or drop such rows (e.g. sklearn.impute.SimpleImputer)"
    else:
        what = (
            f"{'-' if value < 0 else ''}inf, an infinity (or a value beyond float32's range, "
            "3.4e38),"
        )
        fix = "drop such rows or rescale the data"
    others = f"; {count} row{'s' if count > 1 else ''} in all" if count > 1 else ""
    raise ValueError(f"{name} holds {what} at {where} (counting from 0){others}: {fix}")


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

    Sparse matrices are refused (densify them with ``X.toarray()``), and so are samples with
    no values: a zero anywhere in the sample shape, such as ``(n, 0, 8)``.
    """
    check_dense(X)
    if reset:
        # A schema that read a table describes the data of a fit on it, not of this one.
        getattr(estimator, "__dict__", {}).pop("table_", None)
        getattr(estimator, "__dict__", {}).pop("text_", None)
    _refuse_text_columns(X)
    if _is_stack(X):
        X = check_array(
            X,
            allow_nd=True,
            ensure_2d=False,
            dtype=np.float32,
            ensure_min_samples=min_samples,
            ensure_all_finite=False,
        )
        refuse_missing(X)
        sample_shape = tuple(X.shape[1:])
        if 0 in sample_shape:
            raise ValueError(
                f"X has samples of shape {sample_shape}, which hold no values; every axis of "
                "a sample needs at least one entry"
            )
        n_features = int(np.prod(sample_shape))
        if reset:
            if hasattr(estimator, "feature_names_in_"):
                del estimator.feature_names_in_
            estimator.n_features_in_ = n_features
        elif n_features != estimator.n_features_in_:
            raise ValueError(
                f"X has samples of shape {sample_shape} ({plural(n_features, 'feature')}), but "
                f"{type(estimator).__name__} is expecting "
                f"{plural(estimator.n_features_in_, 'feature')} as input"
            )
        X = X.reshape(X.shape[0], n_features)
    else:
        X = validate_data(
            estimator,
            X,
            reset=reset,
            dtype=np.float32,
            ensure_min_samples=min_samples,
            ensure_all_finite=False,
        )
        refuse_missing(X, getattr(estimator, "feature_names_in_", None))
        sample_shape = (X.shape[1],)
    if reset:
        estimator.input_shape_ = sample_shape
    return np.ascontiguousarray(X, dtype=np.float32), sample_shape


def nonfinite_rows(*arrays: np.ndarray) -> np.ndarray:
    """Mask (n,) of the rows holding a NaN or an infinity in any of ``arrays`` (each (n, ...))."""
    bad = np.zeros(len(arrays[0]), dtype=bool)
    for a in arrays:
        bad |= ~np.isfinite(a.reshape(len(a), -1)).all(axis=1)
    return bad


def refuse_nonfinite(bad: np.ndarray, name: str = "X", where: str = "in the model") -> None:
    """Raise a ValueError naming the first rows of ``bad`` (a row mask), if any.

    Finite input can still leave float32's range on the way (1e37 z-scored by a small scale, or
    an activation that overflows): the result of such a row would be NaN or infinite, so it is
    refused rather than returned. ``where`` says where, for the message.
    """
    rows = np.flatnonzero(bad)
    if not rows.size:
        return
    named = ", ".join(str(int(i)) for i in rows[:NAMED_ROWS])
    more = f" and {rows.size - NAMED_ROWS} more" if rows.size > NAMED_ROWS else ""
    if rows.size == 1:
        subject, verb, whose = f"row {named} of {name}", "leaves", "its result would be"
    else:
        subject, verb, whose = f"rows {named}{more} of {name}", "leave", "their results would be"
    raise ValueError(
        f"{subject} {verb} float32's range {where}, so {whose} NaN or infinite; such values "
        "lie far outside the range of the training data"
    )
