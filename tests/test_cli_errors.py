"""The command line under careless and hostile use (issue 14, points 2, 3, 5, 12b, 14, 15):
no output destroys an input, every output is checked before any work, outputs are written
whole or not at all, every verb names the model kinds it takes, and every error is one line.

Run in-process through `aekit.cli.main(argv)` on tiny models (one epoch on 60 digits).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import aekit
from aekit import VAE, AnomalyDetector, Autoencoder, AutoencoderClassifier
from aekit.cli import main
from aekit.cli._common import ACCEPTS
from aekit.datasets import files as dataset_files
from aekit.datasets import load_digits
from aekit.tasks import LatentIndex
from aekit.tasks.compression import compress, save_codes
from aekit.training import resolve_device

KINDS = {
    "Autoencoder": lambda: Autoencoder(latent_dim=2, hidden=(8,), epochs=1),
    "VAE": lambda: VAE(latent_dim=2, hidden=(8,), epochs=1),
    "AutoencoderClassifier": lambda: AutoencoderClassifier(
        hidden=(8, 2), pretrain_epochs=1, epochs=1
    ),
    "AnomalyDetector": lambda: AnomalyDetector(latent_dim=2, hidden=(8,), epochs=1),
}


def run_cli(argv: list[object], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line(rc: int, err: str, verb: str) -> str:
    """A user's mistake: exit 1 and one line `aekit VERB: error: ...`, no traceback."""
    assert rc == 1, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"aekit {verb}: error: "), err
    assert "unexpected" not in lines[0], err  # an internal error, not a named mistake
    return lines[0]


def digest(path: Path) -> str:
    """A fingerprint of a file or of every file under a folder."""
    h = hashlib.sha256()
    for p in sorted([path] if path.is_file() else path.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(path.parent)).encode() + p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One saved model of each kind (one epoch), an index, a codes file and a data file."""
    root = tmp_path_factory.mktemp("zoo")
    X, y = load_digits()
    X, y = X[:60], y[:60]
    np.save(root / "X.npy", X)
    paths = {"X": root / "X.npy"}
    for name, make in KINDS.items():
        est = make().set_params(random_state=0, verbose=False)
        if name == "AutoencoderClassifier":
            est.fit(X, y)
        else:
            est.fit(X)
        paths[name] = est.save(root / name)
    ae = aekit.load(paths["Autoencoder"])
    paths["index"] = LatentIndex(ae).add(X).save(root / "index")
    paths["codes"] = save_codes(root / "codes.npz", compress(ae, X))
    return paths


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return spy_on_reads(monkeypatch)


def spy_on_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every .npy data file read (by any verb, old or new code) and refuse it, so a
    test can tell whether the verb did any work before refusing an output."""
    seen: list[str] = []

    def spy(path: Path, key: object = None) -> np.ndarray:
        seen.append(str(path))
        raise ValueError(f"test: {path} was read")

    monkeypatch.setitem(dataset_files.READERS, ".npy", spy)
    return seen


# ------------------------------------------------------------- point 2: --out vs inputs
def _out_is_the_data(z: dict[str, Path], tmp: Path) -> tuple[list[object], Path]:
    data = tmp / "X.npy"
    data.write_bytes(z["X"].read_bytes())
    return ["reconstruct", z["Autoencoder"], data, "--out", data], data


def _out_links_to_the_data(z: dict[str, Path], tmp: Path) -> tuple[list[object], Path]:
    data = tmp / "X.npy"
    data.write_bytes(z["X"].read_bytes())
    (tmp / "link.npy").symlink_to(data)
    return ["encode", z["Autoencoder"], data, "--out", tmp / "link.npy"], data


def _out_is_a_hard_link_to_the_data(z: dict[str, Path], tmp: Path) -> tuple[list[object], Path]:
    data = tmp / "X.npy"
    data.write_bytes(z["X"].read_bytes())
    os.link(data, tmp / "same.npy")
    return ["encode", z["Autoencoder"], tmp / "same.npy", "--out", data], data


def _report_over_the_config(z: dict[str, Path], tmp: Path) -> tuple[list[object], Path]:
    return ["report", z["Autoencoder"], "--out", z["Autoencoder"] / "config.json"], z["Autoencoder"]


