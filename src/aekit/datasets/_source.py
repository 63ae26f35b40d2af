"""What every streaming reader of :mod:`aekit.datasets` shares: indexing by samples.

A reader subclasses :class:`RowSource` and says how to read a span of consecutive samples
(``_read_span``), or, when its storage has a better way, a sorted set of samples
(``_read_sorted``); indexing by an int, a slice or an array of indices, in any order and with
repeats, the checks and the errors, ``read``, ``__array__``, pickling without file handles and
``with`` blocks come from here, so that every source answers the :class:`aekit._lazy.LazyArray`
protocol in the same way.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

# Consecutive samples a source without chunks of its own reports as ``chunk_rows``: about this
# many bytes, the size of one efficient sequential read.
CHUNK_BYTES = 1 << 20


def check_shape(shape: tuple[int, ...], where: object) -> tuple[int, ...]:
    """``shape`` (samples first), if an array can have it; else a ``ValueError`` naming
    ``where``. A damaged header (zarr's JSON, HDF5's 64-bit sizes) may announce more samples or
    values than numpy can index, which ``len`` and every read would fail on far from the
    cause.

    Examples
    --------
    >>> check_shape((6, 2, 3), "x")
    (6, 2, 3)
    >>> check_shape((2**64, 3), "x")
    Traceback (most recent call last):
    ...
    ValueError: x is damaged: its shape (18446744073709551616, 3) is more than an array can hold
    """
    most = np.iinfo(np.intp).max
    if any(d < 0 or d > most for d in shape) or math.prod(shape) > most:
        raise ValueError(f"{where} is damaged: its shape {shape} is more than an array can hold")
    return shape


def rows_per_bytes(sample_bytes: int, target: int = CHUNK_BYTES) -> int:
    """How many samples of ``sample_bytes`` make about ``target`` bytes (at least one).

    Examples
    --------
    >>> rows_per_bytes(784), rows_per_bytes(8 << 20)
    (1337, 1)
    """
    return max(1, target // max(1, int(sample_bytes)))


def sample_rows(index: Any, n: int) -> tuple[np.ndarray, bool]:
    """The sample numbers (int64, in 0..n-1) that ``index`` stands for, and whether it was a
    single int (whose sample is returned without its leading axis).

    Negative numbers count from the end as in numpy; a boolean mask of ``n`` values picks the
    samples it marks. A number out of range is an ``IndexError``, as numpy's.

    Examples
    --------
    >>> sample_rows(-1, 5), sample_rows(slice(None, None, -2), 5)[0].tolist()
    ((array(4), True), [4, 2, 0])
    >>> sample_rows([3, -5, 3], 5)[0].tolist()
    [3, 0, 3]
    """
    if isinstance(index, slice):
        return np.arange(*index.indices(n), dtype=np.int64), False
    if isinstance(index, tuple):
        raise IndexError("samples are indexed by one int, slice or array (take features after)")
    rows = np.asarray(index)
    if rows.dtype == bool:
        if rows.shape != (n,):
            raise IndexError(f"a boolean mask of samples needs {n} values, got shape {rows.shape}")
        return np.flatnonzero(rows).astype(np.int64), False
    if rows.size == 0:
        return np.zeros(0, dtype=np.int64), False
    if rows.dtype.kind not in "iu":
        raise IndexError(f"samples are indexed by integers or a slice, not {rows.dtype} values")
    if rows.ndim > 1:
        raise IndexError(f"samples are indexed by a 1-D array of integers, got shape {rows.shape}")
    low, high = int(rows.min()), int(rows.max())
    if low < -n or high >= n:
        bad = low if low < -n else high
        raise IndexError(f"sample index {bad} is out of range for {n} samples")
    rows = rows.astype(np.int64)
    return np.where(rows < 0, rows + n, rows), rows.ndim == 0


def runs(rows: np.ndarray) -> list[tuple[int, int, int, int]]:
    """The runs of consecutive numbers in the sorted, unique ``rows``, as ``(start, stop,
    first, last)``: samples ``start:stop`` are ``rows[first:last]``.

    Examples
    --------
    >>> runs(np.array([2, 3, 4, 9, 11]))
    [(2, 5, 0, 3), (9, 10, 3, 4), (11, 12, 4, 5)]
    """
    if len(rows) == 0:
        return []
    cuts = np.flatnonzero(np.diff(rows) > 1) + 1
    firsts = np.r_[0, cuts]
    lasts = np.r_[cuts, len(rows)]
    starts = rows[firsts]
    stops = rows[lasts - 1] + 1
    # Plain ints, built in C: a batch of random rows is hundreds of runs.
    return list(zip(starts.tolist(), stops.tolist(), firsts.tolist(), lasts.tolist(), strict=True))


def read_flat_span(data: Any, lead: tuple[int, ...], start: int, stop: int) -> np.ndarray:
    """Samples ``start:stop`` of an array ``data`` (h5py, zarr) whose leading axes ``lead``
    are the samples, flattened in C order: one slice along the last of those axes for each
    index of the axes before it.

    Examples
    --------
    >>> data = np.arange(24).reshape(2, 3, 4)
    >>> read_flat_span(data, (2, 3), 2, 5)[:, 0].tolist()
    [8, 12, 16]
    """
    if len(lead) == 1:
        return np.asarray(data[start:stop])
    inner = lead[-1]
    pieces = []
    row = start
    while row < stop:
        outer, at = divmod(row, inner)
        end = min(inner, at + stop - row)
        pieces.append(np.asarray(data[(*np.unravel_index(outer, lead[:-1]), slice(at, end))]))
        row += end - at
    return np.concatenate(pieces)


class RowSource:
    """Base of the lazy sources: samples of a file, read by rows when asked for.

    A subclass sets ``shape`` (``(n_samples, *sample_shape)``), ``dtype`` and ``chunk_rows`` in
    its ``__init__``, implements ``_read_span(start, stop)`` (samples ``start:stop`` as an
    array of ``dtype``), ``describe`` and, if it holds file handles, names them in ``_handles``
    (dropped when pickled, closed by ``close``) and reopens them through :meth:`_own`.
    """

    shape: tuple[int, ...]
    dtype: np.dtype
    chunk_rows: int
    # Attributes holding open handles: not pickled (a worker process opens its own).
    _handles: tuple[str, ...] = ()

    # ------------------------------------------------------------------ the protocol
    @property
    def n_samples(self) -> int:
        return self.shape[0]

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return self.shape[1:]

    def __len__(self) -> int:
        return self.shape[0]

    def describe(self) -> str:  # pragma: no cover - every source says it in its own words
        raise NotImplementedError

    def __getitem__(self, index: Any) -> np.ndarray:
        """Samples ``index`` (an int, a slice, an array of ints in any order, with repeats, or
        a boolean mask), shape ``(len(index), *sample_shape)``; an int gives one sample."""
        rows, single = sample_rows(index, len(self))
        if single:
            r = int(rows)
            return self._checked(self._read_span(r, r + 1), 1)[0]
        if len(rows) == 0:
            return np.empty((0, *self.sample_shape), dtype=self.dtype)
        first = int(rows[0])
        if (np.diff(rows) == 1).all():  # a run (a slice, a sequential batch): one read
            return self._checked(self._read_span(first, first + len(rows)), len(rows))
        unique, inverse = np.unique(rows, return_inverse=True)
        block = self._checked(self._read_sorted(unique), len(unique))
        if len(unique) == len(rows) and (unique == rows).all():
            return block
        return block[inverse]

    def _read_sorted(self, rows: np.ndarray) -> np.ndarray:
        """Samples ``rows`` (sorted, unique): a read per span of :func:`runs`."""
        out = np.empty((len(rows), *self.sample_shape), dtype=self.dtype)
        for start, stop, first, last in runs(rows):
            out[first:last] = self._checked(self._read_span(start, stop), stop - start)
        return out

    def _read_span(self, start: int, stop: int) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _checked(self, block: np.ndarray, n: int) -> np.ndarray:
        # A file changed or damaged since it was opened must not give samples of another
        # shape or type than announced (a batch would fail far from the cause).
        if block.shape != (n, *self.sample_shape) or block.dtype != self.dtype:
            raise ValueError(
                f"{self.describe()}: a read gave {block.shape} {block.dtype} values instead of "
                f"{(n, *self.sample_shape)} {self.dtype}; has the file changed since it was opened?"
            )
        return block

    def read(self) -> np.ndarray:
        """Every sample, shape ``(n_samples, *sample_shape)``, in memory."""
        return self[:]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        # Always a new array (the samples come from a file), so ``copy`` asks nothing more.
        out = self.read()
        return out if dtype is None else out.astype(dtype, copy=False)

    # ------------------------------------------------------------------ handles
    def _own(self, attribute: str, opener: Any) -> Any:
        """The handle kept in ``attribute``, opened with ``opener()`` in this process: a handle
        inherited through ``fork`` shares its file position and locks with the parent."""
        handle, pid = getattr(self, attribute, None), getattr(self, "_pid_" + attribute, None)
        if handle is None or pid != os.getpid():
            handle = opener()
            setattr(self, attribute, handle)
            setattr(self, "_pid_" + attribute, os.getpid())
        return handle

    def close(self) -> None:
        """Close the files this source holds open (it reopens them if read again)."""
        for attribute in self._handles:
            handle = self.__dict__.get(attribute)
            owned = self.__dict__.get("_pid_" + attribute) == os.getpid()
            if owned and hasattr(handle, "close"):
                handle.close()
            self.__dict__[attribute] = None

    def __enter__(self) -> RowSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for attribute in self._handles:
            state[attribute] = None
            state.pop("_pid_" + attribute, None)
        return state

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"
