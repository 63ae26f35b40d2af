"""Readers for array files: NPY, NPZ, CSV and IDX (the MNIST format), gzipped or not.

Data files come from anywhere, so every reader treats their bytes as hostile: sizes announced
by a header are checked against the bytes actually there before anything is allocated, a
gzip or zip member is decompressed only as far as it really goes, nothing is unpickled, and
every way a file can be damaged ends in a ``ValueError`` that names the file.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from aekit._untrusted import ZIP_ERRORS, open_regular, read_npy_header, read_up_to, regular_file
from aekit._untrusted import read_array as _read_data

# IDX type byte -> numpy dtype (big-endian), from the format's definition on the MNIST page.
_IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# The compression methods numpy writes (np.savez, np.savez_compressed); others, such as
# bzip2 whose expansion ratio is unbounded in practice, are refused.
_ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


# ----------------------------------------------------------------------------- IDX
def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw) such as ``t10k-images-idx3-ubyte.gz``.

    Examples
    --------
    >>> from aekit.datasets import read_idx
    >>> images = read_idx("t10k-images-idx3-ubyte.gz")  # doctest: +SKIP
    >>> images.shape  # doctest: +SKIP
    (10000, 28, 28)
    """
    path = regular_file(path)
    gzipped = path.suffix == ".gz"
    try:
        with gzip.open(path, "rb") if gzipped else open(path, "rb") as f:
            magic = f.read(4)
            if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_TYPES:
                raise ValueError(f"{path} is not an IDX file (bad magic number)")
            dtype, ndim = _IDX_TYPES[magic[2]], magic[3]
            if ndim == 0:
                raise ValueError(f"{path} is not an IDX file: its header announces no dimension")
            dims = f.read(4 * ndim)
            if len(dims) < 4 * ndim:
                raise ValueError(f"{path} is a truncated IDX file")
            shape = struct.unpack(f">{ndim}I", dims)
            header = 4 + 4 * ndim
            expected = header + math.prod(shape) * dtype.itemsize  # Python ints: no overflow
            if gzipped:
                # One byte past the announced end: reading it also reaches the stream's end,
                # where gzip checks its CRC-32 and length.
                size = header + len(data := read_up_to(f, expected - header + 1))
            else:
                size = path.stat().st_size
                data = read_up_to(f, expected - header) if size == expected else bytearray()
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path} could not be read as an IDX file: {exc}") from None
    if size != expected:
        what = "decompressed bytes" if gzipped else "bytes"
        raise ValueError(
            f"{path} holds {size}{'+' if gzipped and size > expected else ''} {what}, but its "
            f"header announces {expected}"
        )
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


# ----------------------------------------------------------------------------- NPY / NPZ
def _read_npy_stream(f: IO[bytes], size: int, name: str) -> np.ndarray:
    """The array in the .npy stream ``f`` of ``size`` bytes, checked against its header
    before anything is allocated (numpy would allocate what the header announces)."""
    shape, fortran_order, dtype = read_npy_header(f, name)
    header = f.tell()
    expected = math.prod(shape) * dtype.itemsize
    if size - header != expected:
        raise ValueError(
            f"{name} holds {size - header} bytes of array data, but its header announces "
            f"{expected} (shape {shape}, dtype {dtype})"
        )
    array = _read_data(f, shape, fortran_order, dtype, name)
    if f.read(1):  # also reaches the end of a zip member, where its CRC is checked
        raise ValueError(f"{name} does not hold the {expected} bytes its header announces")
    return array


def read_npy(path: str | Path) -> np.ndarray:
    """Read a ``.npy`` array (object arrays are refused: they would need unpickling)."""
    try:
        with open_regular(path, "data") as f:
            return _read_npy_stream(f, os.fstat(f.fileno()).st_size, str(path))
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{path} could not be read: {exc}") from None


