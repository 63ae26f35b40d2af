"""aekit.datasets: the embedded digits, MNIST from local files, and the array-file readers."""

from __future__ import annotations

import gzip
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits as sk_load_digits

from aekit.datasets import (
    BUILTIN,
    Split,
    load,
    load_digits,
    load_mnist,
    read_array,
    read_csv,
    read_idx,
    read_npy,
    read_npz,
)
from conftest import shared_file

IDX_IMAGES = "mnist-idx/t10k-images-idx3-ubyte.gz"
IDX_LABELS = "mnist-idx/t10k-labels-idx1-ubyte.gz"
MNIST_STEMS = {
    "X_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "X_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
N_SMALL = 300  # images per split in the small MNIST copies the tests write

# IDX type byte of each dtype the format knows.
IDX_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(">i2"): 0x0B,
    np.dtype(">i4"): 0x0C,
    np.dtype(">f4"): 0x0D,
    np.dtype(">f8"): 0x0E,
}


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of ``array``: magic 0x0000TTNN, big-endian dims, big-endian data."""
    if array.dtype.kind in "ui" and array.dtype.itemsize == 1:
        dtype = np.dtype(array.dtype)
    else:
        dtype = array.dtype.newbyteorder(">")
    header = bytes([0, 0, IDX_CODES[dtype], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=dtype).tobytes()


def write_idx(path: Path, array: np.ndarray) -> Path:
    data = idx_bytes(array)
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def mnist_arrays() -> dict[str, np.ndarray]:
    with np.load(shared_file("mnist.npz")) as npz:
        return {k: npz[k] for k in npz.files}


@pytest.fixture(scope="module")
def small(mnist_arrays) -> dict[str, np.ndarray]:
    """The first N_SMALL images of each split, uint8, keyed like Split's fields."""
    return {
        "X_train": mnist_arrays["x_train"][:N_SMALL],
        "y_train": mnist_arrays["y_train"][:N_SMALL],
        "X_test": mnist_arrays["x_test"][:N_SMALL],
        "y_test": mnist_arrays["y_test"][:N_SMALL],
    }


def write_small_npz(folder: Path, small: dict[str, np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mnist.npz"
    np.savez(path, **{k.lower(): v for k, v in small.items()})
    return path


def assert_small_split(split: Split, small: dict[str, np.ndarray]) -> None:
    assert isinstance(split, Split)
    for name in ("X_train", "X_test"):
        X = getattr(split, name)
        assert X.dtype == np.float32
        assert X.shape == (N_SMALL, 28, 28)
        np.testing.assert_array_equal(X, small[name].astype(np.float32) / 255.0)
    for name in ("y_train", "y_test"):
        y = getattr(split, name)
        assert y.dtype == np.int64
        np.testing.assert_array_equal(y, small[name])


# ------------------------------------------------------------------------ digits
def test_load_digits():
    X, y = load_digits()
    assert X.shape == (1797, 8, 8)
    assert X.dtype == np.float32
    assert float(X.min()) == 0.0
    assert float(X.max()) == 1.0
    assert y.shape == (1797,)
    assert y.dtype == np.int64
    assert sorted(np.unique(y).tolist()) == list(range(10))
    assert y[:5].tolist() == [0, 1, 2, 3, 4]
    reference = sk_load_digits()
    np.testing.assert_array_equal(X, (reference.images / 16.0).astype(np.float32))
    np.testing.assert_array_equal(y, reference.target)


def test_load_builtin_digits():
    X = load("digits")
    assert X.shape == (1797, 8, 8)
    np.testing.assert_array_equal(X, load_digits()[0])
    assert set(BUILTIN) >= {"digits", "mnist"}


# -------------------------------------------------------------------------- IDX
def test_read_idx_official_files_equal_npz(mnist_arrays):
    images = read_idx(shared_file(IDX_IMAGES))
    labels = read_idx(shared_file(IDX_LABELS))
    assert images.dtype == np.uint8
    assert images.shape == (10000, 28, 28)
    assert labels.dtype == np.uint8
    assert labels.shape == (10000,)
    np.testing.assert_array_equal(images, mnist_arrays["x_test"])
    np.testing.assert_array_equal(labels, mnist_arrays["y_test"])


def test_read_idx_raw_file(tmp_path, mnist_arrays):
    raw = tmp_path / "t10k-labels-idx1-ubyte"
    raw.write_bytes(gzip.decompress(shared_file(IDX_LABELS).read_bytes()))
    labels = read_idx(raw)
    np.testing.assert_array_equal(labels, mnist_arrays["y_test"])
    # read_array recognises the IDX name, gzipped or not
    np.testing.assert_array_equal(read_array(raw), mnist_arrays["y_test"])
    np.testing.assert_array_equal(read_array(shared_file(IDX_LABELS)), mnist_arrays["y_test"])


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_read_idx_every_type_round_trips(tmp_path, dtype, name):
    rng = np.random.RandomState(0)
    if dtype is np.uint8:
        array = rng.randint(0, 256, size=(3, 4, 5)).astype(dtype)
    else:
        array = rng.uniform(-100, 100, size=(3, 4, 5)).astype(dtype)
    path = write_idx(tmp_path / name, array)
    out = read_idx(path)
    assert out.shape == (3, 4, 5)
    assert out.dtype == np.dtype(dtype)  # native byte order
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, array)
    np.testing.assert_array_equal(read_array(path), array)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x01\x00\x08\x01" + struct.pack(">I", 2) + b"\x00\x00", "magic"),  # first byte
        (b"\x00\x01\x08\x01" + struct.pack(">I", 2) + b"\x00\x00", "magic"),  # second byte
        (b"\x00\x00\x07\x01" + struct.pack(">I", 2) + b"\x00\x00", "magic"),  # unknown type
        (b"\x1f\x8b\x08\x00", "magic"),  # gzip bytes under a raw name
        (b"\x00\x00", "magic"),  # shorter than a magic number
        (b"", "magic"),
        (b"\x00\x00\x08\x03" + struct.pack(">I", 10), "truncated"),  # dims cut off
        (b"\x00\x00\x08\x01" + struct.pack(">I", 5) + b"\x00\x00", "bytes"),  # data cut off
        (b"\x00\x00\x08\x01" + struct.pack(">I", 1) + b"\x00\x00", "bytes"),  # trailing bytes
    ],
)
def test_read_idx_refuses_damaged_raw_files(tmp_path, data, message):
    path = tmp_path / "damaged-idx1-ubyte"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=message):
        read_idx(path)


