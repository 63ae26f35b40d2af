"""A small declarative schema for the JSON files of a saved model.

A schema is a tree of specs (:class:`Int`, :class:`Number`, :class:`Str`, :class:`ListOf`,
:class:`Object`, ...). ``spec.check(value, where)`` returns the value (lists that stand for
tuples come back as tuples) or raises a ``ValueError`` that names the field, such as
``module.config.hidden[1]: expected an integer, got 'x'``. Every value read from a file goes
through one before any code uses it, so a damaged or hostile file is refused with one clear
line instead of a ``TypeError`` deep inside torch.

Specs never recurse deeper than the schema itself: a container where a scalar is expected is
refused without being walked, so the depth of what is checked is bounded by the schema.
"""

from __future__ import annotations

import abc
import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aekit._validation import is_int, is_number

# The largest width, channel count or length a saved configuration may hold: what torch's
# int32-indexed kernels accept. Anything larger is damage, not a model.
MAX_SIZE = 2**31 - 1
# Strings of a saved model are names (activations, losses, feature names); a longer one is damage.
MAX_STR = 10_000
# Lists of a configuration (widths, shapes) are short; data-sized lists (feature names,
# classes, histories) have their own, larger bounds.
MAX_LAYERS = 256


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return f"a JSON {'object' if isinstance(value, dict) else 'list'}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


class Spec(abc.ABC):
    """Base of every spec: ``check(value, where)`` returns the value or raises ValueError."""

    @abc.abstractmethod
    def check(self, value: Any, where: str) -> Any:
        """Return ``value`` (converted where the spec says so) or raise ValueError."""

    @staticmethod
    def fail(where: str, message: str) -> typing.NoReturn:
        raise ValueError(f"{where}: {message}")


@dataclass(frozen=True)
class Scalar(Spec):
    """Any JSON scalar (null, true/false, a number, a string); with ``lists``, also a flat
    list of scalars (returned as a tuple). Never a deeper container."""

    lists: bool = False

    def check(self, value: Any, where: str) -> Any:
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, str):
            return Str().check(value, where)
        if self.lists and isinstance(value, list):
            return ListOf(Scalar(), as_tuple=True).check(value, where)
        self.fail(where, f"expected a number, a string, true/false or null, got {_show(value)}")


@dataclass(frozen=True)
class Int(Spec):
    """An integer (not a boolean) in ``[min, max]``."""

    min: int | None = None
    max: int | None = MAX_SIZE

    def check(self, value: Any, where: str) -> int:
        if not is_int(value):
            self.fail(where, f"expected an integer, got {_show(value)}")
        if self.min is not None and value < self.min:
            self.fail(where, f"expected an integer >= {self.min}, got {value}")
        if self.max is not None and value > self.max:
            self.fail(where, f"expected an integer <= {self.max}, got {value}")
        return value


@dataclass(frozen=True)
class Number(Spec):
    """A number (integers accepted; booleans only with ``bools``, as for a flag that may hold
    0 or 1); ``finite`` refuses NaN and infinities. Bounds are inclusive unless ``max_open``."""

    finite: bool = True
    min: float | None = None
    max: float | None = None
    max_open: bool = False
    bools: bool = False

    def check(self, value: Any, where: str) -> int | float:
        if isinstance(value, bool) and self.bools:
            return value
        if not is_number(value):
            self.fail(where, f"expected a number, got {_show(value)}")
        # Compared as a float, returned as it came: an int parameter stays an int.
        number = float(value) if isinstance(value, float) or abs(value) < 2**53 else math.inf
        if self.finite and not math.isfinite(number):
            self.fail(where, f"expected a finite number, got {_show(value)}")
        if self.min is not None and not number >= self.min:
            self.fail(where, f"expected a number >= {self.min}, got {_show(value)}")
        if self.max is not None and not (
            number < self.max if self.max_open else number <= self.max
        ):
            bound = f"< {self.max}" if self.max_open else f"<= {self.max}"
            self.fail(where, f"expected a number {bound}, got {_show(value)}")
        return value


