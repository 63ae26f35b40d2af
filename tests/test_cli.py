"""The `aekit` command line, run in-process through `aekit.cli.main(argv)`."""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

import aekit
from aekit.cli import main
from aekit.cli.demo import DemoResult
from aekit.datasets import load_digits

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_cli(argv: list[object], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run `aekit ARGV` in-process; return (exit status, stdout, stderr)."""
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def train_argv(data: object, out: Path, flags: str) -> list[object]:
    """`train DATA --out OUT` followed by the space-separated FLAGS."""
    return ["train", data, "--out", out, *flags.split()]


def assert_user_error(rc: int, err: str, verb: str) -> str:
    """A user's mistake: exit 1 and exactly one line `aekit VERB: error: ...`, no traceback."""
    assert rc == 1
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"aekit {verb}: error: "), err
    return lines[0]


def n_parameters(model: aekit.Autoencoder) -> int:
    return sum(p.numel() for p in model.module_.parameters())


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return load_digits()[0][:40]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, Path]:
    """One model trained through the CLI on the built-in digits: (exit status, stdout, path)."""
    path = tmp_path_factory.mktemp("cli") / "model"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(
            [
                str(a)
                for a in train_argv("digits", path, "--epochs 3 --seed 0 --quiet --latent-dim 3")
            ]
        )
    return rc, out.getvalue(), path


@pytest.fixture
def model_dir(trained: tuple[int, str, Path]) -> Path:
    assert trained[0] == 0
    return trained[2]


@pytest.fixture
def data_file(tmp_path: Path, images: np.ndarray) -> Path:
    path = tmp_path / "images.npy"
    np.save(path, images)
    return path


# ----------------------------------------------------------------------------------- train
def test_train_digits_saves_a_loadable_model(trained: tuple[int, str, Path]) -> None:
    rc, out, path = trained
    assert rc == 0
    assert out.startswith("trained 3 epochs in ")
    assert f"saved {path}" in out
    model = aekit.load(path)
    assert isinstance(model, aekit.Autoencoder)
    assert model.latent_dim == 3
    assert model.epochs == 3
    assert model.random_state == 0
    assert model.verbose is False  # --quiet
    assert model.input_shape_ == (8, 8)
    assert len(model.history_) == 3
    X, _ = load_digits()
    assert model.transform(X[:5]).shape == (5, 3)


def test_train_flags_set_the_estimator_parameters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "model"
    rc, out, _ = run_cli(
        train_argv(
            "digits",
            path,
            "--epochs 2 --seed 1 --quiet --latent-dim 4 --hidden 16,8 --no-early-stopping"
            " --validation-fraction 0 --batch-size 128 --lr 0.002",
        ),
        capsys,
    )
    assert rc == 0, out
    model = aekit.load(path)
    params = model.get_params()
    assert params["latent_dim"] == 4
    assert params["hidden"] == (16, 8)
    assert params["early_stopping"] is False
    assert params["validation_fraction"] == 0
    assert params["batch_size"] == 128
    assert params["lr"] == 0.002
    assert params["random_state"] == 1
    assert model.module_.config.hidden == (16, 8)
    assert model.module_.config.latent_dim == 4
    # No validation split: the history has training losses only.
    assert len(model.history_) == 2
    assert all("val_loss" not in epoch for epoch in model.history_)


def test_train_hidden_none_gives_no_hidden_layer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "model"
    rc, _, _ = run_cli(
        train_argv("digits", path, "--epochs 1 --seed 0 --quiet --latent-dim 2 --hidden none"),
        capsys,
    )
    assert rc == 0
    model = aekit.load(path)
    assert model.hidden == ()
    assert model.module_.config.hidden == ()


@pytest.mark.parametrize(
    ("flag", "param"), [("--activation", "activation"), ("--scaling", "scaling")]
)
def test_train_none_flag_value_gives_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, param: str
) -> None:
    path = tmp_path / "model"
    rc, _, _ = run_cli(
        train_argv("digits", path, f"--epochs 1 --seed 0 --quiet --latent-dim 2 {flag} none"),
        capsys,
    )
    assert rc == 0
    model = aekit.load(path)
    assert model.get_params()[param] is None
    if param == "activation":
        assert model.module_.config.activation == "linear"
    else:
        assert model.scaling_ is None


