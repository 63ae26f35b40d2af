"""Data that is not in memory: a memory budget, files read in chunks, rows scaled on the way.

The estimators take a lazy source (:class:`aekit._lazy.LazyArray`: an HDF5 dataset, a zarr
array, a ``.npy`` file, an image stack, a Parquet table) wherever they take an array. A fit
loads it into one float32 copy when that fits the memory budget (``max_memory``) and streams it
otherwise; an in-memory array larger than the budget (a ``np.memmap`` of a large file, say) is
streamed the same way. Inference always reads a lazy source in chunks.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse

from aekit._lazy import LazyArray, is_lazy
from aekit._text import plural
from aekit._validation import parse_bytes
from aekit.data import FeatureStats, Scaling, chunk_rows

# Share of the memory available when a fit starts that max_memory="auto" lets the float32 copy
# of the training data take: the rest is for the network, the optimiser, the batches and
# everything else running on the machine.
AUTO_MEMORY_SHARE = 0.5


def available_memory() -> int:
    """Bytes of memory available now: Linux's MemAvailable, capped by this process's cgroup
    limit (a container's or a Slurm job's) when there is one; elsewhere the free pages."""
    available = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if available is None:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            available = 4 * 2**30  # unknown: a laptop's worth
    cgroup = Path("/sys/fs/cgroup")
    try:
        limit = (cgroup / "memory.max").read_text().strip()
        if limit != "max":
            used = int((cgroup / "memory.current").read_text().strip())
            available = min(available, max(0, int(limit) - used))
    except (OSError, ValueError):
        pass
    return int(available)


def memory_budget(max_memory: Any) -> int:
    """Bytes the float32 copy of the training data may take (``max_memory``)."""
    if isinstance(max_memory, str) and max_memory == "auto":
        return int(AUTO_MEMORY_SHARE * available_memory())
    size = parse_bytes(max_memory)
    if size is None:  # the constraint was checked first: only a caller's bug lands here
        raise ValueError(f"max_memory must be 'auto' or a size in bytes, got {max_memory!r}")
    return size


def float32_bytes(shape: tuple[int, ...]) -> int:
    return 4 * math.prod(shape)


class ArrayRows:
    """An array (a ``np.memmap`` of a file, or one in memory) seen as a lazy source: rows are
    read, and converted, only when a batch needs them. A memmap pickles as its file name, so
    that reader processes map the file again rather than receive a copy of it."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array
        self.shape = tuple(int(d) for d in array.shape)
        self.dtype = np.dtype(array.dtype)
        row_bytes = max(1, math.prod(self.shape[1:]) * self.dtype.itemsize)
        self.chunk_rows = max(1, 2**20 // row_bytes)  # about 1 MiB read at a time

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: Any) -> np.ndarray:
        return np.array(self.array[index])

    def describe(self) -> str:
        kind = "memory-mapped array" if isinstance(self.array, np.memmap) else "array"
        return f"{kind} of shape {self.shape}, {self.dtype.name}"

    def close(self) -> None:
        pass

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        array = self.array
        if isinstance(array, np.memmap) and array.filename is not None:
            state["array"] = (str(array.filename), array.offset, array.dtype, array.shape)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if isinstance(self.array, tuple):
            filename, offset, dtype, shape = self.array
            self.array = np.memmap(filename, dtype=dtype, mode="r", offset=offset, shape=shape)


class SparseRows:
    """A scipy sparse matrix seen as a lazy source: it stays sparse (CSR) in memory, and the
    rows a batch or a chunk needs are densified when it needs them, never the whole matrix.

    Explicit entries are values; the others are zeros, as ``X.toarray()`` would give.
    """

    def __init__(self, X: Any) -> None:
        matrix = scipy.sparse.csr_matrix(X)  # CSC, COO, ... -> CSR: rows are then cheap
        if matrix.dtype.kind not in "biuf":
            raise ValueError(f"X is a sparse matrix of {matrix.dtype} values, not numbers")
        if matrix.nnz and not np.isfinite(matrix.data).all():
            bad = np.flatnonzero(~np.isfinite(matrix.data))[0]  # its position in data
            row = int(np.searchsorted(matrix.indptr, bad, "right")) - 1
            raise ValueError(
                f"X holds NaN (a missing value) or an infinity in row {row} (counting from 0): "
                "fill or drop it first"
            )
        self.matrix = matrix
        self.shape = (int(matrix.shape[0]), int(matrix.shape[1]))
        self.dtype = np.dtype(matrix.dtype)
        # Any rows are read as cheaply as consecutive ones, so a stream shuffles single rows
        # and densifies a window of a few batches at a time.
        self.chunk_rows = 1

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: Any) -> np.ndarray:
        if isinstance(index, (int, np.integer)):
            return self.matrix[int(index)].toarray()[0]
        return self.matrix[index].toarray()

    def describe(self) -> str:
        n, d = self.shape
        return f"sparse matrix of shape ({n}, {d}), {self.matrix.nnz} stored values"

    def close(self) -> None:
        pass


def as_lazy_sparse(X: Any) -> Any:
    """``X`` as a :class:`SparseRows` source when it is a scipy sparse matrix or array, else
    ``X`` as it is."""
    return SparseRows(X) if scipy.sparse.issparse(X) else X


