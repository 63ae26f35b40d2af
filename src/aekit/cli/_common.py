"""Pieces shared by the verbs: checking inputs and outputs before any work, the model kinds
each verb takes, reading DATA, writing arrays atomically."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from aekit.datasets import BUILTIN, BUILTIN_LABELS, load, read_array
from aekit.io.atomic import atomic_write_path, check_writable_parent

# ------------------------------------------------------------------------------ model kinds
AUTOENCODERS = ("Autoencoder", "VAE")
ANY_MODEL = ("Autoencoder", "VAE", "AutoencoderClassifier", "AnomalyDetector")

# Verb -> the estimators (class names, as config.json records them) it takes. One table, so
# that a verb given another kind says so in one line instead of failing on a missing method.
ACCEPTS: dict[str, tuple[str, ...]] = {
    "encode": ANY_MODEL,  # transform: every estimator has codes
    "index": ANY_MODEL,  # transform
    "report": ANY_MODEL,
    "reconstruct": AUTOENCODERS,  # reconstruct, reconstruction_error
    "denoise": AUTOENCODERS,  # denoise
    "compress": AUTOENCODERS,  # transform and inverse_transform
    "decompress": AUTOENCODERS,
    "export": AUTOENCODERS,  # the ONNX exporter's graphs
    "generate": ("VAE",),  # sample, interpolate
    "detect": ("AnomalyDetector",),  # decision_function, threshold_
}

# What to add after "MODEL holds a NAME; VERB takes KINDS": why, and how to get the right kind.
HINTS: dict[str, str] = {
    "generate": "; generating needs a VAE's prior: train one with: aekit train DATA --model vae "
    "--out MODEL",
    "detect": "; {a_name} is not an anomaly detector: train one with: aekit train DATA --model "
    "detector --out MODEL",
}


def _a(name: str) -> str:
    return f"{'an' if name[:1] and name[0] in 'AEIOU' else 'a'} {name}"


def _kinds(names: Sequence[str]) -> str:
    named = [_a(n) for n in names]
    return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " or " + named[-1]


def check_model_kind(verb: str, model: str | Path) -> str:
    """Refuse a model directory holding an estimator that ``verb`` cannot use; returns the
    estimator's name. Reads config.json only, so a wrong kind costs no weights and no data."""
    from aekit.io.model_dir import read_config

    config = read_config(model)
    name = config.get("estimator")
    accepted = ACCEPTS[verb]
    if name not in accepted:
        a_name = _a(name) if isinstance(name, str) else "an unknown estimator"
        raise ValueError(
            f"{model} holds {a_name}; {verb} takes {_kinds(accepted)}"
            + HINTS.get(verb, "").format(a_name=a_name)
        )
    return str(name)


def load_model(verb: str, model: str | Path, device: str | None = None) -> Any:
    """The estimator saved at ``model``, once ``device`` is one this machine runs on and the
    model's kind one ``verb`` takes (both checked before the weights are read)."""
    from aekit.io import load as load_estimator

    check_device(device)
    check_model_kind(verb, model)
    return load_estimator(model, device=device)


def check_device(device: Any) -> None:
    """Refuse a ``--device`` this machine or aekit cannot run on, before any work."""
    if device is not None:
        from aekit.training import resolve_device

        resolve_device(device)


# ------------------------------------------------------------------------ inputs, outputs
@dataclass(frozen=True)
class Input:
    """Something a verb reads: a file (DATA, labels, a config) or a directory (a model, an
    index) inside which nothing may be written."""

    path: str | Path | None
    name: str  # how the user gave it: "DATA", "MODEL", "--labels"
    directory: bool = False


@dataclass(frozen=True)
class Output:
    """Something a verb writes.

    ``kind``: ``"file"`` (one of ``suffixes``), ``"model"`` or ``"index"`` (a directory
    replaced whole, and only when it is one of aekit's), or ``"folder"`` (a directory kept,
    into which the files ``writes`` and the model directory ``models`` are written).
    ``inside_ok`` lets a file sit in an input directory (the report beside its model).
    """

    path: str | Path
    name: str  # "--out", "--errors"
    kind: Literal["file", "model", "index", "folder"] = "file"
    suffixes: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    inside_ok: bool = False
    noun: str = "folder"  # what the verb's help calls a folder output ("directory")


def data_input(value: str | None, name: str = "DATA") -> Input:
    """DATA as an input: a built-in name is no file."""
    return Input(None if value is None or value in BUILTIN else value, name)


def _real(path: str | Path) -> Path:
    # realpath resolves the existing part of a path through its links, so an output that is an
    # input under another name (a link, "a/../b") is seen as the same file.
    return Path(os.path.realpath(os.path.abspath(path)))


def _inside(path: Path, folder: Path) -> bool:
    return path != folder and folder in path.parents


def _same(a: str | Path, b: str | Path) -> bool:
    if _real(a) == _real(b):
        return True
    try:
        return os.path.samefile(a, b)  # hard links
    except OSError:
        return False


def _suffix_line(path: str | Path, suffixes: Sequence[str]) -> str:
    shown = suffixes[0] if len(suffixes) == 1 else ", ".join(suffixes[:-1]) + " or " + suffixes[-1]
    return f"cannot write {path}: use a {shown} file name"


def _check_writable_file(path: str | Path, name: str) -> None:
    if Path(path).is_dir():
        raise ValueError(f"{name} {path} is a directory; give a file name")
    check_writable_parent(path, name)


