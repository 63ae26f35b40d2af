"""ONNX export: a fitted autoencoder as three graphs that onnxruntime runs without torch or aekit.

``encoder.onnx`` maps raw samples ``x`` (B, *input_shape) to codes ``z`` (B, latent_dim),
``decoder.onnx`` maps codes back to reconstructions ``x_hat`` (B, *input_shape) in the data's
units, and ``model.onnx`` maps samples to reconstructions. "Raw" means each graph holds
everything the estimator does around its torch network: flattening each sample to a row, the
fitted scaling (``scaling_``: (x - offset) / scale on the way in, undone on the way out), the
network and its output activation, and the reshape back to the sample's shape. So the graphs
compute what ``transform``, ``inverse_transform`` and ``reconstruct`` return; for a VAE those
are the posterior mean mu(x) and the mean of p(x|z) at a code (pixel probabilities for a
Bernoulli likelihood), no sampling. The batch axis is dynamic.

With ``check=True`` every graph is run in onnxruntime and compared with the estimator on the
same inputs; a difference beyond ``atol`` raises :class:`ExportCheckError`. ``export.json``
beside the graphs records their inputs and outputs, the versions and the measured differences.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import inspect
import io
import json
import logging
import os
import stat
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from aekit._optional import MissingDependencyError
from aekit._text import a_or_an, plural
from aekit._validation import is_int, is_number
from aekit.io.atomic import atomic_directory, check_replaceable

FORMAT = "aekit-onnx"
FORMAT_VERSION = 1
MANIFEST = "export.json"
BATCH_AXIS = "batch"
ONNX_EXTRA = 'pip install "aekit[onnx]"'

# Graph -> (input name, output name, the estimator method whose output it reproduces).
GRAPHS: dict[str, tuple[str, str, str]] = {
    "encoder": ("x", "z", "transform"),
    "decoder": ("z", "x_hat", "inverse_transform"),
    "model": ("x", "x_hat", "reconstruct"),
}


EXPORTERS = ("auto", "torchscript", "dynamo")

# export.json is a few kilobytes; a larger one is no manifest aekit wrote.
MAX_MANIFEST_BYTES = 1 << 20

# Samples drawn for the check when no X is given.
CHECK_SAMPLES = 16


class ExportCheckError(ValueError):
    """An exported graph disagrees with the estimator by more than the tolerance."""


class ExportResult(NamedTuple):
    """What :func:`export_onnx` wrote and measured."""

    encoder: Path  # encoder.onnx: x (B, *input_shape) -> z (B, latent_dim)
    decoder: Path  # decoder.onnx: z (B, latent_dim) -> x_hat (B, *input_shape)
    model: Path  # model.onnx: x (B, *input_shape) -> x_hat (B, *input_shape)
    manifest: Path  # export.json
    max_abs_diff: dict[str, float]  # graph name -> max |onnxruntime - torch|; {} unchecked
    opset: int  # ONNX opset of the graphs
    exporter: str  # "torchscript" or "dynamo": the torch exporter that wrote them


def _import_onnx() -> tuple[ModuleType, ModuleType]:
    try:
        onnx = importlib.import_module("onnx")
        ort = importlib.import_module("onnxruntime")
    except ImportError:
        raise MissingDependencyError(
            f"ONNX export needs the optional packages onnx and onnxruntime; install them with "
            f"{ONNX_EXTRA}"
        ) from None
    return onnx, ort


class _Graph(nn.Module):
    """One exported graph as a torch module: the estimator's own pre- and post-processing
    around its network, so that the traced graph returns what the estimator's method does."""

    def __init__(self, estimator: Any, part: str) -> None:
        super().__init__()
        self.network = estimator.module_  # registered, so the exporter finds its weights
        # `reconstruct` goes through the estimator's `_output` (a VAE decodes the posterior
        # mean there); a plain attribute, not a submodule.
        self.output = estimator._output
        self.part = part
        self.input_shape = tuple(estimator.input_shape_)
        scaling = estimator.scaling_
        self.scaled = scaling is not None
        if scaling is not None:
            # float64, as `Scaling` computes in numpy before casting back to float32: the graph
            # then gives the estimator's float32 numbers, not ones rounded differently.
            self.register_buffer("offset", torch.as_tensor(np.asarray(scaling.offset, np.float64)))
            self.register_buffer("scale", torch.as_tensor(np.asarray(scaling.scale, np.float64)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.part == "decoder":
            out = self.network.decode(x)  # (B, D)
        else:
            rows = x.flatten(1)  # (B, D)
            if self.scaled:
                rows = ((rows.double() - self.offset) / self.scale).float()  # (B, D)
            if self.part == "encoder":
                return self.network.encode(rows)  # (B, K)
            out = self.output(rows).x_hat  # (B, D)
        if self.scaled:
            out = (out.double() * self.scale + self.offset).float()  # (B, D)
        # -1, not x.shape[0]: a traced batch size could be frozen into the graph.
        return out.reshape(-1, *self.input_shape)  # (B, *input_shape)


def _resolve_estimator(estimator_or_model_dir: Any) -> tuple[Any, str]:
    """The estimator to export, as a CPU copy, and its module kind; ValueError if unsupported."""
    from aekit.estimators import BaseAutoencoder, exportable_kinds
    from aekit.io.loading import load
    from aekit.models import module_kind

    if isinstance(estimator_or_model_dir, (str, os.PathLike)):
        estimator = load(estimator_or_model_dir, device="cpu")
    else:
        estimator = estimator_or_model_dir
    name = type(estimator).__name__
    if not isinstance(estimator, BaseAutoencoder):
        raise ValueError(
            "export_onnx exports aekit Autoencoder and VAE models (or their saved model "
            f"directories); {a_or_an(name)} cannot be exported to ONNX"
        )
    if not hasattr(estimator, "module_"):
        raise ValueError(f"this {name} is not fitted yet; call fit before exporting it")
    try:
        kind = module_kind(estimator.module_)
    except ValueError:
        kind = type(estimator.module_).__name__
    exportable = exportable_kinds()  # from the architecture registry
    if kind not in exportable:
        raise ValueError(
            f"{a_or_an(name)} with a {kind!r} network cannot be exported to ONNX; exportable "
            f"networks: {', '.join(exportable)}"
        )
    # A shallow copy whose network is a CPU copy: exporting never touches the caller's
    # estimator, and the check compares with the CPU computation the graphs reproduce (a GPU
    # may compute convolutions in TF32, far from float32 on a CPU).
    cpu = copy.copy(estimator)
    cpu.module_ = copy.deepcopy(estimator.module_).cpu().eval()
    cpu.device_ = torch.device("cpu")
    return cpu, kind


def _check_inputs(estimator: Any, X: Any) -> np.ndarray:
    """Samples (n, *input_shape) for the check: ``X``, or a seeded normal batch."""
    shape = tuple(estimator.input_shape_)
    if X is None:
        rows = np.random.default_rng(0).standard_normal((CHECK_SAMPLES, estimator.n_features_in_))
        # Drawn in the network's units, so the samples have the magnitudes of the data.
        if estimator.scaling_ is not None:
            rows = estimator.scaling_.inverse_transform(rows)
        return rows.astype(np.float32).reshape(CHECK_SAMPLES, *shape)
    X = np.asarray(X, dtype=np.float32)
    if X.ndim == 2 and X.shape[1:] != shape and X.shape[1] == estimator.n_features_in_:
        X = X.reshape(X.shape[0], *shape)  # flat rows of image or sequence samples
    if X.shape[1:] != shape or X.shape[0] < 1:
        raise ValueError(
            f"X must hold at least one sample of shape {shape}, got an array of shape {X.shape}"
        )
    if not np.isfinite(X).all():
        raise ValueError("X contains NaN or infinity")
    return np.ascontiguousarray(X)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the torch exporters: the dynamo exporter prints progress lines and logs that
    torchvision is missing; both warn about their own internals (the legacy exporter's
    deprecation, tracer notes on torch's RNN code, LSTM batch-size advice that the check covers).
    None of it is for the user to act on, and a library does not print."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _torch_export(
    graph: _Graph, example: torch.Tensor, path: Path, part: str, opset: int | None, dynamo: bool
) -> None:
    input_name, output_name, _ = GRAPHS[part]
    names = {"input_names": [input_name], "output_names": [output_name], "opset_version": opset}
    takes_dynamo = "dynamo" in inspect.signature(torch.onnx.export).parameters
    with _quiet():
        if dynamo:
            if not takes_dynamo:
                raise ValueError(f"torch {torch.__version__} has no dynamo ONNX exporter")
            try:
                importlib.import_module("onnxscript")
            except ImportError:
                raise MissingDependencyError(
                    f"the dynamo ONNX exporter needs onnxscript; install it with {ONNX_EXTRA}"
                ) from None
            torch.onnx.export(
                graph,
                (example,),
                str(path),
                dynamo=True,
                external_data=False,  # one self-contained file per graph
                dynamic_shapes=({0: torch.export.Dim(BATCH_AXIS)},),
                **names,
            )
        else:
            extra = {"dynamo": False} if takes_dynamo else {}
            torch.onnx.export(
                graph,
                (example,),
                str(path),
                dynamic_axes={input_name: {0: BATCH_AXIS}, output_name: {0: BATCH_AXIS}},
                **names,
                **extra,
            )


def _export_graph(
    graph: _Graph,
    example: torch.Tensor,
    path: Path,
    part: str,
    opset: int | None,
    exporter: str,
    what: str,
) -> str:
    """Write ``graph`` to ``path``; return the exporter that did it."""
    # The legacy TorchScript exporter first: on every aekit network its graphs are as exact as
    # the dynamo exporter's and take a fraction of the time (0.1-1 s against 3-30 s for a
    # recurrent model); "auto" falls back to dynamo where torch no longer has the legacy path.
    order = {"auto": ("torchscript", "dynamo"), "torchscript": ("torchscript",)}
    errors = []
    for name in order.get(exporter, ("dynamo",)):
        try:
            _torch_export(graph, example, path, part, opset, dynamo=name == "dynamo")
        except MissingDependencyError:
            raise
        except Exception as exc:
            errors.append(f"{name} exporter: {type(exc).__name__}: {exc}".splitlines()[0])
        else:
            return name
    raise ValueError(f"could not export the {part} of {what} to ONNX ({'; '.join(errors)})")


def _declare_shapes(onnx: ModuleType, path: Path, part: str, shapes: dict[str, tuple]) -> Any:
    """Write the known input and output shapes into the graph at ``path`` and return it.

    The TorchScript exporter names the sample axes after a reshape symbolically
    ("Reshapex_hat_dim_1"), though they are fixed; consumers read the shapes from the graph.
    """
    model = onnx.load(str(path))
    input_name, output_name, _ = GRAPHS[part]
    for value, name in ((model.graph.input[0], input_name), (model.graph.output[0], output_name)):
        dims = value.type.tensor_type.shape.dim
        del dims[:]
        dims.add().dim_param = BATCH_AXIS
        for size in shapes[name]:
            dims.add().dim_value = int(size)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return model


def _session(ort: ModuleType, path: Path) -> Any:
    options = ort.SessionOptions()
    # A failing run raises with the message; at lower levels onnxruntime also logs it to stderr.
    options.log_severity_level = 4
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _max_abs_diff(got: np.ndarray, expected: np.ndarray) -> float:
    if got.shape != expected.shape:
        return float("inf")
    diff = float(np.max(np.abs(got.astype(np.float64) - expected)))
    return diff if np.isfinite(diff) else float("inf")


def _check(
    ort: ModuleType, paths: dict[str, Path], estimator: Any, X: np.ndarray, atol: float
) -> dict[str, float]:
    """Run every graph in onnxruntime and compare with the estimator's method on ``X``."""
    Z = estimator.transform(X)  # (n, K)
    cases = {
        "encoder": (X, Z),
        "decoder": (Z, estimator.inverse_transform(Z)),
        "model": (X, estimator.reconstruct(X)),
    }
    diffs, limits = {}, {}
    for part, (inputs, expected) in cases.items():
        input_name = GRAPHS[part][0]
        got = _session(ort, paths[part]).run(None, {input_name: inputs})[0]
        diffs[part] = _max_abs_diff(np.asarray(got), expected)
        # float32 rounding (another order of summation) grows with the outputs' size: pixels
        # in 0..255 differ by ~1e-4, so beyond 1 the tolerance is relative.
        limits[part] = atol * max(1.0, float(np.max(np.abs(expected))))
    bad = {part: d for part, d in diffs.items() if not d <= limits[part]}
    if bad:
        name = type(estimator).__name__
        detail = ", ".join(
            f"{part}.onnx vs {name}.{GRAPHS[part][2]} by {d:.3g} (limit {limits[part]:.3g})"
            for part, d in bad.items()
        )
        raise ExportCheckError(
            f"the exported graphs disagree with the estimator on {plural(X.shape[0], 'sample')} "
            "beyond "
            f"atol={atol:g}: {detail}; nothing was written"
        )
    return diffs


def _io_spec(onnx: ModuleType, model: Any) -> dict[str, list[dict[str, Any]]]:
    """Names, shapes (the batch axis by name) and dtypes of a graph's inputs and outputs."""

    def describe(values: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": v.name,
                "shape": [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim],
                "dtype": onnx.helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type).name,
            }
            for v in values
        ]

    return {"inputs": describe(model.graph.input), "outputs": describe(model.graph.output)}


