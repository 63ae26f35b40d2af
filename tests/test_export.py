"""ONNX export: graphs that onnxruntime runs to the estimator's numbers, and `aekit export`."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import aekit
from aekit import VAE, Autoencoder, AutoencoderClassifier
from aekit.cli import main
from aekit.datasets import load_digits
from aekit.io import ExportResult, export_onnx
from aekit.io.onnx import ExportCheckError

ort = pytest.importorskip("onnxruntime")

ATOL = 1e-5
# The exporter traces a batch of 2 and the internal check runs 16 samples; the graphs are
# compared here on yet another batch size, so the batch axis is proven dynamic.
BATCH = 5

TINY = {"epochs": 2, "random_state": 0, "verbose": False}

# Kind -> (estimator class, parameters, data). "images" are the digits in [0, 1] (no scaling,
# sigmoid output); "units" are the same shifted out of [0, 1], which the estimator z-scores
# (per feature or per channel) and so the graphs must scale and unscale.
KINDS: dict[str, tuple[type, dict[str, Any], str]] = {
    "dense": (Autoencoder, {"latent_dim": 3, "hidden": (16,)}, "images"),
    "dense-scaled": (Autoencoder, {"latent_dim": 3, "hidden": (16,)}, "units"),
    "conv": (Autoencoder, {"architecture": "conv", "latent_dim": 3, "hidden": (4,)}, "images"),
    "conv-nearest": (
        Autoencoder,
        {"architecture": "conv", "upsample": "nearest", "latent_dim": 3, "hidden": (4, 8)},
        "units",
    ),
    "lstm": (Autoencoder, {"architecture": "recurrent", "cell": "lstm", "hidden": (8,)}, "units"),
    "gru-bidirectional": (
        Autoencoder,
        {"architecture": "recurrent", "cell": "gru", "hidden": (6, 4), "bidirectional": True},
        "units",
    ),
    "elman": (Autoencoder, {"architecture": "recurrent", "cell": "elman", "hidden": (8,)}, "units"),
    "jordan": (
        Autoencoder,
        {"architecture": "recurrent", "cell": "jordan", "hidden": (8,), "bidirectional": True},
        "images",
    ),
    "vae-dense": (VAE, {"latent_dim": 3, "hidden": (16,)}, "images"),
    "vae-conv": (VAE, {"architecture": "conv", "latent_dim": 3, "hidden": (4,)}, "units"),
}


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    images = load_digits()[0][:160]  # (160, 8, 8): images, or 8 steps of 8 features
    return {"images": images, "units": images * 16.0 - 4.0}


_FITTED: dict[str, tuple[Any, np.ndarray]] = {}


def fitted(kind: str, data: dict[str, np.ndarray]) -> tuple[Any, np.ndarray]:
    """The estimator of ``kind`` fitted on its data (once per session), and the data."""
    if kind not in _FITTED:
        cls, params, which = KINDS[kind]
        params = {"latent_dim": 2, **params, **TINY}
        _FITTED[kind] = (cls(**params).fit(data[which]), data[which])
    return _FITTED[kind]


def run_graph(path: Path, name: str, inputs: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {name: np.ascontiguousarray(inputs, dtype=np.float32)})[0]


def assert_graphs_match(estimator: Any, result: ExportResult, X: np.ndarray) -> None:
    """Each graph on a batch of BATCH samples equals the estimator's method to ATOL."""
    X = X[:BATCH].astype(np.float32)
    Z = estimator.transform(X)
    cases = [
        (result.encoder, "x", X, Z),
        (result.decoder, "z", Z, estimator.inverse_transform(Z)),
        (result.model, "x", X, estimator.reconstruct(X)),
    ]
    for path, name, inputs, expected in cases:
        got = run_graph(path, name, inputs)
        assert got.dtype == np.float32
        assert got.shape == expected.shape, path.name
        np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL, err_msg=path.name)


