"""Pieces shared by the verbs: their parsers' common arguments, checking inputs and outputs
before any work, the model kinds each verb takes, loading MODEL and reading DATA, writing
arrays, tables and figures atomically."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np

from aekit._text import a_or_an, plural
from aekit.datasets import BUILTIN, BUILTIN_LABELS, load, read_array

# aekit.io.atomic is imported inside the functions that use it: aekit.io's __init__ imports torch,
# which building the parser (--help, a usage error) does without.

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


def _kinds(names: Sequence[str]) -> str:
    named = [a_or_an(n) for n in names]
    return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " or " + named[-1]


def check_model_kind(verb: str, model: str | Path) -> str:
    """Refuse a model directory holding an estimator that ``verb`` cannot use; returns the
    estimator's name. Reads config.json only, so a wrong kind costs no weights and no data."""
    from aekit.io.loading import read_config

    config = read_config(model)
    name = config.get("estimator")
    accepted = ACCEPTS[verb]
    if name not in accepted:
        a_name = a_or_an(name) if isinstance(name, str) else "an unknown estimator"
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


# -------------------------------------------------------------------------------- parsers
MODEL_HELP = "a saved model directory"
DEVICE_HELP = "where to run (default: the model's setting)"


def verb_parser(
    subparsers: Any, verb: str, help: str, doc: str | None, *, raw: bool = False
) -> argparse.ArgumentParser:
    """The parser of ``verb``, described by its module's docstring ``doc``; ``raw`` keeps the
    docstring's line breaks (one that lists columns or fields)."""
    layout = {"formatter_class": argparse.RawDescriptionHelpFormatter} if raw else {}
    parser: argparse.ArgumentParser = subparsers.add_parser(
        verb, help=help, description=doc, **layout
    )
    return parser


def model_parser(
    subparsers: Any,
    verb: str,
    help: str,
    doc: str | None,
    *,
    out_help: str = "output file (.npy or .csv)",
    model_help: str = MODEL_HELP,
    data: bool = True,
    raw: bool = False,
) -> argparse.ArgumentParser:
    """The parser of a verb that runs a saved model: ``MODEL``, then (unless ``data`` is
    false) ``DATA`` and the options that say how to read it, then ``--out``. The verb adds its
    own options and ends with :func:`finish_parser`."""
    parser = verb_parser(subparsers, verb, help, doc, raw=raw)
    parser.add_argument("model", metavar="MODEL", help=model_help)
    if data:
        add_data_argument(parser)
    parser.add_argument("--out", required=True, help=out_help)
    return parser


def add_array_option(
    parser: argparse.ArgumentParser,
    flag: str,
    help: str,
    *,
    metavar: str = "DATA",
    key: str = "--key",
) -> None:
    """An optional array file ``flag`` (read with :func:`aekit.datasets.load`) and ``key``,
    the array to read from it when it is an .npz file."""
    parser.add_argument(flag, metavar=metavar, help=help)
    parser.add_argument(key, help=f"the array to read from a {flag} .npz file")


def finish_parser(
    parser: argparse.ArgumentParser,
    run: Callable[[argparse.Namespace], int],
    device_help: str | None = DEVICE_HELP,
) -> None:
    """Add ``--device`` (the last option of the verbs that run a model; None: no such option)
    and make ``run`` what the verb does."""
    if device_help is not None:
        parser.add_argument("--device", help=device_help)
    parser.set_defaults(run=run)


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
    """DATA as an input: a built-in name is no file; ``file.h5:/dataset`` is the file;
    ``store.zarr:/array`` is the store, a directory inside which nothing may be written."""
    from aekit.datasets.hdf5 import split_source
    from aekit.datasets.zarr import split_zarr

    if value is None or value in BUILTIN:
        return Input(None, name)
    store = split_zarr(value)
    if store is not None:
        return Input(str(store[0]), name, directory=True)
    split = split_source(value)
    return Input(value if split is None else str(split[0]), name)


