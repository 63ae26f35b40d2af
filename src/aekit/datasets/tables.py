"""Tables from CSV files as they come: a separator and a header to detect, an id column,
missing values, text columns.

:func:`read_table` reads a file into a float matrix and records every choice it made in a
:class:`TableSchema` (which columns are features, how text columns are one-hot encoded, what
fills a missing value). Saved with a model (config.json's ``"table"``), the schema makes new
files go through the same steps at inference: the same columns by name, the same categories,
the same fill values.

Rows are numbered as a spreadsheet numbers them: the file's first line is row 1, so with a
header the first data row is row 2.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from aekit._text import plural
from aekit._untrusted import read_bounded
from aekit._validation import is_number

# Cells read as a missing value (compared in lower case): spreadsheets' and R's markers, and
# UCI's "?".
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "#n/a"})
# Separators tried, in this order of preference when several fit.
DELIMITERS = (",", ";", "\t", "|")
# "auto" one-hot encodes a text column with at most this many distinct values: beyond it the
# code would be dominated by indicator columns (and a column of names or free text is no
# category at all).
MAX_CATEGORIES = 20
# Lines looked at to detect the separator and the header.
SNIFF_LINES = 200
# A CSV file read whole is capped (larger tables are for the streaming readers).
MAX_BYTES = 4 << 30
# Column names that say "identifier".
_ID_NAME = re.compile(
    r"^(?:id|idx|index|uuid|key|row|row[ _.-]?(?:id|no|number|index)|unnamed: ?0)$"
    r"|[ _.-]id$",
    re.IGNORECASE,
)
_CAMEL_ID = re.compile(r"[a-z0-9](?:ID|Id)$")
MISSING_CHOICES = ("error", "drop", "mean", "median")


def looks_like_id_name(name: str) -> bool:
    """True for a column name that says "identifier" (``id``, ``user_id``, ``customerID``)."""
    return bool(_ID_NAME.search(name.strip()) or _CAMEL_ID.search(name.strip()))


# ----------------------------------------------------------------------------- schema
@dataclass(frozen=True)
class TableSchema:
    """How a table's columns become features; saved with a model as JSON.

    Examples
    --------
    >>> schema = TableSchema(
    ...     columns=("id", "age", "color"), features=("age", "color"), id_column="id",
    ...     categories={"color": ("blue", "red")}, missing="mean", fill={"age": 40.0},
    ... )
    >>> schema.feature_names()
    ('age', 'color=blue', 'color=red')
    >>> TableSchema.from_json(schema.to_json()) == schema
    True
    """

    columns: tuple[str, ...]  # every column of the training file, in order
    features: tuple[str, ...]  # the columns that feed the model, in order
    id_column: str | None = None  # its values name the rows in outputs
    categories: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # one-hot columns
    missing: str = "error"  # what a missing value does: error, drop, mean or median
    fill: Mapping[str, float] = field(default_factory=dict)  # numeric column -> filled-in value
    header: bool = True  # the training file had a header (else columns are "1", "2", ...)

    def feature_names(self) -> tuple[str, ...]:
        """The model's input features: numeric columns by name, ``column=category`` for each
        category of a one-hot encoded column."""
        names: list[str] = []
        for name in self.features:
            if name in self.categories:
                names.extend(f"{name}={c}" for c in self.categories[name])
            else:
                names.append(name)
        return tuple(names)

    def to_json(self) -> dict[str, Any]:
        """The schema as a JSON object (config.json's ``"table"``); :meth:`from_json` reads
        it back."""
        return {
            "columns": list(self.columns),
            "features": list(self.features),
            "id_column": self.id_column,
            "categories": {k: list(v) for k, v in self.categories.items()},
            "missing": self.missing,
            "fill": dict(self.fill),
            "header": self.header,
        }

    @classmethod
    def from_json(cls, data: Any, where: str = "table") -> TableSchema:
        """The schema in ``data`` (from config.json), checked field by field."""

        def bad(message: str) -> ValueError:
            return ValueError(f"{where}: {message}")

        def names(value: Any, what: str) -> tuple[str, ...]:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise bad(f"{what} must be a list of column names")
            return tuple(value)

        if not isinstance(data, dict):
            raise bad("expected an object")
        unknown = set(data) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise bad(f"unknown fields {sorted(unknown)}")
        columns = names(data.get("columns"), "columns")
        features = names(data.get("features"), "features")
        if not features or set(features) - set(columns):
            raise bad("features must be some of the columns")
        id_column = data.get("id_column")
        if id_column is not None and id_column not in columns:
            raise bad("id_column must be one of the columns or null")
        categories = data.get("categories", {})
        if not isinstance(categories, dict) or set(categories) - set(features):
            raise bad("categories must map feature columns to their categories")
        cats = {k: names(v, f"categories[{k!r}]") for k, v in categories.items()}
        missing = data.get("missing", "error")
        if missing not in MISSING_CHOICES:
            raise bad(f"missing must be one of {list(MISSING_CHOICES)}")
        fill = data.get("fill", {})
        if not isinstance(fill, dict) or not all(
            k in features and is_number(v) and math.isfinite(v) for k, v in fill.items()
        ):
            raise bad("fill must map numeric feature columns to finite numbers")
        header = data.get("header", True)
        if not isinstance(header, bool):
            raise bad("header must be true or false")
        return cls(columns, features, id_column, cats, missing, dict(fill), header)


class Table(NamedTuple):
    """A table read by :func:`read_table`."""

    X: np.ndarray  # (n, F) float64 features, missing values filled or rows dropped
    ids: np.ndarray  # (n,) the id column's values, or the rows' spreadsheet numbers
    rows: np.ndarray  # (n,) spreadsheet row number of each row (the file's first line is 1)
    kept: np.ndarray  # (n,) position of each row among the file's data rows (from 0)
    feature_names: tuple[str, ...]  # (F,)
    schema: TableSchema  # everything needed to read another file the same way
    notes: tuple[str, ...]  # what was detected and done, one line each
    warnings: tuple[str, ...]  # what looks like a mistake, one line each

    def __repr__(self) -> str:
        return (
            f"Table(X=<{self.X.shape[0]} x {self.X.shape[1]}>, "
            f"features={list(self.feature_names)[:8]}{'...' if self.X.shape[1] > 8 else ''}, "
            f"ids={'rows' if self.schema.id_column is None else repr(self.schema.id_column)})"
        )


# ----------------------------------------------------------------------------- parsing
def _is_numeric_cell(cell: str, decimal: str = ".") -> bool:
    text = cell.strip()
    if decimal == ",":
        text = text.replace(",", ".")
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING_TOKENS


def _split(lines: Iterable[tuple[int, str]], delimiter: str | None) -> list[tuple[int, list[str]]]:
    """(line number, cells) of each non-blank line; ``None`` splits on runs of whitespace."""
    rows: list[tuple[int, list[str]]] = []
    if delimiter is None:
        for number, line in lines:
            if line.strip():
                rows.append((number, line.split()))
        return rows
    numbered = list(lines)
    reader = csv.reader(io.StringIO("".join(line for _, line in numbered)), delimiter=delimiter)
    first = numbered[0][0] if numbered else 1
    start = first
    for cells in reader:
        if cells and any(c.strip() for c in cells):
            rows.append((start, cells))
        start = first + reader.line_num  # a quoted cell may span lines
    return rows


@dataclass(frozen=True)
class _Dialect:
    delimiter: str | None  # None: runs of whitespace
    decimal: str  # "." or ","

    def describe(self) -> str:
        names = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe", None: "whitespace"}
        text = f"{names[self.delimiter]}-separated"
        return text + (", decimal comma" if self.decimal == "," else "")


def _numeric_share(rows: list[tuple[int, list[str]]], decimal: str) -> float:
    cells = [c for _, r in rows for c in r if not _is_missing(c)]
    return sum(_is_numeric_cell(c, decimal) for c in cells) / max(1, len(cells))


def sniff_dialect(lines: list[tuple[int, str]]) -> _Dialect:
    """The separator (and decimal mark) under which the sampled lines split into the same
    number of cells, at least two; the most numeric reading wins a tie."""
    best: tuple[float, int, _Dialect] | None = None
    candidates: list[str | None] = [*DELIMITERS, None]
    for rank, delimiter in enumerate(candidates):
        rows = _split(lines, delimiter)
        counts = {len(r) for _, r in rows}
        if len(counts) != 1 or counts.pop() < 2:
            continue
        decimals = [".", ","] if delimiter != "," else ["."]
        for decimal in decimals:
            share = _numeric_share(rows, decimal)
            key = (share, -rank, _Dialect(delimiter, decimal))
            if best is None or key[:2] > best[:2]:
                best = key
    return best[2] if best is not None else _Dialect(",", ".")


def _detect_header(rows: list[tuple[int, list[str]]], decimal: str) -> bool:
    """A header is a first row whose cell is text over a column of numbers; when every column
    is text, csv.Sniffer's rule decides (lengths and types that differ from the rows below)."""
    if len(rows) < 2:
        return not all(_is_numeric_cell(c, decimal) or _is_missing(c) for c in rows[0][1])
    first, body = rows[0][1], [r for _, r in rows[1:]]
    all_text = True
    for j, cell in enumerate(first):
        column = [r[j] for r in body if j < len(r) and not _is_missing(r[j])]
        numeric = bool(column) and all(_is_numeric_cell(c, decimal) for c in column)
        if numeric:
            all_text = False
            if not _is_missing(cell) and not _is_numeric_cell(cell, decimal):
                return True
    if not all_text:
        return False
    sample = "\n".join(",".join(r) for _, r in rows[:SNIFF_LINES])
    try:
        return csv.Sniffer().has_header(sample)
    except csv.Error:
        return False


# ----------------------------------------------------------------------------- columns
@dataclass
class _Column:
    name: str
    position: int  # 1-based
    cells: list[str]
    header: bool

    @property
    def label(self) -> str:
        return f"column {self.name!r}" if self.header else f"column {self.position}"


def _values(column: _Column, decimal: str) -> tuple[np.ndarray | None, np.ndarray]:
    """(float64 values with NaN where missing, or None for a text column; missing mask)."""
    missing = np.array([_is_missing(c) for c in column.cells], dtype=bool)
    texts = ["nan" if m else c.strip() for c, m in zip(column.cells, missing, strict=True)]
    if decimal == ",":
        texts = [t.replace(",", ".") for t in texts]
    try:
        values = np.array(texts, dtype=np.float64) if texts else np.empty(0)
    except ValueError:
        return None, missing
    # "inf" parses: an infinity in a table is a broken export, reported like other bad cells.
    return values, missing


def _strictly_increasing_integers(values: np.ndarray | None) -> bool:
    if values is None or len(values) < 2 or not np.isfinite(values).all():
        return False
    return bool((values == np.round(values)).all() and (np.diff(values) > 0).all())


_INCREASING = "strictly increasing integers"


def _id_signs(column: _Column, values: np.ndarray | None, header: bool) -> tuple[bool, str | None]:
    """(named like an id, the id-like content: "strictly increasing integers", "a distinct
    text per row", or None). Both signs make a column the row ids under ``id_column="auto"``;
    one alone makes it a feature with a warning."""
    named = header and looks_like_id_name(column.name)
    if _strictly_increasing_integers(values):
        return named, _INCREASING
    if values is None and len({v.strip() for v in column.cells}) == len(column.cells):
        return named, "a distinct text per row"
    return named, None


def _pick(spec: Sequence[str] | None, columns: Sequence[_Column], flag: str) -> list[_Column]:
    """The columns named in ``spec`` (names, or 1-based positions for a file without a
    header), in the order given."""
    if spec is None:
        return []
    by_name = {c.name: c for c in columns}
    picked = []
    for name in spec:
        column = by_name.get(str(name))
        if column is None and str(name).strip().isdigit() and not columns[0].header:
            k = int(str(name))
            column = columns[k - 1] if 1 <= k <= len(columns) else None
        if column is None:
            shown = ", ".join(repr(c.name) for c in columns[:30])
            raise ValueError(
                f"{flag} names {name!r}, which is not a column of the file; its columns are "
                f"{shown}{' ...' if len(columns) > 30 else ''}"
            )
        if column in picked:
            raise ValueError(f"{flag} names {name!r} twice")
        picked.append(column)
    return picked


def _missing_at(path: Path, row: int, column: _Column) -> str:
    return (
        f"{path}: missing value in row {row} (counting lines as a spreadsheet does, the first "
        f"line being row 1), {column.label}"
    )


def _rows_text(rows: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:limit])
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