# ------------------------------------------------------------------------ every kind
@pytest.mark.parametrize("kind", list(KINDS))
def test_graphs_match_the_estimator(
    kind: str, data: dict[str, np.ndarray], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    estimator, X = fitted(kind, data)
    assert (estimator.scaling_ is None) == (KINDS[kind][2] == "images")
    capfd.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = export_onnx(estimator, tmp_path / "onnx", X=X[:16])
    # Nothing printed or logged (on the file descriptors, so C++ output counts too), and none
    # of the exporters' warnings about their own internals escapes.
    assert capfd.readouterr() == ("", "")
    assert [str(w.message) for w in caught] == []
    assert set(result.max_abs_diff) == {"encoder", "decoder", "model"}
    assert all(0 <= d <= ATOL for d in result.max_abs_diff.values()), result.max_abs_diff
    assert_graphs_match(estimator, result, X[16:])
    # The graphs hold their own copy of the network: the estimator was not moved or changed.
    assert estimator.device_ == torch.device("cpu")
    assert next(estimator.module_.parameters()).requires_grad


def test_vae_graphs_are_the_posterior_mean_and_the_likelihood_mean(
    data: dict[str, np.ndarray], tmp_path: Path
) -> None:
    vae, X = fitted("vae-dense", data)
    result = export_onnx(vae, tmp_path, check=False)
    x = torch.from_numpy(X[:BATCH].reshape(BATCH, -1).astype(np.float32))
    with torch.no_grad():
        mu, _ = vae.module_.posterior(x)  # (B, K)
        mean = torch.sigmoid(vae.module_.decoder(mu))  # (B, D) Bernoulli probabilities
    np.testing.assert_allclose(run_graph(result.encoder, "x", X[:BATCH]), mu.numpy(), atol=ATOL)
    recon = run_graph(result.model, "x", X[:BATCH])
    np.testing.assert_allclose(recon.reshape(BATCH, -1), mean.numpy(), atol=ATOL)


def test_manifest_describes_the_graphs(data: dict[str, np.ndarray], tmp_path: Path) -> None:
    estimator, X = fitted("dense-scaled", data)
    result = export_onnx(estimator, tmp_path, X=X)
    manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
    assert result.manifest == tmp_path.resolve() / "export.json"
    assert manifest["estimator"] == "Autoencoder"
    assert manifest["kind"] == "dense"
    assert manifest["input_shape"] == [8, 8]
    assert manifest["latent_dim"] == 3
    assert manifest["opset"] == result.opset
    assert manifest["exporter"] == result.exporter == "torchscript"
    assert manifest["check"] == {"atol": ATOL, "n_samples": len(X)}
    assert set(manifest["versions"]) >= {"aekit", "torch", "onnx", "onnxruntime"}
    expected_io = {
        "encoder": (("x", ["batch", 8, 8]), ("z", ["batch", 3])),
        "decoder": (("z", ["batch", 3]), ("x_hat", ["batch", 8, 8])),
        "model": (("x", ["batch", 8, 8]), ("x_hat", ["batch", 8, 8])),
    }
    for part, (inp, out) in expected_io.items():
        graph = manifest["graphs"][part]
        assert graph["file"] == f"{part}.onnx"
        assert [(v["name"], v["shape"], v["dtype"]) for v in graph["inputs"]] == [(*inp, "float32")]
        assert [(v["name"], v["shape"], v["dtype"]) for v in graph["outputs"]] == [
            (*out, "float32")
        ]
        assert graph["max_abs_diff"] == result.max_abs_diff[part]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "decoder.onnx",
        "encoder.onnx",
        "export.json",
        "model.onnx",
    ]