def model_input(args: argparse.Namespace) -> Input:
    """MODEL as an input: a directory inside which nothing may be written."""
    return Input(args.model, "MODEL", directory=True)


def array_output(path: str | Path, name: str = "--out") -> Output:
    """A file of samples a verb writes with :func:`write_array` (.npy or .csv)."""
    return Output(path, name, suffixes=ARRAY_SUFFIXES)


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
    _check_writable_parent(path, name)


def _check_writable_parent(path: str | Path, name: str) -> None:
    from aekit.io.atomic import check_writable_parent

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
            _check_writable_parent(folder / "x", out.name)
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
TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
# Table options: (flag, dest, help). Those that choose columns belong to training; a model
# trained on a table reads new tables with its own choices.
TABLE_OPTIONS = (
    ("--columns", "columns", "feature columns, comma-separated (default: all but the id column)"),
    ("--drop", "drop", "columns to leave out, comma-separated"),
    ("--id-column", "id_column", "a column naming the rows, carried into outputs (auto, none)"),
    ("--categorical", "categorical", "text columns to one-hot encode: none, auto or names"),
    ("--missing", "missing", "missing values: error, drop, mean or median (default error)"),
)
FORMAT_OPTIONS = (
    ("--delimiter", "delimiter", "the separator of a table (default: detected; 'tab', 'space')"),
    ("--header", "header", "whether a table's first line names its columns: yes, no, auto"),
)


def add_data_argument(parser: argparse.ArgumentParser, name: str = "DATA") -> None:
    """DATA (or QUERIES) and the options that say how to read it."""
    parser.add_argument(
        "data",
        metavar=name,
        help=f"a file (.npy, .npz, .csv, IDX), a folder or glob of images, or a built-in name "
        f"({', '.join(BUILTIN)})",
    )
    parser.add_argument(
        "--key", help="the array to read from an .npz file (or the dataset of an HDF5 file)"
    )
    parser.add_argument(
        "--sample-axes",
        type=int,
        metavar="N",
        help="how many leading axes of an HDF5, zarr or .npy array are samples (default 1: "
        "(10, 195, 487) frames are 10 samples; 2 would make 10 x 195 rows of 487)",
    )
    add_table_options(parser)


def add_table_options(parser: argparse.ArgumentParser) -> None:
    """The options that say how to read a table."""
    group = parser.add_argument_group("tables (.csv, .tsv, .txt)")
    from aekit.datasets.tables import MISSING_CHOICES

    choices = {"missing": MISSING_CHOICES}  # a typo gets argparse's "did you mean"
    for flag, dest, text in TABLE_OPTIONS + FORMAT_OPTIONS:
        metavar = dest.split("_")[0].upper()
        group.add_argument(flag, dest=dest, metavar=metavar, choices=choices.get(dest), help=text)


class Data(NamedTuple):
    """DATA as read for a verb."""

    X: Any  # (n, ...) samples: an array, or a lazy source (read_data with stream=True)
    ids: np.ndarray | None  # (n,) names of the samples (an id column, file names), or None
    id_name: str  # the ids' column name in outputs
    table: Any  # the TableSchema of a table, else None
    kept: np.ndarray | None = None  # (n,) which of the file's rows the samples are; None: all
    labels: np.ndarray | None = None  # the table's column that --labels names, every row
    text: Any = None  # the TextFeatures that made the samples of documents, else None


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [n.strip() for n in text.split(",") if n.strip()]


