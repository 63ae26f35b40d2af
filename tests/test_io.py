"""aekit.io: saved models are safetensors + JSON, round-trip exactly, and refuse bad files."""

from __future__ import annotations

import json
import pickle
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors import safe_open
from sklearn.exceptions import NotFittedError

import aekit
import aekit.io
from aekit.datasets import load_digits
from aekit.io import CONFIG, HISTORY, WEIGHTS, describe, read_config, save
from aekit.io.model_dir import loss_name

MODEL_FILES = {CONFIG, WEIGHTS, HISTORY}


def tiny(**params) -> aekit.Autoencoder:
    defaults = dict(latent_dim=2, epochs=3, random_state=0, verbose=False)
    return aekit.Autoencoder(**{**defaults, **params})


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    return load_digits()[0][:300]


@pytest.fixture(scope="module")
def model(X) -> aekit.Autoencoder:
    return tiny().fit(X)


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory) -> Path:
    return model.save(tmp_path_factory.mktemp("saved") / "model")


@pytest.fixture(scope="module")
def X_wide(X) -> np.ndarray:
    """Digits stretched outside [0, 1], so that a fit z-scores them."""
    return X[:150].reshape(150, -1) * 10.0 - 3.0


@pytest.fixture(scope="module")
def scaled_model(X_wide) -> aekit.Autoencoder:
    return tiny(epochs=2).fit(X_wide)


def copy_model(saved: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(saved, tmp_path / "copy"))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def assert_same_outputs(a: aekit.Autoencoder, b: aekit.Autoencoder, X: np.ndarray) -> None:
    for method in ("transform", "reconstruct", "reconstruction_error"):
        out_a, out_b = getattr(a, method)(X), getattr(b, method)(X)
        assert out_a.dtype == out_b.dtype
        assert out_a.shape == out_b.shape
        assert out_a.tobytes() == out_b.tobytes(), method  # bit-identical
    Z = a.transform(X)
    assert a.inverse_transform(Z).tobytes() == b.inverse_transform(Z).tobytes()


# ------------------------------------------------------------------- the format
def test_model_directory_holds_json_and_safetensors_only(model, saved):
    assert {p.name for p in saved.iterdir()} == MODEL_FILES
    for p in saved.iterdir():
        head = p.read_bytes()[:2]
        assert head[:1] != b"\x80", f"{p.name} looks like a pickle"
        assert head != b"PK", f"{p.name} is a zip archive (torch.save)"

    config = json.loads((saved / CONFIG).read_text(encoding="utf-8"))
    assert config["format"] == "aekit-model"
    assert config["format_version"] == 1
    assert config["estimator"] == "Autoencoder"
    assert config["aekit_version"] == aekit.__version__
    assert config["params"] == model.get_params()
    assert config["state"]["input_shape_"] == [8, 8]
    assert config["module"]["kind"] == "dense"
    assert config["module"]["config"]["latent_dim"] == 2
    assert read_config(saved) == config

    history = json.loads((saved / HISTORY).read_text(encoding="utf-8"))
    assert history == model.history_
    assert len(history) == 3

    state_dict = model.module_.state_dict()
    with safe_open(str(saved / WEIGHTS), framework="pt") as f:
        assert f.metadata() == {"format": "aekit-model"}
        assert set(f.keys()) == {f"module.{k}" for k in state_dict}
        for k, v in state_dict.items():
            assert torch.equal(f.get_tensor(f"module.{k}"), v.detach().cpu())


def test_save_returns_path_and_accepts_str(model, tmp_path):
    out = save(model, str(tmp_path / "as-str"))
    assert out == tmp_path / "as-str"
    assert {p.name for p in out.iterdir()} == MODEL_FILES
    nested = model.save(tmp_path / "a" / "b" / "model")  # parents are created
    assert {p.name for p in nested.iterdir()} == MODEL_FILES
    assert aekit.load is aekit.io.load


