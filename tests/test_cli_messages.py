"""Issue 15, points 8-11: usage errors that name the flag meant, output errors that name the
user's path, messages in plain English, and a command line that answers without torch."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import aekit
from aekit._text import a_or_an, plural
from aekit.cli import VERBS, build_parser, main
from aekit.io.atomic import atomic_directory, atomic_file, atomic_write_path
from test_cli import run_cli

ON_LINUX = sys.platform.startswith("linux")


def error_line(rc: int, err: str, verb: str) -> str:
    """The error of a user's mistake (exit 1): one line, the last on stderr (notes on what was
    read may come before it), no traceback."""
    assert rc == 1 and "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith(f"aekit {verb}: error: ")]
    assert len(errors) == 1 and err.splitlines()[-1] == errors[0], err
    return errors[0]


def usage_error(argv: list[object], capsys: pytest.CaptureFixture[str]) -> str:
    """The one line of a usage mistake (exit status 2)."""
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in argv])
    assert exc.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "x.npy"
    np.save(path, np.random.default_rng(0).normal(size=(30, 5)).astype(np.float32))
    return path


@pytest.fixture(scope="module")
def model(table: Path) -> Path:
    """A model trained for one epoch (so its messages say "1 epoch")."""
    X = np.load(table)
    path = table.parent / "model"
    aekit.Autoencoder(latent_dim=2, hidden=(4,), epochs=1, random_state=0).fit(X).save(path)
    return path


# ------------------------------------------------------------- point 8: usage mistakes
@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # Before: "the following arguments are required: --out", no word of the typo.
        (
            ["train", "digits", "--latnet-dim", "4"],
            "aekit train: error: unrecognized arguments: --latnet-dim (did you mean "
            "--latent-dim?) (see aekit train --help)",
        ),
        # Before: "--latnet-dim 4 (did you mean ...)": the value was taken for an argument.
        (
            ["train", "digits", "--out", "m", "--latnet-dim", "4"],
            "aekit train: error: unrecognized arguments: --latnet-dim (did you mean "
            "--latent-dim?) (see aekit train --help)",
        ),
        # Before: "--latnet-dim digits": DATA was taken for the flag's leftover.
        (
            ["train", "--latnet-dim", "4", "digits", "--out", "m"],
            "aekit train: error: unrecognized arguments: --latnet-dim (did you mean "
            "--latent-dim?) (see aekit train --help)",
        ),
        (
            ["train", "digits", "--out", "m", "--latnet-dim=4", "--bogus"],
            "aekit train: error: unrecognized arguments: --latnet-dim=4 (did you mean "
            "--latent-dim?), --bogus (see aekit train --help)",
        ),
        (
            ["encode", "m", "digits", "--ot", "codes.npy"],
            "aekit encode: error: unrecognized arguments: --ot (did you mean --out?) "
            "(see aekit encode --help)",
        ),
        # Before: "the following arguments are required: VERB".
        (
            ["--verison"],
            "aekit: error: unrecognized arguments: --verison (did you mean --version?) "
            "(see aekit --help)",
        ),
        # Before: the list of all fourteen verbs, and no hint.
        (
            ["trian", "digits"],
            "aekit: error: argument VERB: invalid choice: 'trian' (did you mean 'train'?) "
            "(see aekit --help)",
        ),
        (
            ["train", "digits", "--out", "m", "--model", "detectr"],
            "aekit train: error: argument --model: invalid choice: 'detectr' (did you mean "
            "'detector'?) (see aekit train --help)",
        ),
        (
            ["train", "digits", "--out", "m", "--hidden", "32,abc"],
            "aekit train: error: argument --hidden: expected comma-separated integers, got "
            "'32,abc' (see aekit train --help)",
        ),
    ],
    ids=[
        "typo-without-out",
        "typo-with-value",
        "typo-before-data",
        "typo-with-equals",
        "encode-typo",
        "top-level-typo",
        "mistyped-verb",
        "mistyped-choice",
        "bad-value",
    ],
)
def test_a_mistyped_flag_or_word_gets_one_line_naming_the_one_meant(
    capsys: pytest.CaptureFixture[str], argv: list[object], expected: str
) -> None:
    assert usage_error(argv, capsys) == expected


def test_nothing_close_is_suggested_and_far_choices_are_listed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = usage_error(["train", "digits", "--out", "m", "--bogus"], capsys)
    assert line == "aekit train: error: unrecognized arguments: --bogus (see aekit train --help)"
    line = usage_error(["frobnicate"], capsys)
    assert "did you mean" not in line
    assert "invalid choice: 'frobnicate' (choose from 'demo', 'train', " in line
    line = usage_error(["train", "digits", "extra", "--out", "m"], capsys)
    assert line == "aekit train: error: unrecognized arguments: extra (see aekit train --help)"


def test_abbreviations_attached_values_and_negative_numbers_still_parse() -> None:
    parser = build_parser()
    args = parser.parse_args(["train", "digits", "--out", "m", "--epoch", "3", "--lr=0.01"])
    assert (args.epochs, args.lr) == (3, 0.01)
    args = parser.parse_args(["search", "i", "q.npy", "-k5", "--out", "r.csv"])
    assert args.k == 5
    args = parser.parse_args(["generate", "m", "--out", "g", "--from", "-1", "--to", "-2"])
    assert (args.start, args.end) == (-1, -2)


# --------------------------------------------------- point 9: errors name the user's path
def _no_temporary_name(line: str) -> None:
    assert ".aekit-new-" not in line and ".tmp" not in line, line


@pytest.mark.skipif(not ON_LINUX, reason="/proc is Linux's")
@pytest.mark.parametrize(
    ("verb", "out"),
    [("train", "x"), ("encode", "x.npy"), ("index", "x"), ("report", "x.html")],
)
def test_an_output_under_proc_is_named_as_given(
    model: Path,
    table: Path,
    capsys: pytest.CaptureFixture[str],
    verb: str,
    out: str,
) -> None:
    # /proc refuses new entries even to root (for whom a read-only folder is writable).
    target = f"/proc/{out}"
    argv = {
        "train": ["train", table, "--out", target, "--epochs", "1", "--quiet"],
        "encode": ["encode", model, table, "--out", target],
        "index": ["index", model, table, "--out", target],
        "report": ["report", model, "--out", target],
    }[verb]
    rc, _, err = run_cli(argv, capsys)
    line = error_line(rc, err, verb)
    _no_temporary_name(line)
    if os.geteuid() == 0:  # root passes the early check; the write itself fails
        assert line == f"aekit {verb}: error: cannot write {target}: No such file or directory"
    else:  # refused before any work, by the check of the output's folder
        assert line.startswith(f"aekit {verb}: error: cannot write ") and target in line


@pytest.mark.skipif(not ON_LINUX or os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_folder_is_named_as_given(
    model: Path, table: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        rc, _, err = run_cli(["encode", model, table, "--out", folder / "c.npy"], capsys)
    finally:
        folder.chmod(0o755)
    line = error_line(rc, err, "encode")
    _no_temporary_name(line)
    assert line.startswith("aekit encode: error: cannot write ") and str(folder) in line


def test_every_atomic_writer_names_the_target_not_its_temporary(tmp_path: Path) -> None:
    missing = tmp_path / "missing"  # the temporary file beside the target cannot be created
    with pytest.raises(FileNotFoundError) as exc:
        with atomic_file(missing / "out.txt", "w") as f:
            f.write("x")
    assert str(exc.value) == f"cannot write {missing / 'out.txt'}: No such file or directory"
    assert exc.value.errno == errno.ENOENT

    with pytest.raises(FileNotFoundError) as exc:
        atomic_write_path(missing / "a.npy", lambda tmp: np.save(tmp, np.zeros(3)))
    assert str(exc.value) == f"cannot write {missing / 'a.npy'}: No such file or directory"

    def full_disk(tmp: Path) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # write() names no file

    with pytest.raises(OSError) as exc:
        atomic_write_path(tmp_path / "b.npy", full_disk)
    assert str(exc.value) == f"cannot write {tmp_path / 'b.npy'}: {os.strerror(errno.ENOSPC)}"
    assert not list(tmp_path.glob(".b.npy*"))  # the temporary file is gone too

    target = tmp_path / "model"
    with pytest.raises(FileNotFoundError) as exc:
        with atomic_directory(target, lambda p: True) as tmp:
            (tmp / "no-such-folder" / "weights").write_bytes(b"x")
    assert str(exc.value) == f"cannot write {target}: No such file or directory"
    assert not target.exists()


def test_an_error_about_another_file_keeps_its_own_name(tmp_path: Path) -> None:
    # An input read inside the block is not the output: its error is left as it was.
    absent = tmp_path / "input.csv"
    with pytest.raises(FileNotFoundError) as exc:
        with atomic_file(tmp_path / "out.txt", "w") as f:
            f.write(absent.read_text())
    assert exc.value.filename == str(absent)
    assert str(exc.value) == f"[Errno 2] No such file or directory: '{absent}'"


# -------------------------------------------------------------------- point 10: English
@pytest.mark.parametrize(
    ("n", "word", "many", "expected"),
    [(1, "epoch", None, "1 epoch"), (0, "epoch", None, "0 epochs"), (2, "epoch", None, "2 epochs"),
     (1, "query", "queries", "1 query"), (5, "query", "queries", "5 queries")],
)  # fmt: skip
def test_plural(n: int, word: str, many: str | None, expected: str) -> None:
    assert plural(n, word, many) == expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("Autoencoder", "an Autoencoder"),
        ("AutoencoderClassifier", "an AutoencoderClassifier"),
        ("AnomalyDetector", "an AnomalyDetector"),
        ("VAE", "a VAE"),
        ("dense network", "a dense network"),
        ("MSE loss", "an MSE loss"),
        ("HDF5 file", "an HDF5 file"),
        ("unit", "a unit"),
        ("uninitialised model", "an uninitialised model"),
        ("one-hot column", "a one-hot column"),
        ("hour", "an hour"),
        ("8-step", "an 8-step"),
        ("11-step", "an 11-step"),
        ("18,000", "an 18,000"),
        ("10-step", "a 10-step"),
        ("110-step", "a 110-step"),
    ],
)
def test_a_or_an(word: str, expected: str) -> None:
    assert a_or_an(word) == expected


def test_one_epoch_is_one_epoch_in_train_and_info(
    table: Path, model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", table, "--out", tmp_path / "m", "--epochs", "1", "--hidden", "4", "--quiet"]
    rc, out, err = run_cli(argv, capsys)
    assert rc == 0, err
    assert out.startswith("trained 1 epoch in "), out  # was "trained 1 epochs"
    rc, out, err = run_cli(["info", model], capsys)
    assert rc == 0, err
    assert "  training   1 epoch, kept epoch 1" in out, out


def test_a_model_of_the_wrong_kind_is_named_with_its_article(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, err = run_cli(["generate", model, "--out", tmp_path / "g"], capsys)
    line = error_line(rc, err, "generate")
    expected = f"aekit generate: error: {model} holds an Autoencoder; generate takes a VAE;"
    assert line.startswith(expected), line


def test_a_classifier_cannot_be_exported_in_good_english(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from aekit.io import export_onnx

    with pytest.raises(ValueError, match=r"; an AutoencoderClassifier cannot be exported to ONNX$"):
        export_onnx(aekit.AutoencoderClassifier(), tmp_path / "onnx")


def test_mnist_not_found_says_why_rather_than_looked_in_nowhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AEKIT_DATA", raising=False)
    with pytest.raises(FileNotFoundError) as exc:
        aekit.datasets.load_mnist()
    assert str(exc.value).startswith(
        "MNIST was not found: no path was given and AEKIT_DATA is unset. Put mnist.npz"
    )
    assert "nowhere" not in str(exc.value)


def test_counts_of_one_are_singular_in_search_and_library_errors(
    model: Path, table: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = tmp_path / "one.npy"
    np.save(one, np.load(table)[:1])
    rc, out, err = run_cli(["index", model, one, "--out", tmp_path / "idx"], capsys)
    assert rc == 0, err
    assert out.startswith("indexed 1 item as 2-d codes"), out
    argv = ["search", tmp_path / "idx", one, "-k", "1", "--out", tmp_path / "r.csv"]
    rc, out, err = run_cli(argv, capsys)
    assert rc == 0, err
    assert out.startswith("found the nearest of 1 item for 1 query "), out

    index = aekit.LatentIndex(aekit.load(model)).add(np.load(one))
    with pytest.raises(ValueError, match=r"the index holds only 1 item$"):
        index.search(np.load(one), 2)
    with pytest.raises(ValueError, match=r"is longer than the series \(1 step\)$"):
        aekit.datasets.sliding_windows(np.zeros(1), 3)


# ----------------------------------------------------- point 11: a quick command line
HEAVY = ("torch", "sklearn", "scipy", "pandas", "matplotlib")


def test_help_version_and_usage_errors_import_neither_torch_nor_sklearn() -> None:
    code = f"""
