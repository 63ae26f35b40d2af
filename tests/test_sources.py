"""The lazy data sources (issue 17, point 1): .npy, HDF5, zarr, image stacks and Parquet read
by rows give exactly the arrays an in-memory read gives, through the API and the CLI."""

from __future__ import annotations

import json
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aekit._lazy import LazyArray, is_lazy
from aekit.cli import main
from aekit.datasets import (
    ImageSource,
    NpySource,
    ParquetSource,
    ZarrSource,
    is_streamable,
    load,
    open_source,
    read_array,
    read_images,
    source_kind,
)
from aekit.datasets._source import runs, sample_rows
from aekit.datasets.hdf5 import HDF5Source, _chunk_cache

h5py = pytest.importorskip("h5py")
zarr = pytest.importorskip("zarr")
tifffile = pytest.importorskip("tifffile")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
Image = pytest.importorskip("PIL.Image")

N = 13  # samples in the small sources: not a multiple of the chunks (4), so the last is short
RNG = np.random.default_rng(17)
FRAMES = RNG.integers(0, 65536, size=(N, 4, 5), dtype=np.uint16)
PIXELS = RNG.integers(0, 256, size=(N, 4, 5), dtype=np.uint8)


def _table() -> dict[str, np.ndarray]:
    return {
        "count": np.arange(N, dtype=np.int32) * 3,
        "energy": RNG.normal(size=N).astype(np.float32),
        "flag": np.arange(N) % 2 == 0,
    }


TABLE = _table()


def make(kind: str, folder: Path) -> tuple[str, np.ndarray, int, str]:
    """A small source of ``kind`` in ``folder``: (spec, the array it holds, its chunk_rows,
    its describe())."""
    if kind == "npy":
        np.save(folder / "frames.npy", FRAMES)
        return (
            str(folder / "frames.npy"),
            FRAMES,
            26214,
            ("13 samples of 4 x 5 uint16 values (.npy, read by rows)"),
        )
    if kind == "hdf5":
        with h5py.File(folder / "scan.h5", "w") as f:
            f.create_dataset("entry/frames", data=FRAMES, chunks=(4, 4, 5), compression="gzip")
        return (
            f"{folder / 'scan.h5'}:/entry/frames",
            FRAMES,
            4,
            ("/entry/frames (named): 13 samples of 4 x 5 uint16 values"),
        )
    if kind == "zarr":
        z = zarr.create_array(
            folder / "scan.zarr", shape=FRAMES.shape, chunks=(4, 4, 5), dtype="u2"
        )
        z[:] = FRAMES
        return (
            str(folder / "scan.zarr"),
            FRAMES,
            4,
            ("zarr array at the store's root: 13 samples of 4 x 5 uint16 values, 4 per chunk"),
        )
    if kind == "tiff":
        tifffile.imwrite(folder / "stack.tif", FRAMES, photometric="minisblack")
        return (
            str(folder / "stack.tif"),
            FRAMES,
            1,
            ("13 grey images of 5x4 pixels, uint16 (the pages of stack.tif)"),
        )
    if kind == "png":
        (folder / "scans").mkdir()
        for i, image in enumerate(PIXELS):
            Image.fromarray(image).save(folder / "scans" / f"scan{i}.png")
        return str(folder / "scans"), PIXELS, 1, "13 grey images of 5x4 pixels, uint8"
    if kind == "parquet":
        pq.write_table(pa.table(TABLE), folder / "t.parquet", row_group_size=4)
        expected = np.column_stack(list(TABLE.values())).astype(np.float64)
        return (
            str(folder / "t.parquet"),
            expected,
            4,
            (
                "13 rows of 3 numeric columns (count, energy, flag), float64; 4 row groups of up "
                "to 4 rows"
            ),
        )
    raise AssertionError(kind)


KINDS = ["npy", "hdf5", "zarr", "tiff", "png", "parquet"]


# ----------------------------------------------------------------------------- every source
@pytest.mark.parametrize("kind", KINDS)
def test_every_source_reads_what_an_eager_read_gives(kind, tmp_path):
    spec, expected, chunk_rows, line = make(kind, tmp_path)
    source = open_source(spec)
    assert isinstance(source, LazyArray) and is_lazy(source)
    assert (source.shape, source.dtype, len(source)) == (expected.shape, expected.dtype, N)
    assert source.chunk_rows == chunk_rows and source.describe() == line
    # The in-memory readers give the same array, of the same type.
    eager = load(spec)
    assert eager.dtype == expected.dtype
    np.testing.assert_array_equal(eager, expected)
    if kind != "png":  # a folder is read_images's, not read_array's
        np.testing.assert_array_equal(read_array(spec), expected)
    for index in (
        3,
        -1,
        -N,
        slice(2, 7),
        slice(None, None, -3),
        slice(11, 100),
        [5, 1, 1, 12, 0, 5],  # unsorted, repeated, across chunks
        np.array([-1, 3, -13], dtype=np.int16),
        np.arange(N) % 3 == 0,  # a boolean mask
    ):
        got = source[index]
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected[index])
    assert source[[]].shape == (0, *expected.shape[1:])
    for bad in (N, -N - 1, [0, N], [-N - 1]):
        with pytest.raises(IndexError, match=f"out of range for {N} samples"):
            source[bad]
    with pytest.raises(IndexError, match="integers or a slice"):
        source[1.5]
    # A DataLoader worker gets a pickled copy, which opens its own handle.
    clone = pickle.loads(pickle.dumps(source))
    np.testing.assert_array_equal(clone[[7, 2]], expected[[7, 2]])
    np.testing.assert_array_equal(np.asarray(source), expected)
    source.close()  # read again: reopened
    np.testing.assert_array_equal(source.read(), expected)
    source.close()