def test_train_config_file_with_a_flag_overriding_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "params.json"
    config.write_text(
        json.dumps({"latent_dim": 5, "hidden": [12], "epochs": 2, "random_state": 3}),
        encoding="utf-8",
    )
    path = tmp_path / "model"
    rc, _, _ = run_cli(
        ["train", "digits", "--out", path, "--config", config, "--latent-dim", "4", "--quiet"],
        capsys,
    )
    assert rc == 0
    model = aekit.load(path)
    assert model.latent_dim == 4  # the flag wins
    assert model.hidden == (12,)  # the rest comes from the file
    assert model.epochs == 2
    assert model.random_state == 3
    assert model.module_.config.hidden == (12,)
    assert model.module_.config.latent_dim == 4


@pytest.mark.parametrize(
    ("flags", "kind", "expected"),
    [
        (
            "--architecture conv --noise gaussian --noise-level 0.3 --upsample nearest",
            aekit.Autoencoder,
            {"architecture": "conv", "noise": "gaussian", "noise_level": 0.3},
        ),
        (
            "--sparsity kl --sparsity-target 0.1 --sparsity-weight 0.01 --weight-decay 1e-4"
            " --dropout 0.1 --contractive 0.5",
            aekit.Autoencoder,
            {"sparsity": "kl", "sparsity_target": 0.1, "sparsity_weight": 0.01, "dropout": 0.1},
        ),
        (
            "--model vae --beta 2 --likelihood bernoulli --binarize dynamic",
            aekit.VAE,
            {"beta": 2.0, "likelihood": "bernoulli", "binarize": "dynamic"},
        ),
        (
            "--model classifier --hidden 16 --pretrain-epochs 1",
            aekit.AutoencoderClassifier,
            {"hidden": (16,), "pretrain_epochs": 1},
        ),
    ],
)
def test_train_every_model_of_the_zoo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: str, kind: type, expected: dict
) -> None:
    path = tmp_path / "model"
    rc, _, err = run_cli(train_argv("digits", path, f"--epochs 2 --seed 0 --quiet {flags}"), capsys)
    assert rc == 0, err
    model = aekit.load(path)
    assert type(model) is kind
    params = model.get_params()
    assert {k: params[k] for k in expected} == expected


def test_train_recurrent_windows_from_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "windows.npy"
    series = np.sin(np.arange(400, dtype=np.float32) / 5)
    np.save(data, aekit.datasets.sliding_windows(series, 20, stride=5))
    path = tmp_path / "model"
    flags = "--epochs 1 --quiet --architecture recurrent --cell gru --bidirectional true"
    rc, _, err = run_cli(train_argv(data, path, flags), capsys)
    assert rc == 0, err
    model = aekit.load(path)
    assert model.cell == "gru" and model.bidirectional is True
    assert model.module_.config.input_shape == (20, 1)


def test_train_classifier_with_a_labels_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data_file: Path, images: np.ndarray
) -> None:
    labels = tmp_path / "labels.npy"
    np.save(labels, load_digits()[1][: len(images)])
    path = tmp_path / "model"
    flags = "--model classifier --hidden 8 --epochs 1 --pretrain-epochs 1 --quiet --labels"
    rc, _, err = run_cli([*train_argv(data_file, path, flags), labels], capsys)
    assert rc == 0, err
    assert aekit.load(path).classes_.tolist() == sorted(set(load_digits()[1][: len(images)]))
    np.save(labels, np.zeros(3))
    rc, _, err = run_cli([*train_argv(data_file, tmp_path / "m2", flags), labels], capsys)
    assert "3 labels for 40 samples" in assert_user_error(rc, err, "train")
    rc, _, err = run_cli(train_argv(data_file, tmp_path / "m3", "--model classifier"), capsys)
    assert "--labels" in assert_user_error(rc, err, "train")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ("--beta 2", "--beta is not an option of --model autoencoder"),
        ("--model vae --sparsity l1", "--sparsity is not an option of --model vae"),
        ("--labels y.npy", "--labels is an option of --model classifier"),
    ],
)
def test_train_flag_of_another_model_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: str, message: str
) -> None:
    path = tmp_path / "model"
    rc, _, err = run_cli(train_argv("digits", path, f"--epochs 1 {flags}"), capsys)
    assert message in assert_user_error(rc, err, "train")
    assert not path.exists()