import contextlib, io, sys
import aekit, aekit.cli
runs = [["--help"], ["--version"], ["trian"], ["train", "digits", "--latnet-dim", "4"]]
runs += [[verb, "--help"] for verb in aekit.cli.VERBS]
for argv in runs:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            aekit.cli.main(argv)
        except SystemExit:
            pass
print(sorted(m for m in {HEAVY!r} if m in sys.modules))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_info_describes_a_model_without_torch(tmp_path, digits, capsys) -> None:
    X, _ = digits
    from aekit import Autoencoder

    model = Autoencoder(latent_dim=2, epochs=1, random_state=0).fit(X[:100]).save(tmp_path / "m")
    code = f"""
import contextlib, io, sys
import aekit.cli
out = io.StringIO()
with contextlib.redirect_stdout(out):
    status = aekit.cli.main(["info", {str(model)!r}])
print(status, "verified" in out.getvalue(), sorted(m for m in {HEAVY!r} if m in sys.modules))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0", "True", "[]"]
    # The quick description and the full check agree on what they show.
    assert main(["info", str(model), "--json"]) == 0
    quick = json.loads(capsys.readouterr().out)
    assert main(["info", str(model), "--json", "--check"]) == 0
    full = json.loads(capsys.readouterr().out)
    assert {k: v for k, v in quick.items() if k != "checked"} == {
        k: v for k, v in full.items() if k != "checked"
    }
    # A flipped byte in the weights is caught without torch too.
    weights = model / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    assert main(["info", str(model)]) == 1
    assert "SHA-256 differs" in capsys.readouterr().err


def test_a_reader_that_leaves_is_not_an_error(tmp_path) -> None:
    # `aekit ... | head`: the pipe closes under aekit's writes. The shell's status for a
    # program stopped by the pipe, and nothing on stderr (no one-line error, no traceback).
    code = f"""