def test_read_idx_refuses_truncated_official_files(tmp_path):
    raw = gzip.decompress(shared_file(IDX_IMAGES).read_bytes())
    cut = tmp_path / "t10k-images-idx3-ubyte"
    cut.write_bytes(raw[: len(raw) - 100])
    with pytest.raises(ValueError, match="header announces"):
        read_idx(cut)
    # a gzip stream cut short
    compressed = shared_file(IDX_IMAGES).read_bytes()
    cut_gz = tmp_path / "t10k-images-idx3-ubyte.gz"
    cut_gz.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(ValueError, match="could not be read as an IDX file"):
        read_idx(cut_gz)
    # not gzip at all, under a .gz name
    fake_gz = tmp_path / "fake-idx1-ubyte.gz"
    fake_gz.write_bytes(b"\x00\x00\x08\x01" + struct.pack(">I", 1) + b"\x07")
    with pytest.raises(ValueError, match="could not be read as an IDX file"):
        read_idx(fake_gz)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nothing-idx1-ubyte.gz")
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nothing-idx1-ubyte")


# ------------------------------------------------------------------------ MNIST
def test_load_mnist_from_npz_path(mnist_arrays):
    split = load_mnist(shared_file("mnist.npz"))
    assert isinstance(split, Split)
    assert split.X_train.shape == (60000, 28, 28)
    assert split.X_test.shape == (10000, 28, 28)
    assert split.X_train.dtype == split.X_test.dtype == np.float32
    assert split.y_train.dtype == split.y_test.dtype == np.int64
    assert float(split.X_train.min()) == 0.0
    assert float(split.X_train.max()) == 1.0
    np.testing.assert_array_equal(split.X_test, mnist_arrays["x_test"].astype(np.float32) / 255)
    np.testing.assert_array_equal(split.y_train, mnist_arrays["y_train"])
    np.testing.assert_array_equal(split.y_test, read_idx(shared_file(IDX_LABELS)))
    assert np.bincount(split.y_train).tolist() == np.bincount(mnist_arrays["y_train"]).tolist()


def test_load_mnist_from_directory_with_npz(tmp_path, small):
    write_small_npz(tmp_path / "data", small)
    assert_small_split(load_mnist(tmp_path / "data"), small)
    assert_small_split(load_mnist(str(tmp_path / "data")), small)
    assert_small_split(load_mnist(tmp_path / "data" / "mnist.npz"), small)


