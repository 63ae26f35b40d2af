"""Array-side plumbing of the estimators: validation and scaling (numpy, no torch)."""

from aekit.data.scaling import (
    PIXEL_DTYPES,
    SCALINGS,
    Scaling,
    fit_scaling,
    in_unit_interval,
    input_dtype,
)
from aekit.data.validation import (
    check_dense,
    check_samples,
    nonfinite_rows,
    refuse_nonfinite,
)

__all__ = [
    "PIXEL_DTYPES",
    "SCALINGS",
    "Scaling",
    "check_dense",
    "check_samples",
    "fit_scaling",
    "in_unit_interval",
    "input_dtype",
    "nonfinite_rows",
    "refuse_nonfinite",
]
