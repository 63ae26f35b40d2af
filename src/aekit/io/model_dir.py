"""Saved models: a directory with config.json, model.safetensors and history.json.

Nothing here unpickles: weights are read by safetensors (a header of JSON and raw tensor bytes),
everything else is JSON, so a model directory from a stranger cannot run code. A model is
written to a temporary directory beside the target and renamed into place, so a failed save
leaves any earlier model there intact.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

FORMAT = "aekit-model"
FORMAT_VERSION = 1
CONFIG = "config.json"
WEIGHTS = "model.safetensors"
HISTORY = "history.json"


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


def _is_model_dir(path: Path) -> bool:
    try:
        read_config(path)
    except (ValueError, OSError):
        return False
    return True


@contextlib.contextmanager
def atomic_directory(path: Path) -> Iterator[Path]:
    """A fresh temporary directory beside ``path`` that replaces ``path`` when the block ends.

    If the block raises, the temporary directory is removed and ``path`` is left as it was;
    an existing ``path`` is swapped out only once the new directory is complete.
    """
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
            try:
                os.replace(tmp, path)
            except BaseException:
                os.replace(old, path)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def save(estimator: Any, path: str | Path) -> Path:
    """Save a fitted aekit estimator to the directory ``path`` and return its path.

    An existing aekit model at ``path`` is replaced; any other non-empty directory or file is
    refused, so a mistyped path cannot wipe unrelated data.
    """
    from safetensors.torch import save_file

    import aekit
    from aekit.models import module_kind

    check_is_fitted(estimator, "module_")
    path = Path(path).resolve()
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"{path} exists and is not a directory")
        if any(path.iterdir()) and not _is_model_dir(path):
            raise ValueError(
                f"{path} is a non-empty directory without an aekit model; not overwriting it"
            )
    path.parent.mkdir(parents=True, exist_ok=True)

    module = estimator.module_
    tensors = {f"module.{k}": v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    state = {name: _jsonable(getattr(estimator, name)) for name in estimator._json_state}
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
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "aekit_version": aekit.__version__,
        "torch_version": torch.__version__,
        "estimator": type(estimator).__name__,
        "params": _jsonable(estimator.get_params(deep=False)),
        "state": state,
        "module": {
            "kind": module_kind(module),
            "config": _jsonable(asdict(module.config)),
        },
    }

    with atomic_directory(path) as tmp:
        save_file(tensors, str(tmp / WEIGHTS), metadata={"format": FORMAT})
        _write_json(tmp / HISTORY, _jsonable(estimator.history_))
        _write_json(tmp / CONFIG, config)  # written last: its presence marks a complete model
    return path


def read_format_json(
    path: str | Path, filename: str, fmt: str, max_version: int, kind: str, what: str
) -> dict[str, Any]:
    """Read ``path / filename``, the JSON description of an aekit ``kind`` directory (a model,
    an index), and check its ``format`` and ``format_version``; raise ``FileNotFoundError``
    when ``path`` is missing and ``ValueError`` when it is not such a directory or is damaged.
    ``what`` names the file's content in the messages ("model configuration")."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no {kind} at {path}")
    if not path.is_dir():
        raise ValueError(f"{path} is not a {kind} directory (expected a folder with {filename})")
    described = path / filename
    if not described.is_file():
        raise ValueError(f"{path} is not an aekit {kind}: it has no {filename}")
    try:
        data = json.loads(described.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{described} is damaged: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise ValueError(f"{described} is not an aekit {what}")
    version = data.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError(f"{described} is damaged: format_version {version!r} is not an integer")
    if version > max_version:
        raise ValueError(f"{path} was saved by a newer aekit (format {version}); upgrade aekit")
    return data


def read_config(path: str | Path) -> dict[str, Any]:
    """Read and check a model directory's config.json; raise ValueError if it is not one."""
    return read_format_json(path, CONFIG, FORMAT, FORMAT_VERSION, "model", "model configuration")


def load(path: str | Path, device: str | None = None) -> Any:
    """Load an estimator saved with ``save``.

    Parameters
    ----------
    path : str or Path
        The model directory.
    device : str, optional
        Where to put the module; defaults to the saved ``device`` parameter (``"auto"`` picks
        the best device of this machine).

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
    from safetensors.torch import load_file

    from aekit.data import Scaling
    from aekit.estimators import ESTIMATORS
    from aekit.models import MODULES
    from aekit.training import resolve_device

    path = Path(path)
    config = read_config(path)
    try:
        cls = ESTIMATORS[config["estimator"]]
        estimator = cls(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in config["params"].items()}
        )
        config_cls, module_cls = MODULES[config["module"]["kind"]]
        module_config = config_cls(
            **{
                k: tuple(v) if isinstance(v, list) else v
                for k, v in config["module"]["config"].items()
            }
        )
        state = config["state"]
    except (KeyError, TypeError) as exc:
        raise ValueError(
            f"{path / CONFIG} does not describe a model aekit can build: {exc!r}"
        ) from None

    weights = path / WEIGHTS
    if not weights.is_file():
        raise ValueError(f"{path} has no {WEIGHTS}")
    try:
        tensors = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ValueError(
            f"{weights} is damaged or not a safetensors file ({exc}); aekit never unpickles "
            "model files"
        ) from None
    module = module_cls(module_config)
    prefix = "module."
    try:
        module.load_state_dict(
            {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        )
    except RuntimeError as exc:
        raise ValueError(f"{weights} does not match the model in {CONFIG}: {exc}") from None

    history_file = path / HISTORY
    try:
        history = (
            json.loads(history_file.read_text(encoding="utf-8")) if history_file.is_file() else []
        )
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{history_file} is damaged: {exc}") from None

    for name in estimator._json_state:
        if name in state:
            estimator._set_state(name, state[name])
    for name in estimator._array_state:
        if f"state.{name}" not in tensors:
            raise ValueError(f"{weights} lacks the array {name} that {CONFIG}'s estimator needs")
        setattr(estimator, name, tensors[f"state.{name}"].numpy())
    if "feature_names_in_" in state:
        estimator.feature_names_in_ = np.asarray(state["feature_names_in_"], dtype=object)
    estimator.scaling_ = None
    if state.get("scaling_"):
        if "scaling.offset" not in tensors or "scaling.scale" not in tensors:
            raise ValueError(f"{weights} lacks the scaling arrays that {CONFIG} announces")
        estimator.scaling_ = Scaling(
            state["scaling_"], tensors["scaling.offset"].numpy(), tensors["scaling.scale"].numpy()
        )
    estimator.history_ = history
    estimator.device_ = resolve_device(device if device is not None else estimator.device)
    estimator.module_ = module.to(estimator.device_).eval()
    return estimator


def loss_name(state: dict[str, Any]) -> str | None:
    # A VAE's loss is the negative ELBO under its likelihood, not loss_ (the per-feature
    # error that reconstruction_error reports); a detector's is a trimmed squared error.
    if state.get("likelihood_"):
        return f"negative ELBO, {state['likelihood_']} likelihood"
    if state.get("trim_") is not None:
        return f"squared error, worst {state['trim_']:.3g} of each batch left out"
    return state.get("loss_")


def describe(path: str | Path) -> dict[str, Any]:
    """Summarise a saved model without building it: configuration, size, training outcome.

    Examples
    --------
    >>> from aekit.io import describe
    >>> describe("my-model")["n_parameters"]  # doctest: +SKIP
    50992
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    config = read_config(path)
    n_parameters = 0
    try:
        with safe_open(str(path / WEIGHTS), framework="pt") as f:
            for key in f.keys():
                if key.startswith("module."):
                    n_parameters += int(np.prod(f.get_slice(key).get_shape()))
    except (SafetensorError, OSError) as exc:
        raise ValueError(f"{path / WEIGHTS} is damaged or not a safetensors file ({exc})") from None
    history_file = path / HISTORY
    history = json.loads(history_file.read_text(encoding="utf-8")) if history_file.is_file() else []
    state = config["state"]
    best = state.get("best_epoch_") or len(history)
    final = history[best - 1] if history and best else {}
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
        "epochs_trained": len(history),
        "best_epoch": best,
        "final": {k: v for k, v in final.items() if k.startswith(("loss", "val_loss"))},
        "aekit_version": config.get("aekit_version"),
        "torch_version": config.get("torch_version"),
    }