def test_save_unfitted_model_fails(tmp_path):
    with pytest.raises(NotFittedError):
        tiny().save(tmp_path / "unfitted")
    assert not (tmp_path / "unfitted").exists()


# ------------------------------------------------------------------ round trips
def test_round_trip_in_process(model, saved, X):
    loaded = aekit.load(saved)
    assert type(loaded) is aekit.Autoencoder
    assert loaded is not model
    assert_same_outputs(model, loaded, X)
    assert loaded.get_params() == model.get_params()
    assert loaded.history_ == model.history_
    assert loaded.input_shape_ == model.input_shape_ == (8, 8)
    assert isinstance(loaded.input_shape_, tuple)
    assert loaded.n_features_in_ == model.n_features_in_ == 64
    assert loaded.best_epoch_ == model.best_epoch_
    assert loaded.loss_ == model.loss_ == "bce"
    assert loaded.scaling_ is None
    assert not hasattr(loaded, "feature_names_in_")
    assert loaded.module_.training is False
    assert loaded.module_.config == model.module_.config
    # a model loaded from disk saves again to the same files
    again = loaded.save(saved.parent / "again")
    assert snapshot(again)[WEIGHTS] == snapshot(saved)[WEIGHTS]
    assert json.loads((again / CONFIG).read_text()) == json.loads((saved / CONFIG).read_text())


def test_round_trip_in_fresh_process(model, saved, X, tmp_path):
    np.save(tmp_path / "X.npy", X)
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        import aekit

        model_dir, folder = sys.argv[1], sys.argv[2]
        model = aekit.load(model_dir)
        X = np.load(folder + "/X.npy")
        np.save(folder + "/Z.npy", model.transform(X))
        np.save(folder + "/R.npy", model.reconstruct(X))
        np.save(folder + "/E.npy", model.reconstruction_error(X))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(saved), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for name, expected in (
        ("Z", model.transform(X)),
        ("R", model.reconstruct(X)),
        ("E", model.reconstruction_error(X)),
    ):
        out = np.load(tmp_path / f"{name}.npy")
        assert out.dtype == expected.dtype
        assert out.shape == expected.shape
        assert out.tobytes() == expected.tobytes(), name


def test_round_trip_with_scaling(scaled_model, X_wide, tmp_path):
    assert scaled_model.scaling_ is not None
    path = scaled_model.save(tmp_path / "scaled")
    assert {p.name for p in path.iterdir()} == MODEL_FILES
    with safe_open(str(path / WEIGHTS), framework="pt") as f:
        assert {"scaling.offset", "scaling.scale"} <= set(f.keys())
    loaded = aekit.load(path)
    assert loaded.scaling_ is not None
    assert loaded.scaling_.kind == scaled_model.scaling_.kind == "standard"
    offset, scale = np.asarray(loaded.scaling_.offset), np.asarray(loaded.scaling_.scale)
    assert offset.dtype == scale.dtype == np.float64
    np.testing.assert_array_equal(offset, scaled_model.scaling_.offset)
    np.testing.assert_array_equal(scale, scaled_model.scaling_.scale)
    assert loaded.loss_ == scaled_model.loss_ == "mse"
    assert_same_outputs(scaled_model, loaded, X_wide)
    # outputs come back in the data's units, not the scaled ones
    assert float(loaded.reconstruct(X_wide).min()) < -1.0


def test_round_trip_keeps_feature_names(X, tmp_path):
    columns = [f"px{i}" for i in range(64)]
    frame = pd.DataFrame(X[:120].reshape(120, -1), columns=columns)
    fitted = tiny(epochs=2, hidden=(16,)).fit(frame)
    loaded = aekit.load(fitted.save(tmp_path / "frame"))
    assert list(loaded.feature_names_in_) == columns
    assert loaded.feature_names_in_.dtype == object
    assert loaded.get_params() == fitted.get_params()
    assert loaded.get_params()["hidden"] == (16,)
    assert loaded.input_shape_ == (64,)
    assert_same_outputs(fitted, loaded, frame)
    # the names are enforced, as they were before saving
    renamed = frame.rename(columns={"px0": "other"})
    with pytest.raises(ValueError, match="feature names"):
        loaded.transform(renamed)