# ----------------------------------------------------------------------------- reading
def _read_lines(path: Path) -> list[tuple[int, str]]:
    data = read_bounded(path, MAX_BYTES, "a table")
    try:
        text = data.decode("utf-8-sig")  # -sig: spreadsheets start with a BOM
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not a UTF-8 text file: {exc}") from None
    return list(enumerate(io.StringIO(text, newline=""), start=1))


def read_table(
    path: str | Path,
    *,
    columns: Sequence[str] | None = None,
    drop: Sequence[str] | None = None,
    id_column: str | None = "auto",
    categorical: str | Sequence[str] = "none",
    missing: str = "error",
    delimiter: str | None = "auto",
    header: bool | None = None,
    schema: TableSchema | None = None,
) -> Table:
    """Read a CSV (or other delimited text) table into features, ids and a schema.

    Parameters
    ----------
    path : str or Path
        The file. Its separator (comma, semicolon, tab, pipe or whitespace), a decimal comma
        and a header line are detected; ``notes`` of the result say what was found.
    columns : sequence of str, optional
        The feature columns, by name (or 1-based position in a file without a header); by
        default every column but the id column and ``drop``.
    drop : sequence of str, optional
        Columns left out.
    id_column : str or None, default="auto"
        A column whose values name the rows (carried into outputs instead of row numbers),
        never a feature. ``"auto"``: a column named like an id (``id``, ``user_id``) that
        holds strictly increasing integers or distinct texts, or a first column of
        timestamps; a column that matches one sign only is kept as a feature, with a warning.
        ``None``: no id column.
    categorical : {"none", "auto"} or sequence of str, default="none"
        Text columns to one-hot encode: ``"auto"`` every text feature column with at most
        :data:`MAX_CATEGORIES` distinct values, or the named columns. With ``"none"`` a text
        column is an error that names it.
    missing : {"error", "drop", "mean", "median"}, default="error"
        A missing cell (empty, ``NA``, ``NaN``, ``null``, ``?``): an error naming its row and
        column; the row left out; or the column's mean or median over the rows read
        (scikit-learn's ``SimpleImputer``; the values are kept in the schema). A missing text
        cell in a one-hot column becomes no category (all indicators 0).
    delimiter : str or None, default="auto"
        The separator; ``None`` for runs of whitespace.
    header : bool, optional
        Whether the first line names the columns; detected when not given.
    schema : TableSchema, optional
        Read the file as the table this schema was made from (the same feature columns by
        name, the same categories and fill values); the options above other than
        ``delimiter`` and ``header`` must be left at their defaults.

    Returns
    -------
    Table
        ``X`` (n, F) float64, ``ids``, ``rows``, ``feature_names``, ``schema``, ``notes``,
        ``warnings``.

    Raises
    ------
    ValueError
        One line naming the file, the row (spreadsheet numbering) and the column at fault.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_text("id;age;color\\n1;30;red\\n2;;blue\\n3;50;red\\n")
    >>> table = read_table(path, missing="mean", categorical="auto")
    >>> table.X.tolist()
    [[30.0, 0.0, 1.0], [40.0, 1.0, 0.0], [50.0, 0.0, 1.0]]
    >>> table.feature_names, table.ids.tolist()
    (('age', 'color=blue', 'color=red'), [1, 2, 3])
    >>> table.notes[0]
    'semicolon-separated, with a header; 3 rows, 3 columns'
    """
    path = Path(path)
    if missing not in MISSING_CHOICES:
        raise ValueError(f"missing must be one of {', '.join(MISSING_CHOICES)}; got {missing!r}")
    if schema is not None and (
        columns is not None
        or drop is not None
        or id_column != "auto"
        or categorical != "none"
        or missing != "error"
    ):
        raise ValueError(
            "a table read with a model's schema takes its columns, ids, categories and "
            "missing-value rule from the model; leave those options out"
        )
    parsed = _parse(path, delimiter, header)
    if schema is None:
        return _fit_table(
            path, *parsed,
            columns=columns, drop=drop, id_column=id_column, categorical=categorical,
            missing=missing,
        )  # fmt: skip
    return _apply_schema(path, *parsed, schema)


