"""Saved models: a directory with config.json, model.safetensors and history.json.

Nothing here unpickles: weights are read by safetensors (a header of JSON and raw tensor bytes),
everything else is JSON, so a model directory from a stranger cannot run code. Reading a model
trusts nothing in it:

- only regular files are opened (a FIFO or a device in place of a file is refused at once,
  never waited on), and each file is read up to a bound: config.json 1 MB
  (:data:`MAX_CONFIG_BYTES`), history.json 16 MB (:data:`MAX_HISTORY_BYTES`), the safetensors
  header 100 MB (:data:`MAX_HEADER_BYTES`);
- config.json and history.json are checked field by field against a schema
  (:mod:`aekit.io.schema`); a bad value is a ``ValueError`` that names the field;
- the network described by config.json is built on torch's ``meta`` device (no memory) and its
  tensor shapes compared with those the safetensors header announces, before anything is
  allocated;
- model.safetensors must match the SHA-256 that config.json records (models saved before the
  checksum existed carry none and are read without this check), and every weight and scaling
  array must be finite (scales also positive).

This module knows the format, not the estimator classes: it sits below
:mod:`aekit.estimators` (whose ``save`` calls :func:`save` here), and the functions that
rebuild an estimator by its name (:func:`aekit.io.loading.load`, ``read_config``,
``describe``) sit above them in :mod:`aekit.io.loading`; the layers are checked by
import-linter (pyproject.toml).

Writing is crash-safe (:func:`aekit.io.atomic.atomic_directory`): the model is written to a
fresh directory beside the target, fsynced, and swapped in; a kill at any moment leaves the old
or the new model at the path (a load that finds the path missing puts the old one back), and
files and folders get the permissions of the user's umask.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

from aekit._untrusted import (
    READ_CHUNK,
    holds_only,
    open_regular,
    parse_json,
    read_exactly,
    read_json,
)
from aekit._validation import is_int
from aekit._version import __version__
from aekit.io.atomic import atomic_directory, check_replaceable, recover_directory
from aekit.io.schema import (
    DataclassSpec,
    Int,
    IsObject,
    ListOf,
    MapOf,
    Number,
    Object,
    Optional,
    Scalar,
    Spec,
    Str,
)

FORMAT = "aekit-model"
FORMAT_VERSION = 1
CONFIG = "config.json"
WEIGHTS = "model.safetensors"
HISTORY = "history.json"
MODEL_FILES = frozenset({CONFIG, WEIGHTS, HISTORY})
# What a save may replace along with the model: the files above and the report that
# `aekit report MODEL` writes beside them by default (it describes the model being replaced).
REPLACEABLE_FILES = MODEL_FILES | {"report.html"}

# Bounds on what a reader takes from a model directory: far above any real model's files
# (a config is a few KB, a history ~100 bytes per epoch), far below what hurts a machine.
MAX_CONFIG_BYTES = 1 << 20
MAX_HISTORY_BYTES = 16 << 20
MAX_HEADER_BYTES = 100 << 20

_NEVER_UNPICKLES = "aekit never unpickles model files"

# safetensors dtype name -> bytes per element; anything else is not written by aekit.
_DTYPE_SIZES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E5M2": 1,
    "F8_E4M3": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
}
_FLOAT_DTYPES = frozenset({"F16", "BF16", "F32", "F64", "F8_E5M2", "F8_E4M3"})
# torch dtype name -> safetensors dtype (names, so that this module imports without torch:
# `aekit info` describes a model without it).
_TORCH_DTYPES = {
    "float16": "F16",
    "bfloat16": "BF16",
    "float32": "F32",
    "float64": "F64",
    "int64": "I64",
    "int32": "I32",
    "bool": "BOOL",
    "uint8": "U8",
    "int8": "I8",
    "int16": "I16",
}


# -------------------------------------------------------------------------------- schema
def _history_spec(max_len: int) -> Spec:
    # One dict per epoch of str -> number (NaN and infinities included: a diverged epoch is
    # recorded as it was) or a short label such as "stage".
    return ListOf(MapOf(Scalar(), max_len=1000), max_len=max_len)


HISTORY_SPEC = _history_spec(MAX_HISTORY_BYTES)


def _state_specs() -> dict[str, Spec]:
    from aekit.data.scaling import SCALINGS
    from aekit.losses import LOSSES
    from aekit.models import LIKELIHOODS

    return {
        "n_features_in_": Int(min=1),
        "input_shape_": ListOf(Int(min=1), min_len=1, max_len=8),
        "best_epoch_": Optional(Int(min=0)),
        "batch_size_": Int(min=1),
        "pretrain_batch_size_": Int(min=1),
        "loss_": Str(choices=tuple(LOSSES)),
        "likelihood_": Str(choices=tuple(LIKELIHOODS)),
        "threshold_": Number(),
        "trim_": Optional(Number(min=0.0, max=1.0, max_open=True)),
        "classes_": ListOf(Scalar(), min_len=1, max_len=MAX_CONFIG_BYTES),
        "pretrain_history_": _history_spec(MAX_CONFIG_BYTES),
        "scaling_": Optional(Str(choices=tuple(SCALINGS))),
        "feature_names_in_": ListOf(Str(), max_len=MAX_CONFIG_BYTES),
    }


# Fitted attributes inference needs: a config.json without them describes no usable model.
_REQUIRED_STATE = frozenset(
    {"n_features_in_", "input_shape_", "loss_", "likelihood_", "threshold_", "classes_"}
)


def _module_overrides() -> dict[str, Spec]:
    from aekit.models import ACTIVATIONS, CELLS, CODE_ACTIVATIONS, OUTPUT_ACTIVATIONS
    from aekit.models.conv import UPSAMPLERS

    fraction = Number(min=0.0, max=1.0, max_open=True)
    activation = Str(choices=tuple(ACTIVATIONS))
    return {
        "dropout": fraction,
        "input_dropout": fraction,
        "activation": activation,
        "code_activation": Str(choices=tuple(CODE_ACTIVATIONS)),
        "output_activation": Str(choices=tuple(OUTPUT_ACTIVATIONS)),
        "cell": Str(choices=tuple(CELLS)),
        "upsample": Str(choices=tuple(UPSAMPLERS)),
        "input_shape": ListOf(Int(min=1), min_len=2, max_len=4, as_tuple=True),
        # Each member is a module of its own: bounded so that building them stays quick.
        "n_members": Int(min=1, max=4096),
        "kernel_size": Int(min=1, max=1023),
    }


def _params_spec(cls: type) -> Object:
    """The estimator's parameters: names from its ``__init__``; numbers where the default is
    a number, a device name, an optional positive window, stride or batch size; otherwise any
    JSON scalar or flat list (a tuple, as ``hidden``)."""
    fields: dict[str, Spec] = {}
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or param.kind not in (param.KEYWORD_ONLY, param.POSITIONAL_OR_KEYWORD):
            continue
        default = param.default
        if name == "device":
            fields[name] = Str(max_len=100)
        elif name in ("window", "stride", "batch_size"):
            fields[name] = Optional(Int(min=1))
        elif name == "hidden":
            fields[name] = Optional(ListOf(Int(min=1), as_tuple=True))
        elif name == "random_state":
            fields[name] = Optional(Int(min=0, max=2**32 - 1))
        elif isinstance(default, (bool, int, float)):
            fields[name] = Optional(Number(finite=False, bools=True))
        else:
            fields[name] = Scalar(lists=True)
    return Object(fields)


@dataclass(frozen=True)
class _Model:
    """What config.json describes, checked and converted."""

    estimator_cls: type
    params: dict[str, Any]
    state: dict[str, Any]
    module_kind: str
    module_cls: type
    module_config: Any
    weights_sha256: str | None
    table: Any = None  # the TableSchema of a model trained on a table, else None
    text: Any = None  # the TextFeatures of a model trained on documents, else None


def _module_width(config: Any) -> int:
    """How many features one flattened sample of the module has."""
    if hasattr(config, "n_features"):
        return int(config.n_features)
    return math.prod(config.input_shape)


def _parse_config(
    config: dict[str, Any], described: Path | str, estimators: Mapping[str, type]
) -> _Model:
    """Check every field of a config.json (format already checked); raise ValueError naming
    the first bad field. ``estimators`` maps the names config.json may give to their classes:
    the registry (:data:`aekit.estimators.ESTIMATORS`) when loading, the estimator's own
    class when saving (this module sits below the estimators and does not import them)."""
    from aekit.models import MODULES

    def bad(message: str) -> ValueError:
        return ValueError(f"{described} does not describe a model aekit can build: {message}")

    try:
        top = Object(
            {
                "format": Str(),
                "format_version": Int(min=0),
                "aekit_version": Str(max_len=200),
                "torch_version": Str(max_len=200),
                "estimator": Str(choices=tuple(estimators)),
                "params": IsObject(),
                "state": IsObject(),
                "module": Object(
                    {"kind": Str(choices=tuple(MODULES)), "config": IsObject()},
                    required=frozenset({"kind", "config"}),
                ),
                "weights_sha256": Str(max_len=64),
                "table": IsObject(),
                "text": IsObject(),
            },
            required=frozenset({"estimator", "params", "state", "module"}),
            open=True,
        )
        top.check(config, "")
        cls = estimators[config["estimator"]]
        params = _params_spec(cls).check(config["params"], "params")
        names = set(cls._json_state) - {"history_"} | {"scaling_", "feature_names_in_"}
        specs = _state_specs()
        state = Object(
            {name: specs.get(name, Scalar(lists=True)) for name in names},
            required=frozenset(names & _REQUIRED_STATE),
        ).check(config["state"], "state")
        kind = config["module"]["kind"]
        config_cls, module_cls = MODULES[kind]
        module_config = DataclassSpec(config_cls, _module_overrides()).check(
            config["module"]["config"], "module.config"
        )
        sha = config.get("weights_sha256")
        if sha is not None and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
            raise ValueError(f"weights_sha256: expected 64 hex digits, got {sha!r}")
    except ValueError as exc:
        raise bad(str(exc)) from None

    n = state["n_features_in_"]
    if math.prod(state["input_shape_"]) != n:
        raise bad(f"state.input_shape_: {state['input_shape_']} does not hold {n} features")
    if _module_width(module_config) != n:
        raise bad(
            f"module.config: the network takes {_module_width(module_config)} features, "
            f"state.n_features_in_ says {n}"
        )
    if "feature_names_in_" in state and len(state["feature_names_in_"]) != n:
        raise bad(f"state.feature_names_in_: {len(state['feature_names_in_'])} names for {n}")
    table = None
    if "table" in config:
        from aekit.datasets.tables import TableSchema

        table = TableSchema.from_json(config["table"], "table")
        # A series model takes windows of steps, each holding the table's features.
        if n % len(table.feature_names()):
            raise bad(f"table: {len(table.feature_names())} features for a model of {n} inputs")
    text = None
    if "text" in config:
        from aekit.datasets.text import TextFeatures

        text = TextFeatures.from_json(config["text"], "text")
        if len(text.vocabulary) != n:
            raise bad(f"text: {len(text.vocabulary)} words for a model of {n} inputs")
    if "classes_" in state and hasattr(module_config, "n_classes"):
        if len(state["classes_"]) != module_config.n_classes:
            raise bad(
                f"state.classes_: {len(state['classes_'])} classes for a network of "
                f"{module_config.n_classes} outputs"
            )
    return _Model(cls, params, state, kind, module_cls, module_config, sha, table, text)


# -------------------------------------------------------------- the safetensors header
@dataclass(frozen=True)
class _Tensor:
    dtype: str
    shape: tuple[int, ...]


def _read_header(path: Path) -> dict[str, _Tensor]:
    """Read the header of the safetensors file ``path`` without reading its tensors: an
    8-byte little-endian length, then that many bytes of JSON naming each tensor's dtype,
    shape and byte range. Sizes are checked against the file's before anything is read."""

    def damaged(detail: str) -> ValueError:
        return ValueError(
            f"{path} is damaged or not a safetensors file ({detail}); {_NEVER_UNPICKLES}"
        )

    if not path.exists():
        raise ValueError(f"{path.parent} has no {path.name}")
    with open_regular(path, "model weights") as f:
        size = os.fstat(f.fileno()).st_size
        if size < 8:
            raise damaged(f"{size} bytes, shorter than a header")
        n = int.from_bytes(read_exactly(f, 8, path, "header"), "little")
        if n > MAX_HEADER_BYTES or 8 + n > size:
            raise damaged(f"a header of {n:,} bytes in a file of {size:,}")
        raw = read_exactly(f, n, path, "header")
    try:
        header = parse_json(raw)
    except ValueError as exc:
        raise damaged(f"header: {exc}") from None
    if not isinstance(header, dict):
        raise damaged("the header is not a JSON object")
    data_size = size - 8 - n
    tensors: dict[str, _Tensor] = {}
    covered = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = Str(choices=tuple(_DTYPE_SIZES)).check(entry.get("dtype"), "dtype")
            shape = ListOf(Int(min=0, max=None), max_len=16, as_tuple=True).check(
                entry.get("shape"), "shape"
            )
            begin, end = ListOf(Int(min=0, max=None), min_len=2, max_len=2).check(
                entry.get("data_offsets"), "data_offsets"
            )
        except (ValueError, AttributeError) as exc:
            raise damaged(f"tensor {name!r}: {exc}") from None
        if end < begin or end > data_size:
            raise damaged(f"tensor {name!r} lies outside the file")
        if end - begin != math.prod(shape) * _DTYPE_SIZES[dtype]:
            raise damaged(f"tensor {name!r}: {end - begin} bytes for shape {list(shape)}")
        tensors[name] = _Tensor(dtype, shape)
        covered = max(covered, end)
    if covered != data_size:
        # safetensors' tensors fill the file: trailing bytes are damage (and would be read).
        raise damaged(f"{data_size - covered:,} bytes after the last tensor")
    return tensors


