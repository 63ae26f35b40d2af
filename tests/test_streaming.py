"""Training and inference on data that is not in memory: statistics in one pass, the memory
budget, streamed batches shuffled by chunks, chunked inference, and the in-memory path's one
float32 copy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aekit import VAE, Autoencoder
from aekit._lazy import LazyArray, is_lazy
from aekit._validation import parse_bytes
from aekit.data import FeatureStats, fit_scaling, scaled_in_unit_interval
from aekit.datasets import load_digits
from aekit.estimators import _streaming
from aekit.estimators._streaming import ArrayRows, memory_budget, streamed
from aekit.training.streaming import StreamSource, default_workers


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    X, _ = load_digits()
    return np.asarray(X, dtype=np.float32)


class Counting(ArrayRows):
    """A lazy source that counts the samples read, to show what a fit reads and when."""

    def __init__(self, array: np.ndarray) -> None:
        super().__init__(array)
        self.chunk_rows = 7
        self.read = 0

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        out = super().__getitem__(index)
        self.read += len(out)
        return out


# ------------------------------------------------------------------ statistics in one pass
def test_feature_stats_match_numpy_whatever_the_chunks() -> None:
    rng = np.random.default_rng(0)
    X = (rng.normal(1e4, 3.0, size=(1000, 5))).astype(np.float32)  # far from 0: M2 must hold
    for chunk in (1, 7, 1000):
        stats = FeatureStats.of(X, chunk_rows=chunk)
        X64 = X.astype(np.float64)
        # Chan's merge against numpy's two-pass formulas: equal up to float64 rounding.
        np.testing.assert_allclose(stats.mean, X64.mean(0), rtol=1e-12)
        np.testing.assert_allclose(stats.std, X64.std(0), rtol=1e-9)
        np.testing.assert_array_equal(stats.min, X64.min(0))
        np.testing.assert_array_equal(stats.max, X64.max(0))


def test_pooled_stats_are_those_of_all_the_groups_values() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 6)).astype(np.float32) * np.arange(1, 7, dtype=np.float32)
    groups = np.array([0, 0, 0, 1, 1, 1])
    pooled = FeatureStats.of(X, chunk_rows=50).pooled(groups)
    for g in (0, 1):
        values = X[:, groups == g].astype(np.float64).ravel()
        np.testing.assert_allclose(pooled.mean[groups == g], values.mean(), rtol=1e-12)
        np.testing.assert_allclose(pooled.std[groups == g], values.std(), rtol=1e-9)
        assert pooled.max[groups == g][0] == values.max()


def test_fit_scaling_from_stats_equals_from_rows_and_bounds_are_exact() -> None:
    X = np.array([[0, 10], [255, 20]], dtype=np.float32)
    stats = FeatureStats.of(X)
    for kind in ("standard", "minmax", "center"):
        a, b = fit_scaling(X, kind), fit_scaling(stats, kind)
        np.testing.assert_array_equal(a.offset, b.offset)
        np.testing.assert_array_equal(a.scale, b.scale)
    minmax = fit_scaling(stats, "minmax")
    assert scaled_in_unit_interval(minmax, stats)  # min -> 0 and max -> 1 exactly
    assert not scaled_in_unit_interval(fit_scaling(stats, "standard"), stats)


# ------------------------------------------------------------------ the memory budget
def test_max_memory_takes_sizes_with_units_and_refuses_others() -> None:
    assert parse_bytes("2GB") == 2 * 10**9 and parse_bytes("512 MiB") == 512 * 2**20
    assert memory_budget(1000) == 1000 and memory_budget("auto") > 0
    with pytest.raises(ValueError, match=r"^max_memory must be 'auto' or a size in bytes"):
        Autoencoder(max_memory="lots").fit(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="max_memory"):
        Autoencoder(max_memory=-1).fit(np.zeros((4, 3)))


def test_what_streams_lazy_sources_and_arrays_over_the_budget(digits) -> None:
    assert streamed(digits, budget=10**9) is None  # an array within the budget: in memory
    assert is_lazy(streamed(digits, budget=0))  # over it: streamed from where it lies
    source = ArrayRows(digits)
    assert isinstance(source, LazyArray)
    assert streamed(source, budget=10**9) is None  # a file that fits: loaded once
    assert streamed(source, budget=0) is source


# ------------------------------------------------------------------ the stream
def _source(n: int, batch_size: int, chunk: int = 5) -> StreamSource:
    data = Counting(np.arange(n, dtype=np.float32)[:, None] * np.ones(3, dtype=np.float32))
    data.chunk_rows = chunk
    return StreamSource(
        data, np.arange(n), _streaming.ScaledRows(None), torch.device("cpu"), batch_size, 0
    )


def test_an_epoch_serves_every_sample_once_in_chunk_shuffled_order() -> None:
    torch.manual_seed(0)
    source = _source(103, batch_size=8)
    order = source.order()
    assert sorted(order.tolist()) == list(range(103))
    assert order.tolist() != list(range(103))  # shuffled
    window = source.window_batches * 8
    assert window == 40  # 8 chunks of 5 samples: 5 batches of 8
    # A window holds whole chunks (one may be the short last one): its samples come from
    # window / chunk chunks, or one more.
    first = order[:window].numpy()
    assert len(np.unique(first // 5)) <= window // 5 + 1
    batches = [b[0][:, 0].long().tolist() for b in source.batches(order, 8)]
    assert [len(b) for b in batches] == [8] * 12 + [7]
    assert [i for b in batches for i in b] == order.tolist()  # the batches follow the order exactly


def test_batches_from_a_later_batch_are_the_rest_of_the_epoch() -> None:
    torch.manual_seed(1)
    source = _source(61, batch_size=4, chunk=3)
    order = source.order()
    every = [b[0] for b in source.batches(order, 4)]
    for start in (0, 1, 5, 9, 15):
        rest = [b[0] for b in source.batches(order, 4, start)]
        assert len(rest) == len(every) - start
        assert all(torch.equal(a, b) for a, b in zip(rest, every[start:], strict=True))


def test_evaluation_reads_in_file_order(digits) -> None:
    source = _source(10, batch_size=4)
    rows = torch.cat([b[0] for b in source.batches(None, 4)])[:, 0]
    assert rows.tolist() == list(range(10))


def test_default_readers_leave_a_core_to_training() -> None:
    import os

    assert default_workers() == max(0, min(4, (os.cpu_count() or 1) - 1))


def test_reader_processes_give_the_same_batches() -> None:
    torch.manual_seed(2)
    source = _source(50, batch_size=6)
    order = source.order()
    alone = [b[0] for b in source.batches(order, 6)]
    source.workers = 1
    workers = [b[0] for b in source.batches(order, 6)]
    assert all(torch.equal(a, b) for a, b in zip(alone, workers, strict=True))


# ------------------------------------------------------------------ fits
@pytest.mark.parametrize("architecture", ["dense", "conv"])
def test_a_streamed_fit_scales_as_in_memory_and_learns(monkeypatch, digits, architecture) -> None:
    # Reads counted in this process (reader processes count their own).
    monkeypatch.setattr("aekit.training.streaming.default_workers", lambda: 0)
    X = digits * 16  # not in [0, 1]: z-scored, so the scaling is fitted
    params = dict(architecture=architecture, latent_dim=8, epochs=4, random_state=0, verbose=False)
    memory = Autoencoder(**params).fit(X)
    source = Counting(X)
    stream = Autoencoder(**params, max_memory=0).fit(source)
    # Same statistics (the same chunks, in memory or read from the file): bit for bit.
    np.testing.assert_array_equal(stream.scaling_.offset, memory.scaling_.offset)
    np.testing.assert_array_equal(stream.scaling_.scale, memory.scaling_.scale)
    assert stream.input_shape_ == memory.input_shape_ == (8, 8)
    # One pass for the statistics, then per epoch the training and validation rows.
    assert source.read == len(X) * (1 + 4)
    # Another order of batches, the same learning: the losses agree within 5% after 4 epochs.
    a, b = memory.history_[-1]["val_loss"], stream.history_[-1]["val_loss"]
    assert abs(a - b) < 0.05 * a
    # It learned: well below the mean image's error, in the network's (scaled) units.
    scaled = stream.scaling_.transform(X.reshape(len(X), -1))
    baseline = float(((scaled - scaled.mean(0)) ** 2).mean())
    assert b < 0.85 * baseline
    # Chunked inference on the source gives the in-memory result bit for bit.
    np.testing.assert_array_equal(stream.transform(source), stream.transform(X))


def test_a_file_source_within_the_budget_is_read_once_into_memory(digits) -> None:
    source = Counting(digits)
    Autoencoder(latent_dim=4, epochs=3, random_state=0, verbose=False).fit(source)
    assert source.read == len(digits)


def test_inference_in_chunks_is_bit_identical(monkeypatch, digits) -> None:
    ae = Autoencoder(architecture="conv", latent_dim=4, epochs=1, random_state=0, verbose=False)
    ae.fit(digits)
    whole = {
        m: getattr(ae, m)(digits) for m in ("transform", "reconstruct", "reconstruction_error")
    }
    monkeypatch.setattr(_streaming, "chunk_rows", lambda n_features: 100)  # 18 chunks
    for method, expected in whole.items():
        np.testing.assert_array_equal(getattr(ae, method)(ArrayRows(digits)), expected)
    with pytest.raises(ValueError, match="expecting 64 features"):
        ae.transform(ArrayRows(np.zeros((3, 5), np.float32)))


def test_nan_in_a_streamed_file_is_named_by_sample(digits) -> None:
    X = digits.copy()
    X[1234, 3, 3] = np.nan
    with pytest.raises(ValueError, match=r"NaN .* in sample 1234"):
        Autoencoder(epochs=1, max_memory=0, verbose=False).fit(ArrayRows(X))


def test_the_callers_float32_array_is_never_scaled_in_place(digits) -> None:
    X = digits * 16  # float32, C-contiguous: validation returns it as it is
    before = X.copy()
    ae = Autoencoder(latent_dim=4, epochs=1, random_state=0, verbose=False).fit(X)
    assert ae.scaling_ is not None and ae.scaling_.kind == "standard"
    np.testing.assert_array_equal(X, before)
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame(X.reshape(len(X), -1))
    Autoencoder(latent_dim=4, epochs=1, random_state=0, verbose=False).fit(frame)
    np.testing.assert_array_equal(frame.to_numpy(), before.reshape(len(X), -1))


def test_a_vae_that_binarizes_streams_with_fixed_validation_rows(digits) -> None:
    vae = VAE(
        latent_dim=2, epochs=2, binarize="dynamic", random_state=0, verbose=False, max_memory=0
    )
    vae.fit(ArrayRows(digits))
    assert len(vae.history_) == 2 and np.isfinite(vae.history_[-1]["val_loss"])


# ------------------------------------------------------------------ checkpoints
class _Crash(Exception):
    pass


def test_a_streamed_fit_interrupted_mid_epoch_resumes_to_the_same_bits(
    monkeypatch, digits, tmp_path, ctrl_c_raises
) -> None:
    import os
    import signal

    from aekit.training import Callback, engine

    params = dict(architecture="conv", latent_dim=4, epochs=3, random_state=0, verbose=False)
    params["max_memory"] = 0
    X = digits[:600]
    reference = Autoencoder(**params).fit(ArrayRows(X))

    class CtrlC(Callback):  # a real SIGINT after 25 batches: inside the second epoch
        seen = 0

        def on_after_backward(self, state):  # type: ignore[no-untyped-def]
            CtrlC.seen += 1
            if CtrlC.seen == 25:
                os.kill(os.getpid(), signal.SIGINT)

    real = engine.default_callbacks
    with monkeypatch.context() as patch:
        patch.setattr(engine, "default_callbacks", lambda config: [*real(config), CtrlC()])
        with pytest.warns(RuntimeWarning, match="interrupted"):
            Autoencoder(**params).fit(ArrayRows(X), checkpoint=tmp_path / "ck")
    resumed = Autoencoder(**params).fit(ArrayRows(X), checkpoint=tmp_path / "ck", resume=True)
    for a, b in zip(
        resumed.module_.state_dict().values(), reference.module_.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)


# ------------------------------------------------------------------ the command line
def _cli(argv, capsys):  # type: ignore[no-untyped-def]
    from aekit.cli import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_aekit_train_streams_a_npy_over_its_budget_and_encode_reads_it_in_chunks(
    digits, tmp_path, capsys
) -> None:
    data = tmp_path / "d.npy"
    np.save(data, digits * 16)
    fast = ["--epochs", "2", "--seed", "0", "--quiet", "--latent-dim", "4"]
    code, _, err = _cli(
        ["train", data, "--out", tmp_path / "m", "--max-memory", "0", *fast], capsys
    )
    assert code == 0, err
    assert "read by rows" not in err  # a .npy is read without a word
    code, _, err = _cli(["encode", tmp_path / "m", data, "--out", tmp_path / "z.npy"], capsys)
    assert code == 0, err
    model = __import__("aekit").load(tmp_path / "m")
    np.testing.assert_array_equal(np.load(tmp_path / "z.npy"), model.transform(digits * 16))
    with pytest.raises(SystemExit) as exc:  # argparse's exit: status 2 and one line
        _cli(["train", data, "--out", tmp_path / "m2", "--max-memory", "lots"], capsys)
    assert exc.value.code == 2
    assert "argument --max-memory: expected a size such as 8GB" in capsys.readouterr().err


def test_sample_axes_on_the_command_line(tmp_path, capsys) -> None:
    from conftest import shared_file

    saxs = shared_file("nexus/nexus-example.hdf5")
    fast = ["--epochs", "1", "--seed", "0", "--quiet", "--latent-dim", "2"]
    code, _, err = _cli(
        ["train", saxs, "--sample-axes", "2", "--out", tmp_path / "m", *fast], capsys
    )
    assert code == 0, err
    assert "1950 samples of 487 int32 values" in err  # 10 frames x 195 rows
    assert __import__("aekit").load(tmp_path / "m").input_shape_ == (487,)
    table = tmp_path / "t.csv"
    table.write_text("a,b\n1,2\n3,4\n")
    code, _out, err = _cli(["train", table, "--sample-axes", "2", "--out", tmp_path / "x"], capsys)
    assert code == 1 and "--sample-axes applies to HDF5, zarr and .npy arrays" in err


# ------------------------------------------------------------------ inference to a file
@pytest.mark.parametrize("suffix", [".npy", ".h5", ".parquet"])
def test_infer_to_file_writes_what_the_method_returns(
    monkeypatch, digits, tmp_path, suffix
) -> None:
    from aekit.tasks import infer_to_file

    ae = Autoencoder(architecture="conv", latent_dim=3, epochs=1, random_state=0, verbose=False)
    ae.fit(digits)
    monkeypatch.setattr("aekit.tasks.outputs.chunk_rows", lambda n_features: 500)  # 4 chunks
    for method in ("transform", "reconstruction_error"):
        path = infer_to_file(ae, method, ArrayRows(digits), tmp_path / f"{method}{suffix}")
        expected = getattr(ae, method)(digits)
        if suffix == ".npy":
            got = np.load(path)
        elif suffix == ".h5":
            import h5py

            with h5py.File(path) as f:
                got = f["data"][()]
        else:
            import pyarrow.parquet as pq

            table = pq.read_table(path)
            assert table.num_rows == len(digits)
            assert pq.ParquetFile(path).num_row_groups == 4  # a row group per chunk
            got = table.to_pandas().to_numpy().reshape(expected.shape)
        np.testing.assert_array_equal(got, expected)  # batch-independent: the same bits
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{m}{suffix}" for m in ("transform", "reconstruction_error")
    )  # no temporary file left


def test_infer_to_file_refuses_mistakes_and_leaves_nothing(digits, tmp_path) -> None:
    from aekit.tasks import infer_to_file

    ae = Autoencoder(latent_dim=2, epochs=1, random_state=0, verbose=False).fit(digits)
    with pytest.raises(ValueError, match=r"written to \.npy, \.h5, \.hdf5, \.parquet files"):
        infer_to_file(ae, "transform", digits, tmp_path / "z.csv")
    with pytest.raises(ValueError, match="no inference method '_scale'"):
        infer_to_file(ae, "_scale", digits, tmp_path / "z.npy")
    bad = digits.copy()
    bad[1500, 0, 0] = np.nan  # in the last chunk: the first chunks were written already
    with pytest.raises(ValueError, match="NaN"):
        infer_to_file(ae, "transform", ArrayRows(bad), tmp_path / "z.npy")
    assert list(tmp_path.iterdir()) == []  # written beside it and renamed only at the end


def test_a_read_only_memmap_within_the_budget_trains_from_one_copy(digits, tmp_path) -> None:
    import warnings

    path = tmp_path / "d.npy"
    np.save(path, digits)  # in [0, 1]: not scaled, so validation alone would not copy it
    X = np.load(path, mmap_mode="r")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns on non-writable memory
        ae = Autoencoder(latent_dim=2, epochs=1, random_state=0, verbose=False).fit(X)
    assert ae.scaling_ is None
    np.testing.assert_array_equal(ae.transform(X), ae.transform(digits))