def test_train_config_with_an_unknown_parameter_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "params.json"
    config.write_text(json.dumps({"latent_dims": 4, "epochs": 1}), encoding="utf-8")
    path = tmp_path / "model"
    rc, _, err = run_cli(["train", "digits", "--out", path, "--config", config], capsys)
    line = assert_user_error(rc, err, "train")
    assert "latent_dims" in line
    assert not path.exists()


def test_train_config_that_is_not_json_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "params.json"
    config.write_text("{latent_dim: 4", encoding="utf-8")
    rc, _, err = run_cli(["train", "digits", "--out", tmp_path / "m", "--config", config], capsys)
    assert "not valid JSON" in assert_user_error(rc, err, "train")


def _write_npy(path: Path, X: np.ndarray) -> list[str]:
    np.save(path.with_suffix(".npy"), X)
    return [str(path.with_suffix(".npy"))]


def _write_csv(path: Path, X: np.ndarray) -> list[str]:
    header = ",".join(f"f{i}" for i in range(X.shape[1]))
    np.savetxt(path.with_suffix(".csv"), X, delimiter=",", header=header, comments="")
    return [str(path.with_suffix(".csv"))]


def _write_npz(path: Path, X: np.ndarray) -> list[str]:
    np.savez(path.with_suffix(".npz"), other=np.zeros((len(X), 2)), train=X)
    return [str(path.with_suffix(".npz")), "--key", "train"]


@pytest.mark.parametrize(
    ("writer", "shape"),
    [(_write_npy, (60, 3, 5)), (_write_csv, (60, 7)), (_write_npz, (60, 9))],
    ids=["npy", "csv", "npz-key"],
)
def test_train_from_a_data_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], writer, shape: tuple[int, ...]
) -> None:
    X = np.random.RandomState(0).normal(size=shape)
    data_args = writer(tmp_path / "data", X)
    path = tmp_path / "model"
    rc, _, err = run_cli(
        [
            *train_argv(data_args[0], path, "--epochs 2 --latent-dim 2 --seed 0 --quiet"),
            *data_args[1:],
        ],
        capsys,
    )
    assert rc == 0, err
    model = aekit.load(path)
    # The model was fitted on the file's samples, not on anything else.
    assert model.input_shape_ == shape[1:]
    assert model.n_features_in_ == int(np.prod(shape[1:]))
    assert model.reconstruct(X).shape == shape


def test_train_npz_with_several_arrays_needs_a_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data.npz"
    np.savez(data, a=np.zeros((10, 4)), b=np.ones((10, 4)))
    rc, _, err = run_cli(["train", data, "--out", tmp_path / "m", "--quiet"], capsys)
    assert "key" in assert_user_error(rc, err, "train")


# ----------------------------------------------------------------------- encode, reconstruct
def test_encode_writes_the_codes_as_npy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], model_dir: Path, data_file: Path
) -> None:
    codes_file = tmp_path / "out" / "codes.npy"
    rc, out, _ = run_cli(["encode", model_dir, data_file, "--out", codes_file], capsys)
    assert rc == 0
    assert "(40, 3)" in out
    codes = np.load(codes_file)
    expected = aekit.load(model_dir).transform(np.load(data_file))
    assert codes.shape == (40, 3)
    np.testing.assert_array_equal(codes, expected)


def test_encode_writes_the_codes_as_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], model_dir: Path, data_file: Path
) -> None:
    codes_file = tmp_path / "codes.csv"
    rc, _, _ = run_cli(["encode", model_dir, data_file, "--out", codes_file], capsys)
    assert rc == 0
    codes = np.loadtxt(codes_file, delimiter=",", ndmin=2)
    expected = aekit.load(model_dir).transform(np.load(data_file))
    assert codes.shape == (40, 3)
    np.testing.assert_allclose(codes, expected, rtol=1e-6, atol=1e-7)


