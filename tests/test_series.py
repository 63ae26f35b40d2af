"""Time series files: `read_series`, NAB's labelled windows, and `read_csv` on a series."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aekit.datasets import load_nab, nab_labels, nab_window_bounds, read_csv, read_series
from conftest import shared_file


def write(tmp_path, text: str, name: str = "s.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_a_timestamped_series_with_a_header(tmp_path) -> None:
    path = write(tmp_path, "timestamp,value\n2014-07-01 00:00:00,3\n2014-07-01 00:30:00,4.5\n")
    series = read_series(path)
    assert series.values.tolist() == [3.0, 4.5]
    assert series.timestamps.dtype.kind == "M"
    assert str(series.timestamps[1]) == "2014-07-01T00:30:00"
    assert series.labels is None
    assert read_csv(path).tolist() == [[3.0], [4.5]]  # the time column is an index, not data


def test_reads_channels_and_files_without_times_or_header(tmp_path) -> None:
    path = write(tmp_path, "2020-01-01T00:00,1,2\n2020-01-01T00:05,3,4\n2020-01-01T00:10,5,6\n")
    series = read_series(path)
    assert series.values.shape == (3, 2) and series.values[2].tolist() == [5.0, 6.0]
    plain = read_series(write(tmp_path, "1,2\n3,4\n", "plain.csv"))
    assert plain.values.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert plain.timestamps.tolist() == [0, 1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("timestamp,value\n", "no values"),
        ("2020-01-01,1\n2020-01-02,x\n", "time series of numbers"),
        ("2020-01-01,1,2\n2020-01-02,1\n", "same number of columns"),
    ],
)
def test_bad_series_files_raise(tmp_path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_series(write(tmp_path, text))


def test_missing_file_raises(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        read_series(tmp_path / "absent.csv")


def test_nab_labels_cover_the_windows_inclusively() -> None:
    stamps = np.arange("2020-01-01T00:00", "2020-01-01T01:00", 5, dtype="datetime64[m]")
    labels = nab_labels(stamps, [["2020-01-01 00:10:00.000000", "2020-01-01 00:20:00.000000"]])
    assert labels.tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]


def test_nab_window_bounds_parse_both_ends_and_name_a_bad_one() -> None:
    begin, end = nab_window_bounds([" 2020-01-01 00:10:00.000000", "2020-01-01 00:20:00"])
    assert (str(begin), str(end)) == ("2020-01-01T00:10:00.000000", "2020-01-01T00:20:00")
    with pytest.raises(ValueError, match=r"anomaly window \['2020-01-01', 'soon'\]"):
        nab_window_bounds(["2020-01-01", "soon"])


def test_load_nab_finds_the_windows_beside_the_file(tmp_path) -> None:
    path = write(tmp_path, "timestamp,value\n2020-01-01 00:00:00,1\n2020-01-01 00:05:00,9\n")
    assert load_nab(path).labels is None  # no windows file: labels unknown
    windows = {"folder/s.csv": [["2020-01-01 00:05:00.000000", "2020-01-01 00:05:00.000000"]]}
    (tmp_path / "combined_windows.json").write_text(json.dumps(windows))
    assert load_nab(path).labels.tolist() == [0, 1]
    (tmp_path / "combined_windows.json").write_text(json.dumps({"other.csv": []}))
    with pytest.raises(ValueError, match=r"no anomaly windows for s\.csv"):
        load_nab(path)


def test_real_nab_files() -> None:
    taxi = load_nab(shared_file("nab/nyc_taxi.csv"))
    assert taxi.values.shape == (10320,)
    # NAB's five labelled windows on the taxi series hold 1035 of its half-hour steps.
    assert int(taxi.labels.sum()) == 1035
    assert load_nab(shared_file("nab/art_daily_small_noise.csv")).labels.sum() == 0
