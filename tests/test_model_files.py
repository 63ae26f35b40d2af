"""Saved model directories under careless and hostile use (issue 14, points 4, 7, 9, 10, 12,
12b for `aekit info`, 13 and 18): nothing lost, nothing silent, no hang, one clear line."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import aekit
import aekit.io.atomic
from aekit.cli import main
from aekit.io import CONFIG, HISTORY, WEIGHTS, check_model_output, describe, read_config

MODEL_FILES = {CONFIG, WEIGHTS, HISTORY}
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file semantics")


# ------------------------------------------------------------------------------ models
RNG = np.random.default_rng(0)
X = RNG.random((40, 8)).astype(np.float32)
IMAGES = RNG.random((24, 1, 8, 8)).astype(np.float32)
SERIES = RNG.random((24, 6, 2)).astype(np.float32)
LABELS = np.array(["cat", "dog"])[np.arange(40) % 2]
FAST = dict(epochs=1, random_state=0, verbose=False)

# Kind -> (estimator factory, fit arguments, method whose output identifies the model).
KINDS: dict[str, tuple[Callable[[], Any], tuple[Any, ...], str]] = {
    "dense": (lambda: aekit.Autoencoder(latent_dim=2, hidden=(4,), **FAST), (X,), "transform"),
    "conv": (
        lambda: aekit.Autoencoder(architecture="conv", latent_dim=2, hidden=(2,), **FAST),
        (IMAGES,),
        "transform",
    ),
    "recurrent": (
        lambda: aekit.Autoencoder(architecture="recurrent", latent_dim=2, hidden=(3,), **FAST),
        (SERIES,),
        "transform",
    ),
    "vae": (lambda: aekit.VAE(latent_dim=2, hidden=(4,), **FAST), (X,), "transform"),
    "classifier": (
        lambda: aekit.AutoencoderClassifier(hidden=(4,), pretrain_epochs=1, **FAST),
        (X, LABELS),
        "predict_proba",
    ),
    "detector": (
        lambda: aekit.AnomalyDetector(latent_dim=2, n_estimators=2, **FAST),
        (X * 4.0 - 1.0,),
        "decision_function",
    ),
}


@pytest.fixture(scope="module")
def fitted() -> dict[str, Any]:
    return {kind: make().fit(*args) for kind, (make, args, _) in KINDS.items()}


@pytest.fixture(scope="module")
def saved(fitted: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("kinds")
    return {kind: model.save(folder / kind) for kind, model in fitted.items()}


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dense model whose data was z-scored: it has scaling arrays."""
    model = aekit.Autoencoder(latent_dim=2, **FAST).fit(X * 10.0 - 3.0)
    return model.save(tmp_path_factory.mktemp("scaled") / "model")


def copy(path: Path, tmp_path: Path, name: str = "copy") -> Path:
    return Path(shutil.copytree(path, tmp_path / name))


def outputs(model: Any, kind: str) -> np.ndarray:
    _, args, method = KINDS[kind]
    return getattr(model, method)(args[0])


def edit_config(path: Path, change: Callable[[dict[str, Any]], Any]) -> None:
    config = json.loads((path / CONFIG).read_text(encoding="utf-8"))
    change(config)
    (path / CONFIG).write_text(json.dumps(config), encoding="utf-8")


def rewrite_weights(path: Path, change: Callable[[dict[str, torch.Tensor]], None]) -> None:
    """Change the tensors of a model and record the new file's checksum, as a forger (or a
    tool that rewrites the file whole) would: the damage is then only in the values."""
    tensors = dict(load_file(str(path / WEIGHTS)))
    change(tensors)
    save_file(tensors, str(path / WEIGHTS), metadata={"format": "aekit-model"})
    digest = hashlib.sha256((path / WEIGHTS).read_bytes()).hexdigest()
    edit_config(path, lambda c: c.__setitem__("weights_sha256", digest))


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


