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

from pathlib import Path
from typing import Any

import numpy as np

from aekit._optional import require
from aekit._validation import Integer, check_value

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


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.size == 1:
        return _text(value.reshape(-1)[0])
    return str(value)


def _nx_class(obj: Any) -> str:
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


class HDF5Source:
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

    Examples
    --------
    >>> import h5py, numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "scan.h5"
    >>> with h5py.File(path, "w") as f:
    ...     _ = f.create_dataset("frames", data=np.arange(24).reshape(4, 2, 3))
    >>> src = HDF5Source(f"{path}:/frames")
    >>> len(src), src.sample_shape, src[1:3].shape
    (4, (2, 3), (2, 2, 3))
    """

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
        try:
            h5 = h5py.File(path, "r")
        except OSError as exc:
            raise ValueError(f"{path} is not a readable HDF5 file ({exc})") from None
        with h5:
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
            self.shape = tuple(int(d) for d in data.shape)
            self.dtype = np.dtype(data.dtype)
        if self.dtype.kind not in "iufb":
            raise ValueError(f"{path}:{self.dataset} holds {self.dtype} values, not numbers")
        if len(self.shape) <= self.sample_axes:
            raise ValueError(
                f"{path}:{self.dataset} has shape {self.shape}: with sample_axes="
                f"{self.sample_axes} no axes are left for a sample"
            )
        self._file: Any = None
        self._pid: int | None = None

    @property
    def n_samples(self) -> int:
        return int(np.prod(self.shape[: self.sample_axes]))

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return self.shape[self.sample_axes :]

    def __len__(self) -> int:
        return self.n_samples

    def describe(self) -> str:
        """One line: which dataset, how many samples of what."""
        shape = " x ".join(map(str, self.sample_shape))
        return (
            f"{self.dataset} ({self.found_by}): {self.n_samples} samples of {shape} "
            f"{self.dtype.name} values"
        )

    def _data(self) -> Any:
        import os

        if self._file is None or self._pid != os.getpid():  # a fresh handle per process
            h5py = require("h5py", "hdf5")
            self._file, self._pid = h5py.File(self.path, "r"), os.getpid()
        return self._file[self.dataset]

    def _rows(self, index: Any) -> np.ndarray:
        """The sample numbers ``index`` stands for, checked; without building an array of
        every sample number (a batch of a large file costs its own size only)."""
        n = self.n_samples
        if isinstance(index, slice):
            return np.asarray(range(n)[index], dtype=np.int64)
        rows = np.asarray(index)
        if rows.dtype.kind not in "iu":
            raise IndexError(f"samples are indexed by integers or a slice, not {rows.dtype}")
        if rows.size and (rows.min() < -n or rows.max() >= n):
            raise IndexError(f"sample index out of range for {n} samples")
        return np.where(rows < 0, rows + n, rows).astype(np.int64)

    def __getitem__(self, index: Any) -> np.ndarray:
        """Samples ``index`` (an int, a slice or an array of indices), shape (n, *sample_shape)."""
        rows = self._rows(index)
        single = np.ndim(rows) == 0
        rows = np.atleast_1d(rows)
        out = np.empty((len(rows), *self.sample_shape), dtype=self.dtype)
        if len(rows):
            data = self._data()
            # h5py reads increasing unique indices; runs of consecutive rows as slices.
            order = np.argsort(rows, kind="stable")
            sorted_rows = rows[order]
            unique, inverse = np.unique(sorted_rows, return_inverse=True)
            lead = self.shape[: self.sample_axes]
            if self.sample_axes == 1:
                block = data[unique]
            else:
                block = np.stack([data[np.unravel_index(int(r), lead)] for r in unique])
            out[order] = block[inverse]
        return out[0] if single else out

    def read(self) -> np.ndarray:
        """Every sample, shape ``(n_samples, *sample_shape)``."""
        data = self._data()
        return np.asarray(data[()]).reshape(self.n_samples, *self.sample_shape)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.read()
        return out if dtype is None else out.astype(dtype)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __getstate__(self) -> dict[str, Any]:  # an open h5py handle does not pickle
        state = dict(self.__dict__)
        state["_file"], state["_pid"] = None, None
        return state


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