class _Parsed(NamedTuple):
    columns: list[_Column]
    line_numbers: np.ndarray  # (n,) spreadsheet row of each data row
    dialect: _Dialect
    header: bool
    notes: list[str]


def _parse(path: Path, delimiter: str | None, header: bool | None) -> _Parsed:
    """The file's cells by column, with the separator and header detected unless given."""
    lines = _read_lines(path)
    if not any(line.strip() for _, line in lines):
        raise ValueError(f"{path} is empty")
    sample = [(n, line) for n, line in lines if line.strip()][:SNIFF_LINES]
    if delimiter == "auto":
        dialect = sniff_dialect(sample)
    else:
        rows = _split(sample, delimiter)
        dialect = _Dialect(
            delimiter,
            ","
            if _numeric_share(rows, ",") > _numeric_share(rows, ".") and delimiter != ","
            else ".",
        )
    rows = _split(lines, dialect.delimiter)
    if not rows:
        raise ValueError(f"{path} holds no values")
    if header is None:
        header = _detect_header(rows[:SNIFF_LINES], dialect.decimal)
    width = len(rows[0][1])
    for number, cells in rows:
        if len(cells) != width:
            raise ValueError(
                f"{path}: row {number} has {len(cells)} cells, row {rows[0][0]} has {width} "
                f"(is the separator {dialect.describe()}? pass --delimiter to choose another)"
            )
    if header:
        names = [c.strip() for c in rows[0][1]]
        seen: set[str] = set()
        for j, name in enumerate(names):
            if not name:
                names[j] = name = str(j + 1)
            if name in seen:
                raise ValueError(f"{path}: the header names column {name!r} twice")
            seen.add(name)
        body = rows[1:]
    else:
        names = [str(j + 1) for j in range(width)]
        body = rows
    if not body:
        raise ValueError(f"{path} holds a header and no rows")
    line_numbers = np.array([n for n, _ in body], dtype=np.int64)
    table_columns = [
        _Column(name, j + 1, [r[j] for _, r in body], header) for j, name in enumerate(names)
    ]
    notes = [
        f"{dialect.describe()}, {'with a header' if header else 'no header'}; "
        f"{len(body)} rows, {width} columns"
    ]
    return _Parsed(table_columns, line_numbers, dialect, header, notes)


