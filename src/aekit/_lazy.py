"""The lazy-array protocol: data read row by row from a file only when a batch needs it.

Every streaming reader of :mod:`aekit.datasets` (HDF5/NeXus, zarr, ``.npy``, image stacks,
Parquet) satisfies it, and the estimators, the scaling and the training sources take any
object that does: they never import a file format. It sits at the bottom of the package so that
both sides can name it.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class LazyArray(Protocol):
    """Samples of a file, read on demand.

    ``shape`` is ``(n_samples, *sample_shape)`` and ``dtype`` the values' own type (uint16
    frames stay uint16). Indexing with an int, a slice or a 1-D integer array returns those
    samples as an in-memory array of that dtype, in the order asked; ``chunk_rows`` is how many
    consecutive samples the storage keeps together (an HDF5 or zarr chunk, a Parquet row group,
    1 for one image per file), so that a streaming reader can shuffle by chunks and keep its
    reads sequential. An open source pickles without its file handles (a worker process opens
    its own) and ``close`` releases them.
    """

    shape: tuple[int, ...]
    dtype: np.dtype
    chunk_rows: int

    def __len__(self) -> int: ...

    def __getitem__(self, index: Any) -> np.ndarray: ...

    def describe(self) -> str: ...

    def close(self) -> None: ...


def is_lazy(X: Any) -> bool:
    """Whether ``X`` is a lazy source rather than data in memory (an ndarray, even a
    ``np.memmap``, a list or a DataFrame)."""
    return not isinstance(X, np.ndarray) and isinstance(X, LazyArray)