def test_load_mnist_npz_keys_any_case(tmp_path, small):
    path = tmp_path / "upper.npz"
    np.savez(path, **small)  # X_train, y_train, X_test, y_test
    assert_small_split(load_mnist(path), small)


def test_load_mnist_npz_missing_arrays(tmp_path, small):
    path = tmp_path / "partial.npz"
    np.savez(path, x_train=small["X_train"], y_train=small["y_train"])
    with pytest.raises(ValueError, match="x_test"):
        load_mnist(path)


@pytest.mark.parametrize(
    ("suffix", "naming", "subfolder"),
    [
        (".gz", "-idx", ""),
        ("", "-idx", ""),
        (".gz", ".idx", ""),
        ("", "-idx", "mnist"),
    ],
)
def test_load_mnist_from_idx_directory(tmp_path, small, suffix, naming, subfolder):
    folder = tmp_path / "data" / subfolder
    folder.mkdir(parents=True)
    for key, stem in MNIST_STEMS.items():
        write_idx(folder / (stem.replace("-idx", naming) + suffix), small[key])
    # the files the test wrote are proper IDX files
    first = folder / (MNIST_STEMS["X_train"].replace("-idx", naming) + suffix)
    raw = gzip.decompress(first.read_bytes()) if suffix else first.read_bytes()
    assert raw[:4] == b"\x00\x00\x08\x03"
    assert struct.unpack(">3I", raw[4:16]) == (N_SMALL, 28, 28)
    labels = folder / (MNIST_STEMS["y_train"].replace("-idx", naming) + suffix)
    raw = gzip.decompress(labels.read_bytes()) if suffix else labels.read_bytes()
    assert raw[:4] == b"\x00\x00\x08\x01"
    assert struct.unpack(">I", raw[4:8]) == (N_SMALL,)

    assert_small_split(load_mnist(tmp_path / "data"), small)


def test_load_mnist_idx_directory_missing_one_file(tmp_path, small):
    for key, stem in MNIST_STEMS.items():
        if key != "y_test":
            write_idx(tmp_path / (stem + ".gz"), small[key])
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path)


def test_load_mnist_from_environment(tmp_path, small, monkeypatch):
    write_small_npz(tmp_path / "env", small)
    monkeypatch.setenv("AEKIT_DATA", str(tmp_path / "env"))
    assert_small_split(load_mnist(), small)
    X = load("mnist")
    np.testing.assert_array_equal(X, small["X_train"].astype(np.float32) / 255.0)
    # an explicit path wins over the environment
    with pytest.raises(FileNotFoundError):
        load_mnist(tmp_path / "elsewhere")


def test_load_mnist_from_environment_idx(tmp_path, small, monkeypatch):
    for key, stem in MNIST_STEMS.items():
        write_idx(tmp_path / (stem + ".gz"), small[key])
    monkeypatch.setenv("AEKIT_DATA", str(tmp_path))
    assert_small_split(load_mnist(), small)


def test_load_mnist_missing_location(tmp_path, monkeypatch):
    monkeypatch.delenv("AEKIT_DATA", raising=False)
    missing = tmp_path / "no-such-folder"
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(missing)
    message = str(info.value)
    assert str(missing) in message
    assert "AEKIT_DATA" in message
    assert "mnist.npz" in message
    for stem in MNIST_STEMS.values():
        assert stem + ".gz" in message

    with pytest.raises(FileNotFoundError, match="AEKIT_DATA is unset") as info:
        load_mnist()
    assert "mnist.npz" in str(info.value)

    # an empty directory is searched, with its mnist subfolder
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path / "empty")
    assert str(tmp_path / "empty" / "mnist") in str(info.value)

    monkeypatch.setenv("AEKIT_DATA", str(missing))
    with pytest.raises(FileNotFoundError, match="AEKIT_DATA"):
        load_mnist()


def test_load_mnist_refuses_other_files(tmp_path):
    path = tmp_path / "mnist.csv"
    path.write_text("1,2\n")
    with pytest.raises(ValueError, match=r"neither a \.npz file nor a directory"):
        load_mnist(path)


# ----------------------------------------------------------------- array files
def test_read_npy(tmp_path):
    array = np.arange(12, dtype=np.int16).reshape(3, 4)
    np.save(tmp_path / "a.npy", array)
    path = tmp_path / "a.npy"
    for out in (read_npy(path), read_array(path), load(path), load(str(path))):
        assert out.dtype == np.int16
        np.testing.assert_array_equal(out, array)
    # suffixes are matched case-insensitively
    shutil.copy(tmp_path / "a.npy", tmp_path / "b.NPY")
    np.testing.assert_array_equal(read_array(tmp_path / "b.NPY"), array)


