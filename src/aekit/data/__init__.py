"""Array-side plumbing of the estimators: validation and scaling (numpy, no torch)."""

from aekit.data.scaling import SCALINGS, Scaling, fit_scaling, in_unit_interval
from aekit.data.validation import (
    check_dense,
    check_samples,
    nonfinite_rows,
    refuse_nonfinite,
)

__all__ = [
    "SCALINGS",
    "Scaling",
    "check_dense",
    "check_samples",
    "fit_scaling",
    "in_unit_interval",
    "nonfinite_rows",
    "refuse_nonfinite",
]