def _report_into_the_model(z: dict[str, Path], tmp: Path) -> tuple[list[object], Path]:
    return ["report", z["VAE"], "--out", z["VAE"] / "other.html"], z["VAE"]


def _codes_into_the_model(z: dict[str, Path], tmp: Path) -> tuple[list[object], Path]:
    model = z["Autoencoder"]
    return ["encode", model, z["X"], "--out", model / "../Autoencoder/codes.npy"], model


def _results_into_the_index(z: dict[str, Path], tmp: Path) -> tuple[list[object], Path]:
    return ["search", z["index"], z["X"], "--out", z["index"] / "model" / "r.csv"], z["index"]


def _index_over_its_model(z: dict[str, Path], tmp: Path) -> tuple[list[object], Path]:
    return ["index", z["Autoencoder"], z["X"], "--out", z["Autoencoder"]], z["Autoencoder"]


def _export_into_the_model(z: dict[str, Path], tmp: Path) -> tuple[list[object], Path]:
    return ["export", z["Autoencoder"], "--out", z["Autoencoder"], "--no-check"], z["Autoencoder"]


def _generate_over_its_data(z: dict[str, Path], tmp: Path) -> tuple[list[object], Path]:
    data = tmp / "samples.npy"
    data.write_bytes(z["X"].read_bytes())
    return ["generate", z["VAE"], "--out", tmp, "--data", data], data


def _train_over_a_model_holding_its_data(
    z: dict[str, Path], tmp: Path
) -> tuple[list[object], Path]:
    model = aekit.load(z["Autoencoder"]).save(tmp / "m")
    data = model / "X.npy"
    data.write_bytes(z["X"].read_bytes())
    return ["train", data, "--out", model, "--epochs", "1", "--quiet"], data


def _decompress_over_the_codes(z: dict[str, Path], tmp: Path) -> tuple[list[object], Path]:
    codes = tmp / "codes.csv"
    codes.write_text("1,2\n")
    return ["decompress", z["Autoencoder"], codes, "--out", codes], codes


def _two_outputs_one_file(z: dict[str, Path], tmp: Path) -> tuple[list[object], Path]:
    argv = ["reconstruct", z["Autoencoder"], z["X"], "--out", tmp / "r.npy"]
    return [*argv, "--errors", tmp / "sub/../r.npy"], z["X"]


def _out_is_a_directory(z: dict[str, Path], tmp: Path) -> tuple[list[object], Path]:
    (tmp / "codes.npy").mkdir()
    return ["encode", z["Autoencoder"], z["X"], "--out", tmp / "codes.npy"], tmp / "codes.npy"


def _out_under_a_file(z: dict[str, Path], tmp: Path) -> tuple[list[object], Path]:
    (tmp / "plain").write_text("x")
    return ["detect", z["AnomalyDetector"], z["X"], "--out", tmp / "plain/s.csv"], tmp / "plain"


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (_out_is_the_data, "is the input DATA"),
        (_out_links_to_the_data, "is the input DATA"),
        (_out_is_a_hard_link_to_the_data, "is the input DATA"),
        (_report_over_the_config, "config.json"),
        (_report_into_the_model, "lies inside the input MODEL_DIR"),
        (_codes_into_the_model, "lies inside the input MODEL"),
        (_results_into_the_index, "lies inside the input INDEX"),
        (_index_over_its_model, "not an aekit index"),
        (_export_into_the_model, "is the input MODEL"),
        (_generate_over_its_data, "is the input --data"),
        (_train_over_a_model_holding_its_data, "X.npy"),
        (_decompress_over_the_codes, "is the input CODES"),
        (_two_outputs_one_file, "name the same place"),
        (_out_is_a_directory, "is a directory"),
        (_out_under_a_file, "is not a directory"),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) else None,
)
def test_an_output_never_destroys_an_input(
    zoo: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], make, needle: str
) -> None:
    # Copies: a test that fails must not damage the models the other tests use.
    mine = {k: tmp_path / "zoo" / p.name for k, p in zoo.items()}
    mine["X"].parent.mkdir()
    for key, path in zoo.items():
        copy = shutil.copytree if path.is_dir() else shutil.copyfile
        copy(path, mine[key])
    argv, kept = make(mine, tmp_path)
    before = digest(kept)
    rc, _, err = run_cli(argv, capsys)
    assert needle in assert_one_line(rc, err, argv[0])
    assert digest(kept) == before
    aekit.load(mine["Autoencoder"])  # still a model