def test_read_npy_refuses_object_arrays(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"numeric \.npy"):
        read_array(tmp_path / "obj.npy")


def test_read_npz_keys(tmp_path):
    a, b = np.arange(6.0).reshape(2, 3), np.arange(4).reshape(2, 2)
    np.savez(tmp_path / "one.npz", only=a)
    np.testing.assert_array_equal(read_array(tmp_path / "one.npz"), a)  # the only array

    np.savez(tmp_path / "two.npz", X=a, labels=b)
    np.testing.assert_array_equal(read_array(tmp_path / "two.npz"), a)  # "X" preferred
    np.testing.assert_array_equal(read_array(tmp_path / "two.npz", key="labels"), b)
    np.testing.assert_array_equal(load(tmp_path / "two.npz", key="labels"), b)
    np.testing.assert_array_equal(read_npz(tmp_path / "two.npz", key="X"), a)

    np.savez(tmp_path / "pref.npz", data=b, x=b, X=b, x_train=a)
    np.testing.assert_array_equal(read_array(tmp_path / "pref.npz"), a)  # x_train first

    with pytest.raises(ValueError, match="no array 'nope'") as info:
        read_array(tmp_path / "two.npz", key="nope")
    assert "labels" in str(info.value)

    np.savez(tmp_path / "many.npz", first=a, second=b)
    with pytest.raises(ValueError, match="key="):
        read_array(tmp_path / "many.npz")


def test_read_npz_damaged(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"this is no zip archive")
    with pytest.raises(ValueError, match=r"\.npz"):
        read_array(tmp_path / "bad.npz")


def test_read_csv_without_header(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("1,2,3\n4.5,-5,6e2\n")
    X = read_array(path)
    assert X.dtype == np.float64
    np.testing.assert_array_equal(X, [[1, 2, 3], [4.5, -5, 600]])
    np.testing.assert_array_equal(read_csv(path), X)


def test_read_csv_with_header(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("a,b\n1,2\n3,4\n5,6\n")
    X = read_array(path)
    assert X.shape == (3, 2)
    np.testing.assert_array_equal(X, [[1, 2], [3, 4], [5, 6]])


def test_read_csv_shapes(tmp_path):
    (tmp_path / "row.csv").write_text("1,2,3\n")
    assert read_array(tmp_path / "row.csv").shape == (1, 3)
    (tmp_path / "column.csv").write_text("value\n1\n2\n3\n")
    X = read_array(tmp_path / "column.csv")
    assert X.shape == (3, 1)
    np.testing.assert_array_equal(X[:, 0], [1, 2, 3])


def test_read_csv_with_byte_order_mark_and_header(tmp_path):
    path = tmp_path / "excel-header.csv"
    path.write_bytes("a,b\n1,2\n3,4\n".encode("utf-8-sig"))
    np.testing.assert_array_equal(read_array(path), [[1, 2], [3, 4]])


def test_read_csv_with_byte_order_mark_keeps_first_row(tmp_path):
    path = tmp_path / "excel.csv"  # Excel's "CSV UTF-8" starts with a BOM
    path.write_bytes("1,2\n3,4\n".encode("utf-8-sig"))
    np.testing.assert_array_equal(read_array(path), [[1, 2], [3, 4]])


def test_read_csv_refuses_text(tmp_path):
    path = tmp_path / "text.csv"
    path.write_text("a,b\n1,x\n")
    with pytest.raises(ValueError, match="has text in column 'b'"):
        read_array(path)


def test_read_array_unknown_suffix(tmp_path):
    path = tmp_path / "data.dat"
    path.write_text("1 2 3\n")
    with pytest.raises(ValueError, match=r"does not read files of type '\.dat'") as info:
        read_array(path)
    assert ".npy" in str(info.value) and ".csv" in str(info.value)
    with pytest.raises(ValueError, match="does not read files of type"):
        load(path)
    (tmp_path / "plain").write_text("1 2 3\n")
    with pytest.raises(ValueError, match="does not read files without a suffix"):
        read_array(tmp_path / "plain")


def test_read_array_missing_file(tmp_path):
    for name in ("missing.npy", "missing.npz", "missing.csv", "missing.txt"):
        with pytest.raises(FileNotFoundError, match="missing"):
            read_array(tmp_path / name)
    with pytest.raises(FileNotFoundError):
        load(str(tmp_path / "missing.npy"))