def test_index_helpers():
    np.testing.assert_array_equal(sample_rows(slice(-3, None), 5)[0], [2, 3, 4])
    assert sample_rows(np.int64(-2), 5) == (3, True)
    with pytest.raises(IndexError, match="a boolean mask of samples needs 5 values"):
        sample_rows([True, False], 5)
    with pytest.raises(IndexError, match="1-D array"):
        sample_rows([[1, 2]], 5)
    with pytest.raises(IndexError, match="one int, slice or array"):
        sample_rows((1, 2), 5)
    assert runs(np.array([0, 1, 2, 7, 8, 10])) == [(0, 3, 0, 3), (7, 9, 3, 5), (10, 11, 5, 6)]


def test_the_dispatcher_knows_every_kind_and_refuses_the_others(tmp_path):
    assert [source_kind(s) for s in ("a.h5:/x", "b.nxs", "c.zarr", "c.zarr:/g/a", "d.npy")] == [
        "hdf5",
        "hdf5",
        "zarr",
        "zarr",
        "npy",
    ]
    assert [source_kind(s) for s in ("e.parquet", "e.PQ", "f.tif", "g.TIFF", "h/*.png")] == [
        "parquet",
        "parquet",
        "images",
        "images",
        "images",
    ]
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "zarr.json").write_text("{}")
    assert source_kind(tmp_path / "store") == "zarr"  # a store without the suffix
    assert source_kind(tmp_path) == "images"
    for spec in ("x.csv", "x.npz", "t10k-images-idx3-ubyte.gz", "digits"):
        assert not is_streamable(spec)
        with pytest.raises(ValueError, match=rf"^{spec} is read in memory, not streamed"):
            open_source(spec)
    np.save(tmp_path / "x.npy", np.zeros((3, 2)))
    with pytest.raises(ValueError, match="key='a' names a dataset of an HDF5 file"):
        open_source(tmp_path / "x.npy", "a")
    with pytest.raises(ValueError, match="columns applies to Parquet tables"):
        open_source(tmp_path / "x.npy", columns=["a"])
    with pytest.raises(ValueError, match=r"sample_axes applies to HDF5, zarr and \.npy"):
        open_source(tmp_path / "t.parquet", sample_axes=2)


# ----------------------------------------------------------------------------- .npy
def test_npy_is_read_by_positioned_reads_not_mapped(tmp_path):
    data = RNG.normal(size=(300, 50))
    np.save(tmp_path / "x.npy", data)
    source = NpySource(tmp_path / "x.npy")
    np.testing.assert_array_equal(source[::7], data[::7])
    # The decision: no memory map, whose touched pages would count in the process's memory.
    maps = Path("/proc/self/maps")
    if maps.exists():
        assert str(tmp_path / "x.npy") not in maps.read_text()
    # Several leading axes as samples.
    np.save(tmp_path / "cube.npy", FRAMES.reshape(13, 2, 2, 5))
    two = NpySource(tmp_path / "cube.npy", sample_axes=2)
    assert two.shape == (26, 2, 5) and two.array_shape == (13, 2, 2, 5)
    np.testing.assert_array_equal(two[[25, 0]], FRAMES.reshape(26, 2, 5)[[25, 0]])


def test_npy_big_endian_and_bool_files(tmp_path):
    np.save(tmp_path / "be.npy", FRAMES.astype(">u2"))
    source = NpySource(tmp_path / "be.npy")
    assert source.dtype == np.dtype("=u2") and source[[2, 0]].dtype == np.dtype("=u2")
    np.testing.assert_array_equal(source[[2, 0]], FRAMES[[2, 0]])
    mask = FRAMES > 30000
    np.save(tmp_path / "mask.npy", mask)
    np.testing.assert_array_equal(NpySource(tmp_path / "mask.npy")[4:9], mask[4:9])


def test_npy_damaged_and_unsupported_files(tmp_path):
    np.save(tmp_path / "x.npy", FRAMES)
    raw = (tmp_path / "x.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(raw[:-7])
    with pytest.raises(ValueError, match=r"cut.npy holds 513 bytes of array data, but its header"):
        NpySource(tmp_path / "cut.npy")
    (tmp_path / "long.npy").write_bytes(raw + b"\0")
    with pytest.raises(
        ValueError, match="holds 521 bytes of array data, but its header announces 520"
    ):
        NpySource(tmp_path / "long.npy")
    (tmp_path / "magic.npy").write_bytes(b"PK\3\4" + raw[4:])
    with pytest.raises(ValueError, match=r"is not a \.npy array"):
        NpySource(tmp_path / "magic.npy")
    (tmp_path / "header.npy").write_bytes(raw.replace(b"'descr'", b"'dexcr'"))
    with pytest.raises(ValueError, match=r"damaged \.npy header"):
        NpySource(tmp_path / "header.npy")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="Python objects"):
        NpySource(tmp_path / "obj.npy")
    np.save(tmp_path / "text.npy", np.array(["a", "b"]))
    with pytest.raises(ValueError, match="holds <U1 values, not numbers"):
        NpySource(tmp_path / "text.npy")
    np.save(tmp_path / "fortran.npy", np.asfortranarray(FRAMES))
    with pytest.raises(ValueError, match=r"stored in Fortran order.*np\.ascontiguousarray"):
        NpySource(tmp_path / "fortran.npy")
    # ... which the in-memory reader still reads.
    np.testing.assert_array_equal(read_array(tmp_path / "fortran.npy"), FRAMES)
    with pytest.raises(FileNotFoundError):
        NpySource(tmp_path / "missing.npy")
    # A file cut after it was opened: a clear error at the read, not short rows.
    source = NpySource(tmp_path / "x.npy")
    with open(tmp_path / "x.npy", "r+b") as f:
        f.truncate(len(raw) - 40)
    with pytest.raises(ValueError, match="has the file been cut since it was opened"):
        source[-1]