def test_the_report_may_sit_beside_its_model(
    zoo: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = aekit.load(zoo["Autoencoder"]).save(tmp_path / "m")
    rc, _, err = run_cli(["report", model], capsys)
    assert rc == 0, err
    assert (model / "report.html").is_file()
    aekit.load(model)


# ------------------------------------------------------ point 3: outputs before any work
def _bad_outputs(z: dict[str, Path], tmp: Path) -> dict[str, list[object]]:
    """For each verb, an argv whose output is refused; DATA is an .npy file wherever read."""
    foreign = tmp / "project"
    (foreign / "src").mkdir(parents=True)
    (foreign / "src" / "app.js").write_text("x")
    (tmp / "file").write_text("x")
    X, ae = z["X"], z["Autoencoder"]
    return {
        "train": ["train", X, "--out", foreign, "--epochs", 1, "--quiet"],
        "index": ["index", ae, X, "--out", foreign],
        "encode": ["encode", ae, X, "--out", foreign],
        "reconstruct": ["reconstruct", ae, X, "--out", tmp / "r.npy", "--errors", tmp / "e.txt"],
        "denoise": ["denoise", ae, X, "--out", tmp / "d.npy", "--png", tmp / "d.jpg"],
        "detect": ["detect", z["AnomalyDetector"], X, "--out", tmp / "file/s.csv"],
        "compress": ["compress", ae, X, "--out", tmp / "file/c.npz"],
        "decompress": ["decompress", ae, z["codes"], "--out", tmp / "file/x.npy"],
        "search": ["search", z["index"], X, "--out", tmp / "file/r.csv"],
        "generate": ["generate", z["VAE"], "--out", tmp / "file", "--data", X],
        "export": ["export", ae, "--out", tmp / "file", "--data", X],
        "report": ["report", ae, "--data", X, "--out", foreign],
        "demo": ["demo", "--out", tmp / "file", "--quiet"],
    }


@pytest.mark.parametrize("verb", [v for v in ACCEPTS if v != "info"] + ["train", "search", "demo"])
def test_every_output_is_checked_before_any_work(
    zoo: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    reads: list[str],
    verb: str,
) -> None:
    argv = _bad_outputs(zoo, tmp_path)[verb]
    demos: list[object] = []
    monkeypatch.setattr("aekit.cli.demo.run_demo", lambda *a, **k: demos.append(a))
    rc, _, err = run_cli(argv, capsys)
    line = assert_one_line(rc, err, verb)
    assert "was read" not in line
    assert reads == [] and demos == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "project"]  # nothing written


def test_train_refuses_a_foreign_folder_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's case: a built-in DATA (no file read), the refusal comes before fit."""
    fits: list[object] = []
    monkeypatch.setattr(Autoencoder, "fit", lambda self, *a, **k: fits.append(a))
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.js").write_text("x")
    rc, _, err = run_cli(["train", "digits", "--out", tmp_path, "--quiet"], capsys)
    assert "not an aekit model" in assert_one_line(rc, err, "train")
    assert fits == []
    assert (tmp_path / "src" / "app.js").read_text() == "x"


