"""Data loaders: the embedded digits, MNIST from local files, array-file readers, time series."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aekit.datasets.builtin import BUILTIN, BUILTIN_LABELS, Split, load_digits, load_mnist
from aekit.datasets.files import READERS, read_array, read_csv, read_idx, read_npy, read_npz
from aekit.datasets.images import Images, is_image_source, read_images
from aekit.datasets.series import Series, load_nab, nab_labels, read_series
from aekit.datasets.tables import Table, TableSchema, read_labels, read_table
from aekit.datasets.windows import sliding_windows, window_scores_to_steps


def load(source: str | Path, key: str | None = None) -> np.ndarray:
    """Samples from a built-in name (``"digits"``, ``"mnist"``), an array file, a table, or a
    folder or glob of images (:func:`read_images`).

    Examples
    --------
    >>> from aekit.datasets import load
    >>> load("digits").shape
    (1797, 8, 8)
    """
    if isinstance(source, str) and source in BUILTIN:
        return BUILTIN[source]()
    if is_image_source(source):
        return read_images(source).X
    return read_array(source, key=key)


__all__ = [
    "BUILTIN",
    "BUILTIN_LABELS",
    "READERS",
    "Images",
    "Series",
    "Split",
    "Table",
    "TableSchema",
    "load",
    "load_digits",
    "load_mnist",
    "load_nab",
    "nab_labels",
    "read_array",
    "read_csv",
    "read_idx",
    "read_images",
    "read_labels",
    "read_npy",
    "read_npz",
    "read_series",
    "read_table",
    "sliding_windows",
    "window_scores_to_steps",
]
