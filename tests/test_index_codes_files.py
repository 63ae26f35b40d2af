"""Index directories, codes files, ONNX exports and task outputs under careless and hostile use
(issue 14, points 1 and 11, and atomic, checked outputs for every task that writes files).

Each test failed on the code before the fix: an index save wiped a directory that merely held
an ``index.json``; a killed save left no index at the path; hostile codes and index files were
decompressed or allocated in full, or hung on a FIFO; outputs went into foreign folders and
files, and the demo trained before refusing its folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aekit import VAE, Autoencoder
from aekit.cli import demo as demo_module
from aekit.io import atomic
from aekit.tasks import LatentIndex, generate, load_codes, quantize, save_codes
from aekit.tasks.compression import check_codes_output
from aekit.tasks.retrieval import check_index_output

# A hostile file must be refused fast and with little memory: far below what reading it in
# full would take (seconds and gigabytes), far above what the checks need (kilobytes).
FAST_S = 2.0
SMALL_BYTES = 16 * 1024 * 1024


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    return np.random.default_rng(0).random((40, 6)).astype(np.float32)


@pytest.fixture(scope="module")
def ae(X: np.ndarray) -> Autoencoder:
    return Autoencoder(latent_dim=2, hidden=(4,), epochs=1, random_state=0, verbose=False).fit(X)


@pytest.fixture(scope="module")
def vae() -> VAE:
    images = np.random.default_rng(1).random((30, 4, 4)).astype(np.float32)
    return VAE(latent_dim=2, hidden=(4,), epochs=1, random_state=0, verbose=False).fit(images)


def refused_cheaply(load: Callable[[], Any], match: str) -> None:
    """``load()`` raises ValueError matching ``match``, within FAST_S and SMALL_BYTES."""
    tracemalloc.start()  # numpy reports its buffers to tracemalloc, so big arrays show up
    start = time.perf_counter()
    try:
        with pytest.raises(ValueError, match=match):
            load()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < FAST_S
    assert peak < SMALL_BYTES


def refused_without_blocking(load: Callable[[], Any], fifo: Path, match: str) -> None:
    """``load()`` on a path with a FIFO in it raises ValueError at once instead of blocking."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            load()
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)
        else:
            outcome.append(None)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(FAST_S)
    if thread.is_alive():  # blocked in open(): a writer releases it, then fail
        with open(fifo, "wb"):
            pass
        thread.join(FAST_S)
        pytest.fail(f"reading {fifo} blocked on the FIFO")
    assert isinstance(outcome[0], ValueError), outcome
    assert match in str(outcome[0])