# --------------------------------------------------------- point 5: whole or not at all
def test_a_bad_second_output_writes_nothing(
    zoo: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["reconstruct", zoo["Autoencoder"], zoo["X"], "--out", tmp_path / "r.npy"]
    rc, _, err = run_cli([*argv, "--errors", tmp_path / "e.txt"], capsys)
    assert "e.txt" in assert_one_line(rc, err, "reconstruct")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", [".csv", ".npy"])
def test_a_failed_write_leaves_the_earlier_file(
    zoo: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    suffix: str,
) -> None:
    out = tmp_path / f"codes{suffix}"
    out.write_text("earlier")

    def half_written(target, *args, **kwargs) -> None:
        if hasattr(target, "write"):
            target.write(b"half")
        else:
            Path(target).write_text("half")
        raise OSError(28, "No space left on device")

    if suffix == ".csv":
        monkeypatch.setattr(np, "savetxt", half_written)
    else:  # codes of a .npy DATA are written chunk by chunk (aekit.tasks.infer_to_file)
        from aekit.tasks import outputs

        monkeypatch.setitem(outputs.WRITERS, ".npy", lambda path, *rest: half_written(path))
    rc, _, err = run_cli(["encode", zoo["Autoencoder"], zoo["X"], "--out", out], capsys)
    assert "No space left" in assert_one_line(rc, err, "encode")
    assert out.read_text() == "earlier"
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left


@pytest.mark.parametrize("suffix", [".NPY", ".npy"])
def test_array_outputs_keep_their_exact_name(
    zoo: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str
) -> None:
    out = tmp_path / f"codes{suffix}"
    rc, _, err = run_cli(["encode", zoo["Autoencoder"], zoo["X"], "--out", out], capsys)
    assert rc == 0, err
    assert [p.name for p in tmp_path.iterdir()] == [out.name]
    assert np.load(out).shape == (60, 2)


# --------------------------------------------------- point 12b: verbs x model kinds
def _verb_argv(verb: str, model: Path, z: dict[str, Path], tmp: Path) -> list[object]:
    X = z["X"]
    return {
        "encode": ["encode", model, X, "--out", tmp / "c.npy"],
        "reconstruct": ["reconstruct", model, X, "--out", tmp / "r.npy", "--errors", tmp / "e.csv"],
        "denoise": ["denoise", model, X, "--out", tmp / "d.npy"],
        "detect": ["detect", model, X, "--out", tmp / "s.csv"],
        "generate": ["generate", model, "-n", 2, "--out", tmp / "gen"],
        "index": ["index", model, X, "--out", tmp / "index"],
        "search": ["search", model, X, "--out", tmp / "r.csv"],  # a model is not an index
        "compress": ["compress", model, X, "--out", tmp / "c.npz", "--no-pca"],
        "decompress": ["decompress", model, z["codes"], "--out", tmp / "x.npy"],
        "export": ["export", model, "--out", tmp / "onnx", "--no-check"],
        "report": ["report", model, "--out", tmp / "r.html"],
        "info": ["info", model],
    }[verb]


MATRIX_VERBS = [*ACCEPTS, "search", "info"]


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("verb", MATRIX_VERBS)
def test_every_verb_on_every_model_kind(
    zoo: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], verb: str, kind: str
) -> None:
    rc, _, err = run_cli(_verb_argv(verb, zoo[kind], zoo, tmp_path), capsys)
    if verb == "search":
        assert "index" in assert_one_line(rc, err, verb)
    elif verb == "info" or kind in ACCEPTS[verb]:
        assert rc == 0, err
    else:
        line = assert_one_line(rc, err, verb)
        article = "an" if kind[0] in "AEIOU" else "a"
        assert f"holds {article} {kind}; {verb} takes " in line


def test_the_issue_s_reconstruct_cases(
    zoo: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for kind in ("AnomalyDetector", "AutoencoderClassifier"):
        rc, _, err = run_cli(_verb_argv("reconstruct", zoo[kind], zoo, tmp_path), capsys)
        line = assert_one_line(rc, err, "reconstruct")
        assert line.endswith(f"holds an {kind}; reconstruct takes an Autoencoder or a VAE")


# ------------------------------------------------ point 14: devices, memory, the rest
@pytest.mark.parametrize("device", ["meta", "mps", "cuda:99", "tpu"])
def test_a_device_aekit_cannot_use_is_one_line(
    zoo: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    device: str,
) -> None:
    if device == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    argv = ["encode", zoo["Autoencoder"], zoo["X"], "--out", tmp_path / "c.npy"]
    rc, _, err = run_cli([*argv, "--device", device], capsys)
    assert device in assert_one_line(rc, err, "encode")
    reads = spy_on_reads(monkeypatch)
    config = tmp_path / "config.json"
    config.write_text(f'{{"device": "{device}", "epochs": 1}}')
    argv = ["train", zoo["X"], "--out", tmp_path / "m", "--config", config, "--quiet"]
    rc, _, err = run_cli(argv, capsys)
    assert device in assert_one_line(rc, err, "train")
    assert reads == []  # refused before reading DATA


def test_resolve_device_accepts_only_devices_aekit_runs_on() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ValueError, match="not one aekit runs on"):
        resolve_device("meta")
    with pytest.raises(ValueError, match="not one aekit runs on"):
        resolve_device(torch.device("meta"))
    if not torch.backends.mps.is_available():
        with pytest.raises(ValueError, match="MPS"):
            resolve_device("mps")
    with pytest.raises(ValueError, match="cuda:99"):
        resolve_device("cuda:99")