def test_encode_reads_a_csv_data_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], model_dir: Path, images: np.ndarray
) -> None:
    flat = images.reshape(len(images), -1)
    data = tmp_path / "flat.csv"
    np.savetxt(data, flat, delimiter=",")
    rc, _, _ = run_cli(["encode", model_dir, data, "--out", tmp_path / "codes.npy"], capsys)
    assert rc == 0
    expected = aekit.load(model_dir).transform(images)
    np.testing.assert_allclose(np.load(tmp_path / "codes.npy"), expected, rtol=1e-5, atol=1e-6)


def test_reconstruct_writes_reconstructions_and_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], model_dir: Path, data_file: Path
) -> None:
    recon_file, errors_file = tmp_path / "r.npy", tmp_path / "e.npy"
    rc, out, _ = run_cli(
        ["reconstruct", model_dir, data_file, "--out", recon_file, "--errors", errors_file],
        capsys,
    )
    assert rc == 0
    model = aekit.load(model_dir)
    X = np.load(data_file)
    recon, errors = np.load(recon_file), np.load(errors_file)
    assert recon.shape == (40, 8, 8)
    assert errors.shape == (40,)
    np.testing.assert_array_equal(recon, model.reconstruct(X))
    np.testing.assert_array_equal(errors, model.reconstruction_error(X))
    assert f"({model.loss_})" in out
    assert f"{float(np.mean(errors)):.5g}" in out


def test_reconstruct_without_errors_writes_only_the_reconstructions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], model_dir: Path, data_file: Path
) -> None:
    rc, _, _ = run_cli(["reconstruct", model_dir, data_file, "--out", tmp_path / "r.csv"], capsys)
    assert rc == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images.npy", "r.csv"]
    recon = np.loadtxt(tmp_path / "r.csv", delimiter=",")
    expected = aekit.load(model_dir).reconstruct(np.load(data_file)).reshape(40, 64)
    np.testing.assert_allclose(recon, expected, rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------------------------ info
def test_info_prints_layers_and_parameter_count(
    capsys: pytest.CaptureFixture[str], model_dir: Path
) -> None:
    rc, out, _ = run_cli(["info", model_dir], capsys)
    assert rc == 0
    model = aekit.load(model_dir)
    config = model.module_.config
    widths = "-".join(map(str, [config.n_features, *config.hidden, config.latent_dim]))
    assert widths == "64-32-16-3"
    assert f"layers     {widths} (decoder mirrors)" in out
    assert f"size       {n_parameters(model):,} parameters" in out
    assert "Autoencoder (dense module)" in out
    assert "samples of shape (8, 8)" in out
    assert "training   3 epochs" in out


def test_info_json(capsys: pytest.CaptureFixture[str], model_dir: Path) -> None:
    rc, out, _ = run_cli(["info", model_dir, "--json"], capsys)
    assert rc == 0
    info = json.loads(out)
    model = aekit.load(model_dir)
    assert info["n_parameters"] == n_parameters(model)
    assert info["module"]["latent_dim"] == 3
    assert info["module"]["hidden"] == [32, 16]
    assert info["epochs_trained"] == 3
    assert info["input_shape"] == [8, 8]
    assert info["aekit_version"] == aekit.__version__


# ------------------------------------------------------------------------- user mistakes
def _missing_data(tmp: Path, model: Path, data: Path) -> list[object]:
    return ["train", tmp / "missing.npy", "--out", tmp / "m", "--quiet"]


def _unknown_suffix(tmp: Path, model: Path, data: Path) -> list[object]:
    (tmp / "data.dat").write_text("1,2\n3,4\n", encoding="utf-8")
    return ["train", tmp / "data.dat", "--out", tmp / "m", "--quiet"]


def _model_is_a_file(tmp: Path, model: Path, data: Path) -> list[object]:
    return ["encode", data, data, "--out", tmp / "codes.npy"]


def _model_is_an_empty_folder(tmp: Path, model: Path, data: Path) -> list[object]:
    (tmp / "empty").mkdir()
    return ["reconstruct", tmp / "empty", data, "--out", tmp / "r.npy"]


def _model_is_missing(tmp: Path, model: Path, data: Path) -> list[object]:
    return ["info", tmp / "no-model"]


def _bad_activation(tmp: Path, model: Path, data: Path) -> list[object]:
    return ["train", "digits", "--out", tmp / "m", "--activation", "nope", "--quiet"]


def _zero_latent_dim(tmp: Path, model: Path, data: Path) -> list[object]:
    return ["train", "digits", "--out", tmp / "m", "--latent-dim", "0", "--quiet"]


def _bad_out_suffix(tmp: Path, model: Path, data: Path) -> list[object]:
    return ["encode", model, data, "--out", tmp / "codes.txt"]


def _wrong_feature_count(tmp: Path, model: Path, data: Path) -> list[object]:
    np.save(tmp / "narrow.npy", np.zeros((5, 10), dtype=np.float32))
    return ["encode", model, tmp / "narrow.npy", "--out", tmp / "codes.npy"]


@pytest.mark.parametrize(
    ("make_argv", "needle"),
    [
        (_missing_data, "missing.npy"),
        (_unknown_suffix, ".dat"),
        (_model_is_a_file, "not a model directory"),
        (_model_is_an_empty_folder, "not an aekit model"),
        (_model_is_missing, "no-model"),
        (_bad_activation, "nope"),
        (_zero_latent_dim, "latent_dim"),
        (_bad_out_suffix, "codes.txt"),
        (_wrong_feature_count, "features"),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) else None,
)
def test_user_mistakes_give_one_line_and_exit_1(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    model_dir: Path,
    data_file: Path,
    make_argv,
    needle: str,
) -> None:
    argv = make_argv(tmp_path, model_dir, data_file)
    rc, _, err = run_cli(argv, capsys)
    line = assert_user_error(rc, err, argv[0])
    assert needle in line
    assert not (tmp_path / "m").exists()
    assert not (tmp_path / "codes.txt").exists()


def test_a_bad_option_type_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["train", "digits", "--out", "m", "--latent-dim", "two"])
    assert exc.value.code == 2
    assert "--latent-dim" in capsys.readouterr().err


