"""Saving and loading models (safetensors and JSON, never pickle), and ONNX export."""

from aekit.io.model_dir import (
    CONFIG,
    HISTORY,
    WEIGHTS,
    check_model_output,
    describe,
    load,
    read_config,
    save,
)
from aekit.io.onnx import ExportResult, check_export_output, export_onnx

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