def _raise(exc: BaseException):
    def fail(*args, **kwargs):
        raise exc

    return fail


@pytest.mark.parametrize(
    ("exc", "needles"),
    [
        (MemoryError(), ["out of memory", "less data"]),
        (
            torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 9 GiB."),
            ["out of memory", "9 GiB", "--device cpu"],
        ),
        (RuntimeError("mat1 and mat2 shapes cannot be\nmultiplied (2x3 and 4x5)"), ["(2x3"]),
    ],
    ids=["MemoryError", "torch.OutOfMemoryError", "RuntimeError"],
)
def test_memory_and_torch_errors_are_one_line(
    zoo: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    exc: BaseException,
    needles: list[str],
) -> None:
    monkeypatch.setattr(Autoencoder, "transform", _raise(exc))
    argv = ["encode", zoo["Autoencoder"], "digits", "--out", tmp_path / "c.npy"]
    rc, _, err = run_cli(argv, capsys)
    line = assert_one_line(rc, err, "encode")
    assert all(n in line for n in needles), line


def test_numpy_allocation_failure_advises_a_smaller_batch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real _ArrayMemoryError: numpy refuses 256 PiB at once, whatever the machine.
    monkeypatch.setattr(Autoencoder, "fit", lambda self, X, **kw: np.empty(2**58, dtype=np.uint8))
    rc, _, err = run_cli(["train", "digits", "--out", tmp_path / "m", "--quiet"], capsys)
    line = assert_one_line(rc, err, "train")
    assert "Unable to allocate" in line and "--batch-size" in line


def test_an_unexpected_error_is_one_line_and_aekit_debug_shows_it(
    zoo: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Autoencoder, "transform", _raise(KeyError("latent_dim")))
    argv = ["encode", zoo["Autoencoder"], "digits", "--out", tmp_path / "c.npy"]
    rc, _, err = run_cli(argv, capsys)
    assert rc == 1 and len(err.splitlines()) == 1, err
    assert "unexpected KeyError: 'latent_dim'" in err and "AEKIT_DEBUG=1" in err
    monkeypatch.setenv("AEKIT_DEBUG", "1")
    with pytest.raises(KeyError):
        main([str(a) for a in argv])


# ------------------------------------------------------- point 15: usage errors
@pytest.mark.parametrize(
    ("argv", "start", "needle"),
    [
        (["train", "digits", "--out", "m", "--epochz", "3"], "aekit train: error: ", "--epochs"),
        (["encode", "model"], "aekit encode: error: ", "required: DATA, --out"),
        (["trian", "digits"], "aekit: error: ", "invalid choice: 'trian'"),
        ([], "aekit: error: ", "VERB"),
        (["train", "digits", "--out", "m", "--latent-dim", "two"], "aekit train: ", "two"),
    ],
    ids=["mistyped flag", "missing arguments", "mistyped verb", "no verb", "bad value"],
)
def test_usage_errors_are_one_line_with_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], start: str, needle: str
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(start) and needle in lines[0], err
    verb = start.removesuffix(": error: ").removesuffix(": ")
    assert lines[0].endswith(f"(see {verb} --help)")


def test_help_stays_whole(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["train", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: aekit train") and len(out.splitlines()) > 26