def _check_directory_output(path: str | Path, kind: str) -> None:
    if kind == "model":
        from aekit.io.model_dir import check_model_output

        check_model_output(path)
    else:
        from aekit.tasks.retrieval import check_index_output

        check_index_output(path)


def check_paths(inputs: Iterable[Input], outputs: Iterable[Output]) -> None:
    """Refuse, before any work, outputs that would destroy an input or cannot be written.

    Every verb calls it first. Refused: an output that is (or resolves, through links, to) an
    input; a file written inside an input model or index directory; an input inside a
    directory that the output replaces; two outputs that are the same file; a file name
    with a suffix the verb does not write, or naming an existing directory; a directory
    output that is a file or a foreign directory; a place that is not writable.

    Raises
    ------
    ValueError
        One line naming the output and what is wrong with it.
    """
    ins = [(i, i.path) for i in inputs if i.path is not None]
    # Everything written, as (path, user's name, file or whole directory, may sit in an input).
    written: list[tuple[Path, str, str, bool]] = []
    for out in outputs:
        if out.kind == "file":
            if out.suffixes and Path(out.path).suffix.lower() not in out.suffixes:
                raise ValueError(_suffix_line(out.path, out.suffixes))
            _check_writable_file(out.path, out.name)
            written.append((Path(out.path), out.name, "file", out.inside_ok))
        elif out.kind in ("model", "index"):
            _check_directory_output(out.path, out.kind)
            written.append((Path(out.path), out.name, out.kind, False))
        else:
            folder = Path(out.path)
            if folder.exists() and not folder.is_dir():
                raise ValueError(f"{out.name} {folder} exists and is not a {out.noun}")
            check_writable_parent(folder / "x", out.name)
            written.append((folder, out.name, "folder", False))
            for file in out.writes:
                _check_writable_file(folder / file, out.name)
                written.append((folder / file, f"{out.name} {folder}:", "file", False))
            for model in out.models:
                _check_directory_output(folder / model, "model")
                written.append((folder / model, f"{out.name} {folder}:", "model", False))

    for path, name, kind, inside_ok in written:
        target = _real(path)
        for i, source_path in ins:
            source = _real(source_path)
            if _same(path, source_path):
                raise ValueError(
                    f"{name} {path} is the input {i.name} {source_path}; writing it would "
                    "destroy it"
                )
            if i.directory and _inside(target, source) and not inside_ok:
                raise ValueError(
                    f"{name} {path} lies inside the input {i.name} {source_path}; writing there "
                    "would damage it"
                )
            # A folder output keeps what it holds; a model or index output is replaced whole.
            if kind in ("model", "index") and _inside(source, target):
                raise ValueError(
                    f"the input {i.name} {source_path} lies inside {name} {path}, which would "
                    "be replaced"
                )
    # Folders are left out: several files go into one folder.
    places = [(_real(p), p, n) for p, n, k, _ in written if k != "folder"]
    for a, (ra, pa, na) in enumerate(places):
        for rb, pb, nb in places[a + 1 :]:
            if ra == rb or _inside(ra, rb) or _inside(rb, ra):
                raise ValueError(f"{na} {pa} and {nb} {pb} name the same place; give two")


# --------------------------------------------------------------------------------- data
def add_data_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "data",
        metavar="DATA",
        help=f"a file (.npy, .npz, .csv, IDX) or a built-in name ({', '.join(BUILTIN)})",
    )
    parser.add_argument("--key", help="the array to read from an .npz file")


def read_data(args: argparse.Namespace) -> np.ndarray:
    return load(args.data, key=args.key)


def read_labels(args: argparse.Namespace, n: int) -> np.ndarray | None:
    """Labels of the ``n`` samples of DATA: ``--labels FILE``, else a built-in set's own, else
    None."""
    if getattr(args, "labels", None):
        y = read_array(args.labels)
    elif args.data in BUILTIN_LABELS:
        y = BUILTIN_LABELS[args.data]()
    else:
        return None
    y = np.asarray(y).reshape(-1)
    if len(y) != n:
        raise ValueError(f"{args.labels or args.data} holds {len(y)} labels for {n} samples")
    return y


# ------------------------------------------------------------------------------- writing
ARRAY_SUFFIXES = (".npy", ".csv")


def write_file(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path`` (same suffix) and rename it
    over ``path``: a failed or killed write leaves any earlier file whole."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write_path(path, write)
    except OSError as exc:
        # Name the file the user gave, not the temporary one the error is about.
        raise OSError(f"cannot write {path}: {exc.strerror or exc}") from None


def save_to(path: Path, save: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """``save(file, *args, **kwargs)`` into ``path`` opened as a binary file: np.save and
    np.savez given a name add their suffix to one that lacks it (".NPY" counts as lacking)."""
    with open(path, "wb") as f:
        save(f, *args, **kwargs)


def write_array(path: str | Path, array: np.ndarray) -> Path:
    """Write ``array`` as .npy (any shape) or .csv (rows of flattened samples), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return write_file(path, lambda tmp: save_to(tmp, np.save, array, allow_pickle=False))
    if suffix == ".csv":
        return write_file(
            path,
            lambda tmp: np.savetxt(tmp, array.reshape(len(array), -1), delimiter=",", fmt="%.8g"),
        )
    raise ValueError(_suffix_line(path, ARRAY_SUFFIXES))