def streamed(X: Any, budget: int) -> LazyArray | None:
    """``X`` as the lazy source a fit streams, or ``None`` when the fit takes it in memory:
    a lazy source or an array whose float32 copy exceeds ``budget`` is streamed, and a sparse
    matrix always is (it stays sparse; batches are densified as they are drawn)."""
    X = as_lazy_sparse(X)
    if isinstance(X, SparseRows):
        return X
    if is_lazy(X):
        return X if float32_bytes(X.shape) > budget else None
    if isinstance(X, np.ndarray) and X.ndim >= 2 and float32_bytes(X.shape) > budget:
        if X.dtype.kind not in "biuf":
            raise ValueError(f"X holds {X.dtype} values, not numbers")
        return ArrayRows(X)
    return None


def check_source(source: LazyArray) -> tuple[int, ...]:
    """The sample shape of a lazy source, refusing one without numbers or samples."""
    dtype = np.dtype(source.dtype)
    if dtype.kind not in "biuf":
        raise ValueError(f"{source.describe()}: {dtype} values are not numbers")
    shape = tuple(int(d) for d in source.shape)
    if len(shape) < 2:
        raise ValueError(f"{source.describe()}: each sample needs at least one value")
    if 0 in shape[1:]:
        raise ValueError(
            f"{source.describe()}: samples of shape {shape[1:]} hold no values; every axis of "
            "a sample needs at least one entry"
        )
    return shape[1:]


def as_rows(samples: np.ndarray, first: int, where: str) -> np.ndarray:
    """Raw samples (m, ...) read from sample ``first`` on, as float32 rows (m, D), refusing
    one that holds NaN or an infinity (named by its sample number in ``where``)."""
    rows = samples.reshape(len(samples), -1).astype(np.float32, copy=False)
    bad = ~np.isfinite(rows).all(axis=1)
    if bad.any():
        row = first + int(np.argmax(bad))
        raise ValueError(
            f"{where} holds NaN (a missing value) or an infinity in sample {row} (counting "
            f"from 0); {plural(int(bad.sum()), 'sample')} of samples {first}-"
            f"{first + len(rows) - 1} do: fill or drop them first"
        )
    return rows


def chunks(source: LazyArray) -> Iterator[tuple[int, np.ndarray]]:
    """``(first sample, float32 rows)`` over ``source`` in order, checked for NaN."""
    step = chunk_rows(math.prod(source.shape[1:]))
    where = source.describe()
    for start in range(0, len(source), step):
        yield start, as_rows(source[start : start + step], start, where)


def load_rows(source: LazyArray) -> np.ndarray:
    """Every sample of ``source`` as float32 rows (n, D): one copy, filled chunk by chunk."""
    n, d = len(source), math.prod(source.shape[1:])
    out = np.empty((n, d), dtype=np.float32)
    for start, rows in chunks(source):
        out[start : start + len(rows)] = rows
    return out


def source_stats(source: LazyArray) -> FeatureStats:
    """Per-feature statistics of ``source`` in one sequential pass (the same chunks as
    :meth:`FeatureStats.of` reads in memory, so the same numbers)."""
    stats = FeatureStats(math.prod(source.shape[1:]))
    for _, rows in chunks(source):
        stats.update(rows)
    return stats


def source_digest(source: LazyArray, samples: int = 16) -> dict[str, Any]:
    """What a checkpoint records of a lazy source to recognise it on resume: its shape, dtype
    and a SHA-256 of ``samples`` samples spread over it (hashing a file larger than memory
    whole would cost a full read at every start)."""
    n = len(source)
    digest = hashlib.sha256()
    for i in sorted({int(k) for k in np.linspace(0, n - 1, num=min(samples, n))}):
        digest.update(np.ascontiguousarray(source[i : i + 1]).tobytes())
    return {
        "shapes": [[*map(int, source.shape), str(np.dtype(source.dtype))]],
        "sha256_sampled": digest.hexdigest(),
    }


class ScaledRows:
    """Raw samples -> the network's float32 rows, scaled: what a stream's readers apply to each
    window. A plain object, so that it pickles into reader processes."""

    def __init__(self, scaling: Scaling | None) -> None:
        self.scaling = scaling

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        rows = samples.reshape(len(samples), -1).astype(np.float32, copy=False)
        return rows if self.scaling is None else self.scaling.transform(rows)


def in_chunks(method: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Lets an inference method take a lazy source or a sparse matrix (densified chunk by
    chunk, :class:`SparseRows`): it runs on one chunk of samples at a time
    and the results are joined. Inference is batch-independent (a row's result does not depend
    on the rows computed with it), so the result is the one the whole array in memory gives,
    bit for bit, while memory holds one chunk."""

    @functools.wraps(method)
    def wrapper(self: Any, X: Any, *args: Any, **kwargs: Any) -> np.ndarray:
        X = as_lazy_sparse(X)
        if not is_lazy(X):
            return method(self, X, *args, **kwargs)
        shape = check_source(X)
        n_features = math.prod(shape)
        if hasattr(self, "n_features_in_") and n_features != self.n_features_in_:
            raise ValueError(
                f"{X.describe()}: samples of shape {shape} ({plural(n_features, 'feature')}), "
                f"but {type(self).__name__} is expecting "
                f"{plural(self.n_features_in_, 'feature')} as input"
            )
        step = chunk_rows(n_features)
        parts = []
        for start in range(0, len(X), step):
            samples = X[start : start + step]
            try:
                parts.append(method(self, samples, *args, **kwargs))
            except ValueError as exc:
                raise ValueError(
                    f"{X.describe()}, samples {start}-{start + len(samples) - 1} (rows counted "
                    f"within them): {exc}"
                ) from None
        return np.concatenate(parts)

    return wrapper