def _id_values(column: _Column, values: np.ndarray | None) -> np.ndarray:
    if values is not None and np.isfinite(values).all() and (values == np.round(values)).all():
        return values.astype(np.int64)
    return np.array([c.strip() for c in column.cells])


def _text_in(path: Path, text: list[_Column]) -> str:
    """ "PATH has text in column 'a' (3 distinct values, e.g. 'red'); ..." for the first few."""
    described = []
    for c in text[:5]:
        levels = len({v.strip() for v in c.cells if not _is_missing(v)})
        example = next((v.strip() for v in c.cells if not _is_missing(v)), "")
        described.append(f"{c.label} ({levels} distinct values, e.g. {example[:30]!r})")
    return f"{path} has text in " + "; ".join(described) + (" ..." if len(text) > 5 else "")


def _text_columns_error(path: Path, text: list[_Column], categorical: str | Sequence[str]) -> str:
    names = ",".join(c.name for c in text)
    few = [c for c in text if len({v.strip() for v in c.cells}) <= MAX_CATEGORIES]
    hint = f"drop them with --drop {names}"
    if few and categorical == "none":
        hint = f"one-hot encode them with --categorical auto, or {hint}"
    return f"{_text_in(path, text)}; the model needs numbers: {hint}"


def _fit_table(
    path: Path,
    table_columns: list[_Column],
    line_numbers: np.ndarray,
    dialect: _Dialect,
    header: bool,
    notes: list[str],
    *,
    columns: Sequence[str] | None,
    drop: Sequence[str] | None,
    id_column: str | None,
    categorical: str | Sequence[str],
    missing: str,
) -> Table:
    warnings: list[str] = []
    parsed = {c.name: _values(c, dialect.decimal) for c in table_columns}
    dropped = {c.name for c in _pick(drop, table_columns, "--drop")}
    chosen = _pick(columns, table_columns, "--columns")

    # The id column: named, or detected.
    id_col: _Column | None = None
    if id_column not in (None, "auto"):
        (id_col,) = _pick([id_column], table_columns, "--id-column")
    elif id_column == "auto":
        for c in table_columns:
            values, miss = parsed[c.name]
            if c in chosen or c.name in dropped or miss.any():
                continue
            named, why = _id_signs(c, values, header)
            if named and why:
                id_col = c
                notes.append(
                    f"{c.label} taken as the row ids (named like an id, {why}); "
                    "pass --id-column none to use it as a feature"
                )
                break
        if id_col is None:
            first = table_columns[0]
            if parsed[first.name][0] is None and first.name not in dropped and first not in chosen:
                from aekit.datasets.series import _parse_times

                if _parse_times([v for v in first.cells]) is not None:
                    id_col = first
                    notes.append(f"{first.label} holds timestamps: taken as the row ids")
    if id_col is not None and (id_col in chosen or id_col.name in dropped):
        flag = "--columns" if id_col in chosen else "--drop"
        raise ValueError(f"the id column {id_col.name!r} cannot also be named in {flag}")

    features = chosen or [c for c in table_columns if c is not id_col and c.name not in dropped]
    if not features:
        raise ValueError(f"{path}: no column is left to learn from")

    # Columns that look like ids but stay features: a warning, since a row number as a
    # feature makes a model learn the file's order.
    if id_column == "auto":
        for c in features:
            named, content = _id_signs(c, parsed[c.name][0], header)
            if named or (content == _INCREASING and len(c.cells) >= 3):
                why = "is named like an id" if named else "holds strictly increasing integers"
                warnings.append(
                    f"{c.label} {why}, so it may be a row id; it is used as a feature (pass "
                    f"--id-column {c.name} to carry it as ids, or --drop {c.name})"
                )

    # Text columns: one-hot, or an error naming them.
    text = [c for c in features if parsed[c.name][0] is None]
    if isinstance(categorical, str) and categorical not in ("none", "auto"):
        raise ValueError(
            f"categorical must be 'none', 'auto' or a list of columns; got {categorical!r}"
        )
    one_hot = (
        {c.name for c in _pick(categorical, table_columns, "--categorical")}
        if not isinstance(categorical, str)
        else {c.name for c in text}
        if categorical == "auto"
        else set()
    )
    refused = [c for c in text if c.name not in one_hot]
    too_many = [
        c
        for c in text
        if c.name in one_hot
        and len({v.strip() for v in c.cells if not _is_missing(v)}) > MAX_CATEGORIES
        and isinstance(categorical, str)
    ]
    if refused or too_many:
        raise ValueError(_text_columns_error(path, refused + too_many, categorical))
    categories = {
        c.name: tuple(sorted({v.strip() for v in c.cells if not _is_missing(v)}))
        for c in features
        if c.name in one_hot
    }

    # Missing values.
    missing_mask = np.zeros(len(line_numbers), dtype=bool)
    first_missing: tuple[int, _Column] | None = None
    for c in features:
        miss = parsed[c.name][1]
        if miss.any():
            missing_mask |= miss
            row = int(np.flatnonzero(miss)[0])
            if first_missing is None or row < first_missing[0]:
                first_missing = (row, c)
        if miss.all():
            raise ValueError(f"{path}: {c.label} holds no values; drop it with --drop {c.name}")
    keep = np.ones(len(line_numbers), dtype=bool)
    fill: dict[str, float] = {}
    if first_missing is not None:
        row, c = first_missing
        count = int(missing_mask.sum())
        if missing == "error":
            have = "has" if count == 1 else "have"
            raise ValueError(
                f"{_missing_at(path, int(line_numbers[row]), c)}; {plural(count, 'row')} "
                f"{have} one: pass --missing drop, mean or median"
            )
        if missing == "drop":
            keep = ~missing_mask
            if not keep.any():
                raise ValueError(f"{path}: every row has a missing value; nothing is left")
            notes.append(
                f"left out {plural(count, 'row')} with a missing value "
                f"({_rows_text(line_numbers[missing_mask])})"
            )
        else:
            from sklearn.impute import SimpleImputer

            numeric = [c for c in features if c.name not in categories]
            if numeric:
                block = np.column_stack([parsed[c.name][0] for c in numeric])  # (n, k)
                stats = SimpleImputer(strategy=missing).fit(block).statistics_
                fill = {c.name: float(s) for c, s in zip(numeric, stats, strict=True)}
            notes.append(
                f"filled the missing values of {plural(count, 'row')} with "
                f"each column's {missing} (kept in the model for new data)"
            )

    schema = TableSchema(
        columns=tuple(c.name for c in table_columns),
        features=tuple(c.name for c in features),
        id_column=None if id_col is None else id_col.name,
        categories=categories,
        missing=missing,
        fill=fill,
        header=header,
    )
    by_name = {c.name: c for c in table_columns}
    X, _ = _encode(schema, by_name, parsed, keep)
    if one_hot:
        notes.append(
            "one-hot encoded "
            + ", ".join(f"{by_name[n].label} ({len(categories[n])} categories)" for n in categories)
        )
    ids = (
        _id_values(id_col, parsed[id_col.name][0])[keep]
        if id_col is not None
        else line_numbers[keep]
    )
    return _table(X, ids, line_numbers, keep, schema, notes, warnings)