def make_fifo(path: Path) -> Path:
    """A FIFO at ``path``; the rest of the test is skipped where there are none (Windows)."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    os.mkfifo(path)
    return path


def dead_pid() -> int:
    """The id of a process that has exited (so its leftovers count as a dead writer's)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def npy_bytes(header: dict[str, Any], data: bytes = b"") -> bytes:
    """An .npy file with the given header dict and raw data, however inconsistent."""
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + data


# ------------------------------------------------------------------------------ point 1
def test_point1_index_save_replaces_only_an_index_and_load_recovers_a_killed_swap(
    ae: Autoencoder, X: np.ndarray, tmp_path: Path
) -> None:
    # The reproduction: a project folder with an unrelated index.json.
    project = tmp_path / "P"
    (project / "src").mkdir(parents=True)
    (project / "index.json").write_text("{}")
    (project / "src" / "app.js").write_text("x")
    index = LatentIndex(ae).add(X)
    with pytest.raises(ValueError, match="not an aekit index; not replacing it"):
        index.save(project)
    with pytest.raises(ValueError, match="not an aekit index"):  # before any encoding
        check_index_output(project)
    assert (project / "src" / "app.js").read_text() == "x"

    # A real index with one foreign file in it is not "recognisably an index" either.
    path = index.save(tmp_path / "index")
    (path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not an aekit index"):
        LatentIndex(ae).add(X[:5]).save(path)
    assert (path / "notes.txt").read_text() == "mine"
    (path / "notes.txt").unlink()
    assert len(LatentIndex(ae).add(X[:5]).save(path) and LatentIndex.load(path)) == 5
    assert check_index_output(path) == path

    # A save killed between its two renames: the index sits under a dead writer's name.
    left = path.with_name(f".{path.name}.aekit-old-{atomic._host()}-{dead_pid()}-0123abcd")
    os.replace(path, left)
    assert len(LatentIndex.load(path)) == 5
    assert path.is_dir() and not left.exists()


# ----------------------------------------------------------------------------- point 11
def codes_npz(path: Path, extra: dict[str, tuple[bytes, int]] | None = None) -> Path:
    """A valid int8 codes file, plus members name -> (bytes, zip compression)."""
    save_codes(path, quantize(np.random.default_rng(0).normal(size=(10, 3)), "int8"))
    with zipfile.ZipFile(path, "a") as archive:
        for name, (data, compression) in (extra or {}).items():
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return path


def test_point11_hostile_codes_files_are_refused_from_their_headers(tmp_path: Path) -> None:
    # One extra key, a bomb: 256 MiB of zeros deflated to a few hundred kilobytes, which
    # np.load decompressed in full.
    bomb = np.lib.format.header_data_from_array_1_0(np.zeros(1, np.uint8))
    bomb["shape"] = (256 << 20,)
    data = npy_bytes(bomb, bytes(256 << 20))
    path = codes_npz(tmp_path / "extra.npz", {"junk.npy": (data, zipfile.ZIP_DEFLATED)})
    del data
    assert path.stat().st_size < 2_000_000
    refused_cheaply(lambda: load_codes(path), "'junk.npy', which the format does not define")

    # The codes themselves as such a bomb: refused as compressed, never inflated.
    base = tmp_path / "base.npz"
    codes_npz(base)
    with zipfile.ZipFile(base) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    header = {"shape": (64 << 20, 1), "fortran_order": False, "descr": "|i1"}
    members["codes.npy"] = npy_bytes(header, bytes(64 << 20))
    bombed = tmp_path / "bombed.npz"
    with zipfile.ZipFile(bombed, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    refused_cheaply(lambda: load_codes(bombed), "compressed")

    # An absurd shape in a stored member's header: refused before allocating 8 TB.
    members["codes.npy"] = npy_bytes({**header, "shape": (10**12, 8)}, bytes(80))
    absurd = tmp_path / "absurd.npz"
    with zipfile.ZipFile(absurd, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    refused_cheaply(lambda: load_codes(absurd), "announces 8000000000000 bytes of data")

    # A FIFO in place of the file.
    fifo = make_fifo(tmp_path / "fifo.npz")
    refused_without_blocking(lambda: load_codes(fifo), fifo, "not a regular file")


def test_point11_hostile_index_files_are_refused_from_their_headers(
    ae: Autoencoder, X: np.ndarray, tmp_path: Path
) -> None:
    path = LatentIndex(ae).add(X).save(tmp_path / "index")
    meta = json.loads((path / "index.json").read_text())
    codes = np.load(path / "codes.npy")

    # index.json announces 10^12 codes and codes.npy's header agrees, in a file of 100 bytes:
    # np.load allocated them all (MemoryError, or gigabytes on a machine that overcommits).
    (path / "index.json").write_text(json.dumps({**meta, "count": 10**12}))
    header = np.lib.format.header_data_from_array_1_0(codes)
    (path / "codes.npy").write_bytes(npy_bytes({**header, "shape": (10**12, 2)}, bytes(100)))
    refused_cheaply(lambda: LatentIndex.load(path), "is damaged: 228 bytes where")

    # A truncated codes.npy whose header matches index.json.
    (path / "index.json").write_text(json.dumps(meta))
    np.save(path / "codes.npy", codes)
    (path / "codes.npy").write_bytes((path / "codes.npy").read_bytes()[:-4])
    refused_cheaply(lambda: LatentIndex.load(path), "is damaged")
    np.save(path / "codes.npy", codes)
    assert len(LatentIndex.load(path)) == len(X)

    # index.json: bounded in size (2 MB of padding), and deep nesting is "damaged".
    (path / "index.json").write_text(json.dumps({**meta, "pad": " " * 2_000_000}))
    refused_cheaply(lambda: LatentIndex.load(path), "larger than")
    (path / "index.json").write_text("[" * 200_000 + "]" * 200_000)
    refused_cheaply(lambda: LatentIndex.load(path), "index.json is damaged")

    # FIFOs in place of index.json and codes.npy.
    (path / "index.json").unlink()
    make_fifo(path / "index.json")
    refused_without_blocking(
        lambda: LatentIndex.load(path), path / "index.json", "not a regular file"
    )
    (path / "index.json").unlink()
    (path / "index.json").write_text(json.dumps(meta))
    (path / "codes.npy").unlink()
    make_fifo(path / "codes.npy")
    refused_without_blocking(
        lambda: LatentIndex.load(path), path / "codes.npy", "not a regular file"
    )


# ------------------------------------------------------------- atomic, checked outputs
def test_outputs_are_checked_before_work_and_foreign_ones_never_replaced(
    ae: Autoencoder, vae: VAE, X: np.ndarray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Codes: only an earlier codes file is replaced; someone's .npz is not.
    data = tmp_path / "data.npz"
    np.savez(data, X=X)
    q = quantize(ae.transform(X))
    with pytest.raises(ValueError, match="exists and is not a file of aekit codes"):
        save_codes(data, q)
    with pytest.raises(ValueError, match="exists and is not a file of aekit codes"):
        check_codes_output(data)
    np.testing.assert_array_equal(np.load(data)["X"], X)
    codes = save_codes(tmp_path / "codes.npz", q)
    save_codes(codes, quantize(ae.transform(X[:3])))  # an earlier codes file: replaced
    assert load_codes(codes).codes.shape == (3, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["codes.npz", "data.npz"]

    # generate: a folder with other files is refused before anything is drawn.
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "cat.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(ValueError, match="not an output of aekit generate"):
        generate(vae, 4, out=folder)
    assert sorted(p.name for p in folder.iterdir()) == ["cat.jpg"]
    out = tmp_path / "gen"
    generate(vae, 4, out=out, random_state=0)
    result = generate(vae, 5, out=out, random_state=0, figures=False)  # replaces it whole
    assert sorted(p.name for p in out.iterdir()) == ["interpolation.npy", "samples.npy"]
    assert np.load(result.files["samples.npy"]).shape == (5, 4, 4)

    # demo: a foreign folder is refused before 400 epochs of training.
    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("the demo trained before checking its folder")

    monkeypatch.setattr(Autoencoder, "fit", no_training)
    with pytest.raises(ValueError, match="not an output of aekit demo"):
        demo_module.run_demo(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["cat.jpg"]
    # An earlier demo's output (a model, the pictures, the report) is what it may replace.
    earlier = tmp_path / "demo"
    ae.save(earlier / "model")
    for name in ("reconstructions.png", "latent_map.png", "report.html"):
        (earlier / name).write_bytes(b"")
    assert demo_module.check_demo_output(earlier) == earlier
    (earlier / "model" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not an output of aekit demo"):
        demo_module.check_demo_output(earlier)
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_onnx_export_refuses_foreign_folders_and_leaves_nothing_on_failure(
    ae: Autoencoder, X: np.ndarray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from aekit.io import onnx as onnx_module
    from aekit.io.onnx import ExportCheckError, export_onnx

    # A folder of the user's is refused before the model is even loaded.
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not an aekit ONNX export; not replacing it"):
        export_onnx(tmp_path / "no-model", folder)
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]

    # A failed export into a new folder leaves nothing behind; an earlier export stays whole.
    out = tmp_path / "onnx"
    transform = Autoencoder.transform
    monkeypatch.setattr(onnx_module, "CHECK_SAMPLES", 4)
    monkeypatch.setattr(Autoencoder, "transform", lambda self, X: transform(self, X) + 1.0)
    with pytest.raises(ExportCheckError):
        export_onnx(ae, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]
    monkeypatch.undo()
    first = export_onnx(ae, out, check=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    monkeypatch.setattr(Autoencoder, "transform", lambda self, X: transform(self, X) + 1.0)
    with pytest.raises(ExportCheckError):
        export_onnx(ae, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert first.manifest == out / "export.json"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["onnx", "project"]


def test_changed_codes_in_an_index_are_refused_by_their_checksum(
    ae: Autoencoder, X: np.ndarray, tmp_path: Path
) -> None:
    # A flipped byte in codes.npy's data passes its header and size checks; the SHA-256 that
    # index.json records catches it. An index saved without the field still loads.
    path = LatentIndex(ae).add(X).save(tmp_path / "index")
    codes_file = path / "codes.npy"
    raw = bytearray(codes_file.read_bytes())
    raw[-3] ^= 0x01  # a mantissa bit of the last code: still finite, float32, same shape
    codes_file.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="SHA-256"):
        LatentIndex.load(path)
    meta = json.loads((path / "index.json").read_text())
    del meta["codes_sha256"]
    (path / "index.json").write_text(json.dumps(meta))
    assert len(LatentIndex.load(path)) == len(X)
