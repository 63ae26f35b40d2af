"""Data loaders: the embedded digits, MNIST from local files, array-file readers, time series,
and the lazy sources that stream large data (:func:`open_source`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aekit.datasets.builtin import BUILTIN, BUILTIN_LABELS, Split, load_digits, load_mnist
from aekit.datasets.files import READERS, read_array, read_csv, read_idx, read_npy, read_npz
from aekit.datasets.hdf5 import HDF5Source
from aekit.datasets.images import Images, is_image_source, read_images
from aekit.datasets.npy import NpySource
from aekit.datasets.open import SOURCES, is_streamable, open_source, source_kind
from aekit.datasets.parquet import ParquetSource
from aekit.datasets.series import (
    Series,
    load_nab,
    nab_labels,
    nab_window_bounds,
    read_series,
)
from aekit.datasets.stacks import ImageSource
from aekit.datasets.tables import Table, TableSchema, read_labels, read_table
from aekit.datasets.windows import sliding_windows, window_scores_to_steps
from aekit.datasets.zarr import ZarrSource, is_zarr_source


def load(source: str | Path, key: str | None = None) -> np.ndarray:
    """Samples from a built-in name (``"digits"``, ``"mnist"``), an array file, a table, an
    HDF5/NeXus dataset, a zarr array, a Parquet table, or a folder, glob or multi-page TIFF of
    images (:func:`read_images`), in memory: the array the lazy source of the same name
    (:func:`open_source`) gives whole.

    Examples
    --------
    >>> from aekit.datasets import load
    >>> load("digits").shape
    (1797, 8, 8)
    """
    if isinstance(source, str) and source in BUILTIN:
        return BUILTIN[source]()
    if is_image_source(source) and not is_zarr_source(source):  # a zarr store is a folder
        return read_images(source).X
    return read_array(source, key=key)


__all__ = [
    "BUILTIN",
    "BUILTIN_LABELS",
    "READERS",
    "SOURCES",
    "HDF5Source",
    "ImageSource",
    "Images",
    "NpySource",
    "ParquetSource",
    "Series",
    "Split",
    "Table",
    "TableSchema",
    "ZarrSource",
    "is_streamable",
    "load",
    "load_digits",
    "load_mnist",
    "load_nab",
    "nab_labels",
    "nab_window_bounds",
    "open_source",
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
    "source_kind",
    "window_scores_to_steps",
]