def test_opset_no_check_and_reexport(data: dict[str, np.ndarray], tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    estimator, X = fitted("dense", data)
    # numpy's integers are integers (a Python int, 18, is the CLI test's).
    result = export_onnx(estimator, tmp_path, opset=np.int64(17), check=False)
    assert result.opset == 17
    assert onnx.load(str(result.model)).opset_import[0].version == 17
    assert result.max_abs_diff == {}
    assert json.loads(result.manifest.read_text(encoding="utf-8"))["check"] is None
    assert_graphs_match(estimator, result, X)
    # An earlier export in the directory is replaced.
    again = export_onnx(estimator, tmp_path)
    assert again.max_abs_diff
    assert json.loads(again.manifest.read_text(encoding="utf-8"))["check"] is not None


def test_auto_falls_back_to_the_dynamo_exporter(
    data: dict[str, np.ndarray],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("onnxscript")
    estimator, X = fitted("dense", data)
    legacy = torch.onnx.export

    def export_without_torchscript(*args: Any, dynamo: bool = True, **kwargs: Any) -> Any:
        if not dynamo:  # as a torch without the legacy exporter would
            raise RuntimeError("the TorchScript exporter is gone")
        return legacy(*args, dynamo=True, **kwargs)

    monkeypatch.setattr(torch.onnx, "export", export_without_torchscript)
    capfd.readouterr()
    result = export_onnx(estimator, tmp_path)
    assert result.exporter == "dynamo"
    # The dynamo exporter prints progress lines and logs about torchvision; none gets out.
    assert capfd.readouterr() == ("", "")
    assert_graphs_match(estimator, result, X)
    manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
    assert manifest["exporter"] == "dynamo"
    assert "onnxscript" in manifest["versions"]
    with pytest.raises(ValueError, match=r"could not export the encoder.*TorchScript exporter is"):
        export_onnx(estimator, tmp_path / "legacy", exporter="torchscript")


# ------------------------------------------------------------------------------ errors
def test_check_catches_a_graph_that_disagrees(
    data: dict[str, np.ndarray], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    estimator, _ = fitted("dense", data)
    transform = Autoencoder.transform
    monkeypatch.setattr(Autoencoder, "transform", lambda self, X: transform(self, X) + 1e-3)
    out = tmp_path / "onnx"
    with pytest.raises(ExportCheckError, match=r"encoder\.onnx vs Autoencoder\.transform by"):
        export_onnx(estimator, out)
    assert not out.exists()  # nothing written, not even the directory


def test_tolerance_is_a_parameter(
    data: dict[str, np.ndarray], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    estimator, _ = fitted("dense", data)
    transform = Autoencoder.transform
    monkeypatch.setattr(Autoencoder, "transform", lambda self, X: transform(self, X) + 5e-6)
    assert export_onnx(estimator, tmp_path / "a").max_abs_diff["encoder"] > 4e-6
    with pytest.raises(ExportCheckError, match="atol=1e-06"):
        export_onnx(estimator, tmp_path / "b", atol=1e-6)
    with pytest.raises(ValueError, match="atol must be"):
        export_onnx(estimator, tmp_path / "c", atol=-1.0)


@pytest.mark.parametrize(
    "obj",
    [AutoencoderClassifier(), object(), torch.nn.Linear(2, 2), "not-a-dir-name"],
    ids=["classifier", "object", "torch-module", "missing-dir"],
)
def test_unsupported_input_is_refused(obj: Any, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    error = FileNotFoundError if isinstance(obj, str) else ValueError
    with pytest.raises(error, match="no model at" if isinstance(obj, str) else "cannot be"):
        export_onnx(obj, tmp_path / "onnx")
    assert not (tmp_path / "onnx").exists()


def test_unfitted_estimator_and_bad_arguments(data: dict[str, np.ndarray], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not fitted"):
        export_onnx(VAE(), tmp_path)
    estimator, _ = fitted("dense", data)
    with pytest.raises(ValueError, match=r"of shape \(8, 8\)"):
        export_onnx(estimator, tmp_path, X=np.zeros((4, 7)))
    with pytest.raises(ValueError, match="NaN"):
        export_onnx(estimator, tmp_path, X=np.full((4, 8, 8), np.nan))
    with pytest.raises(ValueError, match="exporter="):
        export_onnx(estimator, tmp_path, exporter="tf")
    with pytest.raises(ValueError, match="opset"):
        export_onnx(estimator, tmp_path, opset=2.5)
    with pytest.raises(ValueError, match="an integer of at least 7, got True"):
        export_onnx(estimator, tmp_path, opset=True)


def test_foreign_files_are_not_overwritten(data: dict[str, np.ndarray], tmp_path: Path) -> None:
    estimator, _ = fitted("dense", data)
    (tmp_path / "model.onnx").write_bytes(b"someone else's model")
    with pytest.raises(ValueError, match="not an aekit ONNX export; not replacing it"):
        export_onnx(estimator, tmp_path)
    assert (tmp_path / "model.onnx").read_bytes() == b"someone else's model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_missing_onnx_names_the_extra(
    data: dict[str, np.ndarray], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    estimator, _ = fitted("dense", data)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    with pytest.raises(ImportError, match=r'pip install "aekit\[onnx\]"'):
        export_onnx(estimator, tmp_path)


# -------------------------------------------------------------------------------- CLI
def run_cli(argv: list[object], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run `aekit ARGV` in-process; return (exit status, stdout, stderr)."""
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_user_error(rc: int, err: str) -> str:
    """Exit 1 and exactly one line `aekit export: error: ...`, no traceback."""
    assert rc == 1
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("aekit export: error: "), err
    return lines[0]


@pytest.fixture(scope="module")
def model_dir(data: dict[str, np.ndarray], tmp_path_factory: pytest.TempPathFactory) -> Path:
    estimator, _ = fitted("vae-dense", data)
    return estimator.save(tmp_path_factory.mktemp("cli") / "model")


def test_cli_export(model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "onnx"
    rc, stdout, err = run_cli(["export", model_dir, "--out", out, "--data", "digits"], capsys)
    assert rc == 0, err
    assert err == ""
    lines = stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        f"wrote encoder.onnx, decoder.onnx, model.onnx and export.json to {out.resolve()} (opset "
    )
    assert "max |onnxruntime - torch| encoder " in lines[0]
    manifest = json.loads((out / "export.json").read_text(encoding="utf-8"))
    assert manifest["estimator"] == "VAE"
    assert manifest["check"]["n_samples"] == 256  # the first 256 digits
    X = load_digits()[0][:BATCH]
    np.testing.assert_allclose(
        run_graph(out / "model.onnx", "x", X), aekit.load(model_dir).reconstruct(X), atol=ATOL
    )


def test_cli_export_options(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, stdout, err = run_cli(
        ["export", model_dir, "--out", tmp_path, "--opset", 18, "--no-check"], capsys
    )
    assert rc == 0, err
    assert "(opset 18); not checked" in stdout
    assert json.loads((tmp_path / "export.json").read_text(encoding="utf-8"))["opset"] == 18


def test_cli_export_errors(
    model_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rc, _, err = run_cli(["export", tmp_path / "missing", "--out", tmp_path / "onnx"], capsys)
    assert "no model at" in assert_user_error(rc, err)
    (tmp_path / "file").write_text("x")
    rc, _, err = run_cli(["export", model_dir, "--out", tmp_path / "file"], capsys)
    assert "is not a directory" in assert_user_error(rc, err)
    transform = VAE.transform  # the model is a VAE
    monkeypatch.setattr(VAE, "transform", lambda self, X: transform(self, X) + 1.0)
    rc, _, err = run_cli(["export", model_dir, "--out", tmp_path / "o"], capsys)
    assert "disagree with the estimator" in assert_user_error(rc, err)
