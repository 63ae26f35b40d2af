"""Saving and loading models (safetensors and JSON, never pickle), and ONNX export."""

from aekit.io.model_dir import CONFIG, HISTORY, WEIGHTS, describe, load, read_config, save
from aekit.io.onnx import ExportResult, export_onnx

__all__ = [
    "CONFIG",
    "HISTORY",
    "WEIGHTS",
    "ExportResult",
    "describe",
    "export_onnx",
    "load",
    "read_config",
    "save",
]
