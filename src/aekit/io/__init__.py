"""Saving and loading models (safetensors and JSON, never pickle)."""

from aekit.io.model_dir import CONFIG, HISTORY, WEIGHTS, describe, load, read_config, save

__all__ = ["CONFIG", "HISTORY", "WEIGHTS", "describe", "load", "read_config", "save"]