def _npz_members(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Array name -> zip entry, named as np.load names them: the entry's name less ``.npy``.

    Every entry counts, as for np.load: leaving out an odd one (a name damaged in the zip's
    directory) could make another array "the only one" and silently answer with it."""
    return {info.filename.removesuffix(".npy"): info for info in archive.infolist()}


def _read_npz_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> np.ndarray:
    if info.compress_type not in _ZIP_METHODS:
        raise ValueError(
            f"{name} is compressed with zip method {info.compress_type}, which numpy never writes"
        )
    with archive.open(info) as f:
        return _read_npy_stream(f, info.file_size, name)


def _read_npz_arrays(
    path: Path, choose: Callable[[list[str]], list[str]], load: bool = True
) -> dict[str, Any]:
    """Read the arrays that ``choose(names in the archive)`` picks from the ``.npz`` ``path``;
    only those are decompressed (none with ``load=False``: the values are then None)."""
    path = regular_file(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = _npz_members(archive)
            return {
                key: _read_npz_member(archive, members[key], f"{path}[{key!r}]") if load else None
                for key in choose(list(members))
            }
    except ZIP_ERRORS as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{path} could not be read as a .npz archive: {exc}") from None


# Arrays an .npz read without a key falls back on, in this order (Keras' mnist.npz first).
NPZ_PREFERRED = ("x_train", "X", "x", "data")


def choose_npz_key(keys: list[str], key: str | None, path: str | Path) -> str:
    """The array of an .npz holding ``keys`` that ``key`` names; without one, the only array,
    else the first of :data:`NPZ_PREFERRED` present."""
    if key is not None:
        if key not in keys:
            raise ValueError(f"{path} has no array {key!r}; it holds {keys}")
        return key
    if len(keys) == 1:
        return keys[0]
    if not keys:
        raise ValueError(f"{path} holds no arrays")
    preferred = [k for k in NPZ_PREFERRED if k in keys]
    if preferred:
        return preferred[0]
    raise ValueError(
        f"{path} holds several arrays {keys}; say which one (--key on the command line, key= "
        "in Python)"
    )


def npz_keys(path: str | Path) -> list[str]:
    """The names of the arrays in the .npz ``path`` (its zip directory only is read)."""
    return list(_read_npz_arrays(Path(path), lambda keys: keys, load=False))


def read_npz(path: str | Path, key: str | None = None) -> np.ndarray:
    """Read one array from a ``.npz`` archive.

    ``key`` names the array; by default the only array, else the first of ``x_train``, ``X``,
    ``x``, ``data`` found. Only that array is decompressed.
    """
    (array,) = _read_npz_arrays(Path(path), lambda keys: [choose_npz_key(keys, key, path)]).values()
    return array


# ----------------------------------------------------------------------------- CSV
def read_csv(path: str | Path) -> np.ndarray:
    """The features of a CSV table (:func:`aekit.datasets.read_table` with its defaults).

    The separator and a header line are detected; an id column or a first column of
    timestamps (a time series, as NAB's ``timestamp,value`` files) is left out: the result
    holds the feature columns, shape (n, F). A text column or a missing value is an error
    that names its row and column; ``read_table`` offers one-hot encoding and filling."""
    from aekit.datasets.tables import read_table

    return read_table(path).X


# Suffix -> reader(path, key).
READERS: dict[str, Callable[[Path, str | None], np.ndarray]] = {
    ".npy": lambda p, key: read_npy(p),
    ".npz": read_npz,
    ".csv": lambda p, key: read_csv(p),
    ".tsv": lambda p, key: read_csv(p),
    ".txt": lambda p, key: read_csv(p),
    ".idx": lambda p, key: read_idx(p),
}


def read_array(path: str | Path, key: str | None = None) -> np.ndarray:
    """Read an array file by its suffix: ``.npy``, ``.npz`` (``key`` picks the array), a table
    (``.csv``, ``.tsv``, ``.txt``), IDX (``*-ubyte``, ``.idx``, optionally ``.gz``), an
    HDF5/NeXus dataset (``file.h5:/path``, or ``key`` as the path; NeXus's default data when
    none is named: :mod:`aekit.datasets.hdf5`), a zarr array (``store.zarr``,
    ``store.zarr:/group/array`` or ``key``), a Parquet table (its numeric columns) or the pages
    of a ``.tif`` stack: the lazy source of the same name (:func:`aekit.datasets.open_source`)
    read whole. A ``.npy`` keeps its own reader (:func:`read_npy`), which also reads Fortran
    order; folders and globs of images are :func:`aekit.datasets.read_images`'s."""
    from aekit.datasets.hdf5 import is_hdf5_source, read_hdf5
    from aekit.datasets.open import open_source, source_kind
    from aekit.datasets.stacks import is_tiff_stack

    if is_hdf5_source(path):
        return read_hdf5(path, key)
    lazy = source_kind(path)
    if lazy in ("zarr", "parquet") or is_tiff_stack(path):
        with open_source(path, key if lazy == "zarr" else None) as source:
            return source.read()
    if Path(path).is_dir():
        raise ValueError(
            f"{path} is a folder, not a regular file; give a file "
            f"({', '.join(sorted(READERS))}, IDX) or, for images, a folder holding image files"
        )
    path = regular_file(path)
    name = path.name.removesuffix(".gz")
    if "-idx" in name or name.endswith("-ubyte") or name.endswith(".idx"):
        return read_idx(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        kind = f"files of type {path.suffix!r}" if path.suffix else "files without a suffix"
        raise ValueError(
            f"cannot read {path}: aekit does not read {kind}; use one of "
            f"{', '.join(sorted(READERS))}, IDX, HDF5/NeXus, zarr, Parquet or TIFF"
        )
    return reader(path, key)