# --------------------------------------------------------------------------- argparse exits
def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"aekit {aekit.__version__}\n"


def test_help_lists_the_verbs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: aekit")
    for verb in ("demo", "train", "encode", "reconstruct", "info"):
        assert verb in out


def test_missing_verb_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    assert "required" in capsys.readouterr().err


def test_python_dash_m_runs_the_command() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "aekit.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"aekit {aekit.__version__}"


# ------------------------------------------------------------------------------------ demo
def test_demo_command(demo_run) -> None:
    rc, out, out_dir, _ = demo_run
    assert rc == 0
    model = aekit.load(out_dir / "model")
    assert model.latent_dim == 2
    X, _ = load_digits()
    assert model.transform(X[:10]).shape == (10, 2)
    for name in ("reconstructions.png", "latent_map.png"):
        path = out_dir / name
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        image = matplotlib.image.imread(path)
        assert image.ndim == 3 and image.size > 0
        assert f"{path}" in out
    match = re.search(r"autoencoder (\d+\.\d+), PCA\(2\) (\d+\.\d+)", out)
    assert match, out
    ae_error, pca_error = float(match.group(1)), float(match.group(2))
    assert ae_error < pca_error
    assert out.startswith("trained a 64-32-16-2 autoencoder on 1437 digits")


def test_run_demo_beats_pca(demo_run) -> None:
    _, out, out_dir, result = demo_run
    assert isinstance(result, DemoResult)
    assert result.ae_error < result.pca_error
    assert result.latent_dim == 2
    assert result.architecture == "64-32-16-2"
    assert 1 <= result.epochs <= 400
    assert result.files == {
        "model": out_dir / "model",
        "reconstructions": out_dir / "reconstructions.png",
        "latent map": out_dir / "latent_map.png",
        "report": out_dir / "report.html",
    }
    assert all(path.exists() for path in result.files.values())
    # The demo's report: one self-contained file, well under 5 MB (the browser test opens it).
    page = result.files["report"].read_text(encoding="utf-8")
    assert result.files["report"].stat().st_size < 5_000_000
    assert 'id="map-data"' in page and "held-out test images" in page
    # The command reports the library's numbers.
    assert f"autoencoder {result.ae_error:.3f}, PCA(2) {result.pca_error:.3f}" in out
    assert f"({result.epochs} epochs)" in out
