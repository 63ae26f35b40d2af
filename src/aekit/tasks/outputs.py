"""Inference on data larger than memory, written to a file chunk by chunk.

:func:`infer_to_file` runs an estimator's inference method (``transform``, ``reconstruct``,
``reconstruction_error``, ``decision_function``, ...) over a lazy source (or an array) one
chunk of samples at a time and writes each chunk's result as it comes, so that neither the
input nor the output is ever whole in memory. Inference is batch-independent, so the file holds
exactly what the method returns on the whole data. The file is written beside its destination
and renamed into place at the end: a run that fails or is killed leaves no partial output.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from aekit._optional import require
from aekit.data import chunk_rows
from aekit.io.atomic import atomic_write_path

# The files inference can be written to: .npy (any shape), HDF5 (dataset "data"), Parquet (one
# column per value of a flattened result).
OUTPUT_SUFFIXES = (".npy", ".h5", ".hdf5", ".parquet")


def _write_npy(path: Path, first: np.ndarray, rest: Any, n: int, column: str) -> None:
    # The header (shape and dtype, known from the first chunk and n), then the rows in order:
    # plain writes, so written pages do not stay mapped into the process as a memmap's would.
    header = {
        "descr": np.lib.format.dtype_to_descr(first.dtype),
        "fortran_order": False,
        "shape": (n, *first.shape[1:]),
    }
    with open(path, "xb") as f:
        np.lib.format.write_array_header_2_0(f, header)
        for chunk in _chained(first, rest):
            f.write(np.ascontiguousarray(chunk, dtype=first.dtype).tobytes())


def _write_hdf5(path: Path, first: np.ndarray, rest: Any, n: int, column: str) -> None:
    h5py = require("h5py", "hdf5")
    with h5py.File(path, "x") as f:
        rows = max(1, min(n, 2**20 // max(1, first[:1].nbytes)))  # chunks of about 1 MiB
        data = f.create_dataset(
            "data", shape=(n, *first.shape[1:]), dtype=first.dtype, chunks=(rows, *first.shape[1:])
        )
        start = 0
        for chunk in _chained(first, rest):
            data[start : start + len(chunk)] = chunk
            start += len(chunk)


def _write_parquet(path: Path, first: np.ndarray, rest: Any, n: int, column: str) -> None:
    pa = require("pyarrow", "parquet")
    pq = require("pyarrow.parquet", "parquet")
    width = math.prod(first.shape[1:])
    names = [column] if first.ndim == 1 else [f"{column}{j + 1}" for j in range(width)]
    writer = None
    try:
        for chunk in _chained(first, rest):
            flat = chunk.reshape(len(chunk), -1)
            table = pa.table({name: flat[:, j] for j, name in enumerate(names)})
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)  # one row group per chunk
    finally:
        if writer is not None:
            writer.close()


def _chained(first: np.ndarray, rest: Any) -> Any:
    yield first
    yield from rest


# Suffix -> writer(path, first chunk of results, the other chunks, samples, Parquet prefix).
WRITERS: dict[str, Callable[[Path, np.ndarray, Any, int, str], None]] = {
    ".npy": _write_npy,
    ".h5": _write_hdf5,
    ".hdf5": _write_hdf5,
    ".parquet": _write_parquet,
}


def infer_to_file(model: Any, method: str, X: Any, path: str | Path, *, column: str = "x") -> Path:
    """Write ``getattr(model, method)(X)`` to ``path``, computed and written chunk by chunk.

    Parameters
    ----------
    model : fitted estimator
    method : str
        An inference method of ``model`` that maps samples to one result per sample:
        ``"transform"``, ``"reconstruct"``, ``"reconstruction_error"``, ``"denoise"``,
        ``"decision_function"``, ...
    X : lazy source or array-like
        The samples (:func:`aekit.datasets.open_source` for a file larger than memory).
    path : str or Path
        ``.npy`` (the result's own shape), ``.h5``/``.hdf5`` (dataset ``/data``) or
        ``.parquet`` (one column per value, named ``column`` then 1, 2, ...).
    column : str, default="x"
        The Parquet columns' prefix (``"z"`` for codes).

    Returns
    -------
    Path
        ``path``, written atomically.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from aekit import Autoencoder
    >>> X = np.random.default_rng(0).random((50, 6)).astype(np.float32)
    >>> ae = Autoencoder(latent_dim=2, epochs=2, random_state=0, verbose=False).fit(X)
    >>> out = infer_to_file(ae, "transform", X, pathlib.Path(tempfile.mkdtemp()) / "z.npy")
    >>> bool(np.array_equal(np.load(out), ae.transform(X)))
    True
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITERS:
        raise ValueError(
            f"{path}: inference is written to {', '.join(OUTPUT_SUFFIXES)} files, not "
            f"{suffix or 'a file without a suffix'}"
        )
    function = getattr(model, method, None)
    if method.startswith("_") or not callable(function):
        raise ValueError(f"{type(model).__name__} has no inference method {method!r}")
    n = len(X)
    if not n:
        raise ValueError("X holds no samples")
    step = chunk_rows(math.prod(np.shape(X[:1])[1:]) or 1)

    def results() -> Any:
        for start in range(step, n, step):
            yield np.asarray(function(X[start : start + step]))

    first = np.asarray(function(X[:step]))
    if first.shape[:1] != (min(step, n),):
        raise ValueError(f"{method} does not give one result per sample")
    return atomic_write_path(path, lambda tmp: WRITERS[suffix](tmp, first, results(), n, column))
