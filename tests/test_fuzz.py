"""Fuzzing every reader of untrusted bytes (issue 14, "Beyond the list").

Each reader gets Hypothesis-generated mutations of small valid files (byte flips, truncation,
insertion, repeated chunks, lying integers, and JSON-aware hostile values in config.json,
history.json, index.json, a zarr store's zarr.json and the safetensors header) and must raise
``ValueError`` or load to a usable result, identical to the original's wherever the format has
a checksum; never another exception, never a hang, at most 2 s of CPU and 256 MB of address
space per case. The lazy readers of issue 17 (``open_source`` on a ``.npy`` file, a TIFF
stack, a folder of PNGs, a Parquet table, a zarr store and a NeXus file) are read as a
training loop reads them: a sample, rows out of order, a slice, everything; the damaged files
they were found to mishandle are regression tests in ``test_sources.py``. The worker, the
bounds and the mutations are in ``_fuzz.py``, which also runs large campaigns::

    python tests/_fuzz.py --examples 2000

``AEKIT_FUZZ_EXAMPLES`` (default 400) sets the number of cases of this file, shared among the
readers by weight; ``pytest -s`` prints their tally. The second half holds the fixed cases the
fuzzer found in the data-file readers, as plain regression tests.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import struct
import zipfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, example, given, settings

from _fuzz import (
    CPU_LIMIT_S,
    MEMORY_HEADROOM,
    TARGETS,
    WATCHDOG_S,
    Fuzzer,
    available,
    case_strategy,
    issue_cases,
    split_examples,
)
from aekit.datasets import load_mnist, load_nab, read_array, read_idx, read_npz, read_series

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the fuzz worker needs POSIX pipes")

EXAMPLES = int(os.environ.get("AEKIT_FUZZ_EXAMPLES", "400"))
COUNTS = split_examples(EXAMPLES)


@pytest.fixture(scope="module")
def fuzzer(tmp_path_factory: pytest.TempPathFactory):
    with Fuzzer(tmp_path_factory.mktemp("fuzz")) as f:
        yield f
        report = f.report()
        print("\n" + report)  # shown with pytest -s
        if os.environ.get("AEKIT_FUZZ_REPORT"):
            Path(os.environ["AEKIT_FUZZ_REPORT"]).write_text(
                report + "\n" + "\n".join(str(r) for r in f.failures) + "\n", encoding="utf-8"
            )


def _fuzz_test(target: str):
    @settings(
        max_examples=COUNTS[target],
        derandomize=True,  # the same cases on every run: CI stays reproducible
        database=None,
        # The worker bounds each case (2 s of CPU, a 30 s watchdog); this only stops a runaway.
        deadline=timedelta(seconds=120),
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(case=case_strategy(target))
    def test(fuzzer: Fuzzer, case) -> None:
        result = fuzzer.run(case)
        assert result.ok, str(result)

    for case in issue_cases(target):  # the values issue 14 names, on every run
        test = example(case=case)(test)
    test.__name__ = f"test_fuzz_{target}"
    test.__doc__ = f"Mutated {target} inputs give ValueError or load, within the bounds."
    needs = ", ".join(TARGETS[target].needs)
    return pytest.mark.skipif(not available(target), reason=f"needs {needs}")(test)


test_fuzz_npy = _fuzz_test("npy")
test_fuzz_npz = _fuzz_test("npz")
test_fuzz_mnist_npz = _fuzz_test("mnist_npz")
test_fuzz_csv = _fuzz_test("csv")
test_fuzz_nab = _fuzz_test("nab")
test_fuzz_idx = _fuzz_test("idx")
test_fuzz_idx_gz = _fuzz_test("idx_gz")
test_fuzz_model = _fuzz_test("model")
test_fuzz_index = _fuzz_test("index")
test_fuzz_codes = _fuzz_test("codes")
# The lazy readers of issue 17, through open_source.
test_fuzz_npy_lazy = _fuzz_test("npy_lazy")
test_fuzz_tiff_stack = _fuzz_test("tiff_stack")
test_fuzz_png_folder = _fuzz_test("png_folder")
test_fuzz_parquet = _fuzz_test("parquet")
test_fuzz_zarr = _fuzz_test("zarr")
test_fuzz_hdf5 = _fuzz_test("hdf5")


def test_every_target_is_fuzzed():
    fuzzed = {
        name.removeprefix("test_fuzz_") for name in globals() if name.startswith("test_fuzz_")
    }
    assert fuzzed == set(TARGETS)


def test_the_worker_catches_each_kind_of_failure(tmp_path):
    """The bounds are real: each misbehaviour is reported as the failure it is."""
    orders = {
        "loaded": {},
        "value_error": {"raise": "ValueError"},
        "exception": {"raise": "TypeError"},
        "memory": {"allocate": 2 * MEMORY_HEADROOM},
        "slow": {"spin": CPU_LIMIT_S + 0.5},
        "crash": {"abort": True},
        "hang": {"sleep": 60},
    }
    with Fuzzer(tmp_path / "work", bare=True) as fuzzer:  # starts in a blink: numpy only
        for outcome, order in orders.items():
            path = tmp_path / f"{outcome}.json"
            path.write_text(json.dumps(order), encoding="utf-8")
            fuzzer.watchdog_s = 3.0 if outcome == "hang" else WATCHDOG_S  # not to wait 30 s
            result = fuzzer.check("selftest", path)
            assert result.outcome == outcome, result
            assert result.ok == (outcome in ("loaded", "value_error"))
        # A worker replaced after a crash or a hang serves the next case.
        assert fuzzer.check("selftest", tmp_path / "loaded.json").outcome == "loaded"


# ----------------------------------------------------------------------------- regressions
def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def npy_with_header(header: str, data: bytes = b"", version: bytes = b"\x01\x00") -> bytes:
    text = header.encode("latin1")
    size = struct.pack("<H" if version == b"\x01\x00" else "<I", len(text))
    return b"\x93NUMPY" + version + size + text + data


def test_npy_header_that_numpys_python2_filter_chokes_on(tmp_path):
    # numpy retries an unparsable header through a tokenizer, which raised TokenError.
    path = tmp_path / "a.npy"
    path.write_bytes(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,\n"))
    with pytest.raises(ValueError, match=r"a\.npy has a damaged \.npy header"):
        read_array(path)


def test_npy_header_announcing_more_than_the_file_holds_allocates_nothing(tmp_path, fuzzer):
    # np.load allocated the announced 80 GB (or 800 MB) before reading, and failed only then;
    # the bounded worker turns such an allocation into a "memory" outcome.
    for shape in ("10000000000", "100000000"):
        path = tmp_path / f"a{shape}.npy"
        header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': ({shape},), }}"
        path.write_bytes(npy_with_header(header, b"\x00" * 16))
        result = fuzzer.check("array", path)
        assert result.outcome == "value_error", result
        assert f"header announces {int(shape) * 8}" in result.detail


def test_npy_version_2_header_length_is_bounded_before_reading(tmp_path, fuzzer):
    # A 2.0 header may announce 4 GB of header, which numpy read before checking its size.
    path = tmp_path / "a.npy"
    path.write_bytes(b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**32 - 1) + b"{}")
    result = fuzzer.check("array", path)
    assert result.outcome == "value_error" and "header of 4294967295 bytes" in result.detail, result


def test_npy_negative_shape_is_refused(tmp_path):
    # numpy refused it only after reading, as "Expected (-1,) = -1 elements, could only read 3".
    path = tmp_path / "a.npy"
    path.write_bytes(
        npy_with_header("{'descr': '<i2', 'fortran_order': False, 'shape': (-1,), }", b"\x01" * 6)
    )
    with pytest.raises(ValueError, match="negative shape"):
        read_array(path)


def test_npy_with_bytes_after_the_array_is_refused(tmp_path):
    path = tmp_path / "a.npy"
    path.write_bytes(npy_bytes(np.arange(3, dtype=np.int16)) + b"\x00\x00")
    with pytest.raises(ValueError, match="holds 8 bytes of array data, but its header announces 6"):
        read_array(path)


def test_npy_round_trips_keep_dtype_order_and_writeability(tmp_path):
    array = np.asfortranarray(np.arange(24, dtype=">f8").reshape(2, 3, 4))
    np.save(tmp_path / "a.npy", array)
    out = read_array(tmp_path / "a.npy")
    assert out.dtype == array.dtype and out.flags.f_contiguous and out.flags.writeable
    np.testing.assert_array_equal(out, array)
    np.save(tmp_path / "empty.npy", np.zeros((0, 5), np.float32))
    assert read_array(tmp_path / "empty.npy").shape == (0, 5)


def test_npy_zero_size_items_are_refused(tmp_path):
    # 10**12 items of zero bytes: nothing to read, but every use would allocate terabytes.
    path = tmp_path / "a.npy"
    path.write_bytes(
        npy_with_header("{'descr': '|S0', 'fortran_order': False, 'shape': (1000000000000,), }")
    )
    with pytest.raises(ValueError, match="dtype"):
        read_array(path)


def test_npz_damaged_archives_give_value_errors(tmp_path):
    np.savez(tmp_path / "good.npz", x_train=np.arange(6.0), y=np.arange(3))
    good = (tmp_path / "good.npz").read_bytes()
    damaged = {
        "truncated": good[: len(good) // 2],  # BadZipFile: no central directory
        "bad_crc": good.replace(np.arange(6.0).tobytes(), np.arange(1.0, 7.0).tobytes()),
        "bad_local_header": good.replace(b"PK\x03\x04", b"PK\x03\x05", 1),
    }
    for name, data in damaged.items():
        path = tmp_path / f"{name}.npz"
        path.write_bytes(data)
        with pytest.raises(ValueError, match=rf"{name}\.npz"):
            read_array(path)


def test_npz_member_that_is_not_an_array_is_refused(tmp_path):
    # np.load hands back the raw bytes of a member without the .npy magic.
    path = tmp_path / "a.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", b"not an array")
    with pytest.raises(ValueError, match="bad magic string"):
        read_npz(path)


def test_npz_lying_member_header_allocates_nothing(tmp_path, fuzzer):
    # A deflated member announcing 800 MB: numpy allocated it before reading a byte.
    path = tmp_path / "a.npz"
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (100000000,), }"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x.npy", npy_with_header(header, b"\x00" * 64))
    result = fuzzer.check("array", path)
    assert result.outcome == "value_error" and "header announces 800000000" in result.detail, result


def test_npz_damaged_member_name_does_not_pick_another_array(tmp_path):
    np.savez(tmp_path / "a.npz", x_train=np.arange(3.0), y=np.arange(3))
    data = bytearray((tmp_path / "a.npz").read_bytes())
    # Damage the name in the zip's central directory (the last copy of the name).
    at = bytes(data).rindex(b"x_train.npy")
    data[at + 10] ^= 0x20  # "x_train.npY"
    (tmp_path / "a.npz").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="several arrays"):
        read_array(tmp_path / "a.npz")


def test_npz_reads_only_the_array_asked_for(tmp_path, monkeypatch):
    np.savez(tmp_path / "a.npz", x_train=np.arange(3.0), other=np.arange(4))
    opened = []
    original = zipfile.ZipFile.open

    def spy(self, name, *args, **kwargs):
        opened.append(getattr(name, "filename", name))
        return original(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    np.testing.assert_array_equal(read_array(tmp_path / "a.npz"), np.arange(3.0))
    assert opened == ["x_train.npy"]


def test_idx_gzip_with_damaged_deflate_data(tmp_path):
    # zlib.error escaped read_idx.
    raw = bytes([0, 0, 8, 1]) + struct.pack(">I", 300) + bytes(range(256)) + bytes(44)
    data = bytearray(gzip.compress(raw, mtime=0))
    data[10] ^= 0xFF  # the first byte after gzip's header: "invalid code lengths set"
    path = tmp_path / "a-idx1-ubyte.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"a-idx1-ubyte\.gz"):
        read_array(path)


def test_idx_header_without_dimensions_is_refused(tmp_path):
    path = tmp_path / "a-idx0-ubyte"
    path.write_bytes(bytes([0, 0, 8, 0, 7]))
    with pytest.raises(ValueError, match="no dimension"):
        read_idx(path)


def test_idx_gzip_bomb_stops_at_the_announced_size(tmp_path):
    # 10 announced bytes followed by gzip members holding 64 MB of zeros: the whole stream was
    # decompressed into memory before its length was compared.
    head = gzip.compress(bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + bytes(10))
    zeros = gzip.compress(bytes(2**20), compresslevel=1)
    path = tmp_path / "a-idx1-ubyte.gz"
    path.write_bytes(head + zeros * 64)
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="header announces 18"):
            read_idx(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, f"read_idx held {peak / 2**20:.0f} MB for 18 announced bytes"


def test_data_readers_refuse_what_is_not_a_regular_file(tmp_path, fuzzer):
    (tmp_path / "dir.npy").mkdir()  # np.load raised IsADirectoryError
    with pytest.raises(ValueError, match="not a regular file"):
        read_array(tmp_path / "dir.npy")
    # A FIFO with no writer blocked np.load forever: run it in the bounded worker.
    fifo = tmp_path / "pipe.npy"
    os.mkfifo(fifo)
    result = fuzzer.check("array", fifo)
    assert result.outcome == "value_error" and "not a regular file" in result.detail, result


def test_csv_that_is_not_utf8_names_the_file(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("é,1\n2,3\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1\.csv is not a UTF-8 text file"):
        read_array(path)


def test_mnist_npz_labels_must_be_class_numbers_one_per_image(tmp_path):
    images = np.zeros((3, 2, 2), np.uint8)
    good = dict(x_train=images, y_train=np.arange(3), x_test=images, y_test=np.arange(3))
    np.savez(tmp_path / "ok.npz", **good)
    assert load_mnist(tmp_path / "ok.npz").y_test.tolist() == [0, 1, 2]
    for name, bad in {
        "nan": dict(good, y_train=np.array([0.0, np.nan, 1.0])),  # was cast to int64 garbage
        "count": dict(good, y_test=np.arange(2)),  # 3 images, 2 labels: accepted silently
        "text": dict(good, y_train=np.array(["a", "b", "c"])),
    }.items():
        np.savez(tmp_path / f"{name}.npz", **bad)
        with pytest.raises(ValueError, match="labels"):
            load_mnist(tmp_path / f"{name}.npz")


def test_series_with_a_year_numpy_cannot_hold_is_refused(tmp_path):
    # numpy wrapped 99999999999999999999-01-01 around to a year before Christ, silently.
    path = tmp_path / "s.csv"
    path.write_text("timestamp,value\n99999999999999999999-01-01,1\n2014-07-01,2\n")
    with pytest.raises(ValueError, match="mixes timestamps"):
        read_series(path)
    path.write_text("timestamp,value\nNaT,1\n2014-07-01,2\n")  # NaT: no time at all
    with pytest.raises(ValueError, match="mixes timestamps"):
        read_series(path)


@pytest.mark.parametrize(
    "windows",
    [
        '{"x/s.csv": [["2014-07-01", 5]]}',  # AttributeError: 'int' object has no attribute
        '{"x/s.csv": [["2014-07-01"]]}',  # ValueError: not enough values to unpack
        '{"x/s.csv": 7}',  # TypeError: 'int' object is not iterable
        '["x/s.csv"]',  # TypeError: list indices must be integers
        "[" * 100_000 + "]" * 100_000,  # RecursionError
        '{"x/s.csv": [["2014-07-01", "2014-13-01"]]}',  # numpy's message, without the file
    ],
)
def test_nab_windows_file_is_checked(tmp_path, windows):
    (tmp_path / "s.csv").write_text("timestamp,value\n2014-07-01,1\n2014-07-02,2\n")
    (tmp_path / "w.json").write_text(windows)
    with pytest.raises(ValueError, match=r"w\.json|anomaly window"):
        load_nab(tmp_path / "s.csv", windows=tmp_path / "w.json")


def test_nab_windows_on_a_series_without_time_column_are_refused(tmp_path):
    # Found by the fuzz campaign: a damaged first column left integer steps, which numpy
    # cannot compare with the windows' datetimes (a UFuncTypeError).
    (tmp_path / "s.csv").write_text("step,value\n1,1\n2,2\n")
    (tmp_path / "w.json").write_text('{"x/s.csv": [["2014-07-01", "2014-07-02"]]}')
    with pytest.raises(ValueError, match="no time column"):
        load_nab(tmp_path / "s.csv", windows=tmp_path / "w.json")