def run_cli(argv: list[object], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


# -------------------------------------------------- point 4: crash-safe, clean replacement
def test_save_removes_dead_writers_leftovers_and_restores_nothing_stale(
    fitted: dict[str, Any], tmp_path: Path
) -> None:
    dense, vae = fitted["dense"], fitted["vae"]
    target = dense.save(tmp_path / "model")
    pid, host = dead_pid(), aekit.io.atomic._host()
    # What killed saves left behind: a half-written new model, a whole old one, and the
    # older aekit's `.NAME.old-PID` and mkdtemp names.
    half = tmp_path / f".model.aekit-new-{host}-{pid}-0badc0de"
    half.mkdir()
    (half / WEIGHTS).write_bytes(b"half")
    shutil.copytree(target, tmp_path / f".model.aekit-old-{host}-{pid}-0badbeef")
    shutil.copytree(target, tmp_path / f".model.old-{pid}")
    legacy_tmp = tmp_path / ".model.abcd_123.tmp"
    legacy_tmp.mkdir()
    os.utime(legacy_tmp, (time.time() - 3600, time.time() - 3600))

    vae.save(target)
    assert siblings(target) == ["model"]
    assert outputs(aekit.load(target), "vae").tobytes() == outputs(vae, "vae").tobytes()


def test_load_puts_back_the_model_an_old_aekit_left_as_dot_old_pid(
    fitted: dict[str, Any], tmp_path: Path
) -> None:
    # The case: killed between the two renames, the old model sits in .NAME.old-PID.
    dense = fitted["dense"]
    target = dense.save(tmp_path / "model")
    os.replace(target, tmp_path / f".model.old-{dead_pid()}")
    assert outputs(aekit.load(target), "dense").tobytes() == outputs(dense, "dense").tobytes()
    assert siblings(target) == ["model"]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name fds")
def test_save_fsyncs_every_file_and_the_folders(
    fitted: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    fitted["dense"].save(tmp_path / "model")
    names = {Path(p).name for p in synced}
    assert MODEL_FILES <= names, synced  # each file, in the new directory, before the swap
    assert os.path.realpath(tmp_path) in synced  # the parent, after the rename


def test_check_model_output_refuses_before_any_work(fitted: dict[str, Any], tmp_path: Path) -> None:
    assert check_model_output(tmp_path / "new") == tmp_path / "new"
    (tmp_path / "empty").mkdir()
    check_model_output(tmp_path / "empty")
    check_model_output(fitted["dense"].save(tmp_path / "model"))  # a model is replaceable

    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "app.js").write_text("x")
    with pytest.raises(ValueError, match="not an aekit model"):
        check_model_output(project)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        check_model_output(tmp_path / "file")


def test_save_refuses_a_model_directory_holding_other_files(
    fitted: dict[str, Any], tmp_path: Path
) -> None:
    target = fitted["dense"].save(tmp_path / "model")
    (target / "notes.txt").write_text("my notes on this model")
    with pytest.raises(ValueError, match=r"also holds notes\.txt"):
        fitted["vae"].save(target)
    assert (target / "notes.txt").read_text() == "my notes on this model"
    assert siblings(target) == ["model"]


def test_save_replaces_a_model_with_its_default_report(
    fitted: dict[str, Any], tmp_path: Path
) -> None:
    # `aekit report MODEL` writes MODEL/report.html by default: that file is aekit's, describes
    # the model being replaced, and must not block retraining into the same folder.
    target = fitted["dense"].save(tmp_path / "model")
    (target / "report.html").write_text("<html>old report</html>")
    fitted["vae"].save(target)
    assert sorted(p.name for p in target.iterdir()) == sorted(MODEL_FILES)
    assert type(aekit.load(target)).__name__ == "VAE"


# ------------------------------------------------------- point 7: integrity of the weights
def test_config_records_the_sha256_of_the_weights(saved: dict[str, Path]) -> None:
    for path in saved.values():
        config = json.loads((path / CONFIG).read_text(encoding="utf-8"))
        assert config["weights_sha256"] == hashlib.sha256((path / WEIGHTS).read_bytes()).hexdigest()


def test_a_flipped_byte_in_the_weights_is_refused(saved: dict[str, Path], tmp_path: Path) -> None:
    path = copy(saved["dense"], tmp_path)
    data = bytearray((path / WEIGHTS).read_bytes())
    data[-3] ^= 0x40  # inside the last float: a valid file with one changed weight
    (path / WEIGHTS).write_bytes(bytes(data))
    for read in (aekit.load, describe):
        with pytest.raises(ValueError, match="SHA-256 differs"):
            read(path)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused_naming_the_tensor(
    saved: dict[str, Path], tmp_path: Path, value: float
) -> None:
    path = copy(saved["dense"], tmp_path)
    rewrite_weights(path, lambda t: t["module.encoder.0.weight"].view(-1).__setitem__(0, value))
    with pytest.raises(ValueError, match=r"module\.encoder\.0\.weight holds NaN or infinite"):
        aekit.load(path)


@pytest.mark.parametrize("value", [0.0, -1.0, float("nan"), float("inf")])
def test_a_bad_scaling_scale_is_refused(scaled: Path, tmp_path: Path, value: float) -> None:
    path = copy(scaled, tmp_path)
    rewrite_weights(path, lambda t: t["scaling.scale"].__setitem__(0, value))
    with pytest.raises(ValueError, match=r"scaling\.scale"):
        aekit.load(path)


def test_detector_arrays_must_be_finite(saved: dict[str, Path], tmp_path: Path) -> None:
    path = copy(saved["detector"], tmp_path)
    rewrite_weights(path, lambda t: t["state.gaussian_mean_"].view(-1).__setitem__(0, np.nan))
    with pytest.raises(ValueError, match=r"state\.gaussian_mean_"):
        aekit.load(path)


def test_a_model_saved_before_checksums_still_loads(
    fitted: dict[str, Any], saved: dict[str, Path], tmp_path: Path
) -> None:
    # Documented choice: a config.json without weights_sha256 (older aekit) is read without
    # the integrity check; every other check still applies.
    path = copy(saved["dense"], tmp_path)
    edit_config(path, lambda c: c.pop("weights_sha256", None))
    assert (
        outputs(aekit.load(path), "dense").tobytes() == outputs(fitted["dense"], "dense").tobytes()
    )
    assert describe(path)["weights_sha256"] is None


# -------------------------------------------------- point 9: no hang on FIFOs and devices
def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _char_device(path: Path) -> None:
    # /dev/null rather than /dev/zero: a reader that does open it gets a quick error, not an
    # endless file.
    path.unlink()
    path.symlink_to("/dev/null")


@posix_only
@pytest.mark.parametrize("filename", [CONFIG, WEIGHTS, HISTORY])
@pytest.mark.parametrize("replace", [_fifo, _char_device], ids=["fifo", "device"])
@pytest.mark.parametrize("read", [aekit.load, describe], ids=["load", "describe"])
def test_a_fifo_or_device_in_a_model_is_refused_at_once(
    saved: dict[str, Path], tmp_path: Path, filename: str, replace: Any, read: Any
) -> None:
    path = copy(saved["dense"], tmp_path)
    replace(path / filename)
    # A reader blocked opening a FIFO may hold the GIL (safetensors opens in Rust), so no
    # thread of this process could time it out: a separate process opens the FIFO for
    # writing after 5 s, which releases such a reader and makes the test fail, not hang.
    watchdog = subprocess.Popen(["sh", "-c", 'sleep 5; : > "$1"', "sh", str(path / filename)])
    start = time.monotonic()
    try:
        with pytest.raises(ValueError, match="not a regular file"):
            read(path)
        assert time.monotonic() - start < 2
    finally:
        watchdog.kill()
        watchdog.wait()


# --------------------------------------------- point 10: shapes checked before allocating
def _max_rss_mb() -> float:
    import resource  # POSIX only

    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale / 1024**2


@posix_only
def test_a_huge_configuration_fails_fast_without_allocating(
    saved: dict[str, Path], tmp_path: Path
) -> None:
    path = copy(saved["dense"], tmp_path)
    edit_config(path, lambda c: c["module"]["config"].__setitem__("hidden", [30000, 30000]))
    assert (path / CONFIG).stat().st_size < 2048
    rss_before, start = _max_rss_mb(), time.monotonic()
    for read in (aekit.load, describe):
        with pytest.raises(ValueError, match=r"does not match the model.*\[30000, 8\]"):
            read(path)
    # The network would be 3.6 GB of float32; refused from the header, it costs nothing.
    assert time.monotonic() - start < 1.0
    assert _max_rss_mb() - rss_before < 200


@pytest.mark.parametrize(
    ("hidden", "message"),
    [
        ([-4], r"module\.config\.hidden\[0\]: expected an integer >= 1, got -4"),
        ([0], r"module\.config\.hidden\[0\]: expected an integer >= 1"),
        ([2**40], r"module\.config\.hidden\[0\]: expected an integer <="),
        ([200000, 200000], r"does not match the model.*\[200000, 8\]"),
        ([4, 5], r"does not match the model"),
        (list(range(1, 1000)), r"module\.config\.hidden: expected a list of 0 to 256 items"),
    ],
)
def test_bad_widths_are_refused(
    saved: dict[str, Path], tmp_path: Path, hidden: list[int], message: str
) -> None:
    path = copy(saved["dense"], tmp_path)
    edit_config(path, lambda c: c["module"]["config"].__setitem__("hidden", hidden))
    for read in (aekit.load, describe):
        with pytest.raises(ValueError, match=message):
            read(path)


def _header(length: int, header: dict[str, Any] | None = None) -> bytes:
    raw = json.dumps(header).encode() if header is not None else b""
    return length.to_bytes(8, "little") + raw


@pytest.mark.parametrize(
    "content",
    [
        _header(2**60),
        _header(200, {}),  # a header longer than the file
        _header(
            len(
                json.dumps(
                    {"module.w": {"dtype": "F32", "shape": [1000], "data_offsets": [0, 4000]}}
                )
            ),
            {"module.w": {"dtype": "F32", "shape": [1000], "data_offsets": [0, 4000]}},
        ),  # tensors beyond the end of the file
        _header(len(json.dumps({"a": 1})), {"a": 1}),
    ],
    ids=["huge-length", "short-file", "offsets-beyond-file", "bad-entry"],
)
def test_a_safetensors_header_is_checked_against_the_file(
    saved: dict[str, Path], tmp_path: Path, content: bytes
) -> None:
    path = copy(saved["dense"], tmp_path)
    (path / WEIGHTS).write_bytes(content)
    edit_config(path, lambda c: c.pop("weights_sha256", None))
    for read in (aekit.load, describe):
        with pytest.raises(ValueError, match="damaged or not a safetensors file"):
            read(path)


# ----------------------------------------------------- point 12: bounded reads of the JSON
def test_a_huge_history_is_refused_unread(saved: dict[str, Path], tmp_path: Path) -> None:
    path = copy(saved["dense"], tmp_path)
    entry = '{"epoch": 1, "loss": 0.5, "val_loss": 0.25, "time": 0.01}'
    (path / HISTORY).write_text("[" + ",".join([entry] * 300_000) + "]")  # 17 MB, valid
    assert (path / HISTORY).stat().st_size > 16 << 20
    for read in (aekit.load, describe):
        with pytest.raises(ValueError, match=r"history\.json is .* bytes; .* at most 16,777,216"):
            read(path)


def test_a_huge_config_is_refused_unread(saved: dict[str, Path], tmp_path: Path) -> None:
    path = copy(saved["dense"], tmp_path)
    edit_config(path, lambda c: c.__setitem__("comment", "x" * (1 << 20)))
    for read in (aekit.load, describe, read_config):
        with pytest.raises(ValueError, match=r"config\.json is .* bytes; .* at most 1,048,576"):
            read(path)


# -------------------------------------------- point 13: every field checked against a schema
def _set(*keys: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(config: dict[str, Any]) -> None:
        node = config
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return change


DEEP = "[" * 200_000 + "]" * 200_000

# (model kind, change to config.json or new history.json text, field the message must name)
DAMAGE: list[tuple[str, Any, str]] = [
    ("dense", _set("module", "config", "latent_dim", value="abc"), "module.config.latent_dim"),
    ("dense", _set("module", "config", "hidden", value="xyz"), "module.config.hidden"),
    ("dense", _set("params", "hidden", value="xyz"), "params.hidden"),
    ("dense", _set("params", "latent_dim", value="abc"), "params.latent_dim"),
    ("dense", _set("state", "input_shape_", value=5), "state.input_shape_"),
    ("dense", _set("state", value=[1]), "state"),
    ("dense", _set("state", "best_epoch_", value="x"), "state.best_epoch_"),
    ("dense", _set("state", "loss_", value="hinge"), "state.loss_"),
    ("dense", _set("state", "n_features_in_", value=9), "state.input_shape_"),
    ("dense", _set("module", "kind", value="transformer"), "module.kind"),
    ("dense", _set("module", "config", "dropout", value=float("nan")), "module.config.dropout"),
    ("dense", _set("estimator", value={"name": "Autoencoder"}), "estimator"),
    ("dense", _set("params", "device", value=["cpu"]), "params.device"),
    ("dense", _set("module", "config", "activation", value="swish"), "module.config.activation"),
    ("dense", "DEEP-CONFIG", "nested too deeply"),
    ("dense", '{"a": 1}', "history: expected a list"),
    ("dense", '[{"loss": [1, 2]}]', "history[0].loss"),
    ("dense", "[" + DEEP + "]", "nested too deeply"),
    ("conv", _set("module", "config", "input_shape", value=[1, 0, 8]), "input_shape"),
    ("recurrent", _set("module", "config", "cell", value="transformer"), "module.config.cell"),
    ("vae", _set("state", "likelihood_", value=3), "state.likelihood_"),
    ("classifier", _set("state", "classes_", value=5), "state.classes_"),
    ("classifier", _set("state", "classes_", value=["a", "b", "c"]), "state.classes_"),
    ("classifier", _set("state", "pretrain_history_", value={"a": 1}), "state.pretrain_history_"),
    ("detector", _set("state", "threshold_", value="high"), "state.threshold_"),
    ("detector", _set("state", "trim_", value=[0.1]), "state.trim_"),
    ("detector", _set("module", "config", "n_members", value=10**9), "module.config.n_members"),
]


def _damage(path: Path, change: Any) -> None:
    if change == "DEEP-CONFIG":
        text = (path / CONFIG).read_text(encoding="utf-8")
        (path / CONFIG).write_text(text.rstrip()[:-1] + f', "x": {DEEP}}}', encoding="utf-8")
    elif isinstance(change, str):
        (path / HISTORY).write_text(change, encoding="utf-8")
    else:
        edit_config(path, change)


@pytest.mark.parametrize(
    ("kind", "change", "field"), DAMAGE, ids=[f"{k}-{f}" for k, _, f in DAMAGE]
)
def test_damaged_values_are_a_value_error_naming_the_field(
    saved: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    change: Any,
    field: str,
) -> None:
    path = copy(saved[kind], tmp_path)
    _damage(path, change)
    for read in (aekit.load, describe):
        with pytest.raises(ValueError) as info:
            read(path)
        assert field in str(info.value)
    # `aekit info` answers without torch and checks only what it shows; --check checks all.
    rc, _, err = run_cli(["info", path, "--check"], capsys)
    assert rc == 1
    assert len(err.splitlines()) == 1 and field in err, err


# ------------------------------------------------------- point 18: permissions follow umask
@posix_only
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_saved_files_follow_the_umask(fitted: dict[str, Any], tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        path = fitted["dense"].save(tmp_path / "model")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o777 & ~umask
    for name in MODEL_FILES:
        assert stat.S_IMODE((path / name).stat().st_mode) == 0o666 & ~umask, name


# ----------------------------------------------------- point 12b: `aekit info` of any kind
INFO_LAYERS = {
    "dense": "8-4-2 (decoder mirrors)",
    "conv": "input 1x8x8, channels 2",
    "recurrent": "6 steps of 2 features, lstm 3, code 2",
    "vae": "8-4-2 (decoder mirrors); Gaussian code",
    "classifier": "8-4-2 (stacked encoder, softmax head)",
    "detector": "2 members, each 8-",
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_info_describes_every_model_kind(
    saved: dict[str, Path], fitted: dict[str, Any], capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    rc, out, err = run_cli(["info", saved[kind]], capsys)
    assert rc == 0, err
    assert f"  layers     {INFO_LAYERS[kind]}" in out
    n = sum(p.numel() for p in fitted[kind].module_.parameters())
    assert f"{n:,} parameters" in out
    assert "verified" in out
    rc, out, _ = run_cli(["info", saved[kind], "--json"], capsys)
    assert rc == 0
    assert json.loads(out)["estimator"] == type(fitted[kind]).__name__


def test_every_kind_round_trips_exactly(saved: dict[str, Path], fitted: dict[str, Any]) -> None:
    for kind, path in saved.items():
        loaded = aekit.load(path)
        assert outputs(loaded, kind).tobytes() == outputs(fitted[kind], kind).tobytes(), kind