def _table(
    X: np.ndarray,
    ids: np.ndarray,
    line_numbers: np.ndarray,
    keep: np.ndarray,
    schema: TableSchema,
    notes: list[str],
    warnings: list[str],
) -> Table:
    """The Table of the rows in ``keep`` (a mask over the file's data rows)."""
    rows, kept = line_numbers[keep], np.flatnonzero(keep)
    return Table(X, ids, rows, kept, schema.feature_names(), schema, tuple(notes), tuple(warnings))


def _encode(
    schema: TableSchema,
    by_name: Mapping[str, _Column],
    parsed: Mapping[str, tuple[np.ndarray | None, np.ndarray]],
    keep: np.ndarray,
) -> tuple[np.ndarray, dict[str, int]]:
    """The feature matrix (rows in ``keep``) and, per one-hot column, how many kept rows hold a
    category the schema does not know."""
    blocks: list[np.ndarray] = []
    unknown: dict[str, int] = {}
    for name in schema.features:
        values, miss = parsed[name]
        if name in schema.categories:
            cats = schema.categories[name]
            index = {c: i for i, c in enumerate(cats)}
            cells = [v.strip() for v in np.asarray(by_name[name].cells, dtype=object)[keep]]
            block = np.zeros((len(cells), len(cats)))  # (n, categories)
            count = 0
            for r, v in enumerate(cells):
                i = index.get(v)
                if i is not None:
                    block[r, i] = 1.0
                elif not _is_missing(v):
                    count += 1
            if count:
                unknown[name] = count
            blocks.append(block)
        else:
            assert values is not None
            column = values[keep].copy()
            if name in schema.fill:
                column[miss[keep]] = schema.fill[name]
            blocks.append(column[:, None])
    return np.hstack(blocks), unknown