import sys
import aekit.cli
class Closed:
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")
    def flush(self):
        pass
    def fileno(self):
        return 1
sys.stdout = Closed()
status = aekit.cli.main(["info", {str(tmp_path / "absent.csv")!r}])
open({str(tmp_path / "status")!r}, "w").write(str(status))
"""
    (tmp_path / "absent.csv").write_text("a,b\n1,2\n")
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0
    assert proc.stderr == ""
    assert (tmp_path / "status").read_text() == "141"


def test_the_public_names_load_on_first_use() -> None:
    code = f"""
import sys
import aekit
before = sorted(m for m in {HEAVY!r} if m in sys.modules)
names = sorted(n for n in aekit.__all__ if n in dir(aekit))
model = aekit.Autoencoder
print(before, names, model.__module__, "torch" in sys.modules)
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [
        "[]",
        "['AnomalyDetector',", "'AutoRec',", "'Autoencoder',", "'AutoencoderClassifier',",
        "'LatentIndex',", "'VAE',", "'__version__',", "'datasets',", "'load']",
        "aekit.estimators.autoencoder",
        "True",
    ]  # fmt: skip
    with pytest.raises(AttributeError, match="module 'aekit' has no attribute 'Autoencodr'"):
        aekit.Autoencodr  # noqa: B018


def test_the_cli_s_copies_of_library_choices_agree() -> None:
    from aekit.cli import compress, index, train
    from aekit.tasks import compression, retrieval

    assert index.METRICS == retrieval.METRICS
    assert index.BACKENDS == retrieval.BACKENDS
    assert compress.DTYPES == tuple(compression.CODE_BITS)
    assert list(train.MODELS) == ["autoencoder", "vae", "classifier", "detector", "autorec"]
    assert [train.MODELS[m] for m in train.MODELS] == [
        aekit.Autoencoder,
        aekit.VAE,
        aekit.AutoencoderClassifier,
        aekit.AnomalyDetector,
        aekit.AutoRec,
    ]
    assert VERBS[:2] == ("demo", "train") and len(VERBS) == len(set(VERBS)) == 15
