"""Time series in CSV files (a time column, then values) and NAB's labelled anomaly windows."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np

from aekit._untrusted import regular_file


class Series(NamedTuple):
    timestamps: np.ndarray  # (T,) datetime64, or the row numbers when the file has no time column
    values: np.ndarray  # (T,) one channel, or (T, F)
    labels: np.ndarray | None  # (T,) 1 inside a labelled anomaly window, 0 outside; None unknown


_YEAR = re.compile(r"\s*([+-]?\d+)-")


def _parse_times(column: list[str]) -> np.ndarray | None:
    """``column`` as datetime64 ("2014-07-01 00:00:00", ISO 8601), or None if it is not one.

    "NaT" is no time, and numpy wraps a year too large for datetime64 around without a word
    ("99999999999999999999-01-01" becomes a year before Christ): both are refused."""
    try:
        times = np.array([np.datetime64(v.strip().replace(" ", "T")) for v in column])
    except ValueError:
        return None
    if times.dtype.kind != "M" or np.isnat(times).any():
        return None
    years = times.astype("datetime64[Y]").astype(np.int64) + 1970
    for text, year in zip(column, years.tolist(), strict=True):
        written = _YEAR.match(text)
        if written is not None and int(written.group(1)) != year:
            return None
    return times


def read_series(path: str | Path) -> Series:
    """Read a time series from a CSV file: an optional header, an optional first column of
    timestamps, then one numeric column per channel (NAB's ``timestamp,value`` layout).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "s.csv"
    >>> _ = path.write_text("timestamp,value\\n2014-07-01 00:00:00,3\\n2014-07-01 00:30:00,4\\n")
    >>> s = read_series(path)
    >>> s.values.tolist(), str(s.timestamps[1])
    ([3.0, 4.0], '2014-07-01T00:30:00')
    """
    path = regular_file(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not a UTF-8 text file: {exc}") from None
    lines = [line.strip().split(",") for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"{path} is empty")

    def numeric(cells: list[str]) -> bool:
        try:
            [float(c) for c in cells]
        except ValueError:
            return False
        return True

    # The last line is surely data: it says whether a time column leads.
    has_time = not numeric(lines[-1][:1]) and _parse_times(lines[-1][:1]) is not None
    data_line = (
        (lambda r: numeric(r[1:]) and _parse_times(r[:1]) is not None) if has_time else numeric
    )
    rows = lines[0 if data_line(lines[0]) else 1 :]  # a first line that is not data: a header
    if not rows:
        raise ValueError(f"{path} holds a header and no values")
    if len({len(r) for r in rows}) != 1:
        raise ValueError(f"{path}: every row must have the same number of columns")
    try:
        values = np.array([[float(c) for c in r[int(has_time) :]] for r in rows])
        times = _parse_times([r[0] for r in rows]) if has_time else None
    except ValueError as exc:
        raise ValueError(f"{path} is not a time series of numbers: {exc}") from None
    if values.shape[1] == 0:
        raise ValueError(f"{path} has no value columns")
    if has_time and times is None:
        raise ValueError(f"{path}: the first column mixes timestamps and other values")
    timestamps = times if times is not None else np.arange(len(rows))
    return Series(timestamps, values[:, 0] if values.shape[1] == 1 else values, None)


def nab_window_bounds(span: list[str]) -> tuple[np.datetime64, np.datetime64]:
    """The first and last timestamps of one of NAB's anomaly windows, a ``[start, end]`` pair
    of texts such as ``"2014-02-19 10:50:00.000000"``; a ValueError names a bad one.

    Examples
    --------
    >>> nab_window_bounds(["2020-01-01 00:10:00.000000", "2020-01-01 00:20:00.000000"])
    (np.datetime64('2020-01-01T00:10:00.000000'), np.datetime64('2020-01-01T00:20:00.000000'))
    """
    start, end = span
    try:
        return np.datetime64(start.strip().replace(" ", "T")), np.datetime64(
            end.strip().replace(" ", "T")
        )
    except ValueError as exc:
        raise ValueError(f"anomaly window [{start!r}, {end!r}]: {exc}") from None


def nab_labels(timestamps: np.ndarray, windows: list[list[str]]) -> np.ndarray:
    """1 for every step inside one of NAB's anomaly ``windows`` ([start, end] pairs of
    timestamps, both ends included), 0 elsewhere."""
    labels = np.zeros(len(timestamps), dtype=np.int64)
    for span in windows:
        begin, finish = nab_window_bounds(span)
        labels[(timestamps >= begin) & (timestamps <= finish)] = 1
    return labels


def load_nab(path: str | Path, windows: str | Path | None = None) -> Series:
    """A series of the Numenta Anomaly Benchmark with its labels.

    Parameters
    ----------
    path : str or Path
        One of NAB's data files (``timestamp,value``).
    windows : str or Path, optional
        NAB's ``combined_windows.json`` (keys ``<folder>/<file>.csv``); ``None`` looks for it
        beside ``path``. Without one the labels are None.

    Returns
    -------
    Series
        ``timestamps`` (T,) datetime64, ``values`` (T,), ``labels`` (T,) 1 inside an anomaly
        window (or None without a windows file).
    """
    path = Path(path)
    series = read_series(path)
    if windows is None:
        windows = path.parent / "combined_windows.json"
        if not windows.is_file():
            return series
    if series.timestamps.dtype.kind != "M":
        raise ValueError(
            f"{path} has no time column, so NAB's anomaly windows cannot be placed on it"
        )
    return series._replace(labels=nab_labels(series.timestamps, _read_windows(windows, path.name)))


def _read_windows(windows: str | Path, name: str) -> list[list[str]]:
    """The anomaly windows of the series file ``name`` in NAB's ``combined_windows.json``:
    ``{"<folder>/<file>.csv": [[start, end], ...], ...}``, checked before use."""
    windows = regular_file(windows)
    try:
        table = json.loads(windows.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        # RecursionError: arrays nested thousands deep exhaust the parser's stack.
        raise ValueError(f"{windows} is not a JSON file: {exc}") from None
    if not isinstance(table, dict):
        raise ValueError(f"{windows} must map series files to their anomaly windows")
    matches = [k for k in table if k.split("/")[-1] == name]
    if not matches:
        raise ValueError(f"{windows} has no anomaly windows for {name}")
    spans = table[matches[0]]
    if not isinstance(spans, list) or not all(
        isinstance(s, list) and len(s) == 2 and all(isinstance(t, str) for t in s) for s in spans
    ):
        raise ValueError(
            f"{windows}: the windows of {matches[0]} must be [start, end] pairs of timestamps"
        )
    return spans