def _apply_schema(
    path: Path,
    table_columns: list[_Column],
    line_numbers: np.ndarray,
    dialect: _Dialect,
    header: bool,
    notes: list[str],
    schema: TableSchema,
) -> Table:
    """Read the table's features as ``schema`` says (a model's, at inference)."""
    warnings: list[str] = []
    by_name = {c.name: c for c in table_columns}
    if schema.header and not header:
        # Without names the columns can only be matched by position.
        if len(table_columns) != len(schema.columns):
            raise ValueError(
                f"{path} has no header and {len(table_columns)} columns; the model was trained "
                f"on {len(schema.columns)} named columns ({', '.join(schema.columns[:10])}"
                f"{' ...' if len(schema.columns) > 10 else ''}): add that header line"
            )
        by_name = {name: table_columns[j] for j, name in enumerate(schema.columns)}
        notes.append("no header: columns matched to the model's by position")
    absent = [n for n in schema.features if n not in by_name]
    if absent:
        raise ValueError(
            f"{path} lacks the {'columns' if len(absent) > 1 else 'column'} "
            f"{', '.join(repr(n) for n in absent[:10])} that the model was trained on"
        )
    parsed = {n: _values(by_name[n], dialect.decimal) for n in schema.features}
    for name in schema.features:
        if name not in schema.categories and parsed[name][0] is None:
            raise ValueError(
                f"{_text_in(path, [by_name[name]])}; the model was trained on numbers there"
            )
    missing_mask = np.zeros(len(line_numbers), dtype=bool)
    for name in schema.features:
        missing_mask |= parsed[name][1]
    keep = np.ones(len(line_numbers), dtype=bool)
    if missing_mask.any():
        rows = line_numbers[missing_mask]
        if schema.missing == "error":
            first = next(n for n in schema.features if parsed[n][1][missing_mask.argmax()])
            raise ValueError(
                f"{_missing_at(path, int(rows[0]), by_name[first])}; the model was trained with "
                "--missing error, so new data must be complete"
            )
        if schema.missing == "drop":
            keep = ~missing_mask
            if not keep.any():
                raise ValueError(f"{path}: every row has a missing value; nothing is left")
            notes.append(
                f"left out {plural(len(rows), 'row')} with a missing value "
                f"({_rows_text(rows)}), as in training"
            )
        else:
            notes.append(
                f"filled the missing values of {plural(len(rows), 'row')} "
                f"with the training data's {schema.missing}"
            )
    X, unknown = _encode(schema, by_name, parsed, keep)
    for name, count in unknown.items():
        warnings.append(
            f"{by_name[name].label} holds values not seen in training in "
            f"{plural(count, 'row')}: encoded as none of the known categories"
        )
    id_col = by_name.get(schema.id_column) if schema.id_column is not None else None
    if id_col is not None:
        ids = _id_values(id_col, _values(id_col, dialect.decimal)[0])[keep]
    else:
        if schema.id_column is not None:
            notes.append(f"no column {schema.id_column!r}: rows are named by their number")
        ids = line_numbers[keep]
    return _table(X, ids, line_numbers, keep, schema, notes, warnings)


