"""Parquet tables read lazily, one row group at a time, through pyarrow.

Each row is a sample; its features are the numeric columns (bool, integers, floats), all of
them or those named. A text column is an error that names it (choose the numeric columns, or
encode it first); so is a missing value, found from the file's statistics when it has them
(and a footer of up to 1 MiB), else when its row group is read.
Reading rows reads only the row groups they fall in; the last row group read is kept, so that
consecutive batches read each group once. A row group must fit in memory, as Parquet writers
size them (pyarrow: up to a million rows).

CSV and other text tables are read by :func:`aekit.datasets.read_table`, in memory: it detects
the separator, the header, an id column and decimal commas, which a lazy reader could only
guess from the first rows. Needs pyarrow (the ``parquet`` extra).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from aekit._optional import require
from aekit._text import plural
from aekit._untrusted import open_regular, regular_file, short
from aekit.datasets._source import RowSource, check_shape

PARQUET_SUFFIXES = (".parquet", ".pq")


def is_parquet_source(text: str | Path) -> bool:
    """Whether ``text`` names a Parquet file (by its suffix)."""
    return str(text).lower().endswith(PARQUET_SUFFIXES)


def _numeric_dtype(pa: Any, kind: Any) -> np.dtype | None:
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
        return np.dtype(kind.to_pandas_dtype())
    return None


# Parquet's physical types, in the order of their Thrift numbers.
_PHYSICAL = ("BOOLEAN", "INT32", "INT64", "INT96", "FLOAT", "DOUBLE", "BYTE_ARRAY")
_PHYSICAL += ("FIXED_LEN_BYTE_ARRAY",)
# The largest footer whose statistics are read (about 10,000 column chunks, 0.4 s to decode):
# past it, a missing value is found when its row group is read, as in a file without
# statistics.
MAX_FOOTER_BYTES = 1 << 20


def _decode_thrift(data: bytes) -> dict[int, Any]:
    """The struct encoded in ``data`` by Thrift's compact protocol (a Parquet footer), as a
    dict by field number; lists as lists, maps as lists of pairs.

    The column chunks' statistics are read with it rather than through pyarrow, whose
    accessors of a column chunk's metadata (not declared to raise) abort the whole process
    on the C++ exception of a chunk that contradicts the schema: a histogram of definition
    levels for a column the schema makes required, statistics of another type. Every count
    is bounded by the bytes left, nesting by 32 levels; damage is a ``ValueError``.

    Examples
    --------
    >>> _decode_thrift(bytes([0x15, 0x0C, 0x19, 0x1C, 0x16, 0x06, 0x00, 0x00]))
    {1: 6, 2: [{1: 3}]}
    """
    size = len(data)

    def varint(at: int) -> tuple[int, int]:
        value = shift = 0
        while shift < 70:
            byte = data[at]
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value, at + 1
            at, shift = at + 1, shift + 7
        raise ValueError("an integer of more than 10 bytes")

    def count(at: int) -> tuple[int, int]:
        n, at = varint(at)
        if n > size - at:  # every item takes a byte at least
            raise ValueError(f"a length of {n} where {size - at} bytes are left")
        return n, at

    # The value types: 1 and 2 booleans, 3 byte, 4-6 integers (zigzag varints), 7 double,
    # 8 binary, 9 list, 10 set, 11 map, 12 struct.
    def value(kind: int, at: int, depth: int) -> tuple[Any, int]:
        if depth > 32:
            raise ValueError("values nested too deep")
        if kind == 12:
            fields: dict[int, Any] = {}
            number = 0
            while head := data[at]:
                at += 1
                if head >> 4:
                    number += head >> 4
                else:
                    number, at = varint(at)
                    number = (number >> 1) ^ -(number & 1)
                fields[number], at = value(head & 0x0F, at, depth + 1)
            return fields, at + 1
        if 4 <= kind <= 6:
            n, at = varint(at)
            return (n >> 1) ^ -(n & 1), at
        if kind in (7, 8):
            n, at = (8, at) if kind == 7 else count(at)
            return data[at : at + n], at + n
        if kind in (9, 10):
            head = data[at]
            n, item = head >> 4, head & 0x0F
            n, at = count(at + 1) if n == 15 else (n, at + 1)
            if item in (1, 2):  # a byte each inside a list
                return [b == 1 for b in data[at : at + n]], at + n
            items = []
            for _ in range(n):
                v, at = value(item, at, depth + 1)
                items.append(v)
            return items, at
        if kind == 11:
            n, at = count(at)
            pairs = []
            if n:
                types, at = data[at], at + 1
                for _ in range(n):
                    k, at = value(types >> 4, at, depth + 1)
                    v, at = value(types & 0x0F, at, depth + 1)
                    pairs.append((k, v))
            return pairs, at
        if kind in (1, 2, 3):
            return (kind == 1, at) if kind < 3 else (data[at], at + 1)
        raise ValueError(f"a value of unknown type {kind}")

    try:
        struct, end = value(12, 0, 0)
    except IndexError:
        raise ValueError("it ends inside a value") from None
    if end > size:
        raise ValueError("it ends inside a value")
    return struct


def _footer(path: Path) -> dict[int, Any] | None:
    """The FileMetaData struct of a Parquet file (:func:`_decode_thrift`), or ``None`` for a
    footer of more than :data:`MAX_FOOTER_BYTES`."""
    with open_regular(path, "data") as f:
        size = os.fstat(f.fileno()).st_size
        f.seek(max(0, size - 8))
        tail = f.read(8)
        n = int.from_bytes(tail[:4], "little")
        if len(tail) < 8 or tail[4:] != b"PAR1" or n > size - 12:
            raise ValueError(f"{path} is damaged: its footer is not where its end says")
        if n > MAX_FOOTER_BYTES:
            return None
        f.seek(size - 8 - n)
        data = f.read(n)
    try:
        return _decode_thrift(data)
    except ValueError as exc:
        raise ValueError(f"{path} is damaged: its footer does not decode ({exc})") from None


def _field(node: Any, *numbers: int) -> Any:
    """``node[a][b]...`` through structs (dicts), or ``None`` where one is missing."""
    for number in numbers:
        node = node.get(number) if isinstance(node, dict) else None
    return node


class ParquetSource(RowSource):
    """The rows of a Parquet file, read by row groups when asked for.

    Parameters
    ----------
    path : str or Path
        A ``.parquet`` (or ``.pq``) file.
    columns : sequence of str, optional
        The feature columns, in this order; by default every column (each must be numeric).

    Attributes
    ----------
    shape : tuple of int
        ``(n_rows, n_columns)``.
    dtype : numpy.dtype
        The columns' common type (int32 and float32 columns give float64, as numpy and pandas
        combine them).
    columns : list of str
        The feature columns read.
    chunk_rows : int
        Rows of the largest row group.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pyarrow as pa, pyarrow.parquet as pq
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.parquet"
    >>> table = pa.table({"a": np.arange(5), "b": np.arange(5) / 2, "name": list("vwxyz")})
    >>> pq.write_table(table, path, row_group_size=2)
    >>> source = ParquetSource(path, columns=["b", "a"])
    >>> source.shape, source.chunk_rows, source[[4, 0]].tolist()
    ((5, 2), 2, [[2.0, 4.0], [0.0, 0.0]])
    >>> source.describe()
    '5 rows of 2 numeric columns (b, a), float64; 3 row groups of up to 2 rows'
    """

    _handles = ("_file", "_group")

    def __init__(self, path: str | Path, columns: Sequence[str] | None = None) -> None:
        pq = require("pyarrow.parquet", "parquet")
        pa = require("pyarrow", "parquet")
        self.path = regular_file(path)
        if isinstance(columns, str):
            columns = [c.strip() for c in columns.split(",") if c.strip()]
        try:
            with pq.ParquetFile(self.path) as file:
                schema, metadata = file.schema_arrow, file.metadata
        except (pa.ArrowException, OSError) as exc:
            raise ValueError(
                f"{self.path} is not a readable Parquet file ({short(str(exc))})"
            ) from None
        names = list(schema.names)
        if columns is None:
            chosen = names
        else:
            chosen = list(columns)
            missing = [c for c in chosen if c not in names]
            if missing or not chosen:
                raise ValueError(
                    f"{self.path} has no column {missing[0]!r}; its columns: {names}"
                    if missing
                    else "columns is empty; name at least one column"
                )
            if len(set(chosen)) != len(chosen):
                raise ValueError(f"columns names a column twice: {chosen}")
        dtypes = []
        for name in chosen:
            kind = schema.field(name).type
            dtype = _numeric_dtype(pa, kind)
            if dtype is None:
                what = (
                    "text"
                    if pa.types.is_string(kind) or pa.types.is_large_string(kind)
                    else (f"{kind} values")
                )
                raise ValueError(
                    f"{self.path}: column {name!r} holds {what}, not numbers; choose the numeric "
                    "columns (columns=[...], --columns a,b,...)"
                )
            dtypes.append(dtype)
        if not chosen:
            raise ValueError(f"{self.path} has no columns")
        self.columns = chosen
        self.dtype = np.result_type(*dtypes)
        counts = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
        if min(counts, default=0) < 0:  # the rows' starts would go back: rows of another group
            raise ValueError(f"{self.path} is damaged: a row group holds {min(counts)} rows")
        check_shape((sum(counts), len(chosen)), self.path)
        self._starts = np.cumsum([0, *counts])
        self.shape = (int(self._starts[-1]), len(chosen))
        self.chunk_rows = max(counts, default=1) or 1
        self._check_no_missing(metadata)
        self._file: Any = None
        self._group: tuple[int, np.ndarray] | None = None

    def _check_no_missing(self, metadata: Any) -> None:
        """A missing value, found from the row groups' statistics (when written): before any
        training rather than at the batch that meets it. Read from the footer
        (:func:`_decode_thrift` says why), with the column chunks' types, which a damaged file
        may contradict."""
        leaf = {metadata.schema.column(j).path: j for j in range(metadata.num_columns)}
        groups = _field(_footer(self.path), 4)  # FileMetaData.row_groups
        groups = groups[: len(self._starts) - 1] if isinstance(groups, list) else []
        for g, group in enumerate(groups):
            chunks = _field(group, 1)  # RowGroup.columns
            for name in self.columns:
                j = leaf.get(name)
                if j is None or not isinstance(chunks, list) or j >= len(chunks):
                    continue
                meta = _field(chunks[j], 3)  # ColumnChunk.meta_data
                stored = _field(meta, 1)  # ColumnMetaData.type
                if isinstance(stored, int) and 0 <= stored < len(_PHYSICAL):
                    stored = _PHYSICAL[stored]
                expected = metadata.schema.column(j).physical_type
                if stored is not None and stored != expected:
                    raise ValueError(
                        f"{self.path} is damaged: column {name!r} of row group {g} is stored as "
                        f"{stored}, its schema says {expected}"
                    )
                nulls = _field(meta, 12, 3)  # ColumnMetaData.statistics.null_count
                if isinstance(nulls, int) and nulls > 0:
                    self._missing(name, g)

    def _missing(self, name: str, group: int) -> None:
        first, last = int(self._starts[group]), int(self._starts[group + 1]) - 1
        raise ValueError(
            f"{self.path}: column {name!r} has missing values (in rows {first} to {last}); "
            "aekit trains on complete numeric columns: fill or drop them first"
        )

    def describe(self) -> str:
        """One line: rows, columns, type and row groups."""
        shown = ", ".join(self.columns[:8]) + (", ..." if len(self.columns) > 8 else "")
        n_groups = len(self._starts) - 1
        return (
            f"{plural(self.n_samples, 'row')} of {plural(len(self.columns), 'numeric column')} "
            f"({shown}), {self.dtype.name}; {plural(n_groups, 'row group')} of up to "
            f"{plural(self.chunk_rows, 'row')}"
        )

    def _row_group(self, g: int) -> np.ndarray:
        """Row group ``g`` as an (n, F) array; the last one read is kept."""
        if self._group is not None and self._group[0] == g:
            return self._group[1]

        def opener() -> Any:
            return require("pyarrow.parquet", "parquet").ParquetFile(self.path)

        pa = require("pyarrow", "parquet")
        file = self._own("_file", opener)
        try:
            table = file.read_row_group(g, columns=self.columns, use_threads=False)
        except (pa.ArrowException, OSError) as exc:
            raise ValueError(
                f"{self.path}: row group {g} could not be read ({short(str(exc))})"
            ) from None
        n = int(self._starts[g + 1] - self._starts[g])
        if table.num_rows != n:
            raise ValueError(f"{self.path}: row group {g} holds {table.num_rows} rows, not {n}")
        block = np.empty((n, len(self.columns)), dtype=self.dtype)
        for j, name in enumerate(self.columns):
            column = table.column(name)
            if column.null_count:
                self._missing(name, g)
            block[:, j] = column.to_numpy()
        self._group = (g, block)
        return block

    def _read_span(self, start: int, stop: int) -> np.ndarray:
        return self._read_sorted(np.arange(start, stop))

    def _read_sorted(self, rows: np.ndarray) -> np.ndarray:
        out = np.empty((len(rows), len(self.columns)), dtype=self.dtype)
        groups = np.searchsorted(self._starts, rows, side="right") - 1
        cuts = np.flatnonzero(np.diff(groups)) + 1
        for first, last in zip(np.r_[0, cuts], np.r_[cuts, len(rows)], strict=True):
            g = int(groups[first])
            out[first:last] = self._row_group(g)[rows[first:last] - self._starts[g]]
        return out
