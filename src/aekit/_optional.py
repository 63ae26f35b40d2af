"""Lazy imports of optional dependencies, with the pip command that fixes a missing one."""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingDependencyError(ImportError):
    """An optional dependency is not installed; the message says how to install it."""


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the aekit extra."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(
            f"{module.split('.')[0]} is needed for this; install it with "
            f"pip install 'aekit[{extra}]'"
        ) from None
