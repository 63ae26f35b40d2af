"""A ``.npy`` file read lazily, by rows, with positioned reads.

:class:`NpySource` reads the header once (checked as every ``.npy`` aekit reads: the file must
hold exactly the bytes its header announces, and Python objects are refused) and then reads
the bytes of the rows a batch asks for, with ``os.preadv`` straight into the batch's array.
It does not map the file into memory (``np.memmap``, ``np.load(mmap_mode="r")``): the pages of
a mapping that have been read count in the process's resident memory, so one epoch over a 6 GB
file would show as a 6 GB process and could be killed under a memory limit, while positioned
reads leave the bytes in the system's page cache, which the system reclaims.

Only C-ordered arrays (what ``np.save`` writes by default) are streamed: the samples of a
Fortran-ordered array are spread over the whole file, so reading one costs a read per
feature. :func:`aekit.datasets.read_array` still reads such a file, in memory.
"""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path
from typing import IO, Any

import numpy as np

from aekit._untrusted import open_regular, read_npy_header
from aekit._validation import Integer, check_value
from aekit.datasets._source import RowSource, check_shape, rows_per_bytes, runs

_PREADV = hasattr(os, "preadv")
# The one lock of the fallback without positioned reads (Windows): a seek then a read.
_SEEK_LOCK = threading.Lock()


def _read_into(f: IO[bytes], view: memoryview, offset: int, what: object) -> None:
    """Fill ``view`` with the bytes of ``f`` from ``offset``, however many calls it takes (a
    single read stops at 2 GiB on Linux)."""
    done = 0
    while done < len(view):
        if _PREADV:
            n = os.preadv(f.fileno(), [view[done:]], offset + done)
        else:
            with _SEEK_LOCK:
                f.seek(offset + done)
                n = f.readinto(view[done:]) or 0
        if n == 0:
            raise ValueError(
                f"{what} ends after {offset + done} bytes, before the rows asked for; has the "
                "file been cut since it was opened?"
            )
        done += n


class NpySource(RowSource):
    """The samples of a ``.npy`` file, read on demand by positioned reads.

    Parameters
    ----------
    path : str or Path
        A ``.npy`` file of numbers (bool, integers or floats), in C order.
    sample_axes : int, default=1
        How many leading axes are samples: ``sample_axes=2`` reads a (scans, frames, H, W)
        array as scans x frames images.

    Attributes
    ----------
    shape : tuple of int
        ``(n_samples, *sample_shape)``.
    dtype : numpy.dtype
        The values' type, in the machine's byte order (a big-endian file is swapped as it is
        read).
    chunk_rows : int
        Rows in about 1 MiB: the size of one efficient sequential read.

    Raises
    ------
    ValueError
        For a damaged file (a header that announces more or fewer bytes than the file holds,
        a bad header), values that are not numbers, or a Fortran-ordered array.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.npy"
    >>> np.save(path, np.arange(12, dtype=np.int16).reshape(4, 3))
    >>> source = NpySource(path)
    >>> source.shape, source[[3, 0]].tolist(), source.describe()
    ((4, 3), [[9, 10, 11], [0, 1, 2]], '4 samples of 3 int16 values (.npy, read by rows)')
    """

    _handles = ("_file",)

    def __init__(self, path: str | Path, sample_axes: int = 1) -> None:
        check_value("sample_axes", sample_axes, Integer(1))
        self.path = Path(path)
        self.sample_axes = int(sample_axes)
        try:
            with open_regular(self.path, "data") as f:
                shape, fortran, dtype = read_npy_header(f, str(self.path))
                self._offset = f.tell()
                size = os.fstat(f.fileno()).st_size
        except OSError as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            raise ValueError(f"{self.path} could not be read: {exc}") from None
        expected = math.prod(shape) * dtype.itemsize
        if size - self._offset != expected:
            raise ValueError(
                f"{self.path} holds {size - self._offset} bytes of array data, but its header "
                f"announces {expected} (shape {shape}, dtype {dtype})"
            )
        if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
            raise ValueError(f"{self.path} holds {dtype} values, not numbers")
        if len(shape) < self.sample_axes:
            raise ValueError(
                f"{self.path} has shape {shape}: with sample_axes={self.sample_axes} it has no "
                "axis of samples"
            )
        if fortran and sum(d > 1 for d in shape) > 1:
            raise ValueError(
                f"{self.path} is stored in Fortran order, which spreads each sample over the "
                "whole file, so it is not read by rows; read it in memory "
                "(aekit.datasets.read_array), or save it in C order once: "
                "np.save(path, np.ascontiguousarray(np.load(path)))"
            )
        self.array_shape = tuple(int(d) for d in shape)
        self._file_dtype = dtype
        self.dtype = dtype.newbyteorder("=")
        lead = self.array_shape[: self.sample_axes]
        self.shape = (math.prod(lead), *self.array_shape[self.sample_axes :])
        check_shape(self.shape, self.path)  # a zero axis lets the others announce anything
        self._sample_bytes = math.prod(self.shape[1:]) * dtype.itemsize
        self.chunk_rows = rows_per_bytes(self._sample_bytes)
        self._file: Any = None

    def describe(self) -> str:
        """One line: how many samples of what."""
        shape = " x ".join(map(str, self.sample_shape)) or "1"
        return f"{self.n_samples} samples of {shape} {self.dtype.name} values (.npy, read by rows)"

    def _read_span(self, start: int, stop: int) -> np.ndarray:
        return self._read_runs([(start, stop, 0, stop - start)], stop - start)

    def _read_sorted(self, rows: np.ndarray) -> np.ndarray:
        return self._read_runs(runs(rows), len(rows))

    def _read_runs(self, spans: list[tuple[int, int, int, int]], n: int) -> np.ndarray:
        """The ``n`` rows of the :func:`runs` ``spans``, each run read straight into its place
        (a batch of random rows is a read per row: about 2 us each, the system call's cost)."""
        f = self._own("_file", lambda: open_regular(self.path, "data"))
        out = np.empty((n, *self.sample_shape), dtype=self._file_dtype)
        size, base = self._sample_bytes, self._offset
        if out.nbytes:
            view = memoryview(out.reshape(-1).view(np.uint8))
            fd = f.fileno()
            for start, _, first, last in spans:
                part = view[first * size : last * size]
                # One call reads a run unless it is cut short (past 2 GiB, or a cut file).
                if not _PREADV or os.preadv(fd, [part], base + start * size) < len(part):
                    _read_into(f, part, base + start * size, self.path)
        if self._file_dtype != self.dtype:
            out = out.byteswap().view(self.dtype)
        return out