@dataclass(frozen=True)
class Bool(Spec):
    def check(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            self.fail(where, f"expected true or false, got {_show(value)}")
        return value


@dataclass(frozen=True)
class Str(Spec):
    """A string of at most ``max_len`` characters, one of ``choices`` when given."""

    choices: tuple[str, ...] | None = None
    max_len: int = MAX_STR

    def check(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            self.fail(where, f"expected a string, got {_show(value)}")
        if len(value) > self.max_len:
            self.fail(where, f"a string of {len(value)} characters (at most {self.max_len})")
        if self.choices is not None and value not in self.choices:
            self.fail(where, f"expected one of {list(self.choices)}, got {_show(value)}")
        return value


@dataclass(frozen=True)
class Optional(Spec):
    """``null`` or what ``spec`` accepts."""

    spec: Spec

    def check(self, value: Any, where: str) -> Any:
        return None if value is None else self.spec.check(value, where)


@dataclass(frozen=True)
class ListOf(Spec):
    """A list of ``item``, its length in ``[min_len, max_len]``; a tuple when ``as_tuple``."""

    item: Spec
    min_len: int = 0
    max_len: int = MAX_LAYERS
    as_tuple: bool = False

    def check(self, value: Any, where: str) -> list[Any] | tuple[Any, ...]:
        if not isinstance(value, list):
            self.fail(where, f"expected a list, got {_show(value)}")
        if not self.min_len <= len(value) <= self.max_len:
            span = (
                f"{self.min_len}"
                if self.min_len == self.max_len
                else f"{self.min_len} to {self.max_len}"
            )
            items = "item" if self.max_len == 1 else "items"
            self.fail(where, f"expected a list of {span} {items}, got {len(value)}")
        items = [self.item.check(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if self.as_tuple else items


@dataclass(frozen=True)
class MapOf(Spec):
    """An object of up to ``max_len`` string keys, each value checked by ``value``."""

    value: Spec
    max_len: int = 10_000

    def check(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(where, f"expected an object, got {_show(value)}")
        if len(value) > self.max_len:
            self.fail(where, f"expected at most {self.max_len} entries, got {len(value)}")
        return {k: self.value.check(v, _join(where, k)) for k, v in value.items()}


@dataclass(frozen=True)
class IsObject(Spec):
    """An object whose fields a later, more specific check reads (the spec of each depends on
    another field, as a module's configuration depends on its kind)."""

    def check(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(where, f"expected an object, got {_show(value)}")
        return value


@dataclass(frozen=True)
class Object(Spec):
    """An object with the named ``fields``. Those in ``required`` must be present; unknown keys
    are refused unless ``open`` (then they must be JSON scalars: nothing unbounded goes
    unchecked)."""

    fields: Mapping[str, Spec]
    required: frozenset[str] = frozenset()
    open: bool = False

    def check(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(where, f"expected an object, got {_show(value)}")
        for name in sorted(self.required - value.keys()):
            self.fail(_join(where, name), "missing")
        out: dict[str, Any] = {}
        for key, item in value.items():
            spec = self.fields.get(key)
            if spec is None:
                if not self.open:
                    self.fail(_join(where, key), "unknown field")
                spec = Scalar()
            out[key] = spec.check(item, _join(where, key))
        return out


# ---------------------------------------------------------------- dataclasses
def spec_for_type(hint: Any, name: str, overrides: Mapping[str, Spec]) -> Spec:
    """The spec of one dataclass field from its type hint: ``int`` (positive), ``float``
    (finite), ``bool``, ``str``, ``tuple[int, ...]``, ``tuple[int, int]``, ``X | None`` and
    nested dataclasses (built with :func:`dataclass_spec`)."""
    if name in overrides:
        return overrides[name]
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return Optional(spec_for_type(args[0], name, overrides))
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return ListOf(spec_for_type(args[0], "", {}), as_tuple=True)
        return ListOf(
            Scalar() if not args else spec_for_type(args[0], "", {}),
            min_len=len(args),
            max_len=len(args),
            as_tuple=True,
        )
    if hint is bool:
        return Bool()
    if hint is int:
        return Int(min=1)
    if hint is float:
        return Number()
    if hint is str:
        return Str(max_len=100)
    if dataclasses.is_dataclass(hint):
        return DataclassSpec(hint, overrides)
    raise TypeError(f"no schema for a field of type {hint!r}")


@dataclass(frozen=True)
class DataclassSpec(Spec):
    """An object holding the fields of dataclass ``cls``, built into an instance of it.

    Field specs come from the type hints (see :func:`spec_for_type`), ``overrides`` (by field
    name, at any depth) narrow them; fields with defaults may be missing. Errors of the
    dataclass's own checks (``__post_init__``) are reported with ``where``."""

    cls: type
    overrides: Mapping[str, Spec] = field(default_factory=dict, compare=False)

    def object_spec(self) -> Object:
        hints = typing.get_type_hints(self.cls)
        fields = dataclasses.fields(self.cls)
        required = frozenset(
            f.name
            for f in fields
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        )
        specs = {f.name: spec_for_type(hints[f.name], f.name, self.overrides) for f in fields}
        return Object(specs, required)

    def check(self, value: Any, where: str) -> Any:
        values = self.object_spec().check(value, where)
        try:
            return self.cls(**values)
        except (ValueError, TypeError) as exc:
            self.fail(where, str(exc))


def validate(value: Any, spec: Spec, where: str = "") -> Any:
    """Check ``value`` against ``spec``; return it (tuples and dataclasses built) or raise a
    ValueError naming the field.

    Examples
    --------
    >>> validate({"hidden": [64, 32]}, Object({"hidden": ListOf(Int(min=1), as_tuple=True)}))
    {'hidden': (64, 32)}
    >>> validate({"hidden": "xyz"}, Object({"hidden": ListOf(Int(min=1))}), "config")
    Traceback (most recent call last):
    ...
    ValueError: config.hidden: expected a list, got 'xyz'
    """
    return spec.check(value, where)