def _expected_module_tensors(model: _Model) -> dict[str, _Tensor]:
    """The tensors (``module.`` names) of the network config.json describes, found by
    building it on the meta device: shapes without memory."""
    import torch

    try:
        with torch.device("meta"):
            module = model.module_cls(model.module_config)
    except (ValueError, TypeError, RuntimeError, KeyError, IndexError, OverflowError) as exc:
        raise ValueError(f"module.config describes no network aekit can build: {exc}") from None
    return {
        f"module.{k}": _Tensor(_safetensors_dtype(v.dtype), tuple(v.shape))
        for k, v in module.state_dict().items()
    }


def _safetensors_dtype(dtype: Any) -> str:
    name = str(dtype).removeprefix("torch.")
    return _TORCH_DTYPES.get(name, name)


def _check_tensors(header: dict[str, _Tensor], model: _Model, path: Path) -> None:
    """Refuse weights whose names, shapes or dtypes differ from what config.json describes."""

    def mismatch(detail: str) -> ValueError:
        return ValueError(f"{path} does not match the model in {CONFIG}: {detail}")

    expected = _expected_module_tensors(model)
    found = {k: v for k, v in header.items() if k.startswith("module.")}
    for name, want in expected.items():
        got = found.get(name)
        if got is None:
            continue
        if got.shape != want.shape:
            raise mismatch(f"{name} has shape {list(got.shape)}, the network {list(want.shape)}")
        if (got.dtype in _FLOAT_DTYPES) != (want.dtype in _FLOAT_DTYPES):
            raise mismatch(f"{name} holds {got.dtype}, the network {want.dtype}")
    for name in sorted(expected.keys() - found.keys())[:1]:
        raise mismatch(f"it lacks {name} {list(expected[name].shape)}")
    for name in sorted(found.keys() - expected.keys())[:1]:
        raise mismatch(f"it holds {name}, which the network does not have")

    n = model.state["n_features_in_"]
    arrays = {f"state.{name}" for name in model.estimator_cls._array_state}
    scaling = {"scaling.offset", "scaling.scale"} if model.state.get("scaling_") else set()
    for name in sorted(header.keys() - expected.keys() - arrays - scaling)[:1]:
        raise mismatch(f"it holds {name}, which {CONFIG} does not announce")
    for name in sorted(arrays - header.keys())[:1]:
        raise ValueError(f"{path} lacks the array {name[6:]} that {CONFIG}'s estimator needs")
    if scaling - header.keys():
        raise ValueError(f"{path} lacks the scaling arrays that {CONFIG} announces")
    for name in sorted(scaling):
        if header[name].shape != (n,) or header[name].dtype not in _FLOAT_DTYPES:
            raise mismatch(
                f"{name} holds {header[name].dtype} {list(header[name].shape)}, not {n} floats"
            )
    for name in sorted(arrays):
        problem = _state_array_problem(name[6:], header[name], model)
        if problem:
            raise mismatch(f"{name} {problem}")


