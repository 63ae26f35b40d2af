"""Array-side plumbing of the estimators: validation and scaling (numpy, no torch)."""

from aekit.data.scaling import SCALINGS, Scaling, fit_scaling, in_unit_interval
from aekit.data.validation import check_samples

__all__ = ["SCALINGS", "Scaling", "check_samples", "fit_scaling", "in_unit_interval"]
