"""HDF5 and NeXus files as data: a dataset read lazily, by rows, through h5py.

A source is named ``file.h5:/path/to/dataset``, or just ``file.h5`` for a NeXus file (or any
HDF5 file holding one numeric dataset of two or more axes): NeXus's default plottable data is
then followed, as NeXus defines it (the ``default`` attributes from the file to an ``NXentry``
to an ``NXdata`` group, whose ``signal`` attribute names the dataset; in files written before
those attributes, the first ``NXentry``'s first ``NXdata`` group and its dataset marked
``signal=1``). The leading ``sample_axes`` axes of the dataset are the samples (one by default:
a (10, 195, 487) stack of detector frames is 10 images; ``sample_axes=2`` reads a (scans,
frames, H, W) dataset as scans x frames images).

Nothing is read until rows are asked for: :class:`HDF5Source` gives the shape, the dtype and
any rows (``source[i:j]``, ``source[[3, 1, 7]]``), and reopens the file in each process that
reads it, as DataLoader workers need. Needs h5py (the ``hdf5`` extra).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from aekit._optional import require
from aekit._untrusted import open_regular, short
from aekit._validation import Integer, check_value
from aekit.datasets._source import RowSource, check_shape, read_flat_span, rows_per_bytes

# Suffixes of HDF5 files (NeXus files included).
HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf", ".he5", ".nxs", ".nx5", ".nexus")


def split_source(text: str | Path) -> tuple[Path, str | None] | None:
    """``(file, dataset path or None)`` when ``text`` names an HDF5 source, else ``None``.

    Examples
    --------
    >>> split_source("scan.h5:/entry/data/data")
    (PosixPath('scan.h5'), '/entry/data/data')
    >>> split_source("run.nxs"), split_source("table.csv")
    ((PosixPath('run.nxs'), None), None)
    """
    text = str(text)
    lower = text.lower()
    for suffix in HDF5_SUFFIXES:
        at = lower.find(suffix + ":")
        if at >= 0:
            end = at + len(suffix)
            return Path(text[:end]), text[end + 1 :] or None
    if lower.endswith(HDF5_SUFFIXES):
        return Path(text), None
    return None


def is_hdf5_source(text: str | Path) -> bool:
    """Whether ``text`` names an HDF5 file or a dataset in one (by its suffix)."""
    return split_source(text) is not None


# What h5py raises for a damaged file besides ValueError: it maps the HDF5 library's errors
# to these (a bad object header to KeyError, a bad B-tree or heap signature to OSError or
# RuntimeError, a bad datatype message to TypeError, an unknown one to NotImplementedError),
# wherever the damage is met: opening a group, reading an attribute, decoding a chunk.
_DAMAGE = (OSError, KeyError, RuntimeError, TypeError, NotImplementedError)


@contextlib.contextmanager
def _damaged(path: Path) -> Iterator[None]:
    """Turn h5py's errors for a damaged file into a ``ValueError`` naming ``path``."""
    try:
        yield
    except _DAMAGE as exc:
        raise ValueError(f"{path} is a damaged HDF5 file ({short(str(exc))})") from None


_SUPERBLOCK = b"\x89HDF\r\n\x1a\n"
# A global heap collection: where HDF5 keeps variable-length data, such as the strings of
# the attributes h5py writes (NeXus's NX_class, default, signal).
_HEAP = b"GCOL"


