"""Saving and loading models (safetensors and JSON, never pickle), and ONNX export.

Names are imported on first use (PEP 562): the ONNX exporter needs torch, reading a model's
description does not (``aekit info`` answers without loading torch).

The package spans two layers (pyproject.toml's import-linter contract): ``atomic``, ``schema``
and ``model_dir`` (the model format and ``save``) sit below the estimators, ``loading``
(``load``, ``read_config``, ``describe``: they rebuild estimators by name) and ``onnx`` above
them. Library code imports the module it needs, not this package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Public name -> the module that defines it.
_LAZY: dict[str, str] = {
    "CONFIG": "aekit.io.model_dir",
    "HISTORY": "aekit.io.model_dir",
    "WEIGHTS": "aekit.io.model_dir",
    "check_model_output": "aekit.io.model_dir",
    "describe": "aekit.io.loading",
    "load": "aekit.io.loading",
    "read_config": "aekit.io.loading",
    "save": "aekit.io.model_dir",
    "ExportResult": "aekit.io.onnx",
    "check_export_output": "aekit.io.onnx",
    "export_onnx": "aekit.io.onnx",
}

if TYPE_CHECKING:
    from aekit.io.loading import describe, load, read_config
    from aekit.io.model_dir import CONFIG, HISTORY, WEIGHTS, check_model_output, save
    from aekit.io.onnx import ExportResult, check_export_output, export_onnx


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'aekit.io' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "CONFIG",
    "HISTORY",
    "WEIGHTS",
    "ExportResult",
    "check_export_output",
    "check_model_output",
    "describe",
    "export_onnx",
    "load",
    "read_config",
    "save",
]