# ----------------------------------------------------------------------------- labels
# Header names that say "this column holds the labels".
LABEL_NAMES = frozenset({"label", "labels", "y", "class", "target", "category", "tag"})


def read_labels(path: str | Path, column: str | None = None) -> np.ndarray:
    """One label per row from a table: numbers (int64 when whole, else float64) or texts.

    The file holds one column, or an id column and a label column, or a column named
    ``label`` (``y``, ``class``, ``target``, ...) among others; a header is detected.
    ``column`` names the column to take instead (a file of features and labels).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "y.csv"
    >>> _ = path.write_text("label\\ncat_0\\ncat_1\\ncat_0\\n")
    >>> read_labels(path).tolist()
    ['cat_0', 'cat_1', 'cat_0']
    """
    path = Path(path)
    lines = _read_lines(path)
    sample = [(n, line) for n, line in lines if line.strip()][:SNIFF_LINES]
    if not sample:
        raise ValueError(f"{path} is empty")
    dialect = sniff_dialect(sample)
    rows = _split(lines, dialect.delimiter)
    first = [c.strip() for c in rows[0][1]]
    header = any(c.lower() in LABEL_NAMES for c in first) or _detect_header(
        rows[:SNIFF_LINES], dialect.decimal
    )
    body = rows[1:] if header else rows
    if not body:
        raise ValueError(f"{path} holds a header and no labels")
    width = len(first)
    if any(len(r) != width for _, r in body):
        bad = next(n for n, r in body if len(r) != width)
        raise ValueError(f"{path}: row {bad} has a different number of cells than row 1")
    j = 0
    if column is not None:
        if not header or column not in first:
            raise ValueError(f"{path} has no column {column!r}")
        j = first.index(column)
    elif width > 1:
        named = [k for k, c in enumerate(first) if header and c.lower() in LABEL_NAMES]
        if len(named) == 1:
            j = named[0]
        elif width == 2 and header and looks_like_id_name(first[0]):
            j = 1
        else:
            raise ValueError(
                f"{path} has {width} columns; a labels file holds one column (or an id column "
                "and a label column, or a column named 'label')"
            )
    cells = [r[j].strip() for _, r in body]
    missing = [n for (n, _), c in zip(body, cells, strict=True) if _is_missing(c)]
    if missing:
        raise ValueError(
            f"{path}: missing label in row {missing[0]} (counting lines as a spreadsheet does)"
        )
    column = _Column(first[j] if header else "1", j + 1, cells, header)
    values, _ = _values(column, dialect.decimal)
    if values is None:
        return np.array(cells)
    if np.isfinite(values).all() and (values == np.round(values)).all():
        return values.astype(np.int64)
    return values