def _bad_heap(read_at: Any, at: int, lengths: int) -> str | None:
    """What is wrong with the global heap collection at byte ``at`` that HDF5 would loop on
    forever, or ``None``.

    HDF5 (2.0 included) steps through a collection from object to object by their sizes: a
    free-space object of 0 bytes sends it round the same bytes forever, and so does an
    object larger than the collection. ``read_at(offset, n)`` reads the file; ``lengths`` is
    its size of lengths (from its superblock). The first 16 MiB of a collection are checked.

    Examples
    --------
    >>> heap = _HEAP + bytes([1, 0, 0, 0]) + (64).to_bytes(8, "little") + bytes(48)
    >>> _bad_heap(lambda at, n: heap[at : at + n], 0, 8)  # object 0, of 0 bytes
    'holds an object of 0 bytes'
    >>> free = heap[:24] + (48).to_bytes(8, "little") + bytes(32)
    >>> _bad_heap(lambda at, n: free[at : at + n], 0, 8) is None  # object 0: 48 free bytes
    True
    """
    head = read_at(at, 8 + lengths)  # signature, version, reserved bytes, size
    if len(head) < 8 + lengths or head[4] != 1:  # HDF5 refuses another version itself
        return None
    size = int.from_bytes(head[8:], "little")
    body = read_at(at, min(size, 16 << 20))
    header = 8 + lengths  # an object's: index, references, reserved bytes, size
    p = len(head)
    while p + header <= min(size, len(body)):
        index = int.from_bytes(body[p : p + 2], "little")
        length = int.from_bytes(body[p + 8 : p + header], "little")
        need = header + -(-length // 8) * 8 if index else length  # index 0: free space
        if need == 0 or need > size - p:
            return f"holds an object of {length} bytes" + (f" in {size - p}" if need else "")
        p += need
    return None


class _CheckedReads(io.RawIOBase):
    """The bytes of an HDF5 file as h5py's ``fileobj`` driver reads them, each global heap
    collection a read meets checked by :func:`_bad_heap` before HDF5 decodes it (a hang
    in C cannot be stopped from Python): the metadata is read through it when the source is
    opened, the samples from the file itself."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._file = open_regular(path, "HDF5 data")
        self._size = os.fstat(self._file.fileno()).st_size
        start = self._read_at(0, 16)
        self._lengths = None  # not checked without a superblock at the start (a user block)
        if start[:8] == _SUPERBLOCK and len(start) == 16:
            self._lengths = start[14] if start[8] < 2 else start[10]

    def _read_at(self, at: int, n: int) -> bytes:
        self._file.seek(at)
        return self._file.read(max(0, min(n, self._size - at)))  # never more than there is

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def readinto(self, buffer: Any) -> int:
        at = self._file.tell()
        n = self._file.readinto(buffer)
        if self._lengths:
            # From 3 bytes before the read: a signature may straddle two reads.
            first = max(0, at - 3)
            seen = self._read_at(first, at - first) + bytes(memoryview(buffer)[:n])
            found = seen.find(_HEAP)
            while found >= 0:
                bad = _bad_heap(self._read_at, first + found, self._lengths)
                if bad:
                    raise ValueError(
                        f"{self.path} is a damaged HDF5 file (its global heap at byte "
                        f"{first + found} {bad})"
                    )
                found = seen.find(_HEAP, found + 1)
            self._file.seek(at + n)
        return n

    def close(self) -> None:
        self._file.close()
        super().close()


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.size == 1:
        return _text(value.reshape(-1)[0])
    return str(value)


def _nx_class(obj: Any) -> str:
    if obj is None:  # h5py's value for a member whose object header it cannot read
        return ""
    return _text(obj.attrs.get("NX_class", ""))


def _datasets(h5: Any, h5py: Any, limit: int = 8) -> list[str]:
    """Numeric datasets of two or more axes, largest first: the candidates to name."""
    found: list[tuple[int, str]] = []

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset) and obj.ndim >= 2 and obj.dtype.kind in "iuf":
            found.append((int(obj.size), "/" + name))

    h5.visititems(visit)
    return [name for _, name in sorted(found, key=lambda t: -t[0])[:limit]]


def nexus_signal(h5: Any, h5py: Any) -> str | None:
    """The path of NeXus's default plottable dataset in the open file ``h5``, or ``None``."""
    entry = None
    if "default" in h5.attrs and _text(h5.attrs["default"]) in h5:
        entry = h5[_text(h5.attrs["default"])]
    else:
        entry = next((g for g in h5.values() if _nx_class(g) == "NXentry"), None)
    if entry is None or not isinstance(entry, h5py.Group):
        return None
    data = None
    if "default" in entry.attrs and _text(entry.attrs["default"]) in entry:
        data = entry[_text(entry.attrs["default"])]
    else:
        data = next((g for g in entry.values() if _nx_class(g) == "NXdata"), None)
    if data is None or not isinstance(data, h5py.Group):
        return None
    if "signal" in data.attrs and _text(data.attrs["signal"]) in data:
        return str(data[_text(data.attrs["signal"])].name)
    for item in data.values():  # before NeXus 2014: the dataset marked signal=1
        if isinstance(item, h5py.Dataset) and _text(item.attrs.get("signal", "")) == "1":
            return str(item.name)
    return None


def _chunk_cache(
    shape: tuple[int, ...], chunks: tuple[int, ...], sample_axes: int, dtype: np.dtype
) -> tuple[int, int]:
    """``(rdcc_nbytes, rdcc_nslots)`` of h5py's chunk cache for reading a chunked dataset by
    runs of samples: room for the chunks that two chunk-rows of samples cover.

    A run of samples reads every chunk across each sample; when they do not all fit in the
    cache (h5py's 1 MiB holds few chunks of detector frames), the next run of the same rows
    decodes them again: with chunks of (3750, 4, 4) on 28 x 28 images, 256 random rows took 94
    ms in the default cache and 25 ms in this one. At most 64 MiB per open file (each
    DataLoader worker opens its own).
    """
    covered = math.prod(chunks[:sample_axes]) * math.prod(
        -(-size // chunk) * chunk
        for size, chunk in zip(shape[sample_axes:], chunks[sample_axes:], strict=True)
    )
    nbytes = min(max(1 << 20, 2 * covered * dtype.itemsize), 64 << 20)
    n_chunks = nbytes // max(1, math.prod(chunks) * dtype.itemsize)
    # HDF5 asks for a prime number of slots, about 10 per cached chunk; an odd one will do.
    return nbytes, max(521, 10 * n_chunks + 1) | 1


class HDF5Source(RowSource):
    """A dataset of an HDF5 file read lazily, its leading ``sample_axes`` axes as samples.

    Parameters
    ----------
    source : str or Path
        ``file.h5:/path/to/dataset``, or ``file.h5`` for NeXus's default signal (or the one
        numeric dataset of the file).
    dataset : str, optional
        The dataset path, when ``source`` names only the file.
    sample_axes : int, default=1
        How many leading axes of the dataset are samples.

    Attributes
    ----------
    shape : tuple of int
        ``(n_samples, *sample_shape)``: the samples, whatever ``sample_axes`` is.
    dataset_shape : tuple of int
        The dataset's own shape.
    chunk_rows : int
        Consecutive samples of one HDF5 chunk (of about 1 MiB for a contiguous dataset).

    Notes
    -----
    A batch of rows is read by runs of consecutive rows, one read each, in a chunk cache that
    holds the chunks the rows cross (:func:`_chunk_cache`); a contiguous dataset is read in one
    selection. On a chunked (60000, 28, 28) uint8 file, 256 random rows are read 1.3 to 3
    times faster than by h5py's reading of a list of rows (which decodes its chunks row by
    row), 256 consecutive ones 6 to 9 times.

    Examples
    --------
    >>> import h5py, numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "scan.h5"
    >>> with h5py.File(path, "w") as f:
    ...     _ = f.create_dataset("frames", data=np.arange(24).reshape(4, 2, 3))
    >>> src = HDF5Source(f"{path}:/frames")
    >>> src.shape, src[1:3].shape, src[[3, 0]][:, 0, 0].tolist()
    ((4, 2, 3), (2, 2, 3), [18, 0])
    """

    _handles = ("_file", "_dset")

    def __init__(
        self, source: str | Path, dataset: str | None = None, sample_axes: int = 1
    ) -> None:
        check_value("sample_axes", sample_axes, Integer(1))
        split = split_source(source)
        if split is None:
            raise ValueError(
                f"{source} is not an HDF5 file (aekit reads {', '.join(HDF5_SUFFIXES)})"
            )
        path, named = split
        if named is not None and dataset is not None and named != dataset:
            raise ValueError(f"{source} names a dataset already; do not give another ({dataset})")
        self.path = path
        self.sample_axes = int(sample_axes)
        h5py = require("h5py", "hdf5")
        if not path.is_file():
            if path.exists():
                raise ValueError(f"{path} is not a regular file")
            raise FileNotFoundError(f"no file at {path}")
        reads = None
        try:
            reads = _CheckedReads(path)
            h5 = h5py.File(reads, "r")
        except BaseException as exc:
            if reads is not None:
                reads.close()
            if isinstance(exc, OSError):
                raise ValueError(f"{path} is not a readable HDF5 file ({exc})") from None
            raise
        with reads, h5, _damaged(path):
            self.found_by = "named"
            name = named or dataset
            if name is None:
                name = nexus_signal(h5, h5py)
                self.found_by = "NeXus default"
                if name is None:
                    candidates = _datasets(h5, h5py)
                    if len(candidates) != 1:
                        raise ValueError(
                            f"{path} has no NeXus default data; name a dataset as "
                            f"{path}:/PATH"
                            + (f", one of {candidates}" if candidates else " (it has none)")
                        )
                    name, self.found_by = candidates[0], "the only dataset"
            if name not in h5 or not isinstance(h5[name], h5py.Dataset):
                candidates = _datasets(h5, h5py)
                raise ValueError(
                    f"{path} has no dataset {name!r}"
                    + (f"; its array datasets: {candidates}" if candidates else "")
                )
            data = h5[name]
            self.dataset = str(data.name)
            self.dataset_shape = tuple(int(d) for d in data.shape)
            self.dtype = np.dtype(data.dtype)
            chunks = data.chunks
        if self.dtype.kind not in "iufb":
            raise ValueError(f"{path}:{self.dataset} holds {self.dtype} values, not numbers")
        if len(self.dataset_shape) <= self.sample_axes:
            raise ValueError(
                f"{path}:{self.dataset} has shape {self.dataset_shape}: with sample_axes="
                f"{self.sample_axes} no axes are left for a sample"
            )
        lead = self.dataset_shape[: self.sample_axes]
        self.shape = (math.prod(lead), *self.dataset_shape[self.sample_axes :])
        check_shape(self.shape, f"{path}:{self.dataset}")
        sample_bytes = math.prod(self.shape[1:]) * self.dtype.itemsize
        self._chunked = chunks is not None
        if chunks is None:
            self.chunk_rows = rows_per_bytes(sample_bytes)
            self._cache = (1 << 20, 521)  # h5py's defaults: a contiguous dataset needs none
        else:
            # Along the last sample axis, consecutive samples share a chunk.
            self.chunk_rows = int(chunks[self.sample_axes - 1])
            self._cache = _chunk_cache(self.dataset_shape, chunks, self.sample_axes, self.dtype)
        self._file: Any = None
        self._dset: tuple[Any, Any] | None = None

    def describe(self) -> str:
        """One line: which dataset, how many samples of what."""
        shape = " x ".join(map(str, self.sample_shape))
        return (
            f"{self.dataset} ({self.found_by}): {self.n_samples} samples of {shape} "
            f"{self.dtype.name} values"
        )

    def _data(self) -> Any:
        def opener() -> Any:
            h5py = require("h5py", "hdf5")
            nbytes, nslots = self._cache
            return h5py.File(self.path, "r", rdcc_nbytes=nbytes, rdcc_nslots=nslots)

        file = self._own("_file", opener)
        # Looking a dataset up by path costs as much as reading a few rows: once per handle.
        if self._dset is None or self._dset[0] is not file:
            self._dset = (file, file[self.dataset])
        return self._dset[1]

    def _read_span(self, start: int, stop: int) -> np.ndarray:
        with _damaged(self.path):
            return read_flat_span(self._data(), self.dataset_shape[: self.sample_axes], start, stop)

    def _read_sorted(self, rows: np.ndarray) -> np.ndarray:
        if self.sample_axes == 1 and not self._chunked:
            # A contiguous dataset: one selection of every row beats a read per run (1.9 ms
            # against 3.4 ms for 256 random rows of 784 bytes); a chunked one is read three
            # times faster by runs (h5py's selection decodes its chunks row by row).
            with _damaged(self.path):
                return np.asarray(self._data()[rows])
        return super()._read_sorted(rows)

    def read(self) -> np.ndarray:
        """Every sample, shape ``(n_samples, *sample_shape)``."""
        with _damaged(self.path):
            return np.asarray(self._data()[()]).reshape(self.shape)


def read_hdf5(source: str | Path, dataset: str | None = None, sample_axes: int = 1) -> np.ndarray:
    """Every sample of an HDF5 source (see :class:`HDF5Source`), in memory.

    Examples
    --------
    >>> import h5py, numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "spectra.h5"
    >>> with h5py.File(path, "w") as f:
    ...     _ = f.create_dataset("counts", data=np.ones((5, 7), dtype="int32"))
    >>> read_hdf5(path).shape  # the only dataset of the file
    (5, 7)
    """
    source_ = HDF5Source(source, dataset, sample_axes)
    try:
        return source_.read()
    finally:
        source_.close()