def _table_options(args: argparse.Namespace, fitted: bool) -> dict[str, Any]:
    given = {dest: getattr(args, dest, None) for _, dest, _ in TABLE_OPTIONS}
    if fitted:
        named = [flag for flag, dest, _ in TABLE_OPTIONS if given[dest] is not None]
        if named:
            raise ValueError(
                f"{', '.join(named)}: the model was trained on a table and reads new ones "
                "with the same columns and rules; leave these options out"
            )
        return {}
    options: dict[str, Any] = {"columns": _names(given["columns"]), "drop": _names(given["drop"])}
    column = labels_column(args)
    if column is not None and options["columns"] is None:
        options["drop"] = [*(options["drop"] or []), column]  # the labels are no feature
    id_column = given["id_column"]
    if id_column is not None:
        options["id_column"] = None if id_column.lower() == "none" else id_column
    categorical = given["categorical"]
    if categorical is not None:
        options["categorical"] = (
            categorical.lower() if categorical.lower() in ("none", "auto") else _names(categorical)
        )
    if given["missing"] is not None:
        options["missing"] = given["missing"]
    return options


def _format_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    delimiter = getattr(args, "delimiter", None)
    if delimiter is not None:
        spelled = {"tab": "\t", "\\t": "\t", "space": None, "whitespace": None, "comma": ",",
                   "semicolon": ";", "pipe": "|"}  # fmt: skip
        options["delimiter"] = spelled.get(delimiter.lower(), delimiter)
        if options["delimiter"] is not None and len(options["delimiter"]) != 1:
            raise ValueError(f"--delimiter must be one character, tab or space; got {delimiter!r}")
    header = getattr(args, "header", None)
    if header is not None:
        choices = {"yes": True, "no": False, "auto": None, "true": True, "false": False}
        if header.lower() not in choices:
            raise ValueError(f"--header must be yes, no or auto; got {header!r}")
        options["header"] = choices[header.lower()]
    return options


def say(args: argparse.Namespace, line: str) -> None:
    """A note about what was detected or done, on stderr (stdout is the verb's result)."""
    print(f"aekit {getattr(args, 'verb', '')}: {line}", file=sys.stderr)


def read_data(args: argparse.Namespace, model: Any = None, stream: bool = False) -> Data:
    """Read DATA for a verb, saying on stderr what was detected (a table's separator and
    header, an id column, the array taken from an .npz, the dataset of an HDF5 file, the
    array of a zarr store, a Parquet table's columns, images). ``model``: a fitted estimator
    whose table schema (``table_``) new tables are read with. ``stream``: a file aekit can
    stream (:func:`aekit.datasets.open_source`) is opened, not read: ``Data.X`` is the lazy
    source, for a verb whose estimator reads it in chunks or streams it."""
    from aekit.datasets import images, tables
    from aekit.datasets.open import open_source, source_kind

    source = args.data
    schema = getattr(model, "table_", None)
    given = [d for _, d, _ in TABLE_OPTIONS + FORMAT_OPTIONS if getattr(args, d, None) is not None]
    features = getattr(model, "text_", None)
    if features is not None or getattr(args, "text", False):
        if given:
            raise ValueError("the table options do not apply to documents (DATA read as text)")
        return _read_documents(args, features)
    path = Path(source)
    is_table = source not in BUILTIN and path.suffix.lower() in TABLE_SUFFIXES
    kind = None if source in BUILTIN else source_kind(source)
    # --columns also picks the feature columns of a Parquet table.
    columns = getattr(args, "columns", None) if kind == "parquet" else None
    sample_axes = getattr(args, "sample_axes", None)
    if sample_axes is not None and kind not in ("hdf5", "zarr", "npy"):
        raise ValueError("--sample-axes applies to HDF5, zarr and .npy arrays")
    sample_axes = sample_axes or 1
    if given and not is_table and not (given == ["columns"] and kind == "parquet"):
        raise ValueError(
            f"the table options apply to {', '.join(TABLE_SUFFIXES)} files; {source} is not one "
            "(--columns also picks a Parquet table's columns)"
        )
    if is_table:
        column = labels_column(args)
        # Read first: a mistyped name is reported as --labels', not as a column to drop.
        labels = None if column is None else tables.read_labels(source, column=column)
        table = tables.read_table(
            source, schema=schema, **_table_options(args, schema is not None),
            **_format_options(args),
        )  # fmt: skip
        for note in table.notes:
            say(args, f"{source}: {note}")
        for warning in table.warnings:
            say(args, f"warning: {source}: {warning}")
        name = table.schema.id_column or "row"
        # None when no row was left out.
        kept = None if int(table.kept[-1]) + 1 == len(table.kept) else table.kept
        return Data(table.X, table.ids, name, table.schema, kept, labels)
    if stream and kind is not None:
        try:
            opened = open_source(source, args.key, sample_axes=sample_axes, columns=columns)
        except ValueError:
            if kind != "npy":
                raise
            opened = None  # a .npy that cannot be read by rows (Fortran order): read whole
        if opened is not None:
            if kind != "npy":  # a .npy's shape is no finding; the other kinds say what was read
                say(args, f"{source}: {opened.describe()}")
            files = getattr(opened, "files", None)
            if files is not None:
                return Data(opened, np.asarray(files), "file", None)
            return Data(opened, None, "index", None)
    # Every kind of lazy source but a .npy (read_npy also reads Fortran order) and a folder
    # or glob of images (named by file), read whole.
    named_images = kind == "images" and images.is_image_source(source)
    if kind is not None and (kind != "npy" or sample_axes > 1) and not named_images:
        with open_source(source, args.key, sample_axes=sample_axes, columns=columns) as opened:
            say(args, f"{source}: {opened.describe()}")
            return Data(opened.read(), None, "index", None)
    if named_images:
        stack = images.read_images(source)
        say(args, f"{source}: {stack.describe()}")
        return Data(stack.X, np.asarray(stack.files), "file", None)
    key = args.key
    if source not in BUILTIN and path.suffix.lower() == ".npz" and key is None:
        from aekit.datasets.files import choose_npz_key, npz_keys

        keys = npz_keys(source)
        if len(keys) > 1:
            key = choose_npz_key(keys, None, source)
            say(args, f"{source}: took the array {key!r} of {keys} (choose another with --key)")
    return Data(load(source, key=key), None, "index", None)