def test_load_on_cpu(saved, model, X):
    loaded = aekit.load(saved, device="cpu")
    assert loaded.device_ == torch.device("cpu")
    assert all(p.device.type == "cpu" for p in loaded.module_.parameters())
    assert loaded.get_params()["device"] == model.get_params()["device"]
    assert loaded.transform(X).tobytes() == model.transform(X).tobytes()


# ------------------------------------------------------------------- describe
def test_describe(model, saved):
    info = describe(saved)
    assert info["n_parameters"] == sum(p.numel() for p in model.module_.parameters())
    assert info["estimator"] == "Autoencoder"
    assert info["kind"] == "dense"
    assert info["input_shape"] == [8, 8]
    assert info["loss"] == "bce"
    assert info["scaling"] is None
    assert info["epochs_trained"] == 3
    assert info["best_epoch"] == model.best_epoch_
    assert info["final"]["val_loss"] == model.history_[model.best_epoch_ - 1]["val_loss"]
    assert info["params"]["latent_dim"] == 2
    assert info["module"]["hidden"] == list(model.module_.config.hidden)


LOSS_WORDS = {
    "Autoencoder": "mse",
    "VAE": "negative ELBO, bernoulli likelihood",
    "AnomalyDetector": "squared error, worst 0.1 of each batch left out",
    "AutoencoderClassifier": "cross-entropy",
}


@pytest.mark.parametrize("name", list(LOSS_WORDS))
def test_the_loss_in_words_is_one_for_the_estimator_and_the_saved_model(name, X, tmp_path):
    # The report asks the estimator (loss_name()); aekit info reads config.json, quickly
    # (no torch) or fully checked, through aekit.io.model_dir.loss_name. The quick summary
    # once gave None for a classifier: it did not read the classes that tell its loss.
    y = load_digits()[1][: len(X)]
    params = {"epochs": 1, "random_state": 0, "verbose": False}
    params |= {"loss": "mse"} if name == "Autoencoder" else {}
    estimator = getattr(aekit, name)(**params).fit(X, y)
    path = estimator.save(tmp_path / "model")
    assert estimator.loss_name() == LOSS_WORDS[name]
    assert loss_name(vars(estimator)) == LOSS_WORDS[name]
    assert describe(path)["loss"] == LOSS_WORDS[name]
    assert describe(path, check=False)["loss"] == LOSS_WORDS[name]


def test_describe_excludes_scaling_tensors(scaled_model, tmp_path):
    info = describe(scaled_model.save(tmp_path / "scaled"))
    assert info["n_parameters"] == sum(p.numel() for p in scaled_model.module_.parameters())
    assert info["scaling"] == "standard"


