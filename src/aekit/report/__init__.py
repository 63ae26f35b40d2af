"""A self-contained HTML report of a fitted model, with an interactive latent map.

:func:`write_report` (and ``aekit report MODEL_DIR``) writes one HTML file: the model's
configuration and size, the data, metrics beside PCA, every plot of :mod:`aekit.plot` that
applies, and a latent map where hovering a point shows its item and clicking it lists its
nearest neighbours. Nothing in the file is fetched from anywhere.
"""

from aekit.report.build import build_report, check_report_output, write_report

__all__ = ["build_report", "check_report_output", "write_report"]