# ----------------------------------------------------------------------------- HDF5
def test_hdf5_shape_is_samples_first_and_chunk_rows_follow_the_storage(tmp_path):
    with h5py.File(tmp_path / "s.h5", "w") as f:
        f.create_dataset("chunked", data=FRAMES.reshape(13, 2, 2, 5), chunks=(1, 2, 2, 5))
        f.create_dataset("flat", data=FRAMES.reshape(13, 20))
    two = HDF5Source(f"{tmp_path / 's.h5'}:/chunked", sample_axes=2)
    assert (two.shape, two.dataset_shape, two.chunk_rows) == ((26, 2, 5), (13, 2, 2, 5), 2)
    expected = FRAMES.reshape(26, 2, 5)
    np.testing.assert_array_equal(two[[25, 3, 4, 5, 0]], expected[[25, 3, 4, 5, 0]])
    np.testing.assert_array_equal(two[3:24], expected[3:24])
    flat = HDF5Source(f"{tmp_path / 's.h5'}:/flat")
    assert flat.chunk_rows == (1 << 20) // 40  # contiguous: rows in about 1 MiB
    np.testing.assert_array_equal(flat[[12, 0, 5]], FRAMES.reshape(13, 20)[[12, 0, 5]])


def test_hdf5_chunk_cache_holds_two_chunk_rows():
    # (60000, 28, 28) uint8 in chunks of (3750, 4, 4): a run of rows reads 7 x 7 chunks.
    nbytes, nslots = _chunk_cache((60000, 28, 28), (3750, 4, 4), 1, np.dtype(np.uint8))
    assert nbytes == 2 * 3750 * 28 * 28 and nslots % 2 == 1 and nslots >= 10 * 98
    assert _chunk_cache((10, 8, 8), (1, 8, 8), 1, np.dtype(np.uint8))[0] == 1 << 20  # floor
    assert _chunk_cache((100, 4096, 4096), (8, 4096, 4096), 1, np.dtype("f4"))[0] == 64 << 20


# ----------------------------------------------------------------------------- zarr
def test_zarr_groups_paths_formats_and_chunks(tmp_path):
    root = zarr.open_group(tmp_path / "g.zarr", mode="w")
    frames = root.create_array("raw/frames", shape=FRAMES.shape, chunks=(5, 4, 5), dtype="u2")
    frames[:] = FRAMES
    root.create_array("raw/labels", shape=(N,), chunks=(N,), dtype="i8")  # 1-D: not a candidate
    source = ZarrSource(tmp_path / "g.zarr")  # the group's only array of two or more axes
    assert (source.array, source.found_by, source.chunk_rows) == (
        "/raw/frames",
        "the only array",
        5,
    )
    np.testing.assert_array_equal(source[[12, 4, 5]], FRAMES[[12, 4, 5]])
    named = open_source(f"{tmp_path / 'g.zarr'}:/raw/frames")
    assert named.describe() == (
        "zarr array /raw/frames (named): 13 samples of 4 x 5 uint16 values, 5 per chunk"
    )
    root.create_array("other", shape=(3, 3), chunks=(3, 3), dtype="f4")
    with pytest.raises(
        ValueError, match=r"is a group; name its array as .*'/raw/frames', '/other'"
    ):
        ZarrSource(tmp_path / "g.zarr")
    with pytest.raises(ValueError, match=r"has no array 'raw/nope'; its arrays: \["):
        open_source(tmp_path / "g.zarr", "raw/nope")
    # Format 2 stores, big-endian, several sample axes.
    v2 = zarr.create_array(
        tmp_path / "v2.zarr", shape=(13, 2, 2, 5), chunks=(2, 1, 2, 5), dtype=">f8", zarr_format=2
    )
    v2[:] = FRAMES.reshape(13, 2, 2, 5)
    source = ZarrSource(tmp_path / "v2.zarr", sample_axes=2)
    assert (source.shape, source.dtype, source.chunk_rows) == ((26, 2, 5), np.dtype("f8"), 1)
    np.testing.assert_array_equal(source[[25, 1, 2]], FRAMES.reshape(26, 2, 5)[[25, 1, 2]])
    # Shards are what a store keeps together.
    sharded = zarr.create_array(
        tmp_path / "sh.zarr", shape=(16, 4), chunks=(2, 4), shards=(8, 4), dtype="f4"
    )
    sharded[:] = 1.0
    assert ZarrSource(tmp_path / "sh.zarr").chunk_rows == 8


