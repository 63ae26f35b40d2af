"""Readers for array files: NPY, NPZ, CSV and IDX (the MNIST format), gzipped or not."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import numpy as np

# IDX type byte -> numpy dtype (big-endian), from the format's definition on the MNIST page.
_IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw) such as ``t10k-images-idx3-ubyte.gz``.

    Examples
    --------
    >>> from aekit.datasets import read_idx
    >>> images = read_idx("t10k-images-idx3-ubyte.gz")  # doctest: +SKIP
    >>> images.shape  # doctest: +SKIP
    (10000, 28, 28)
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{path} could not be read as an IDX file: {exc}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    dtype, ndim = _IDX_TYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path} is a truncated IDX file")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(f"{path} holds {len(data)} bytes, but its header announces {expected}")
    return (
        np.frombuffer(data, dtype=dtype, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


def read_npy(path: str | Path) -> np.ndarray:
    """Read a ``.npy`` array (object arrays are refused: they would need unpickling)."""
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise ValueError(f"{path} could not be read as a numeric .npy array: {exc}") from None


def read_npz(path: str | Path, key: str | None = None) -> np.ndarray:
    """Read one array from a ``.npz`` archive.

    ``key`` names the array; by default the only array, else the first of ``x_train``, ``X``,
    ``x``, ``data`` found.
    """
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{path} could not be read as a .npz archive: {exc}") from None
    with archive:
        keys = list(archive.files)
        if key is None:
            preferred = [k for k in ("x_train", "X", "x", "data") if k in keys]
            if len(keys) == 1:
                key = keys[0]
            elif preferred:
                key = preferred[0]
            else:
                raise ValueError(f"{path} holds several arrays {keys}; say which one with key=")
        if key not in keys:
            raise ValueError(f"{path} has no array {key!r}; it holds {keys}")
        return archive[key]


def read_csv(path: str | Path) -> np.ndarray:
    """Read a numeric CSV file (comma-separated; a header line is detected and skipped).

    A first column of timestamps (a time series, as NAB's ``timestamp,value`` files) is left
    out: the result holds the value columns, shape (T, F)."""
    path = Path(path)
    with open(path, encoding="utf-8-sig") as f:  # -sig: spreadsheets start with a BOM
        first = f.readline()
    try:
        [float(v) for v in first.strip().split(",")]
        skip = 0
    except ValueError:
        skip = 1
    try:
        X = np.loadtxt(
            path, delimiter=",", skiprows=skip, dtype=np.float64, ndmin=2, encoding="utf-8-sig"
        )
    except ValueError as exc:
        from aekit.datasets.series import read_series

        try:  # a leading column of timestamps is a time series' index, not data
            values = read_series(path).values
        except ValueError:
            raise ValueError(f"{path} is not a numeric CSV file: {exc}") from None
        return values.reshape(len(values), -1)
    return X


# Suffix -> reader(path, key).
READERS: dict[str, Callable[[Path, str | None], np.ndarray]] = {
    ".npy": lambda p, key: read_npy(p),
    ".npz": read_npz,
    ".csv": lambda p, key: read_csv(p),
    ".idx": lambda p, key: read_idx(p),
}


def read_array(path: str | Path, key: str | None = None) -> np.ndarray:
    """Read an array file by its suffix: ``.npy``, ``.npz`` (``key`` picks the array), ``.csv``,
    or IDX (``*-ubyte``, ``.idx``, optionally ``.gz``)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    name = path.name.removesuffix(".gz")
    if "-idx" in name or name.endswith("-ubyte") or name.endswith(".idx"):
        return read_idx(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise ValueError(
            f"cannot read {path}: unknown file type {path.suffix!r}; use one of {sorted(READERS)}"
        )
    return reader(path, key)