def _state_array_problem(name: str, tensor: _Tensor, model: _Model) -> str | None:
    """Why the fitted array ``name`` cannot serve the network (None when it can)."""
    config = model.module_config
    shape = tensor.shape
    if name in ("gaussian_mean_", "gaussian_precision_"):
        m, f = getattr(config, "n_members", None), getattr(config, "n_scored", None)
        allowed = [(m, f)] if name == "gaussian_mean_" else [(m, f, f), (m, f)]
        if shape not in allowed or tensor.dtype not in _FLOAT_DTYPES:
            return f"has shape {list(shape)} ({tensor.dtype}), expected {list(allowed[0])} floats"
    elif name in ("decision_scores_", "labels_") and len(shape) != 1:
        return f"has shape {list(shape)}, expected one value per training sample"
    return None


def _check_finite(tensors: dict[str, torch.Tensor], path: Path) -> None:
    """Refuse NaN or infinite weights, fitted arrays or scales (and scales <= 0): they would
    give NaN outputs without a word."""
    import torch

    for name, tensor in tensors.items():
        if not tensor.is_floating_point():
            continue
        if name == "state.decision_scores_":
            # Training scores are only reported; an unscorable row may hold +inf, never NaN.
            ok = not bool(torch.isnan(tensor).any())
        else:
            ok = bool(torch.isfinite(tensor).all())
        if not ok:
            raise ValueError(f"{path} is damaged: {name} holds NaN or infinite values")
    scale = tensors.get("scaling.scale")
    if scale is not None and not bool((scale > 0).all()):
        raise ValueError(f"{path} is damaged: scaling.scale holds zero or negative values")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open_regular(path, "model weights") as f:
        while chunk := f.read(READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _verify_checksum(path: Path, recorded: str | None, data: bytes | None = None) -> None:
    """Compare the SHA-256 of ``path`` (or of its bytes ``data``, already read) with the one
    config.json ``recorded``; models saved before checksums were recorded pass unchecked."""
    if recorded is None:
        return
    digest = hashlib.sha256(data).hexdigest() if data is not None else _sha256(path)
    if digest != recorded:
        raise ValueError(
            f"{path} is damaged or altered: its SHA-256 differs from the one in {CONFIG}"
        )


# ------------------------------------------------------------------ directories, writing
def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.random.RandomState):
        return None  # a generator's state is not a parameter worth keeping
    return value


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, allow_nan=True) + "\n", encoding="utf-8")


