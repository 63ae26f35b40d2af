"""HDF5 and NeXus files as data: the real NeXus files of ../shared/data/nexus and small ones."""

from __future__ import annotations

import pickle
import sys

import numpy as np
import pytest

from aekit.cli import main
from aekit.datasets import read_array
from aekit.datasets.hdf5 import HDF5Source, read_hdf5, split_source
from conftest import shared_file

h5py = pytest.importorskip("h5py")

FOCUS = "nexus/focus2007n001335.hdf"
SAXS = "nexus/nexus-example.hdf5"
AGBE = "nexus/AgBehenate_228.hdf5"


def _reference(path, name):
    with h5py.File(path, "r") as f:
        return np.asarray(f[name][()])


def test_the_nexus_files_give_their_default_data():
    saxs = HDF5Source(shared_file(SAXS))  # NeXus 2014: default -> default -> @signal
    assert (saxs.dataset, saxs.shape, saxs.found_by) == (
        "/entry/data/frames",
        (10, 195, 487),
        "NeXus default",
    )
    np.testing.assert_array_equal(saxs.read(), _reference(shared_file(SAXS), "entry/data/frames"))
    agbe = HDF5Source(shared_file(AGBE))  # older: the dataset marked signal=1
    assert (agbe.dataset, len(agbe), agbe.sample_shape) == ("/entry/data/data", 195, (487,))
    focus = HDF5Source(shared_file(FOCUS))  # first NXentry, its first NXdata group
    assert focus.dataset.endswith("/counts") and focus.sample_shape == (713,)
    assert "NeXus default" in focus.describe() and "713" in focus.describe()


def test_the_saxs_frames_read_by_rows_as_h5py_reads_them():
    path = shared_file(SAXS)
    reference = _reference(path, "entry/data/frames")
    frames = HDF5Source(path)
    assert frames.shape == frames.dataset_shape == (10, 195, 487)
    np.testing.assert_array_equal(frames[[9, 2, 2, 0]], reference[[9, 2, 2, 0]])
    # Detector rows as samples: shape counts samples, dataset_shape keeps the file's axes.
    rows = HDF5Source(path, sample_axes=2)
    assert (rows.shape, rows.dataset_shape) == ((1950, 487), (10, 195, 487))
    flat = reference.reshape(1950, 487)
    picks = [1949, 0, 194, 195, 196, 1000, 1000]  # across frames, repeated
    np.testing.assert_array_equal(rows[picks], flat[picks])
    np.testing.assert_array_equal(rows[190:400], flat[190:400])
    np.testing.assert_array_equal(rows.read(), flat)


def test_a_named_dataset_reads_the_same_as_h5py():
    path = shared_file(FOCUS)
    counts = read_array(f"{path}:/entry1/FOCUS/merged/counts")
    assert counts.shape == (375, 713) and counts.dtype == np.int32
    np.testing.assert_array_equal(counts, _reference(path, "entry1/FOCUS/merged/counts"))
    np.testing.assert_array_equal(read_array(path, "/entry1/FOCUS/merged/counts"), counts)


def test_rows_are_read_lazily_in_any_order(tmp_path):
    data = np.arange(6 * 4 * 3, dtype=np.float32).reshape(6, 4, 3)
    with h5py.File(tmp_path / "s.h5", "w") as f:
        f.create_dataset("x", data=data, chunks=(2, 4, 3))
    src = HDF5Source(f"{tmp_path / 's.h5'}:/x")
    np.testing.assert_array_equal(src[[4, 1, 1, 5]], data[[4, 1, 1, 5]])
    np.testing.assert_array_equal(src[2:5], data[2:5])
    np.testing.assert_array_equal(src[-1], data[-1])
    np.testing.assert_array_equal(np.asarray(src), data)
    np.testing.assert_array_equal(src[::-2], data[::-2])
    with pytest.raises(IndexError, match="out of range for 6 samples"):
        src[[0, 6]]
    # A copy in another process (a DataLoader worker) opens its own handle.
    clone = pickle.loads(pickle.dumps(src))
    np.testing.assert_array_equal(clone[[0, 3]], data[[0, 3]])
    two = HDF5Source(f"{tmp_path / 's.h5'}:/x", sample_axes=2)
    assert (len(two), two.sample_shape) == (24, (3,))
    np.testing.assert_array_equal(two[[5, 0]], data.reshape(24, 3)[[5, 0]])


def test_mistakes_are_one_clear_line(tmp_path, monkeypatch):
    path = shared_file(FOCUS)
    with pytest.raises(ValueError, match=r"has no dataset '/entry1/nope'; its array datasets: \["):
        read_array(f"{path}:/entry1/nope")
    with pytest.raises(ValueError, match="no axes are left for a sample"):
        HDF5Source(f"{path}:/entry1/FOCUS/merged/counts", sample_axes=2)
    with pytest.raises(FileNotFoundError, match="no file at"):
        read_hdf5(tmp_path / "missing.h5")
    (tmp_path / "fake.h5").write_text("not HDF5")
    with pytest.raises(ValueError, match="is not a readable HDF5 file"):
        read_hdf5(tmp_path / "fake.h5")
    with h5py.File(tmp_path / "two.h5", "w") as f:
        f["a"], f["b"] = np.ones((3, 4)), np.ones((5, 6))
    with pytest.raises(ValueError, match=r"no NeXus default data; name a dataset as .*'/b', '/a'"):
        read_hdf5(tmp_path / "two.h5")
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"aekit\[hdf5\]"):
        read_hdf5(tmp_path / "two.h5:/a")


def test_split_source():
    assert split_source("a/b.nxs:/entry/data") == (split_source("a/b.nxs")[0], "/entry/data")
    assert split_source("x.csv") is None and split_source("x.H5")[1] is None


def test_the_command_line_trains_and_encodes_nexus_spectra(tmp_path, capsys):
    source = f"{shared_file(FOCUS)}:/entry1/FOCUS/merged/counts"
    argv = ["train", source, "--architecture", "conv", "--latent-dim", "4", "--epochs", "2"]
    assert main([*argv, "--seed", "0", "--quiet", "--out", str(tmp_path / "m")]) == 0
    err = capsys.readouterr().err
    assert "/entry1/FOCUS/merged/counts (named): 375 samples of 713 int32 values" in err
    assert main(["encode", str(tmp_path / "m"), source, "--out", str(tmp_path / "z.npy")]) == 0
    assert np.load(tmp_path / "z.npy").shape == (375, 4)
    assert main(["train", f"{shared_file(FOCUS)}:/nope", "--out", str(tmp_path / "x")]) == 1
    assert "has no dataset '/nope'" in capsys.readouterr().err


def test_info_previews_an_hdf5_source(capsys):
    assert main(["info", str(shared_file(SAXS))]) == 0
    out = capsys.readouterr().out
    assert "/entry/data/frames (NeXus default): 10 samples of 195 x 487 int32 values" in out