def _read_documents(args: argparse.Namespace, features: Any) -> Data:
    """DATA as documents, one a line: TF-IDF features (a sparse matrix) by the model's own
    vocabulary, or learnt from DATA when there is no model yet (``aekit train --text``)."""
    from aekit.datasets.text import TextFeatures, read_texts

    docs = read_texts(args.data)
    if features is None:
        features, X = TextFeatures.fit(docs)
    else:
        X = features.transform(docs)
    said = (
        f"{plural(len(docs), 'document')}, TF-IDF over {plural(len(features.vocabulary), 'word')}"
    )
    say(args, f"{args.data}: {said}")
    return Data(X, None, "line", None, text=features)


def check_model_paths(args: argparse.Namespace, outputs: Sequence[Output], *inputs: Input) -> None:
    """:func:`check_paths` for a verb that runs MODEL on DATA: refuse ``outputs`` that would
    destroy MODEL, DATA or the verb's other ``inputs``, or that cannot be written."""
    check_paths([model_input(args), data_input(args.data), *inputs], outputs)


def model_and_data(
    args: argparse.Namespace, outputs: Sequence[Output], *inputs: Input, stream: bool = False
) -> tuple[Any, Data]:
    """The first step of a verb that runs MODEL on DATA: :func:`check_model_paths`, then load
    the model (its kind checked against the verb) on ``--device`` and read DATA as the model
    reads it.

    Returns the estimator and DATA; raises ValueError before any work on a mistake."""
    check_model_paths(args, outputs, *inputs)
    model = load_model(args.verb, args.model, args.device)
    return model, read_data(args, model, stream=stream)