def _read_manifest(path: Path) -> Any:
    """The JSON of ``path / export.json`` if it is a regular file of at most
    ``MAX_MANIFEST_BYTES`` (a FIFO in its place does not block); ``None`` otherwise."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path / MANIFEST, flags)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        data = f.read(MAX_MANIFEST_BYTES + 1)
    if len(data) > MAX_MANIFEST_BYTES:
        return None
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        return None


def is_export_dir(path: Path) -> bool:
    """Whether ``path`` is an aekit ONNX export and nothing else: ``export.json`` with aekit's
    marker and the graph files, no other entry. Only such a directory is replaced."""
    if path.is_symlink() or not path.is_dir():
        return False
    names = {MANIFEST, *(f"{part}.onnx" for part in GRAPHS)}
    try:
        for entry in path.iterdir():
            if entry.name not in names or not stat.S_ISREG(entry.lstat().st_mode):
                return False
    except OSError:
        return False
    manifest = _read_manifest(path)
    return isinstance(manifest, dict) and manifest.get("format") == FORMAT


def check_export_output(out_dir: str | os.PathLike) -> Path:
    """Refuse ``out_dir`` as the target of :func:`export_onnx` unless it is absent, an empty
    directory or an earlier aekit export holding nothing else; returns the absolute path.

    Cheap: call it before loading or exporting anything, so a bad ``--out`` costs nothing.
    """
    return check_replaceable(out_dir, is_export_dir, "an aekit ONNX export")


def export_onnx(
    estimator_or_model_dir: Any,
    out_dir: str | os.PathLike,
    *,
    opset: int | None = None,
    check: bool = True,
    X: Any = None,
    atol: float = 1e-5,
    exporter: str = "auto",
) -> ExportResult:
    """Export a fitted Autoencoder or VAE to ``encoder.onnx``, ``decoder.onnx``, ``model.onnx``.

    Each graph takes and returns float32 arrays with a dynamic batch axis B and does everything
    the estimator does around its network (flattening, the fitted scaling and its inverse, the
    output activation, the reshape to the sample shape):

    - ``encoder.onnx``: ``x`` (B, *input_shape_) -> ``z`` (B, latent_dim), as ``transform``;
    - ``decoder.onnx``: ``z`` (B, latent_dim) -> ``x_hat`` (B, *input_shape_), as
      ``inverse_transform``;
    - ``model.onnx``: ``x`` -> ``x_hat``, as ``reconstruct``.

    For a VAE the encoder gives the posterior mean mu(x) and the decoder the mean of p(x|z)
    (pixel probabilities for a Bernoulli likelihood); nothing is sampled. ``export.json``
    beside them lists the graphs' inputs and outputs, ``latent_dim``, the opset, the aekit,
    torch, onnx and onnxruntime versions and the measured differences. The files are written
    to a directory beside ``out_dir`` that replaces it whole once exported and checked
    (:func:`aekit.io.atomic.atomic_directory`), so a failed or killed export leaves an earlier
    one intact.

    Parameters
    ----------
    estimator_or_model_dir : Autoencoder, VAE, str or path-like
        A fitted estimator, or a model directory saved by ``save`` (loaded on the CPU).
        Dense, conv and recurrent (every cell) autoencoders and dense and conv VAEs export;
        anything else raises ``ValueError``.
    out_dir : str or path-like
        Directory for the graphs and the manifest; created if needed. It must be absent,
        empty or an earlier aekit export holding nothing else (see
        :func:`check_export_output`); any other directory or file is refused, untouched,
        before any work.
    opset : int, optional
        ONNX opset; ``None`` takes the torch exporter's default.
    check : bool, default=True
        Run every graph in onnxruntime and compare it with the estimator (on the CPU).
    X : array-like of shape (n_samples, *input_shape_), optional
        Samples for the check; ``None`` draws 16 from a seeded standard normal in the
        network's units (mapped back through ``scaling_``).
    atol : float, default=1e-5
        Largest difference the check accepts: absolute for outputs within [-1, 1], relative
        to the largest output beyond (``atol * max(1, max |output|)``), since float32
        rounding grows with the outputs' size.
    exporter : {"auto", "torchscript", "dynamo"}, default="auto"
        The torch exporter: ``"auto"`` uses the TorchScript one (fast, and exact on every aekit
        network) and falls back to the dynamo one (``torch.export``, needs onnxscript).

    Returns
    -------
    ExportResult
        The paths written, ``max_abs_diff`` (graph name -> max |onnxruntime - torch|, empty
        without the check), the opset and the exporter used.

    Raises
    ------
    ValueError
        For an estimator that cannot be exported, a bad parameter or a bad ``out_dir``.
    ExportCheckError
        When a graph differs from the estimator by more than ``atol`` (nothing is written).
    ImportError
        When onnx or onnxruntime is missing: ``pip install "aekit[onnx]"``.

    Examples
    --------
    >>> import tempfile
    >>> import onnxruntime
    >>> from aekit import Autoencoder
    >>> from aekit.datasets import load_digits
    >>> from aekit.io import export_onnx
    >>> X, _ = load_digits()
    >>> ae = Autoencoder(latent_dim=2, epochs=2, random_state=0, verbose=False).fit(X[:300])
    >>> result = export_onnx(ae, tempfile.mkdtemp(), X=X[300:400])
    >>> result.encoder.name, result.max_abs_diff["encoder"] < 1e-5
    ('encoder.onnx', True)
    >>> encoder = onnxruntime.InferenceSession(result.encoder)
    >>> encoder.run(None, {"x": X[:5]})[0].shape
    (5, 2)
    """
    onnx, ort = _import_onnx()
    if exporter not in EXPORTERS:
        raise ValueError(f"exporter={exporter!r} is not valid; choose one of {list(EXPORTERS)}")
    if opset is not None and not (is_int(opset) and opset >= 7):
        raise ValueError(f"opset must be None or an integer of at least 7, got {opset!r}")
    opset = None if opset is None else int(opset)  # numpy's ints pass; torch's exporters want int
    # Not Real(0): atol=inf is allowed, the graphs are still run and their differences reported.
    if not (is_number(atol) and atol >= 0):
        raise ValueError(f"atol must be a non-negative number, got {atol!r}")
    out = check_export_output(out_dir)
    estimator, kind = _resolve_estimator(estimator_or_model_dir)
    X_check = _check_inputs(estimator, X) if check else None
    latent_dim = int(estimator.module_.config.latent_dim)
    shape = tuple(estimator.input_shape_)
    # The traced batch differs from the checked one, so the check proves the axis dynamic.
    n_example = 3 if X_check is not None and X_check.shape[0] == 2 else 2
    examples = {
        "encoder": torch.zeros(n_example, *shape),
        "decoder": torch.zeros(n_example, latent_dim),
        "model": torch.zeros(n_example, *shape),
    }
    what = f"this {type(estimator).__name__} ({kind} network)"
    # Built beside `out` and swapped in whole once exported and checked: a failure or a kill
    # leaves the earlier export (or nothing) there, and nothing else is ever removed.
    with atomic_directory(out, is_export_dir, "an aekit ONNX export") as tmp:
        paths = {part: tmp / f"{part}.onnx" for part in GRAPHS}
        used = set()
        for part, example in examples.items():
            graph = _Graph(estimator, part).eval()
            used.add(_export_graph(graph, example, paths[part], part, opset, exporter, what))
        shapes = {"x": shape, "z": (latent_dim,), "x_hat": shape}
        models = {part: _declare_shapes(onnx, path, part, shapes) for part, path in paths.items()}
        diffs = _check(ort, paths, estimator, X_check, float(atol)) if X_check is not None else {}
        used_name = "dynamo" if "dynamo" in used else "torchscript"
        manifest = _manifest(onnx, ort, estimator, kind, models, diffs, X_check, atol, used_name)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return ExportResult(
        encoder=out / "encoder.onnx",
        decoder=out / "decoder.onnx",
        model=out / "model.onnx",
        manifest=out / MANIFEST,
        max_abs_diff=diffs,
        opset=manifest["opset"],
        exporter=used_name,
    )


def _manifest(
    onnx: ModuleType,
    ort: ModuleType,
    estimator: Any,
    kind: str,
    models: dict[str, Any],
    diffs: dict[str, float],
    X_check: np.ndarray | None,
    atol: float,
    exporter: str,
) -> dict[str, Any]:
    from aekit._version import __version__

    # The default ONNX domain; the dynamo exporter may add others for its helper functions.
    opsets = [op.version for m in models.values() for op in m.opset_import if op.domain == ""]
    versions = {
        "aekit": __version__,
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": ort.__version__,
    }
    if exporter == "dynamo":
        versions["onnxscript"] = importlib.import_module("onnxscript").__version__
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": type(estimator).__name__,
        "kind": kind,
        "input_shape": list(estimator.input_shape_),
        "latent_dim": int(estimator.module_.config.latent_dim),
        "dtype": "float32",
        "batch_axis": BATCH_AXIS,
        "graphs": {
            part: {
                "file": f"{part}.onnx",
                "matches": f"{type(estimator).__name__}.{GRAPHS[part][2]}",
                **_io_spec(onnx, models[part]),
                "max_abs_diff": diffs.get(part),
            }
            for part in GRAPHS
        },
        "check": None
        if X_check is None
        else {"atol": float(atol), "n_samples": int(X_check.shape[0])},
        "opset": max(opsets),
        "exporter": exporter,
        "versions": versions,
    }