# ------------------------------------------------------------- refusing pickles
class _Payload:
    """Unpickling this writes ``marker``: a stand-in for a malicious model file."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (eval, (f"open({self.marker!r}, 'w').write('pwned')",))


def _pickle_bytes(marker: Path) -> bytes:
    return pickle.dumps(_Payload(marker), protocol=pickle.HIGHEST_PROTOCOL)


def _torch_save_bytes(marker: Path, tmp: Path) -> bytes:
    torch.save({"weight": _Payload(marker)}, tmp)
    return tmp.read_bytes()


@pytest.mark.parametrize("kind", ["pickle", "torch.save"])
def test_load_refuses_pickled_weights(saved, tmp_path, kind):
    # the payload is live: unpickling it does write its marker
    control = tmp_path / "control-marker"
    pickle.loads(_pickle_bytes(control))
    assert control.read_text() == "pwned"

    marker = tmp_path / "marker"
    path = copy_model(saved, tmp_path)
    if kind == "pickle":
        data = _pickle_bytes(marker)
        assert data[:1] == b"\x80"
    else:
        data = _torch_save_bytes(marker, tmp_path / "payload.pt")
    (path / WEIGHTS).write_bytes(data)

    with pytest.raises(ValueError, match="never unpickles"):
        aekit.load(path)
    assert not marker.exists()
    with pytest.raises(ValueError, match="not a safetensors file"):
        describe(path)
    assert not marker.exists()


# ------------------------------------------------------------ damaged models
def _damage_config_json(path: Path) -> None:
    (path / CONFIG).write_text('{"format": "aekit-model", "format_ver', encoding="utf-8")


def _other_format(path: Path) -> None:
    (path / CONFIG).write_text(json.dumps({"format": "someone-else", "layers": 3}))


def _config_not_object(path: Path) -> None:
    (path / CONFIG).write_text("[1, 2, 3]")


def _config_binary(path: Path) -> None:
    (path / CONFIG).write_bytes(b"\xff\xfe\x00\x80garbage")


def _newer_format(path: Path) -> None:
    config = json.loads((path / CONFIG).read_text())
    config["format_version"] = 99
    (path / CONFIG).write_text(json.dumps(config))


def _unknown_estimator(path: Path) -> None:
    config = json.loads((path / CONFIG).read_text())
    config["estimator"] = "NoSuchEstimator"
    (path / CONFIG).write_text(json.dumps(config))


def _no_module_section(path: Path) -> None:
    config = json.loads((path / CONFIG).read_text())
    del config["module"]
    (path / CONFIG).write_text(json.dumps(config))


def _unknown_param(path: Path) -> None:
    config = json.loads((path / CONFIG).read_text())
    config["params"]["no_such_param"] = 1
    (path / CONFIG).write_text(json.dumps(config))


def _weights_of_another_shape(path: Path) -> None:
    config = json.loads((path / CONFIG).read_text())
    config["module"]["config"]["latent_dim"] = 3
    (path / CONFIG).write_text(json.dumps(config))


def _no_config(path: Path) -> None:
    (path / CONFIG).unlink()


def _no_weights(path: Path) -> None:
    (path / WEIGHTS).unlink()


def _truncate_weights(path: Path) -> None:
    data = (path / WEIGHTS).read_bytes()
    (path / WEIGHTS).write_bytes(data[: len(data) // 2])


def _truncate_weights_header(path: Path) -> None:
    (path / WEIGHTS).write_bytes((path / WEIGHTS).read_bytes()[:20])


def _empty_weights(path: Path) -> None:
    (path / WEIGHTS).write_bytes(b"")


def _damage_history(path: Path) -> None:
    (path / HISTORY).write_text("[{", encoding="utf-8")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_damage_config_json, "config.json is damaged"),
        (_config_binary, "config.json is damaged"),
        (_other_format, "not an aekit model configuration"),
        (_config_not_object, "not an aekit model configuration"),
        (_newer_format, "newer aekit"),
        (_unknown_estimator, "does not describe a model"),
        (_no_module_section, "does not describe a model"),
        (_unknown_param, "does not describe a model"),
        (_weights_of_another_shape, "does not match the model"),
        (_no_config, "has no config.json"),
        (_no_weights, "has no model.safetensors"),
        (_truncate_weights, "damaged or not a safetensors file"),
        (_truncate_weights_header, "damaged or not a safetensors file"),
        (_empty_weights, "damaged or not a safetensors file"),
        (_damage_history, "history.json is damaged"),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) else None,
)
def test_load_refuses_damaged_model(saved, tmp_path, damage, message):
    path = copy_model(saved, tmp_path)
    damage(path)
    with pytest.raises(ValueError, match=re.escape(message)):
        aekit.load(path)


def _format_version_text(path: Path) -> None:
    config = json.loads((path / CONFIG).read_text())
    config["format_version"] = "1"
    (path / CONFIG).write_text(json.dumps(config))


def test_load_refuses_non_numeric_format_version(saved, tmp_path):
    path = copy_model(saved, tmp_path)
    _format_version_text(path)
    with pytest.raises(ValueError, match=r"config\.json"):
        aekit.load(path)


def test_load_refuses_weights_without_scaling(saved, scaled_model, tmp_path):
    # a scaled model's config.json beside the weights of an unscaled model of the same shape
    path = scaled_model.save(tmp_path / "scaled")
    shutil.copy(saved / WEIGHTS, path / WEIGHTS)
    with pytest.raises(ValueError, match=re.escape(WEIGHTS)):
        aekit.load(path)


def test_describe_refuses_truncated_weights(saved, tmp_path):
    path = copy_model(saved, tmp_path)
    _truncate_weights_header(path)
    with pytest.raises(ValueError, match="damaged or not a safetensors file"):
        describe(path)


def test_load_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model at"):
        aekit.load(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError):
        describe(tmp_path / "nowhere")


def test_load_file_instead_of_directory(saved, tmp_path):
    with pytest.raises(ValueError, match="not a model directory"):
        aekit.load(saved / WEIGHTS)


def test_load_empty_directory(tmp_path):
    with pytest.raises(ValueError, match=r"has no config\.json"):
        aekit.load(tmp_path)


# --------------------------------------------------------------- overwriting
def test_save_refuses_non_model_directory(model, tmp_path):
    target = tmp_path / "notes"
    target.mkdir()
    (target / "thesis.tex").write_text("years of work")
    with pytest.raises(ValueError, match="non-empty directory that is not an aekit model"):
        model.save(target)
    assert [p.name for p in target.iterdir()] == ["thesis.tex"]
    assert (target / "thesis.tex").read_text() == "years of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes"]  # no temporary left


def test_save_refuses_directory_with_foreign_config(model, tmp_path):
    target = tmp_path / "hf-model"
    target.mkdir()
    (target / CONFIG).write_text(json.dumps({"model_type": "bert"}))
    (target / "pytorch_model.bin").write_bytes(b"weights that took a week to train")
    with pytest.raises(ValueError, match="not an aekit model"):
        model.save(target)
    assert (target / "pytorch_model.bin").exists()


def test_save_refuses_file(model, tmp_path):
    target = tmp_path / "model"
    target.write_text("not a directory")
    with pytest.raises(ValueError, match="not a directory"):
        model.save(target)
    assert target.read_text() == "not a directory"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_save_into_empty_directory(model, tmp_path, X):
    target = tmp_path / "empty"
    target.mkdir()
    model.save(target)
    assert {p.name for p in target.iterdir()} == MODEL_FILES
    assert aekit.load(target).transform(X).tobytes() == model.transform(X).tobytes()


def test_save_replaces_existing_model(model, scaled_model, tmp_path, X_wide):
    target = model.save(tmp_path / "model")
    assert aekit.load(target).scaling_ is None
    scaled_model.save(target)
    assert {p.name for p in target.iterdir()} == MODEL_FILES
    loaded = aekit.load(target)
    assert loaded.scaling_ is not None
    assert loaded.transform(X_wide).tobytes() == scaled_model.transform(X_wide).tobytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no old or temporary copy


def _fail(*args, **kwargs):
    raise OSError("disk full")


@pytest.mark.parametrize(
    ("target", "attribute"),
    [
        (aekit.io.model_dir, "_write_weights"),
        (aekit.io.model_dir, "_write_json"),
    ],
    ids=["write_weights", "write_json"],
)
def test_failed_save_keeps_earlier_model(
    model, scaled_model, tmp_path, monkeypatch, X, target, attribute
):
    path = model.save(tmp_path / "model")
    before = snapshot(path)
    monkeypatch.setattr(target, attribute, _fail)
    with pytest.raises(OSError, match="disk full"):
        scaled_model.save(path)
    with pytest.raises(OSError, match="disk full"):
        scaled_model.save(tmp_path / "fresh")
    monkeypatch.undo()

    assert snapshot(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temporary directory
    loaded = aekit.load(path)
    assert loaded.scaling_ is None
    assert loaded.transform(X).tobytes() == model.transform(X).tobytes()