def read_labels(args: argparse.Namespace, data: Data) -> np.ndarray | None:
    """Labels of the samples of ``data``: ``--labels FILE`` or a column of the table DATA,
    else a built-in set's own, else None. A labels file is one label per sample: .npy, or a
    one-column table (numbers or text, a header allowed). A file labelling every row of a
    table some of whose rows were left out (missing values) gives the kept rows' labels."""
    n, kept = len(data.X), data.kept
    if data.labels is not None:
        y = data.labels
    elif getattr(args, "labels", None):
        y = _read_label_file(args.labels)
    elif args.data in BUILTIN_LABELS:
        y = BUILTIN_LABELS[args.data]()
    else:
        return None
    y = np.asarray(y).reshape(-1)
    if kept is not None and len(y) != n and len(y) > int(kept[-1]):
        y = y[kept]  # a label for every row of DATA, some of which were left out
    if len(y) != n:
        raise ValueError(
            f"{args.labels or args.data} holds {plural(len(y), 'label')} for {plural(n, 'sample')}"
        )
    return y


def labels_column(args: argparse.Namespace) -> str | None:
    """The column of the table DATA that ``--labels`` names, when it names no file but a
    column (checked when DATA is read)."""
    labels = getattr(args, "labels", None)
    data = getattr(args, "data", None)
    if not labels or not data or Path(data).suffix.lower() not in TABLE_SUFFIXES:
        return None
    return None if Path(labels).exists() or Path(labels).suffix else labels


def _read_label_file(path: str) -> np.ndarray:
    if Path(path).suffix.lower() not in TABLE_SUFFIXES:
        return read_array(path)
    from aekit.datasets.tables import read_labels as read_label_table

    return read_label_table(path)


# ------------------------------------------------------------------------------- writing
ARRAY_SUFFIXES = (".npy", ".csv")


def write_file(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path`` (same suffix) and rename it
    over ``path``: a failed or killed write leaves any earlier file whole."""
    from aekit.io.atomic import atomic_write_path

    path = make_parent(path)
    return atomic_write_path(path, write)  # its errors name `path`, never the temporary file


def make_parent(path: str | Path) -> Path:
    """Create the folder ``path`` is to be written in, if missing; returns ``path``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def save_to(path: Path, save: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """``save(file, *args, **kwargs)`` into ``path`` opened as a binary file: np.save and
    np.savez given a name add their suffix to one that lacks it (".NPY" counts as lacking)."""
    with open(path, "wb") as f:
        save(f, *args, **kwargs)


def write_array(
    path: str | Path,
    array: np.ndarray,
    ids: np.ndarray | None = None,
    id_name: str = "id",
    column: str = "x",
) -> Path:
    """Write ``array`` as .npy (any shape) or .csv (rows of flattened samples), atomically.

    With ``ids`` (one per row) a .csv gets a header, ``id_name`` then ``column`` numbered
    from 1, and each row starts with its id; a .npy holds the array alone."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return write_file(path, lambda tmp: save_to(tmp, np.save, array, allow_pickle=False))
    if suffix != ".csv":
        raise ValueError(_suffix_line(path, ARRAY_SUFFIXES))
    rows = array.reshape(len(array), -1)
    if ids is None:
        return write_file(path, lambda tmp: np.savetxt(tmp, rows, delimiter=",", fmt="%.8g"))
    header = [id_name, *(f"{column}{j + 1}" for j in range(rows.shape[1]))]
    named = zip(ids.tolist(), rows.tolist(), strict=True)
    return write_csv(path, header, ([name, *(f"{v:.8g}" for v in row)] for name, row in named))


def write_csv(
    path: str | Path, header: Sequence[Any], rows: Iterable[Sequence[Any]], newline: str = "\r\n"
) -> Path:
    """Write a .csv of ``header`` then one line per row of ``rows``, atomically; ``newline``
    ends each line (the csv module's ``\\r\\n`` unless a verb's format says otherwise)."""

    def write(tmp: Path) -> None:
        import csv

        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator=newline)
            writer.writerow(header)
            writer.writerows(rows)

    return write_file(path, write)


def write_figure(path: str | Path, figure: Any) -> Path:
    """Save a matplotlib ``figure`` as ``path`` (a .png), atomically."""
    return write_file(path, lambda tmp: figure.savefig(tmp, dpi=100))
