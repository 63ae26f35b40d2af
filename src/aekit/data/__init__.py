"""Array-side plumbing of the estimators: validation and scaling (numpy, no torch)."""

from aekit.data.scaling import (
    CHUNK_ROWS,
    PIXEL_DTYPES,
    SCALINGS,
    FeatureStats,
    Scaling,
    chunk_rows,
    fit_scaling,
    in_unit_interval,
    input_dtype,
    scaled_in_unit_interval,
)
from aekit.data.validation import (
    check_dense,
    check_samples,
    nonfinite_rows,
    refuse_nonfinite,
)

__all__ = [
    "CHUNK_ROWS",
    "PIXEL_DTYPES",
    "SCALINGS",
    "FeatureStats",
    "Scaling",
    "check_dense",
    "check_samples",
    "chunk_rows",
    "fit_scaling",
    "in_unit_interval",
    "input_dtype",
    "nonfinite_rows",
    "refuse_nonfinite",
    "scaled_in_unit_interval",
]
