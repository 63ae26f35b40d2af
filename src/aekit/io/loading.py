"""Reading saved models back: :func:`load`, :func:`read_config` and :func:`describe`.

These functions rebuild or check an estimator by the class name config.json records, so they
sit above :mod:`aekit.estimators` (they look the name up in
:data:`aekit.estimators.ESTIMATORS`). The format itself (writing, the schema, the safetensors
header, checksums) is :mod:`aekit.io.model_dir`, below the estimators, so that an estimator's
``save`` needs nothing above it. What reading checks is described there.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from aekit._untrusted import open_regular
from aekit.io.model_dir import (
    _NEVER_UNPICKLES,
    CONFIG,
    FORMAT,
    FORMAT_VERSION,
    HISTORY,
    MAX_CONFIG_BYTES,
    WEIGHTS,
    _check_finite,
    _check_tensors,
    _locate,
    _Model,
    _parse_config,
    _read_header,
    _read_history,
    _verify_checksum,
    loss_name,
    read_format_json,
)
from aekit.io.schema import Int, IsObject, ListOf, Number, Object, Optional, Scalar, Str


def _read_model_config(path: Path) -> tuple[dict[str, Any], _Model]:
    # Imported here: the estimators import torch, which describe(check=False) must not.
    from aekit.estimators import ESTIMATORS

    config = read_format_json(path, CONFIG, FORMAT, FORMAT_VERSION, "model", "model configuration")
    return config, _parse_config(config, path / CONFIG, ESTIMATORS)


def read_config(path: str | Path) -> dict[str, Any]:
    """Read and check a model directory's config.json; raise ValueError if it is not one.

    Every field is checked (see :mod:`aekit.io.schema`); the file is read only if it is a
    regular file of at most 1 MB.
    """
    return _read_model_config(_locate(path))[0]


def load(path: str | Path, device: str | None = None) -> Any:
    """Load an estimator saved with ``save``.

    Everything is checked before use (see the module's description): a damaged or hostile
    directory gives a ``ValueError`` that names the file and the field, never a model that
    answers wrong. If ``path`` is missing because a save was killed between its two renames,
    the previous model is put back and loaded.

    Parameters
    ----------
    path : str or Path
        The model directory.
    device : str, optional
        Where to put the module; defaults to the saved ``device`` parameter (``"auto"`` picks
        the best device of this machine).

    Raises
    ------
    FileNotFoundError
        When there is no model at ``path``.
    ValueError
        When ``path`` is not a complete, intact aekit model.

    Examples
    --------
    >>> import aekit, tempfile
    >>> from aekit.datasets import load_digits
    >>> X, _ = load_digits()
    >>> ae = aekit.Autoencoder(latent_dim=2, epochs=2, random_state=0).fit(X)
    >>> path = ae.save(tempfile.mkdtemp() + "/model")
    >>> bool((aekit.load(path).transform(X) == ae.transform(X)).all())
    True
    """
    from safetensors import SafetensorError
    from safetensors.torch import load as load_tensors

    from aekit.data import Scaling
    from aekit.training import resolve_device

    path = _locate(path)
    _, model = _read_model_config(path)
    weights = path / WEIGHTS
    header = _read_header(weights)
    _check_tensors(header, model, weights)
    history = _read_history(path / HISTORY)
    # Read once: the header check bounds the file to its tensors; hashed and parsed from memory.
    with open_regular(weights, "model weights") as f:
        data = f.read()
    _verify_checksum(weights, model.weights_sha256, data)
    try:
        tensors = load_tensors(data)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ValueError(
            f"{weights} is damaged or not a safetensors file ({exc}); {_NEVER_UNPICKLES}"
        ) from None
    _check_finite(tensors, weights)

    def bad(field: str, exc: Exception) -> ValueError:
        return ValueError(f"{path / CONFIG}: {field}: {exc}")

    try:
        estimator = model.estimator_cls(**model.params)
    except Exception as exc:  # an estimator's __init__ only stores: any failure is the file's
        raise bad("params", exc) from None
    for name in estimator._json_state:
        if name in model.state:
            try:
                estimator._set_state(name, model.state[name])
            except Exception as exc:
                raise bad(f"state.{name}", exc) from None
    for name in estimator._array_state:
        setattr(estimator, name, tensors[f"state.{name}"].numpy())
    if "feature_names_in_" in model.state:
        estimator.feature_names_in_ = np.asarray(model.state["feature_names_in_"], dtype=object)
    estimator.scaling_ = None
    if model.state.get("scaling_"):
        estimator.scaling_ = Scaling(
            model.state["scaling_"],
            tensors["scaling.offset"].numpy(),
            tensors["scaling.scale"].numpy(),
        )
    estimator.history_ = history
    if model.table is not None:
        estimator.table_ = model.table
    if model.text is not None:
        estimator.text_ = model.text
    try:
        module = model.module_cls(model.module_config)
        module.load_state_dict(
            {k[len("module.") :]: v for k, v in tensors.items() if k.startswith("module.")}
        )
    except RuntimeError as exc:
        raise ValueError(f"{weights} does not match the model in {CONFIG}: {exc}") from None
    try:
        estimator.device_ = resolve_device(device if device is not None else estimator.device)
    except (TypeError, RuntimeError) as exc:
        raise bad("params.device", exc) from None
    estimator.module_ = module.to(estimator.device_).eval()
    return estimator


# What describe(check=False) reads from config.json, checked without torch: the fields it
# reports, each against its own spec.
_QUICK_TOP = Object(
    {
        "estimator": Str(max_len=200),
        "params": IsObject(),
        "state": IsObject(),
        "module": Object(
            {"kind": Str(max_len=200), "config": IsObject()},
            required=frozenset({"kind", "config"}),
        ),
        "weights_sha256": Str(max_len=64),
        "table": IsObject(),
        "text": IsObject(),
    },
    required=frozenset({"estimator", "params", "state", "module"}),
    open=True,
)
# The fitted attributes the summary shows or derives its loss from (others are not read).
_QUICK_STATE = {
    "input_shape_": ListOf(Int(min=1), min_len=1, max_len=8),
    "best_epoch_": Optional(Int(min=0)),
    "scaling_": Optional(Str(max_len=100)),
    "loss_": Optional(Str(max_len=100)),
    "likelihood_": Optional(Str(max_len=100)),
    "trim_": Optional(Number(min=0.0, max=1.0)),
    # A classifier's loss (cross-entropy) is told by its classes: without them the quick
    # summary said no loss where the full one said "cross-entropy".
    "classes_": ListOf(Scalar(), min_len=1, max_len=MAX_CONFIG_BYTES),
    # AutoRec's loss (squared error over the observed ratings) is told by its rating range.
    "rating_range_": ListOf(Number(), min_len=2, max_len=2),
}


def describe(path: str | Path, *, check: bool = True) -> dict[str, Any]:
    """Summarise a saved model without building it: configuration, size, training outcome.

    With ``check`` (the default) the model is checked as :func:`load` checks it (schema,
    tensor shapes against the configuration, checksum), which imports torch. With
    ``check=False`` only what the summary reports is checked: the fields it shows, the weights
    file's header and its SHA-256 against config.json's; torch is not imported, so the answer
    is immediate (``aekit info``). No weights are read into memory; history.json is read up to
    16 MB.

    Examples
    --------
    >>> from aekit.io import describe
    >>> describe("my-model")["n_parameters"]  # doctest: +SKIP
    50992
    """
    path = _locate(path)
    weights = path / WEIGHTS
    if check:
        config, model = _read_model_config(path)
        state, sha = model.state, model.weights_sha256
        header = _read_header(weights)
        _check_tensors(header, model, weights)
    else:
        config = read_format_json(
            path, CONFIG, FORMAT, FORMAT_VERSION, "model", "model configuration"
        )
        try:
            _QUICK_TOP.check(config, "")
            state = {
                name: spec.check(config["state"][name], f"state.{name}")
                for name, spec in _QUICK_STATE.items()
                if name in config["state"]
            }
            if "input_shape_" not in state:
                raise ValueError("state.input_shape_: missing")
            sha = config.get("weights_sha256")
            if sha is not None and (
                len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)
            ):
                raise ValueError(f"weights_sha256: expected 64 hex digits, got {sha!r}")
        except ValueError as exc:
            raise ValueError(f"{path / CONFIG} does not describe an aekit model: {exc}") from None
        header = _read_header(weights)
    _verify_checksum(weights, sha)
    n_parameters = sum(math.prod(t.shape) for k, t in header.items() if k.startswith("module."))
    history = _read_history(path / HISTORY)
    best = state.get("best_epoch_") or len(history)
    final = history[best - 1] if 1 <= best <= len(history) else {}
    return {
        "path": str(path),
        "estimator": config["estimator"],
        "kind": config["module"]["kind"],
        "module": config["module"]["config"],
        "params": config["params"],
        "n_parameters": n_parameters,
        "input_shape": state.get("input_shape_"),
        "loss": loss_name(state),
        "scaling": state.get("scaling_"),
        "table": config.get("table"),
        "epochs_trained": len(history),
        "best_epoch": best,
        "final": {
            k: v
            for k, v in final.items()
            if k.startswith(("loss", "val_loss")) and isinstance(v, (int, float))
        },
        "aekit_version": config.get("aekit_version"),
        "torch_version": config.get("torch_version"),
        "weights_sha256": sha,
        "checked": "everything load checks" if check else "config fields shown, checksum",
    }
