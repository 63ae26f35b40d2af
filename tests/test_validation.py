"""The declarative parameter checks of aekit._validation."""

import numpy as np
import pytest

from aekit._validation import (
    Boolean,
    Integer,
    Options,
    OrNone,
    Real,
    Widths,
    check_params,
    check_value,
    is_int,
    is_number,
)


def test_a_bool_is_not_a_number_here():
    assert is_int(3) and is_int(np.int64(3)) and not is_int(True) and not is_int(np.bool_(1))
    assert not is_int(3.0) and not is_int("3")
    assert is_number(0.5) and is_number(np.float32(0.5)) and is_number(2)
    assert not is_number(False) and not is_number("1") and not is_number(None)


@pytest.mark.parametrize(
    ("constraint", "good", "bad", "message"),
    [
        (Integer(1), [1, np.int32(7)], [0, 2.0, True, None], "n must be a positive integer"),
        (Integer(0), [0, 3], [-1, False], "n must be a non-negative integer"),
        (Integer(2), [2], [1], "n must be an integer of at least 2"),
        (Real(0), [0, 0.0, 1e9], [-1e-9, float("nan"), float("inf"), True], "a non-negative"),
        (Real(0, closed="neither"), [1e-12], [0, -1], "n must be a positive number"),
        (Real(0, 1), [0, 0.5], [1, 1.0, -0.1], r"n must be a number in \[0, 1\)"),
        (Real(0, 0.5, closed="right"), [0.5, 0.01], [0, 0.6], r"in \(0, 0.5\]"),
        (Boolean(), [True, np.bool_(False)], [1, "yes", None], "n must be True or False"),
        (OrNone(Integer(1)), [None, 4], [0], "n must be a positive integer"),
        (Widths(), [None, (), (8, 4), [3]], [(8, 0)], "every width in n must be a positive"),
        (Widths(), [None], ["8,4", 8], "n must be None or a sequence"),
    ],
)
def test_constraints_allow_refuse_and_say_why(constraint, good, bad, message):
    for value in good:
        assert check_value("n", value, constraint) is value
    for value in bad:
        with pytest.raises(ValueError, match=message):
            check_value("n", value, constraint)


def test_options_name_the_choices_and_follow_a_growing_registry():
    registry = {"dense": 1}
    options = Options(registry, hint="see the registry")
    with pytest.raises(ValueError, match=r"a='conv' is not valid; choose one of \['dense'\] \("):
        check_value("a", "conv", options)
    registry["conv"] = 2  # an entry added later is allowed
    assert check_value("a", "conv", options) == "conv"
    assert not Options([None, "x"]).allows(["unhashable"])


def test_check_params_reports_the_first_bad_parameter_in_table_order():
    table = {"lr": Real(0, closed="neither"), "epochs": Integer(1)}
    check_params({"lr": 0.1, "epochs": 3, "other": object()}, table)
    with pytest.raises(ValueError, match="lr must be a positive number, got -1"):
        check_params({"lr": -1, "epochs": 0}, table)
