"""Parameter checks from declarative tables, one place for the whole package.

Each estimator lists its parameters' constraints in ``_parameter_constraints`` (parameter ->
constraint), and ``fit`` calls :func:`check_params` first, before it looks at any data, so a bad
``lr`` is reported at once. A constraint is a callable object that says whether a value is
allowed and describes what is (``"a positive integer"``); the error is one line:
``lr must be a positive number, got -1`` or ``activation='swish' is not valid; choose one of
[...]``. The predicates :func:`is_int` and :func:`is_number` are the one place that knows that
``True`` is not a number here, for every other module that checks a value by hand.

This module depends on the standard library and numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import numpy as np


def is_int(value: Any) -> bool:
    """An integer (Python or numpy), not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_number(value: Any) -> bool:
    """A real number (Python or numpy, int or float, NaN included), not a bool."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


class Constraint:
    """What a parameter may be: ``allows(value)`` and a description for the error."""

    description = ""

    def allows(self, value: Any) -> bool:
        raise NotImplementedError

    def error(self, name: str, value: Any) -> ValueError:
        return ValueError(f"{name} must be {self.description}, got {value!r}")


class Integer(Constraint):
    """An integer of at least ``minimum``."""

    def __init__(self, minimum: int = 1) -> None:
        self.minimum = minimum
        self.description = {1: "a positive integer", 0: "a non-negative integer"}.get(
            minimum, f"an integer of at least {minimum}"
        )

    def allows(self, value: Any) -> bool:
        return is_int(value) and value >= self.minimum


class Real(Constraint):
    """A finite number in an interval: ``closed`` says which ends belong to it ("left",
    "right", "both", "neither"); ``high=None`` for no upper bound."""

    def __init__(self, low: float, high: float | None = None, closed: str = "left") -> None:
        self.low, self.high, self.closed = low, high, closed
        left = closed in ("left", "both")
        right = closed in ("right", "both")
        if high is None:
            self.description = (
                "a non-negative number"
                if low == 0 and left
                else "a positive number"
                if low == 0
                else f"a number {'>=' if left else '>'} {low:g}"
            )
        else:
            self.description = (
                f"a number in {'[' if left else '('}{low:g}, {high:g}{']' if right else ')'}"
            )

    def allows(self, value: Any) -> bool:
        if not is_number(value) or not math.isfinite(value):
            return False
        left = value >= self.low if self.closed in ("left", "both") else value > self.low
        if self.high is None:
            return left
        right = value <= self.high if self.closed in ("right", "both") else value < self.high
        return left and right


class Options(Constraint):
    """One of a set of values (strings, None): a collection, or a function returning one when
    the set is read from a registry that may grow (an architecture added later is allowed)."""

    def __init__(
        self, values: Collection[Any] | Callable[[], Collection[Any]], hint: str = ""
    ) -> None:
        self._values = values
        self.hint = hint  # why some values are left out, said after the choices

    @property
    def values(self) -> list[Any]:
        return list(self._values() if callable(self._values) else self._values)

    def allows(self, value: Any) -> bool:
        try:
            return value in self.values
        except TypeError:  # an unhashable or uncomparable value
            return False

    def error(self, name: str, value: Any) -> ValueError:
        hint = f" ({self.hint})" if self.hint else ""
        return ValueError(f"{name}={value!r} is not valid; choose one of {self.values}{hint}")


class Boolean(Constraint):
    description = "True or False"

    def allows(self, value: Any) -> bool:
        return isinstance(value, (bool, np.bool_))


class Widths(Constraint):
    """``None`` or a sequence of positive integers (layer widths, channel counts)."""

    def __init__(self, what: str = "width") -> None:
        self.what = what
        self.description = f"None or a sequence of positive integers ({self.what}s)"

    def allows(self, value: Any) -> bool:
        if value is None:
            return True
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            return False
        return all(is_int(w) and w >= 1 for w in value)

    def error(self, name: str, value: Any) -> ValueError:
        if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
            bad = next(w for w in value if not (is_int(w) and w >= 1))
            return ValueError(
                f"every {self.what} in {name} must be a positive integer, got {bad!r}"
            )
        return super().error(name, value)


# Unit -> bytes, for sizes written as text ("2GB", "512 MiB"): decimal and binary units.
BYTE_UNITS = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def parse_bytes(value: Any) -> int | None:
    """A size in bytes from a non-negative number or a text such as ``"2GB"`` or
    ``"512 MiB"``; ``None`` when ``value`` is neither.

    Examples
    --------
    >>> parse_bytes("1.5 GiB"), parse_bytes(1000), parse_bytes("lots")
    (1610612736, 1000, None)
    """
    if is_number(value):
        return int(value) if math.isfinite(value) and value >= 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip().lower().replace(" ", "")
    number = text.rstrip("kmgtib")
    unit = text[len(number) :] or "b"
    try:
        size = float(number)
    except ValueError:
        return None
    if unit not in BYTE_UNITS or not math.isfinite(size) or size < 0:
        return None
    return int(size * BYTE_UNITS[unit])


class Bytes(Constraint):
    """A size in bytes: a non-negative number or a text with a unit (``"2GB"``, ``"512MiB"``),
    or ``"auto"`` when ``auto`` is true."""

    def __init__(self, auto: bool = False) -> None:
        self.auto = auto
        self.description = (
            "'auto' or " if auto else ""
        ) + 'a size in bytes (a number, or a text such as "2GB" or "512MiB")'

    def allows(self, value: Any) -> bool:
        return (self.auto and value == "auto" and isinstance(value, str)) or (
            parse_bytes(value) is not None
        )


class Anything(Constraint):
    """No check here (checked where it is used, e.g. ``device`` and ``random_state``)."""

    def allows(self, value: Any) -> bool:
        return True


class OrNone(Constraint):
    """``None`` or what ``inner`` allows."""

    def __init__(self, inner: Constraint) -> None:
        self.inner = inner
        self.description = f"None or {inner.description}"

    def allows(self, value: Any) -> bool:
        return value is None or self.inner.allows(value)

    def error(self, name: str, value: Any) -> ValueError:
        return self.inner.error(name, value)


def check_value(name: str, value: Any, constraint: Constraint) -> Any:
    """``value`` when ``constraint`` allows it, else the ``ValueError`` naming ``name``."""
    if not constraint.allows(value):
        raise constraint.error(name, value)
    return value


def check_params(params: Mapping[str, Any], constraints: Mapping[str, Constraint]) -> None:
    """Raise a ``ValueError`` for the first parameter of ``params`` (in the order of
    ``constraints``) that its constraint refuses.

    Examples
    --------
    >>> check_params({"lr": 0.01, "epochs": 5}, {"lr": Real(0, closed="neither"),
    ...                                          "epochs": Integer(1)})
    >>> check_params({"lr": -1}, {"lr": Real(0, closed="neither")})
    Traceback (most recent call last):
    ...
    ValueError: lr must be a positive number, got -1
    """
    for name, constraint in constraints.items():
        value = params[name]
        if not constraint.allows(value):
            raise constraint.error(name, value)
