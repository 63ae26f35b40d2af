"""One place tells numbers from bools: ``aekit._validation`` (issue 16).

``True`` is an ``int`` to Python, so every check of a number must also refuse bools; written by
hand in each module, some checks forgot (``lr=True`` trained with a learning rate of 1) and
others refused numpy's scalars that the estimators accept. These tests keep the checks in one
place and pin the behaviour of the modules that now use it.
"""

import ast
from pathlib import Path

import numpy as np
import pytest

import aekit
from aekit.noise import check_noise

SRC = Path(aekit.__file__).parent
NUMBER_TYPES = {"int", "float", "integer", "floating", "Integral", "Real", "Number"}


def _type_names(node: ast.expr) -> set[str]:
    """Names in isinstance's second argument: ``(int, np.integer)`` -> {"int", "integer"}."""
    items = node.elts if isinstance(node, ast.Tuple) else [node]
    return {n.attr if isinstance(n, ast.Attribute) else getattr(n, "id", "") for n in items}


def _isinstance_types(node: ast.expr) -> set[str]:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        node = node.operand
    is_call = isinstance(node, ast.Call) and getattr(node.func, "id", "") == "isinstance"
    return _type_names(node.args[1]) if is_call and len(node.args) == 2 else set()


def hand_written_bool_guards(root: Path) -> list[str]:
    """``file:line`` of every condition that checks for a number and excludes bools in one
    boolean expression (``isinstance(v, bool) or not isinstance(v, int)``), outside
    ``_validation.py``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "_validation.py" and path.parent == root:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.BoolOp):
                types = [_isinstance_types(v) for v in node.values]
                bools = {i for i, t in enumerate(types) if {"bool", "bool_"} & t}
                numbers = {i for i, t in enumerate(types) if NUMBER_TYPES & t}
                if bools and numbers - bools:  # not one dispatch on (bool, int, float)
                    found.append(f"{path.relative_to(root).as_posix()}:{node.lineno}")
    return found


def test_only_validation_tells_bools_from_numbers():
    assert hand_written_bool_guards(SRC) == []


def test_the_guard_finder_finds_the_patterns_it_replaced(tmp_path):
    (tmp_path / "m.py").write_text(
        "def f(v, w):\n"
        "    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):\n"
        "        pass\n"
        "    return isinstance(w, float) and not isinstance(w, bool) and w > 0\n"
        "def g(h):\n"
        "    return not isinstance(h, bool)  # a flag must be a bool: not a number check\n"
        "def s(x):\n"
        "    return x is None or isinstance(x, (bool, int, float))  # a JSON scalar\n"
    )
    assert hand_written_bool_guards(tmp_path) == ["m.py:2", "m.py:4"]


@pytest.mark.parametrize("level", [float("nan"), float("inf"), True, -0.1, "0.1"])
def test_check_noise_refuses_what_the_estimators_refuse(level):
    # The estimators check noise_level with Real(0) first; check_noise says the same.
    message = f"noise_level must be a non-negative number, got {level!r}"
    with pytest.raises(ValueError, match=message):
        check_noise("gaussian", level)


def test_check_noise_takes_numpy_scalars():
    assert check_noise("gaussian", np.float32(0.5)) == 0.5
    assert check_noise("masking", np.int64(1)) == 1.0
    with pytest.raises(ValueError, match="noise_level is a probability for noise='masking'"):
        check_noise("masking", np.float32(1.5))
