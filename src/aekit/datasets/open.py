"""``open_source``: any data that can be read lazily, opened as a :class:`aekit._lazy.LazyArray`.

A registry maps each kind of source to the test that recognises its name and the reader that
opens it, tried in order: HDF5/NeXus, zarr stores, ``.npy`` files, Parquet tables, and images
(a folder, a glob, or one multi-page TIFF). Nothing is read but headers until rows are asked
for.

Other data (CSV and text tables, ``.npz`` archives, IDX files, the built-in data sets) is not
streamed: compressed or text formats cannot be read at a row without reading what comes before
it. :func:`open_source` refuses them with a ``ValueError`` that says so, rather than returning
an array in memory dressed as a lazy source (which would hide what it costs);
:func:`is_streamable` tells which is which, and :func:`aekit.datasets.load` reads every kind
in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from aekit._lazy import LazyArray
from aekit._validation import Integer, check_value
from aekit.datasets.hdf5 import HDF5Source, is_hdf5_source
from aekit.datasets.npy import NpySource
from aekit.datasets.parquet import ParquetSource, is_parquet_source
from aekit.datasets.stacks import ImageSource, is_stack_source
from aekit.datasets.zarr import ZarrSource, is_zarr_source


@dataclass(frozen=True)
class SourceKind:
    """How one kind of lazy source is recognised and opened."""

    test: Callable[[str], bool]  # whether a name is of this kind (by its form: cheap)
    open: Callable[[str, str | None, int, Sequence[str] | None], LazyArray]
    key: bool = False  # takes ``key`` (a dataset or array inside the file)
    sample_axes: bool = False  # takes ``sample_axes``
    columns: bool = False  # takes ``columns``


def _is_npy(spec: str) -> bool:
    return spec.lower().endswith(".npy")


# Kind -> how to recognise and open it, tried in this order (a zarr store is a folder: before
# images).
SOURCES: dict[str, SourceKind] = {
    "hdf5": SourceKind(
        is_hdf5_source, lambda s, k, a, c: HDF5Source(s, k, a), key=True, sample_axes=True
    ),
    "zarr": SourceKind(
        is_zarr_source, lambda s, k, a, c: ZarrSource(s, k, a), key=True, sample_axes=True
    ),
    "npy": SourceKind(_is_npy, lambda s, k, a, c: NpySource(s, a), sample_axes=True),
    "parquet": SourceKind(is_parquet_source, lambda s, k, a, c: ParquetSource(s, c), columns=True),
    "images": SourceKind(is_stack_source, lambda s, k, a, c: ImageSource(s)),
}


def source_kind(spec: str | Path) -> str | None:
    """The kind of lazy source ``spec`` names (a key of :data:`SOURCES`), or ``None``.

    Examples
    --------
    >>> source_kind("run.nxs:/entry/data"), source_kind("scans/*.tif"), source_kind("x.csv")
    ('hdf5', 'images', None)
    """
    text = str(spec)
    return next((kind for kind, entry in SOURCES.items() if entry.test(text)), None)


def is_streamable(spec: str | Path) -> bool:
    """Whether ``spec`` names data that :func:`open_source` reads lazily (judged from the name
    and, for a folder, whether it holds zarr metadata; the file itself is not opened).

    Examples
    --------
    >>> is_streamable("frames.h5:/entry/data"), is_streamable("big.npy")
    (True, True)
    >>> is_streamable("table.csv"), is_streamable("mnist.npz")
    (False, False)
    """
    return source_kind(spec) is not None


def open_source(
    spec: str | Path,
    key: str | None = None,
    *,
    sample_axes: int = 1,
    columns: Sequence[str] | str | None = None,
) -> LazyArray:
    """Open ``spec`` as a lazy source: its samples are read only when indexed.

    Parameters
    ----------
    spec : str or Path
        ``file.h5:/path`` or ``file.nxs`` (HDF5/NeXus, :class:`~aekit.datasets.hdf5.HDF5Source`),
        ``store.zarr`` or ``store.zarr:/group/array`` (:class:`~aekit.datasets.zarr.ZarrSource`),
        ``x.npy`` (:class:`~aekit.datasets.npy.NpySource`), ``t.parquet``
        (:class:`~aekit.datasets.parquet.ParquetSource`), a folder, a glob or a ``.tif`` stack
        of images (:class:`~aekit.datasets.stacks.ImageSource`).
    key : str, optional
        The dataset of an HDF5 file, or the array of a zarr store, when ``spec`` names none.
    sample_axes : int, default=1
        How many leading axes are samples (HDF5, zarr and ``.npy``).
    columns : sequence of str or str, optional
        The feature columns of a Parquet table (a list, or names separated by commas).

    Returns
    -------
    LazyArray
        A source with ``shape``, ``dtype``, ``chunk_rows``, indexing by samples, ``read()``,
        ``describe()`` and ``close()`` (also a context manager).

    Raises
    ------
    ValueError
        For data that is read in memory only (a CSV table, an ``.npz``, IDX, a built-in name),
        an option the kind does not take, or a damaged file.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.npy"
    >>> np.save(path, np.arange(20.0).reshape(10, 2))
    >>> with open_source(path) as source:
    ...     print(source.describe(), source[[9, 0]].tolist())
    10 samples of 2 float64 values (.npy, read by rows) [[18.0, 19.0], [0.0, 1.0]]
    """
    check_value("sample_axes", sample_axes, Integer(1))
    text = str(spec)
    kind = source_kind(text)
    if kind is None:
        raise ValueError(
            f"{text} is read in memory, not streamed (aekit.datasets.read_array or load): "
            "aekit streams HDF5/NeXus, zarr, .npy, Parquet, and images (a folder, a glob or a "
            "multi-page TIFF)"
        )
    entry = SOURCES[kind]
    if key is not None and not entry.key:
        raise ValueError(
            f"key={key!r} names a dataset of an HDF5 file or an array of a zarr store; "
            f"{text} has none"
        )
    if sample_axes != 1 and not entry.sample_axes:
        raise ValueError(f"sample_axes applies to HDF5, zarr and .npy data, not to {text}")
    if columns is not None and not entry.columns:
        raise ValueError(f"columns applies to Parquet tables, not to {text}")
    return entry.open(text, key, sample_axes, columns)
