"""Per-feature scaling fitted on the training data and undone on the way out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

# Integer dtypes that `scaling="auto"` reads as pixel intensities and scales to [0, 1] by the
# dtype's range: 8-bit images (PNG, JPEG, MNIST) and 16-bit ones (PNG, TIFF, detector
# frames). Other integers are read as numbers and z-scored: signed ones hold values with a
# sign (and numpy makes int64 of a Python list of ints), and uint32 / uint64 hold counts or
# ids far below a dtype maximum of 4e9 or more, which would squeeze them towards 0. Booleans,
# like any data already in [0, 1], are left as they are.
PIXEL_DTYPES = ("uint8", "uint16")

# Integer dtypes that a saved "range" scaling's offset and scale are matched against to name
# the dtype in `Scaling.describe` (the dtype itself is not saved).
_RANGE_DTYPES = ("bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64")


@dataclass
class Scaling:
    """An affine map per feature, x -> (x - offset) / scale, fitted on the training data.

    ``kind`` is a key of :data:`SCALINGS`: ``"standard"`` (z-score), ``"minmax"`` (the
    training data's minimum and maximum to 0 and 1), ``"center"`` (each feature's mean
    removed, one scale shared by all features, or by each channel's: for spectra and count data,
    whose big peaks should weigh more than their noise floor) or ``"range"`` (an integer
    dtype's whole range to [0, 1]: uint8 pixels divided by 255).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0, 128], [255, 64]], dtype=np.uint8)
    >>> scaling = fit_scaling(X.astype(np.float32), "auto", dtype=X.dtype)
    >>> scaling.kind, scaling.transform(X.astype(np.float32))[1].tolist()
    ('range', [1.0, 0.250980406999588])
    >>> scaling.describe()
    "uint8 values scaled to [0, 1] by their dtype's range (divided by 255)"
    """

    kind: str  # key of SCALINGS
    offset: np.ndarray  # (D,) subtracted first
    scale: np.ndarray  # (D,) divided by next; never zero

    # Both map float32 to float32 through float64. A value beyond float32's range becomes inf
    # without a numpy warning: the estimators check their arrays for non-finite rows and name
    # them in a ValueError (or flag them, in the anomaly detector).

    def transform(self, X: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            return ((X - self.offset) / self.scale).astype(np.float32)

    def transform_inplace(self, X: np.ndarray) -> np.ndarray:
        """:meth:`transform` into ``X`` itself (float32, (n, D)), chunk by chunk: the same
        values without a second copy of the data."""
        step = chunk_rows(X.shape[1])
        for start in range(0, X.shape[0], step):
            X[start : start + step] = self.transform(X[start : start + step])
        return X

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            return (X * self.scale + self.offset).astype(np.float32)

    def describe(self) -> str:
        """One line saying what the scaling does, for a user (the CLI prints it after
        training)."""
        return _DESCRIPTIONS[self.kind](self)


def _describe_range(scaling: Scaling) -> str:
    offset, scale = float(scaling.offset.flat[0]), float(scaling.scale.flat[0])
    name = next(
        (
            d
            for d in _RANGE_DTYPES
            if (_dtype_range(np.dtype(d)) == (offset, scale))
            and (scaling.offset == offset).all()
            and (scaling.scale == scale).all()
        ),
        "integer",
    )
    shift = f"{'plus' if offset < 0 else 'minus'} {abs(offset):.0f}, " if offset else ""
    return f"{name} values scaled to [0, 1] by their dtype's range ({shift}divided by {scale:.0f})"


# Kind -> its one-line description.
_DESCRIPTIONS: dict[str, Callable[[Scaling], str]] = {
    "standard": lambda s: "values z-scored with the training data's means and standard deviations",
    "minmax": lambda s: "values scaled to [0, 1] by the training data's minimum and maximum",
    "center": lambda s: (
        "each feature's training mean removed, values divided by one shared "
        "scale (features keep their relative sizes)"
    ),
    "range": _describe_range,
}


def _dtype_range(dtype: np.dtype) -> tuple[float, float]:
    """(lowest value, width of the range) of an integer or boolean dtype."""
    if dtype.kind == "b":
        return 0.0, 1.0
    info = np.iinfo(dtype)
    return float(info.min), float(info.max) - float(info.min)


# Rows per chunk of a statistics or scaling pass: each chunk is converted to float64 on its
# own (8192 rows of 784 features: 51 MB; fewer rows of wider samples, to stay within
# CHUNK_BYTES), so neither fitting nor applying a scaling ever holds a float64 copy of the data.
# The same chunks are read whether the data is in memory or streamed from a file, so both give
# the same statistics bit for bit.
CHUNK_ROWS = 8192
CHUNK_BYTES = 64 * 2**20


def chunk_rows(n_features: int) -> int:
    """Rows per chunk of a pass over data of ``n_features`` features."""
    return max(1, min(CHUNK_ROWS, CHUNK_BYTES // (8 * max(1, n_features))))


_chunk_rows = chunk_rows  # FeatureStats.of's parameter shadows the name


class FeatureStats:
    """Count, mean, sum of squared deviations, minimum and maximum of every feature, gathered
    chunk by chunk in one pass (each chunk's own two-pass mean and M2, merged by Chan, Golub and
    LeVeque's pairwise update, so the variance stays accurate for data far from zero).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(12, dtype=np.float32).reshape(6, 2)
    >>> stats = FeatureStats.of(X, chunk_rows=4)  # two chunks
    >>> stats.mean.tolist(), stats.std.round(4).tolist(), stats.max.tolist()
    ([5.0, 6.0], [3.4157, 3.4157], [10.0, 11.0])
    """

    def __init__(self, n_features: int) -> None:
        self.n = 0
        self.mean = np.zeros(n_features)
        self.m2 = np.zeros(n_features)
        self.min = np.full(n_features, np.inf)
        self.max = np.full(n_features, -np.inf)

    @classmethod
    def of(cls, X: np.ndarray, chunk_rows: int | None = None) -> FeatureStats:
        """The statistics of the rows of ``X`` (n, D), read ``chunk_rows`` at a time (by
        default :func:`chunk_rows` of D)."""
        stats = cls(X.shape[1])
        step = _chunk_rows(X.shape[1]) if chunk_rows is None else chunk_rows
        for start in range(0, X.shape[0], step):
            stats.update(X[start : start + step])
        return stats

    def update(self, chunk: np.ndarray) -> None:
        """Add the rows of ``chunk`` (m, D)."""
        m = chunk.shape[0]
        if not m:
            return
        x = chunk.astype(np.float64, copy=False)
        mean = x.mean(0)
        m2 = ((x - mean) ** 2).sum(0)
        n = self.n + m
        delta = mean - self.mean
        self.mean = self.mean + delta * (m / n)
        self.m2 = self.m2 + m2 + delta**2 * (self.n * m / n)
        self.n = n
        np.minimum(self.min, x.min(0), out=self.min)
        np.maximum(self.max, x.max(0), out=self.max)

    @property
    def std(self) -> np.ndarray:
        """Population standard deviation per feature (as ``np.std``)."""
        return np.sqrt(self.m2 / max(self.n, 1))

    def pooled(self, groups: np.ndarray) -> FeatureStats:
        """The statistics of each group of features taken together (all the values of its
        features as one), given back per feature: features of a group share them."""
        out = FeatureStats(len(groups))
        out.n = self.n
        for g in np.unique(groups):
            columns = groups == g
            k = int(columns.sum())
            mean = self.mean[columns].mean()
            m2 = self.m2[columns].sum() + self.n * ((self.mean[columns] - mean) ** 2).sum()
            out.mean[columns] = mean
            out.m2[columns] = m2 / k  # per feature's share of the n * k values
            out.min[columns] = self.min[columns].min()
            out.max[columns] = self.max[columns].max()
        return out

    def in_unit_interval(self) -> bool:
        """Whether every value seen lies in [0, 1]."""
        return bool(self.n) and float(self.min.min()) >= 0.0 and float(self.max.max()) <= 1.0


def _pool(stats: FeatureStats, groups: np.ndarray | None) -> FeatureStats:
    return stats if groups is None else stats.pooled(groups)


def _standard(
    stats: FeatureStats, dtype: np.dtype | None, groups: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    pooled = _pool(stats, groups)
    return pooled.mean, pooled.std


def _minmax(
    stats: FeatureStats, dtype: np.dtype | None, groups: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    pooled = _pool(stats, groups)
    return pooled.min, pooled.max - pooled.min


def _center(
    stats: FeatureStats, dtype: np.dtype | None, groups: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    # Every feature keeps its own mean (a spectrum's peak sits at a fixed bin, a detector's
    # beam stop at fixed pixels), but the scale is shared, so the features keep their relative
    # sizes and the loss weighs a bin by its counts, as an error in the data's own units would.
    variance = stats.m2 / max(stats.n, 1)
    if groups is None:
        groups = np.zeros(len(variance), dtype=np.int64)
    scale = np.empty_like(variance)
    for g in np.unique(groups):
        columns = groups == g
        scale[columns] = np.sqrt(variance[columns].mean())
    return stats.mean, scale


def _range(
    stats: FeatureStats, dtype: np.dtype | None, groups: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    if dtype is None or dtype.kind not in "biu":
        raise ValueError(
            "scaling='range' maps an integer dtype's range to [0, 1], but X is "
            f"{'of mixed or unknown dtypes' if dtype is None else dtype.name}; use "
            "scaling='minmax' to scale by the data's own minimum and maximum"
        )
    low, width = _dtype_range(dtype)
    n_features = len(stats.mean)
    return np.full(n_features, low), np.full(n_features, width)


# Name -> function (statistics of the training data per feature, dtype of the input before
# validation, group of each feature or None) -> (offset, scale) per feature. Features of a group
# share their scale (and, but for "center", their offset).
SCALINGS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "standard": _standard,
    "minmax": _minmax,
    "center": _center,
    "range": _range,
}


def input_dtype(X: Any) -> np.dtype | None:
    """The one dtype of ``X`` as given, before validation casts it to float32.

    An array's (or anything with a numpy ``dtype``) dtype; a DataFrame's when all its columns
    share one; for a list, the dtype numpy gives it. None when there is no one dtype (mixed
    columns, ragged lists, pandas' nullable types).

    Examples
    --------
    >>> import numpy as np
    >>> input_dtype(np.zeros((2, 3), np.uint8)), input_dtype([[1, 2], [3, 4]])
    (dtype('uint8'), dtype('int64'))
    """
    try:
        if not hasattr(X, "dtype") and hasattr(X, "dtypes"):  # a DataFrame: one per column
            dtypes = {np.dtype(d) for d in X.dtypes}
            return dtypes.pop() if len(dtypes) == 1 else None
        if hasattr(X, "dtype"):
            try:
                return np.dtype(X.dtype)
            except TypeError:  # a torch tensor's dtype: numpy gives its array one
                pass
        return np.asarray(X).dtype
    except (TypeError, ValueError):
        return None


def in_unit_interval(X: np.ndarray) -> bool:
    """True when every value lies in [0, 1] (the case for pixels and probabilities)."""
    return bool(X.size) and float(X.min()) >= 0.0 and float(X.max()) <= 1.0


def fit_scaling(
    X: np.ndarray | FeatureStats,
    scaling: str | None,
    groups: np.ndarray | None = None,
    dtype: np.dtype | None = None,
) -> Scaling | None:
    """Fit ``scaling`` on ``X`` of shape (n, D), or on its :class:`FeatureStats`.

    ``"auto"`` leaves data that lies in [0, 1] as it is, scales uint8 and uint16 data (its
    ``dtype`` as given, see :func:`input_dtype` and :data:`PIXEL_DTYPES`) to [0, 1] by the
    dtype's range (``"range"``: pixels divided by 255 or 65535), and z-scores anything else;
    ``None`` never scales. Explicit ``"range"`` takes any integer or boolean ``dtype``.
    Constant features get a scale of 1 so they pass through unchanged.

    ``groups`` (D,) gives each feature a group id; features of one group share their offset and
    scale, fitted on all their values together. Convolutional and recurrent networks scale per
    channel this way (every position of a channel alike), which keeps a signal's shape intact.
    ``"center"`` keeps each feature's own mean as its offset and shares only the scale: within
    each group, or across all the features when there are no groups.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 10.0], [2.0, 30.0]])  # the second feature varies 10x as much
    >>> scaling = fit_scaling(X, "center")
    >>> scaling.offset.tolist(), scaling.scale.round(3).tolist()  # sqrt((1 + 100) / 2)
    ([1.0, 20.0], [7.106, 7.106])
    """
    stats = X if isinstance(X, FeatureStats) else FeatureStats.of(X)
    if scaling is None or (scaling == "auto" and stats.in_unit_interval()):
        return None
    if scaling == "auto":
        kind = "range" if dtype is not None and dtype.name in PIXEL_DTYPES else "standard"
    else:
        kind = scaling
    if kind not in SCALINGS:
        raise ValueError(
            f"unknown scaling {scaling!r}; choose None, 'auto' or one of {sorted(SCALINGS)}"
        )
    offset, scale = SCALINGS[kind](stats, dtype, None if groups is None else np.asarray(groups))
    offset, scale = np.asarray(offset, dtype=np.float64), np.asarray(scale, dtype=np.float64)
    scale = np.where(scale > 1e-12 * np.maximum(1.0, np.abs(offset)), scale, 1.0)
    return Scaling(kind, offset, scale)


def scaled_bounds(scaling: Scaling | None, stats: FeatureStats) -> np.ndarray:
    """Each feature's smallest and largest value once ``scaling`` is applied, (2, D) float32.

    The map is increasing per feature, so the scaled minimum and maximum are the scaled
    minimum and maximum rows, computed as :meth:`Scaling.transform` computes every value."""
    bounds = np.stack([stats.min, stats.max]).astype(np.float32)
    return bounds if scaling is None else scaling.transform(bounds)


def scaled_in_unit_interval(scaling: Scaling | None, stats: FeatureStats) -> bool:
    """Whether the data ``stats`` describes lies in [0, 1] once ``scaling`` is applied."""
    if scaling is None:
        return stats.in_unit_interval()
    if not stats.n:
        return False
    bounds = scaled_bounds(scaling, stats)
    return bool(float(bounds[0].min()) >= 0.0 and float(bounds[1].max()) <= 1.0)