# ----------------------------------------------------------------------------- preview
class ColumnSummary(NamedTuple):
    """One column of a table as :func:`summarize_table` sees it."""

    name: str
    kind: str  # "number", "text" or "time"
    missing: int  # missing cells
    distinct: int  # distinct values among the others
    example: str  # the first value that is not missing
    role: str  # what read_table does with it by default, and the flags that change it


def summarize_table(
    path: str | Path, *, delimiter: str | None = "auto", header: bool | None = None
) -> tuple[tuple[str, ...], list[ColumnSummary]]:
    """What :func:`read_table` would find in a file: its dialect, and for each column its
    kind, missing and distinct values and its role (id, feature, text to encode or drop).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_text("id,age,color\\n1,30,red\\n2,,blue\\n")
    >>> notes, columns = summarize_table(path)
    >>> [(c.name, c.kind, c.missing, c.role.split(":")[0].split(";")[0]) for c in columns]
    [('id', 'number', 0, 'row ids'), ('age', 'number', 1, 'feature'), ('color', 'text', 0, 'text')]
    """
    from aekit.datasets.series import _parse_times

    path = Path(path)
    parsed = _parse(path, delimiter, header)
    id_found = False
    summaries = []
    for j, column in enumerate(parsed.columns):
        values, miss = _values(column, parsed.dialect.decimal)
        present = [c.strip() for c, m in zip(column.cells, miss, strict=True) if not m]
        distinct = len(set(present))
        kind = "number"
        if values is None:
            kind = "time" if j == 0 and _parse_times(present or [""]) is not None else "text"
        named, content = _id_signs(column, values, parsed.header)
        if not id_found and not miss.any() and named and content:
            role, id_found = "row ids: never a feature (--id-column none keeps it)", True
        elif kind == "time" and not id_found:
            role, id_found = "row ids: timestamps", True
        elif kind == "text":
            role = (
                f"text: --categorical auto one-hot encodes it ({distinct} values), or --drop it"
                if distinct <= MAX_CATEGORIES
                else f"text: {distinct} values, too many to encode: --drop it or --id-column"
            )
        elif named or (content == _INCREASING and len(column.cells) >= 3):
            role = "feature, but it looks like a row id: --id-column or --drop it"
        else:
            role = "feature"
        if miss.any() and not role.startswith("row ids"):
            role += "; missing values need --missing drop, mean or median"
        summaries.append(
            ColumnSummary(
                column.name, kind, int(miss.sum()), distinct, present[0] if present else "", role
            )
        )
    return tuple(parsed.notes), summaries