def test_zarr_mistakes(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="no zarr store at"):
        ZarrSource(tmp_path / "missing.zarr")
    (tmp_path / "empty.zarr").mkdir()
    with pytest.raises(ValueError, match=r"empty\.zarr is not a readable zarr store"):
        ZarrSource(tmp_path / "empty.zarr")
    (tmp_path / "bad.zarr").mkdir()
    (tmp_path / "bad.zarr" / "zarr.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"bad\.zarr is not a readable zarr store"):
        ZarrSource(tmp_path / "bad.zarr")
    text = zarr.create_array(tmp_path / "text.zarr", shape=(3, 2), chunks=(3, 2), dtype=str)
    text[:] = "a"
    with pytest.raises(ValueError, match="values, not numbers"):
        ZarrSource(tmp_path / "text.zarr")
    monkeypatch.setitem(sys.modules, "zarr", None)
    with pytest.raises(ImportError, match=r"pip install 'aekit\[zarr\]'"):
        open_source(tmp_path / "text.zarr")


# ----------------------------------------------------------------------------- images
def test_uint16_and_float32_tiffs_are_exact(tmp_path):
    floats = RNG.normal(size=(6, 3, 7)).astype(np.float32)
    tifffile.imwrite(tmp_path / "f.tiff", floats, photometric="minisblack")
    np.testing.assert_array_equal(open_source(tmp_path / "f.tiff")[[5, 0]], floats[[5, 0]])
    # Written in two parts (two series for tifffile), of one size: one stack.
    tifffile.imwrite(tmp_path / "two.tif", FRAMES[:6], photometric="minisblack")
    tifffile.imwrite(tmp_path / "two.tif", FRAMES[6:], photometric="minisblack", append=True)
    np.testing.assert_array_equal(ImageSource(tmp_path / "two.tif").read(), FRAMES)
    (tmp_path / "folder").mkdir()
    for i, frame in enumerate(FRAMES[:11]):
        tifffile.imwrite(tmp_path / "folder" / f"frame_{i}.tif", frame)
    source = ImageSource(tmp_path / "folder" / "*.tif")  # a glob, sorted naturally
    assert source.files[:3] == [str(tmp_path / "folder" / f"frame_{i}.tif") for i in (0, 1, 2)]
    assert source.files[-1].endswith("frame_10.tif") and source.dtype == np.uint16
    np.testing.assert_array_equal(source.read(), FRAMES[:11])
    images = read_images(tmp_path / "folder")
    assert images.files[-2:] == ["frame_9.tif", "frame_10.tif"]
    np.testing.assert_array_equal(images.X, FRAMES[:11])


def test_colour_images_are_channels_first(tmp_path):
    rgb = RNG.integers(0, 256, size=(3, 4, 5, 3), dtype=np.uint8)
    (tmp_path / "c").mkdir()
    for i, image in enumerate(rgb):
        Image.fromarray(image).save(tmp_path / "c" / f"{i}.png")
    Image.fromarray(PIXELS[0]).save(tmp_path / "c" / "3.png")  # a grey one, read in colour
    tifffile.imwrite(tmp_path / "c" / "4.tif", rgb[0], photometric="rgb")
    source = ImageSource(tmp_path / "c")
    assert source.shape == (5, 3, 4, 5) and source.describe().startswith("5 colour images")
    np.testing.assert_array_equal(source[:3], rgb.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(source[3], np.repeat(PIXELS[0][None], 3, axis=0))
    np.testing.assert_array_equal(source[4], rgb[0].transpose(2, 0, 1))


def test_image_mistakes_are_found_from_the_headers(tmp_path, monkeypatch):
    (tmp_path / "mixed").mkdir()
    Image.fromarray(PIXELS[0]).save(tmp_path / "mixed" / "a1.png")
    Image.fromarray(PIXELS[0][:3]).save(tmp_path / "mixed" / "a2.png")
    with pytest.raises(
        ValueError, match=r"images of different sizes: a1\.png is 5x4, a2\.png is 5x3"
    ):
        ImageSource(tmp_path / "mixed")
    (tmp_path / "types").mkdir()
    Image.fromarray(PIXELS[0]).save(tmp_path / "types" / "a.png")
    tifffile.imwrite(tmp_path / "types" / "b.tif", FRAMES[0])
    with pytest.raises(ValueError, match=r"mixes pixel types: a\.png is uint8, b\.tif is uint16"):
        ImageSource(tmp_path / "types")
    with tifffile.TiffWriter(tmp_path / "pages.tif") as writer:
        for frame in (FRAMES[0], FRAMES[1], FRAMES[2][:3]):
            writer.write(frame, photometric="minisblack", metadata=None)
    with pytest.raises(ValueError, match=r"pages of different sizes or types in .*page 0 is 5x4 "):
        ImageSource(tmp_path / "pages.tif")
    (tmp_path / "multi").mkdir()
    tifffile.imwrite(tmp_path / "multi" / "a.tif", FRAMES[:2], photometric="minisblack")
    with pytest.raises(ValueError, match=r"a\.tif holds 2 pages; the TIFF files of a folder"):
        ImageSource(tmp_path / "multi")
    (tmp_path / "junk.tif").write_bytes(b"not a TIFF file")
    with pytest.raises(ValueError, match=r"junk\.tif could not be read as a TIFF file: not a"):
        ImageSource(tmp_path / "junk.tif")
    (tmp_path / "cut.tif").write_bytes(b"II*\0junk")  # a header pointing past the end
    with pytest.raises(ValueError, match=r"cut\.tif holds no image"):
        ImageSource(tmp_path / "cut.tif")
    with pytest.raises(FileNotFoundError, match="no file at"):
        ImageSource(tmp_path / "missing.tif")
    monkeypatch.setitem(sys.modules, "tifffile", None)
    with pytest.raises(ImportError, match=r"pip install 'aekit\[tiff\]'"):
        open_source(tmp_path / "pages.tif")
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    with pytest.raises(ImportError, match=r"pip install 'aekit\[images\]'"):
        ImageSource(tmp_path / "mixed")


def test_mnist_as_a_tiff_stack_and_a_png_folder(mnist, tmp_path):
    images = (mnist.X_test[:200] * 255).round().astype(np.uint8)
    tifffile.imwrite(tmp_path / "mnist.tif", images, photometric="minisblack")
    (tmp_path / "png").mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image).save(tmp_path / "png" / f"digit{i}.png")
    for spec in (tmp_path / "mnist.tif", tmp_path / "png"):
        source = open_source(spec)
        assert source.shape == (200, 28, 28) and source.dtype == np.uint8
        np.testing.assert_array_equal(source.read(), images)
        rows = np.random.default_rng(0).permutation(200)[:64]
        np.testing.assert_array_equal(source[rows], images[rows])
        np.testing.assert_array_equal(load(spec), images)


# ----------------------------------------------------------------------------- Parquet
def test_parquet_columns_types_and_row_groups(tmp_path):
    spec, _, _, _ = make("parquet", tmp_path)
    source = ParquetSource(spec, columns=["energy", "count"])
    assert source.columns == ["energy", "count"] and source.dtype == np.float64
    expected = np.column_stack([TABLE["energy"], TABLE["count"]]).astype(np.float64)
    np.testing.assert_array_equal(source[[12, 0, 5]], expected[[12, 0, 5]])
    ints = ParquetSource(spec, columns="count,flag")  # as --columns gives them
    assert ints.dtype == np.int32 and ints[-1].tolist() == [36, 1]
    # pandas' eager read gives the same numbers.
    frame = pq.read_table(spec).to_pandas()
    np.testing.assert_array_equal(source.read(), frame[["energy", "count"]].to_numpy())

    # Rows of a batch read only the row groups they fall in; the last one is kept.
    source.close()
    reads = []
    source._own("_file", lambda: pq.ParquetFile(spec))
    real = source._file.read_row_group

    def counting(g, **kwargs):
        reads.append(g)
        return real(g, **kwargs)

    source._file.read_row_group = counting
    source[[9, 1, 8]]  # rows 1 (group 0), 8 and 9 (group 2)
    source[10:12]  # group 2 again: kept
    source[0]
    assert reads == [0, 2, 0]


def test_parquet_mistakes(tmp_path, monkeypatch):
    table = pa.table(
        {
            "id": ["a", "b", "c"],
            "x": [1.0, 2.0, 3.0],
            "when": pa.array([1, 2, 3], pa.timestamp("s")),
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")
    with pytest.raises(ValueError, match="column 'id' holds text, not numbers; choose the numeric"):
        ParquetSource(tmp_path / "t.parquet")
    with pytest.raises(ValueError, match=r"column 'when' holds timestamp\[ms\] values"):
        ParquetSource(tmp_path / "t.parquet", columns=["x", "when"])
    with pytest.raises(ValueError, match=r"has no column 'y'; its columns: \['id', 'x', 'when'\]"):
        ParquetSource(tmp_path / "t.parquet", columns=["y"])
    np.testing.assert_array_equal(
        ParquetSource(tmp_path / "t.parquet", columns=["x"])[:], [[1.0], [2.0], [3.0]]
    )
    gaps = pa.table({"x": pa.array([1.0, None, 3.0, 4.0])})
    pq.write_table(gaps, tmp_path / "gaps.parquet", row_group_size=2)
    with pytest.raises(ValueError, match=r"column 'x' has missing values \(in rows 0 to 1\)"):
        ParquetSource(tmp_path / "gaps.parquet")
    pq.write_table(gaps, tmp_path / "nostats.parquet", row_group_size=2, write_statistics=False)
    source = ParquetSource(tmp_path / "nostats.parquet")  # found when the row group is read
    np.testing.assert_array_equal(source[3], [4.0])
    with pytest.raises(ValueError, match=r"column 'x' has missing values \(in rows 0 to 1\)"):
        source[0]
    (tmp_path / "junk.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(ValueError, match=r"junk\.parquet is not a readable Parquet file"):
        ParquetSource(tmp_path / "junk.parquet")
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ImportError, match=r"pip install 'aekit\[parquet\]'"):
        open_source(tmp_path / "t.parquet")


# ----------------------------------------------------------------------------- the CLI
def test_damaged_pages_chunks_and_row_groups_are_value_errors(tmp_path):
    # A TIFF header announcing 60000 x 60000 pixels over 40 stored bytes: refused before
    # tifffile would allocate 7.2 GB.
    tifffile.imwrite(tmp_path / "huge.tif", np.zeros((4, 5), np.uint16))
    with tifffile.TiffFile(tmp_path / "huge.tif", mode="r+b") as tif:
        tif.pages[0].tags["ImageLength"].overwrite(60000)
        tif.pages[0].tags["ImageWidth"].overwrite(60000)
    with pytest.raises(ValueError, match="announces 7,200,000,000 bytes of pixels from 40 stored"):
        ImageSource(tmp_path / "huge.tif")
    # A row group whose page header is damaged: the others still read.
    pq.write_table(pa.table({"x": np.arange(8.0)}), tmp_path / "d.parquet", row_group_size=4)
    offset = pq.ParquetFile(tmp_path / "d.parquet").metadata.row_group(1).column(0).data_page_offset
    raw = bytearray((tmp_path / "d.parquet").read_bytes())
    raw[offset : offset + 8] = b"\xff" * 8
    (tmp_path / "d.parquet").write_bytes(raw)
    table = ParquetSource(tmp_path / "d.parquet")
    assert table[1].tolist() == [1.0]
    with pytest.raises(ValueError, match=r"d\.parquet: row group 1 could not be read \("):
        table[5]
    # A damaged zarr chunk.
    z = zarr.create_array(tmp_path / "d.zarr", shape=(8, 3), chunks=(4, 3), dtype="f4")
    z[:] = 1.0
    (tmp_path / "d.zarr" / "c" / "1" / "0").write_bytes(b"garbage")
    store = ZarrSource(tmp_path / "d.zarr")
    assert store[0].tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match=r"d\.zarr:/ could not be read \("):
        store[[5, 0]]


# ----------------------------------------------------------------------------- fuzz finds
# Damaged files of the kinds the fuzz campaigns of the lazy readers found (tests/_fuzz.py,
# targets npy_lazy, tiff_stack, png_folder, parquet, zarr and hdf5), each made here on purpose.
@pytest.mark.parametrize(
    ("tag", "value", "message"),
    [
        (None, None, "unpack requires a buffer"),  # cut after 2 bytes: a struct.error
        ("BitsPerSample", 0, "AssertionError"),  # no pixel type: tifffile asserts one
        ("PhotometricInterpretation", (1, 1), "not 'tuple'"),  # 2 values: a TypeError
    ],
)
def test_damaged_tiff_headers_are_value_errors(tmp_path, tag, value, message):
    # Each escaped ImageSource as tifffile's own exception.
    path = tmp_path / "s.tif"
    tifffile.imwrite(path, FRAMES[:3], photometric="minisblack")
    if tag is None:
        path.write_bytes(path.read_bytes()[:2])
    else:
        with tifffile.TiffFile(path, mode="r+b") as tif:
            tif.pages[0].tags[tag].overwrite(value)
    with pytest.raises(ValueError, match=rf"s\.tif could not be read as a TIFF file: .*{message}"):
        open_source(path)


def test_shapes_no_array_can_hold_are_refused(tmp_path):
    # An OverflowError of len() escaped the first read: zarr's JSON announced 6.7e19 samples
    # (found by the fuzzer), and a .npy header may pair a zero axis with any other.
    z = zarr.create_array(tmp_path / "s.zarr", shape=(6, 2, 3), chunks=(2, 2, 3), dtype="f4")
    z[:] = 1.0
    meta = json.loads((tmp_path / "s.zarr" / "zarr.json").read_text())
    meta["shape"] = [66666666666666666666, 2, 3]
    (tmp_path / "s.zarr" / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(
        ValueError,
        match=r"s\.zarr:/ is damaged: its shape \(66666666666666666666, 2, 3\) is more than an",
    ):
        open_source(tmp_path / "s.zarr")
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (10**30, 0), }"
    header = header.replace(b"10**30", b"1" + b"0" * 30).ljust(117) + b"\n"
    (tmp_path / "s.npy").write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", 118) + header)
    with pytest.raises(ValueError, match=r"s\.npy is damaged: its shape \(10{30}, 0\) is more"):
        open_source(tmp_path / "s.npy")


def _pngs(folder: Path) -> tuple[bytes, int]:
    """PIXELS[:3] as img0.png to img2.png in ``folder``; the bytes of img1.png and the
    offset of the length of its one IDAT chunk (its pixel data)."""
    for i in range(3):
        Image.fromarray(PIXELS[i]).save(folder / f"img{i}.png")
    raw = (folder / "img1.png").read_bytes()
    assert raw.count(b"IDAT") == 1
    return raw, raw.index(b"IDAT") - 4


def test_png_announcing_a_huge_chunk_allocates_nothing(tmp_path):
    # Pillow skipped the rest of the IDAT chunk by reading the 2 GB its length announced into
    # a buffer of that size (a MemoryError under a limit); the pixels are all there.
    raw, at = _pngs(tmp_path)
    (tmp_path / "img1.png").write_bytes(raw[:at] + struct.pack(">I", 2**31 - 1) + raw[at + 4 :])
    import tracemalloc

    tracemalloc.start()
    try:
        out = open_source(tmp_path)[1]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(out, PIXELS[1])
    assert peak < 16 * 2**20, f"{peak / 2**20:.0f} MB held to read a 4 x 5 image"


def test_png_broken_while_decoding_is_a_value_error(tmp_path):
    # An IDAT chunk announcing 5 bytes: the next chunk header is read inside the compressed
    # data, and Pillow's SyntaxError ("broken PNG file") escaped; the other images read.
    raw, at = _pngs(tmp_path)
    (tmp_path / "img1.png").write_bytes(raw[:at] + struct.pack(">I", 5) + raw[at + 4 :])
    source = open_source(tmp_path)
    np.testing.assert_array_equal(source[[2, 0]], PIXELS[[2, 0]])
    with pytest.raises(ValueError, match=r"img1\.png could not be read as an image: broken PNG"):
        source[1:3]


def _nexus(path: Path) -> int:
    """A NeXus file of FRAMES in deflated chunks of one frame; the address of the object
    header of its NXentry group."""
    with h5py.File(path, "w") as f:
        entry = f.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        data = entry.create_group("data")
        data.attrs.update(NX_class="NXdata", signal="frames")
        data.create_dataset("frames", data=FRAMES, chunks=(1, 4, 5), compression="gzip")
        return h5py.h5o.get_info(entry.id).addr


def test_hdf5_members_that_cannot_be_opened(tmp_path):
    # h5py gives None for a member it cannot open: the search for NeXus's NXentry raised
    # AttributeError on it. A dangling link is no damage: the file's dataset is found.
    with h5py.File(tmp_path / "link.h5", "w") as f:
        f["broken"] = h5py.SoftLink("/nowhere")
        f.create_dataset("frames", data=FRAMES)
    source = open_source(tmp_path / "link.h5")
    assert source.describe() == "/frames (the only dataset): 13 samples of 4 x 5 uint16 values"
    np.testing.assert_array_equal(source[[2, 0]], FRAMES[[2, 0]])
    # A damaged object header (its version byte) of the NXentry group: h5py's KeyError.
    at = _nexus(tmp_path / "n.nxs")
    raw = bytearray((tmp_path / "n.nxs").read_bytes())
    assert raw[at] == 1  # version 1 of the object header format
    raw[at] = 0xFF
    (tmp_path / "header.nxs").write_bytes(raw)
    for spec in ("header.nxs", "header.nxs:/entry/data/frames"):
        with pytest.raises(ValueError, match=r"header\.nxs"):
            open_source(tmp_path / spec)


def test_hdf5_damaged_metadata_and_chunks_are_value_errors(tmp_path):
    _nexus(tmp_path / "n.nxs")
    good = (tmp_path / "n.nxs").read_bytes()
    # The global heap that holds the string attributes (NX_class, signal): h5py's OSError.
    assert good.count(b"GCOL") == 1
    (tmp_path / "heap.nxs").write_bytes(good.replace(b"GCOL", b"XCOL"))
    with pytest.raises(ValueError, match=r"heap\.nxs is a damaged HDF5 file \(.*global heap"):
        open_source(tmp_path / "heap.nxs")
    # A chunk whose deflated bytes are damaged: h5py's OSError; the other chunks still read.
    with h5py.File(tmp_path / "n.nxs") as f:
        chunk = f["entry/data/frames"].id.get_chunk_info(1)
    raw = bytearray(good)
    raw[chunk.byte_offset : chunk.byte_offset + chunk.size] = b"\xff" * chunk.size
    (tmp_path / "chunk.nxs").write_bytes(raw)
    with open_source(tmp_path / "chunk.nxs") as source:
        np.testing.assert_array_equal(source[[2, 0]], FRAMES[[2, 0]])
        for index in (1, slice(0, 3), [5, 1]):
            with pytest.raises(ValueError, match=r"chunk\.nxs is a damaged HDF5 file \(.*filter"):
                source[index]
        with pytest.raises(ValueError, match=r"chunk\.nxs is a damaged HDF5 file"):
            source.read()


_ISOLATED = """
import sys
from aekit.datasets import open_source
try:
    source = open_source(sys.argv[1])
    print(source.describe())
    source[0]
except ValueError as exc:
    print(exc)
"""


def _isolated(path: Path) -> list[str]:
    """The lines ``open_source(path)`` then ``source[0]`` print (a description, an error), in
    a process of their own: a crash or a hang there fails the test, not the test run."""
    done = subprocess.run(
        [sys.executable, "-c", _ISOLATED, str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_hdf5_global_heap_that_would_be_read_forever_is_refused(tmp_path):
    # A free-space object of 0 bytes in the global heap of the string attributes: HDF5 went
    # round it forever (in C, where no signal reaches) when NeXus's NX_class was read.
    _nexus(tmp_path / "n.nxs")
    raw = bytearray((tmp_path / "n.nxs").read_bytes())
    at = raw.index(b"GCOL")
    raw[at + 16 : at + 32] = bytes(16)  # the first object: index 0, 0 bytes
    (tmp_path / "heap.nxs").write_bytes(raw)
    assert _isolated(tmp_path / "heap.nxs") == [
        f"{tmp_path / 'heap.nxs'} is a damaged HDF5 file (its global heap at byte {at} holds an "
        "object of 0 bytes)"
    ]
    # An object announcing more bytes than its collection holds: HDF5 looped on it as well.
    raw[at + 16 : at + 32] = bytes([1, 0, 0, 0, 0, 0, 0, 0]) + (2**64 - 16).to_bytes(8, "little")
    (tmp_path / "heap.nxs").write_bytes(raw)
    size = int.from_bytes(raw[at + 8 : at + 16], "little")
    assert _isolated(tmp_path / "heap.nxs") == [
        f"{tmp_path / 'heap.nxs'} is a damaged HDF5 file (its global heap at byte {at} holds an "
        f"object of {2**64 - 16} bytes in {size - 16})"
    ]


def _zigzag(value: int) -> bytes:
    """``value`` as Thrift's compact protocol writes an integer: a zigzag varint."""
    n, out = (value << 1) ^ (value >> 63), b""
    while n > 0x7F:
        out, n = out + bytes([n & 0x7F | 0x80]), n >> 7
    return out + bytes([n])


def _parquet_footer(path: Path) -> tuple[bytes, int]:
    raw = path.read_bytes()
    n = int.from_bytes(raw[-8:-4], "little")
    return raw, len(raw) - 8 - n


def test_parquet_chunk_contradicting_its_schema_does_not_abort(tmp_path):
    # A footer whose schema makes column a required, while its column chunks keep their
    # histograms of definition levels (0 and 1): pyarrow's accessor of a column chunk's
    # metadata threw a C++ exception it does not declare, which aborted the process.
    table = pa.table({"a": np.arange(6.0), "b": np.arange(6, dtype=np.int32)})
    pq.write_table(table, tmp_path / "t.parquet", row_group_size=3)
    raw, footer = _parquet_footer(tmp_path / "t.parquet")
    # The schema element of a: type DOUBLE, repetition OPTIONAL (2 zigzagged), name "a".
    element = b"\x15\x0a\x25\x02\x18\x01a"
    assert raw[footer:].count(element) == 1
    (tmp_path / "required.parquet").write_bytes(
        raw[:footer] + raw[footer:].replace(element, element.replace(b"\x25\x02", b"\x25\x00"))
    )
    assert _isolated(tmp_path / "required.parquet") == [
        "6 rows of 2 numeric columns (a, b), float64; 2 row groups of up to 3 rows",
        f"{tmp_path / 'required.parquet'}: row group 0 could not be read (Definition level "
        "histogram size mismatch, size: 2, expected: 1)",
    ]
    # A column chunk stored as INT64 under a DOUBLE schema: refused from the footer.
    chunk = b"\x1c\x15\x0a"  # ColumnChunk.meta_data, whose type is DOUBLE
    assert raw[footer:].count(chunk) == 2
    (tmp_path / "int64.parquet").write_bytes(
        raw[:footer] + raw[footer:].replace(chunk, b"\x1c\x15\x04", 1)
    )
    with pytest.raises(
        ValueError, match="column 'a' of row group 0 is stored as INT64, its schema says DOUBLE"
    ):
        ParquetSource(tmp_path / "int64.parquet")


def test_parquet_row_group_of_negative_rows_is_refused(tmp_path):
    # Row group 0 announcing -1 rows: the rows' starts went backwards, and source[0] gave row 4
    # (of row group 1) without a word.
    pq.write_table(pa.table({"a": np.arange(6.0)}), tmp_path / "t.parquet", row_group_size=3)
    raw, footer = _parquet_footer(tmp_path / "t.parquet")
    size = pq.ParquetFile(tmp_path / "t.parquet").metadata.row_group(0).total_byte_size
    # RowGroup.total_byte_size, then num_rows (3), each an i64 field after the one before.
    fields = b"\x16" + _zigzag(size) + b"\x16" + _zigzag(3)
    assert raw[footer:].count(fields) == 2
    damaged = raw[footer:].replace(fields, fields[:-1] + _zigzag(-1), 1)
    (tmp_path / "neg.parquet").write_bytes(raw[:footer] + damaged)
    with pytest.raises(ValueError, match=r"neg\.parquet is damaged: a row group holds -1 rows"):
        open_source(tmp_path / "neg.parquet")


def test_parquet_statistics_past_the_footer_bound_wait_for_the_read(tmp_path, monkeypatch):
    # A footer over MAX_FOOTER_BYTES is not decoded (it would take seconds): a missing value is
    # then found when its row group is read, as in a file without statistics.
    import aekit.datasets.parquet as parquet

    gaps = pa.table({"x": pa.array([1.0, None, 3.0, 4.0])})
    pq.write_table(gaps, tmp_path / "gaps.parquet", row_group_size=2)
    monkeypatch.setattr(parquet, "MAX_FOOTER_BYTES", 100)
    source = ParquetSource(tmp_path / "gaps.parquet")
    np.testing.assert_array_equal(source[3], [4.0])
    with pytest.raises(ValueError, match=r"column 'x' has missing values \(in rows 0 to 1\)"):
        source[0]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x19\xfc\xff\xff\xff\xff\x0f", "a length of 4294967295 where 0 bytes"),  # a list
        (b"\x15\x0c\x18\x09ab", "a length of 9 where 2 bytes"),  # a binary
        (b"\x19\x1c" * 40, "nested too deep"),
        (b"\x15\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", "more than 10 bytes"),
        (b"\x15\x0c", "ends inside a value"),  # no end of the struct
        (b"\x17\x00", "ends inside a value"),  # a double of 1 byte
        (b"\x1d", "unknown type 13"),
    ],
)
def test_parquet_footer_decoder_refuses_damage(data, message):
    from aekit.datasets.parquet import _decode_thrift

    with pytest.raises(ValueError, match=message):
        _decode_thrift(data)


@pytest.mark.parametrize("kind", KINDS)
def test_info_previews_every_source(kind, tmp_path, capsys):
    spec, _, _, line = make(kind, tmp_path)
    assert main(["info", spec]) == 0
    assert capsys.readouterr().out == f"{spec}: {line}\n"


@pytest.mark.parametrize("kind", ["tiff", "png", "parquet", "zarr"])
def test_train_and_encode_from_every_source(kind, tmp_path, capsys):
    import aekit

    spec, expected, _, line = make(kind, tmp_path)
    model = tmp_path / "model"
    argv = ["train", spec, "--out", model, "--epochs", "1", "--latent-dim", "2", "--seed", "0"]
    assert main([str(a) for a in argv]) == 0
    assert f"aekit train: {spec}: {line}" in capsys.readouterr().err
    assert main(["encode", str(model), spec, "--out", str(tmp_path / "z.npy")]) == 0
    codes = np.load(tmp_path / "z.npy")
    assert codes.shape == (N, 2)
    # The same codes as the model gives the eager array (same float32 operations).
    np.testing.assert_allclose(codes, aekit.load(model).transform(expected), rtol=0, atol=1e-6)


def test_cli_columns_of_a_parquet_table_and_its_mistakes(tmp_path, capsys):
    spec, _, _, _ = make("parquet", tmp_path)
    argv = [
        "train",
        spec,
        "--columns",
        "energy,count",
        "--out",
        str(tmp_path / "m"),
        "--epochs",
        "1",
    ]
    assert main([*argv, "--quiet"]) == 0
    assert "13 rows of 2 numeric columns (energy, count)" in capsys.readouterr().err
    assert main(["train", spec, "--drop", "count", "--out", str(tmp_path / "m2")]) == 1
    assert "--columns also picks a Parquet table's columns" in capsys.readouterr().err
    pq.write_table(pa.table({"name": ["a", "b"], "x": [1, 2]}), tmp_path / "text.parquet")
    assert main(["info", str(tmp_path / "text.parquet")]) == 1
    err = capsys.readouterr().err
    assert "aekit info: error: " in err and "column 'name' holds text" in err
    assert "Traceback" not in err


def test_a_zarr_store_is_an_input_folder(tmp_path, capsys):
    spec, _, _, _ = make("zarr", tmp_path)
    for data in (spec, f"{spec}:/"):
        assert main(["train", data, "--out", f"{spec}/model", "--epochs", "1"]) == 1
        assert f"--out {spec}/model lies inside the input DATA {spec}; writing there would" in (
            capsys.readouterr().err
        )
