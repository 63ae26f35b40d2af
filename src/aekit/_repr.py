"""A short repr for result objects (:mod:`aekit.tasks`, the demo): arrays by shape and dtype.

Results hold whole arrays (16 generated images, a denoised data set); their default repr
prints every value, so ``print(generate(vae))`` fills a screen. Assign
``__repr__ = result_repr`` in a NamedTuple or dataclass to show arrays as
``array(shape=(16, 8, 8), dtype=float32)`` and everything else as it is.

Private, numpy only: shared by :mod:`aekit.tasks` and :mod:`aekit.cli.demo`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

# Items of a list, tuple or dict shown before the rest is counted: a result's rows or
# figures are few, but nothing stops a caller from building one with thousands.
MAX_ITEMS = 8


def _is_array(value: Any) -> bool:
    """numpy arrays and torch tensors; numpy scalars (which also have a shape) are not."""
    return (
        hasattr(value, "shape")
        and hasattr(value, "dtype")
        and not isinstance(value, (np.generic, type))
    )


def _short(value: Any) -> str:
    if _is_array(value):
        kind = "array" if isinstance(value, np.ndarray) else type(value).__name__.lower()
        return f"{kind}(shape={tuple(value.shape)}, dtype={value.dtype})"
    if isinstance(value, dict):
        items = [f"{k!r}: {_short(v)}" for k, v in list(value.items())[:MAX_ITEMS]]
        more = len(value) - MAX_ITEMS
        return "{" + ", ".join(items + ([f"... {more} more"] if more > 0 else [])) + "}"
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        items = [_short(v) for v in value[:MAX_ITEMS]]
        more = len(value) - MAX_ITEMS
        shown = ", ".join(items + ([f"... {more} more"] if more > 0 else []))
        if isinstance(value, list):
            return f"[{shown}]"
        return f"({shown},)" if len(value) == 1 else f"({shown})"
    return repr(value)


def result_repr(result: Any) -> str:
    """``ClassName(field=value, ...)`` with every array (at any depth of dicts, lists and
    tuples) written as its shape and dtype, and every other value by its own repr.

    Parameters
    ----------
    result : NamedTuple or dataclass instance

    Returns
    -------
    str

    Examples
    --------
    >>> import numpy as np
    >>> from typing import NamedTuple
    >>> class Result(NamedTuple):
    ...     samples: np.ndarray
    ...     score: float
    ...     __repr__ = result_repr
    >>> Result(np.zeros((16, 8, 8), dtype=np.float32), 0.5)
    Result(samples=array(shape=(16, 8, 8), dtype=float32), score=0.5)
    """
    if dataclasses.is_dataclass(result):
        names = [f.name for f in dataclasses.fields(result) if f.repr]
    else:
        names = list(result._fields)
    fields = ", ".join(f"{name}={_short(getattr(result, name))}" for name in names)
    return f"{type(result).__name__}({fields})"