def _write_weights(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def is_model_dir(path: Path) -> bool:
    """Whether ``path`` is an aekit model directory (its config.json carries the format
    marker) holding nothing but the model's own files (a report among them): the only kind a
    save may replace, and the ``model/`` folder of an index or a demo.

    Parameters
    ----------
    path : Path
        The directory to look at; a link, a file or a missing path is no model directory.

    Returns
    -------
    bool
        True when ``path`` is such a directory.
    """
    try:
        if not holds_only(path, files=REPLACEABLE_FILES):
            return False
        config = read_json(path / CONFIG, MAX_CONFIG_BYTES, "model configuration")
    except (ValueError, OSError):
        return False
    return isinstance(config, dict) and config.get("format") == FORMAT


def _is_complete_model(path: Path) -> bool:
    return is_model_dir(path) and (path / WEIGHTS).is_file()


def _locate(path: str | Path) -> Path:
    """Where to read the model at ``path``: the path itself or, after a kill between the two
    renames of a save, the old model put back (or read in place while its writer runs)."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        found = recover_directory(path, _is_complete_model)
        if found is not None:
            return found
    return path


def check_model_output(path: str | Path) -> Path:
    """Refuse ``path`` as where to save a model unless it is absent, an empty directory or an
    aekit model (which a save replaces); return it as an absolute path.

    Call it before training, so that a bad output costs nothing.

    Raises
    ------
    ValueError
        When ``path`` is a file, a link, a non-empty directory that is not an aekit model
        (or holds files besides the model's), or lies in a folder that cannot be written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> check_model_output(folder / "model") == folder / "model"
    True
    >>> (folder / "notes.txt").write_text("mine")
    4
    >>> check_model_output(folder)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: ... is a non-empty directory that is not an aekit model; not replacing it
    """
    folder = Path(path)
    if folder.is_dir() and not folder.is_symlink() and not is_model_dir(folder):
        try:
            extra = sorted(p.name for p in folder.iterdir() if p.name not in REPLACEABLE_FILES)
            config = read_json(folder / CONFIG, MAX_CONFIG_BYTES, "model configuration")
        except (ValueError, OSError):
            pass
        else:
            if extra and isinstance(config, dict) and config.get("format") == FORMAT:
                # Said apart from "not a model": the user sees what to move, and nothing of
                # theirs (a report, notes) is deleted with the old model.
                shown = ", ".join(extra[:3]) + (", ..." if len(extra) > 3 else "")
                raise ValueError(
                    f"{folder} is an aekit model but also holds {shown}; not replacing it "
                    "(move those files or choose another path)"
                )
    return check_replaceable(path, is_model_dir, "an aekit model")


def save(estimator: Any, path: str | Path) -> Path:
    """Save a fitted aekit estimator to the directory ``path`` and return its path.

    An existing aekit model at ``path`` is replaced; any other non-empty directory or a file is
    refused before anything is written, so a mistyped path cannot wipe unrelated data. The
    replacement is crash-safe: after a kill at any moment, :func:`aekit.io.load` gives the old
    or the new model. config.json records the SHA-256 of model.safetensors.

    Raises
    ------
    ValueError
        For a path that cannot be replaced (see :func:`check_model_output`), or an estimator
        whose weights or scaling hold NaN or infinite values (a model that could not be read
        back).
    """
    import torch
    from safetensors.torch import save as serialize
    from sklearn.utils.validation import check_is_fitted

    from aekit.models import module_kind

    check_is_fitted(estimator, "module_")
    path = Path(path).resolve()
    check_model_output(path)

    module = estimator.module_
    tensors = {f"module.{k}": v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    # A model saved before a fitted attribute was added (batch_size_) loads without it.
    state = {
        name: _jsonable(getattr(estimator, name))
        for name in estimator._json_state
        if hasattr(estimator, name)
    }
    state.pop("history_", None)
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        state["feature_names_in_"] = [str(n) for n in names]
    for name in estimator._array_state:
        tensors[f"state.{name}"] = torch.from_numpy(np.ascontiguousarray(getattr(estimator, name)))
    scaling = getattr(estimator, "scaling_", None)
    if scaling is not None:
        state["scaling_"] = scaling.kind
        tensors["scaling.offset"] = torch.from_numpy(np.asarray(scaling.offset, np.float64))
        tensors["scaling.scale"] = torch.from_numpy(np.asarray(scaling.scale, np.float64))
    _check_finite(tensors, Path("the model to save"))
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "aekit_version": __version__,
        "torch_version": torch.__version__,
        "estimator": type(estimator).__name__,
        "params": _jsonable(estimator.get_params(deep=False)),
        "state": state,
        "module": {
            "kind": module_kind(module),
            "config": _jsonable(asdict(module.config)),
        },
    }
    table = getattr(estimator, "table_", None)
    if table is not None:
        config["table"] = table.to_json()
    text = getattr(estimator, "text_", None)
    if text is not None:
        config["text"] = text.to_json()
    history = _jsonable(estimator.history_)
    # What load would refuse is refused now, while the fitted model is still at hand.
    _parse_config(
        config, "the fitted model's configuration", {type(estimator).__name__: type(estimator)}
    )
    try:
        HISTORY_SPEC.check(history, "history")
    except ValueError as exc:
        raise ValueError(f"cannot save the fitted model's {exc}") from None

    # Serialised in memory: hashed without reading the file back, and written by plain open()
    # (safetensors' save_file writes a private 0600 temporary file, ignoring the umask).
    weights = serialize(tensors, metadata={"format": FORMAT})
    config["weights_sha256"] = hashlib.sha256(weights).hexdigest()
    with atomic_directory(path, is_ours=is_model_dir, what="an aekit model") as tmp:
        _write_json(tmp / HISTORY, history)
        _write_weights(tmp / WEIGHTS, weights)
        _write_json(tmp / CONFIG, config)  # written last: its presence marks a complete model
    return path


# ---------------------------------------------------------------------------------- reading
def read_format_json(
    path: str | Path,
    filename: str,
    fmt: str,
    max_version: int,
    kind: str,
    what: str,
    limit: int = MAX_CONFIG_BYTES,
) -> dict[str, Any]:
    """Read ``path / filename``, the JSON description of an aekit ``kind`` directory (a model,
    an index), and check its ``format`` and ``format_version``; raise ``FileNotFoundError``
    when ``path`` is missing and ``ValueError`` when it is not such a directory or is damaged.
    ``what`` names the file's content in the messages ("model configuration"). The file must
    be a regular file of at most ``limit`` bytes (1 MB, :data:`MAX_CONFIG_BYTES`)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no {kind} at {path}")
    if not path.is_dir():
        article = "an" if kind[:1] in "aeiou" else "a"
        raise ValueError(
            f"{path} is not {article} {kind} directory (expected a folder with {filename})"
        )
    described = path / filename
    if not described.exists() and not described.is_symlink():
        raise ValueError(f"{path} is not an aekit {kind}: it has no {filename}")
    data = read_json(described, limit, what)
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise ValueError(f"{described} is not an aekit {what}")
    version = data.get("format_version")
    if not is_int(version):
        raise ValueError(f"{described} is damaged: format_version {version!r} is not an integer")
    if version > max_version:
        raise ValueError(f"{path} was saved by a newer aekit (format {version}); upgrade aekit")
    return data


def _read_history(path: Path) -> list[dict[str, Any]]:
    """history.json (an empty history when absent), at most 16 MB, checked."""
    if not path.exists() and not path.is_symlink():
        return []
    history = read_json(path, MAX_HISTORY_BYTES, "training history")
    try:
        return HISTORY_SPEC.check(history, "history")
    except ValueError as exc:
        raise ValueError(f"{path} is damaged: {exc}") from None


def loss_name(state: Mapping[str, Any]) -> str | None:
    """The training loss of a fitted estimator in words, from its fitted state.

    The one wording of each loss: :func:`aekit.io.describe` reads it from config.json's
    ``state`` without torch, an estimator from its own attributes (``vars(estimator)``).

    Parameters
    ----------
    state : mapping
        Fitted attributes by name (``loss_``, ``likelihood_``, ``trim_``, ``classes_``,
        ``rating_range_``).

    Returns
    -------
    str or None
        ``None`` when the state names no loss.

    Examples
    --------
    >>> loss_name({"loss_": "bce", "likelihood_": "bernoulli"})
    'negative ELBO, bernoulli likelihood'
    >>> loss_name({"loss_": "mse"})
    'mse'
    """
    # A VAE's loss is the negative ELBO under its likelihood, not loss_ (the per-feature
    # error that reconstruction_error reports); a detector's is a trimmed squared error; a
    # classifier's the cross-entropy of its softmax head.
    if state.get("likelihood_"):
        return f"negative ELBO, {state['likelihood_']} likelihood"
    if state.get("trim_") is not None:
        return f"squared error, worst {state['trim_']:.3g} of each batch left out"
    if state.get("classes_") is not None and not state.get("loss_"):
        return "cross-entropy"
    if state.get("rating_range_") is not None:  # AutoRec: the ratings, not the zeros
        return "squared error over the observed ratings"
    return state.get("loss_")
