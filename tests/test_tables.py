"""Tables as users have them (issue 15, points 1-5): the reader aekit.datasets.read_table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aekit
from aekit.datasets import read_csv, read_labels, read_table
from aekit.datasets.tables import TableSchema, looks_like_id_name


def write(tmp_path: Path, text: str, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------ 1. id columns
def test_a_column_named_like_an_id_with_increasing_integers_is_the_rows_ids(tmp_path) -> None:
    path = write(tmp_path, "id,a,b\n7,1.5,2\n8,2.5,3\n12,3.5,4\n")
    table = read_table(path)
    assert table.feature_names == ("a", "b")  # the id is not a feature
    assert table.X.tolist() == [[1.5, 2.0], [2.5, 3.0], [3.5, 4.0]]
    assert table.ids.tolist() == [7, 8, 12]
    assert table.schema.id_column == "id"
    assert any("'id' taken as the row ids" in n for n in table.notes)
    assert read_csv(path).shape == (3, 2)


def test_one_sign_of_an_id_keeps_the_column_and_warns(tmp_path) -> None:
    # Increasing integers under another name (a year, a counter): a warning, kept.
    table = read_table(write(tmp_path, "n,a\n1,0.5\n2,0.7\n3,0.1\n"))
    assert table.feature_names == ("n", "a")
    assert table.schema.id_column is None
    (warning,) = table.warnings
    assert "column 'n' holds strictly increasing integers" in warning
    assert "--id-column n" in warning and "--drop n" in warning
    # Named like an id but not increasing: kept, with a warning naming the flags.
    table = read_table(write(tmp_path, "user_id,a\n5,0.5\n3,0.7\n9,0.1\n"))
    assert table.feature_names == ("user_id", "a")
    assert "column 'user_id' is named like an id" in table.warnings[0]


def test_explicit_id_columns_and_none(tmp_path) -> None:
    path = write(tmp_path, "name,a,b\nx,1,2\ny,3,4\n")
    table = read_table(path, id_column="name")
    assert table.ids.tolist() == ["x", "y"] and table.feature_names == ("a", "b")
    path = write(tmp_path, "id,a\n1,5\n2,6\n3,7\n")
    assert read_table(path, id_column=None).feature_names == ("id", "a")
    with pytest.raises(ValueError, match="--id-column names 'nope', which is not a column"):
        read_table(path, id_column="nope")


def test_columns_and_drop_select_features(tmp_path) -> None:
    path = write(tmp_path, "a,b,c,d\n1,2,3,4\n5,6,7,8\n")
    assert read_table(path, columns=["c", "a"]).X.tolist() == [[3, 1], [7, 5]]
    assert read_table(path, drop=["b", "d"]).feature_names == ("a", "c")
    with pytest.raises(ValueError, match="--drop names 'e', which is not a column of the file; "):
        read_table(path, drop=["e"])
    with pytest.raises(ValueError, match="no column is left"):
        read_table(path, drop=["a", "b", "c", "d"])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        *[("id", True), ("ID", True), ("user_id", True), ("customerID", True)],
        *[("Unnamed: 0", True), ("idle", False), ("width", False), ("valid", False)],
        ("paid", False),
    ],
)
def test_id_names(name, expected) -> None:
    assert looks_like_id_name(name) is expected


def test_a_time_column_is_the_ids_of_a_series(tmp_path) -> None:
    path = write(tmp_path, "timestamp,value\n2014-07-01 00:00:00,3\n2014-07-01 00:30:00,4\n")
    table = read_table(path)
    assert table.X.tolist() == [[3.0], [4.0]]
    assert table.ids.tolist() == ["2014-07-01 00:00:00", "2014-07-01 00:30:00"]


# ------------------------------------------------------------------ 2. missing values
MISSING = "id,age,chol\n1,63,233\n2,37,250\n3,,204\n4,56,NA\n5,57,354\n"


def test_a_missing_value_is_named_by_row_and_column_header(tmp_path) -> None:
    path = write(tmp_path, MISSING)
    with pytest.raises(ValueError) as info:
        read_table(path)
    message = str(info.value)
    # Line 4 of the file (the header is line 1) holds the first gap, in the column "age".
    assert "missing value in row 4 (counting lines as a spreadsheet does" in message
    assert "column 'age'" in message and "2 rows have one" in message
    assert "--missing drop, mean or median" in message
    assert "could not convert" not in message


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        ("drop", [[63, 233], [37, 250], [57, 354]]),
        ("mean", [[63, 233], [37, 250], [53.25, 204], [56, 260.25], [57, 354]]),
        ("median", [[63, 233], [37, 250], [56.5, 204], [56, 241.5], [57, 354]]),
    ],
)
def test_missing_values_dropped_or_imputed(tmp_path, missing, expected) -> None:
    table = read_table(write(tmp_path, MISSING), missing=missing)
    # Means and medians of at most four small integers: exact in float64.
    assert table.X.tolist() == expected
    if missing == "drop":
        assert table.ids.tolist() == [1, 2, 5] and table.rows.tolist() == [2, 3, 6]
        assert table.kept.tolist() == [0, 1, 4]
    else:
        assert set(table.schema.fill) == {"age", "chol"}


def test_new_data_is_imputed_with_the_training_statistics(tmp_path) -> None:
    schema = read_table(write(tmp_path, MISSING), missing="mean").schema
    new = write(tmp_path, "chol,id,age\n100,9,\n", "new.csv")  # other order, no age
    table = read_table(new, schema=schema)
    assert table.X.tolist() == [[53.25, 100.0]]  # the training mean of age, columns by name
    assert table.ids.tolist() == [9]
    with pytest.raises(ValueError, match="lacks the column 'chol'"):
        read_table(write(tmp_path, "id,age\n1,2\n", "bad.csv"), schema=schema)
    with pytest.raises(ValueError, match="leave those options out"):
        read_table(new, schema=schema, missing="drop")


def test_the_python_api_names_the_first_nan_by_row_and_column() -> None:
    X = np.ones((20, 4))
    X[5, 2] = np.nan
    X[9, 0] = np.nan
    with pytest.raises(ValueError) as info:
        aekit.Autoencoder(epochs=1).fit(X)
    message = str(info.value)
    assert "NaN (a missing value) at row 5, column 2 (counting from 0); 2 rows in all" in message
    assert "HistGradientBoosting" not in message
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1.0, 2, 3], "b": [1.0, np.inf, 3]})
    with pytest.raises(ValueError, match=r"inf, an infinity .* at row 1, column 1 \('b'\)"):
        aekit.AnomalyDetector(epochs=1).fit(frame)
    with pytest.raises(ValueError, match="X has text in column 'c'; aekit needs numbers"):
        aekit.Autoencoder(epochs=1).fit(pd.DataFrame({"a": [1.0, 2, 3], "c": ["x", "y", "z"]}))


def test_an_image_stack_names_the_sample_and_position() -> None:
    X = np.zeros((4, 3, 3), np.float32)
    X[2, 1, 2] = np.nan
    with pytest.raises(ValueError, match=r"at sample 2, position \(1, 2\)"):
        aekit.Autoencoder(epochs=1).fit(X)


# ------------------------------------------------------------------ 3. text columns
TEXT = "a,color,b\n1,red,2\n2,blue,3\n3,red,4\n4,green,5\n"


def test_a_text_column_is_named_with_the_flags_that_fix_it(tmp_path) -> None:
    with pytest.raises(ValueError) as info:
        read_table(write(tmp_path, TEXT))
    message = str(info.value)
    assert "text in column 'color' (3 distinct values, e.g. 'red')" in message
    assert "--categorical auto" in message and "--drop color" in message


def test_categorical_auto_one_hot_encodes_and_keeps_the_categories(tmp_path) -> None:
    table = read_table(write(tmp_path, TEXT), categorical="auto")
    assert table.feature_names == ("a", "color=blue", "color=green", "color=red", "b")
    assert table.X[:, 1:4].tolist() == [[0, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 0]]
    new = write(tmp_path, "a,color,b\n1,purple,2\n2,green,3\n", "new.csv")
    again = read_table(new, schema=table.schema)
    assert again.X[:, 1:4].tolist() == [[0, 0, 0], [0, 1, 0]]  # unknown: no category
    assert "values not seen in training in 1 row" in again.warnings[0]


def test_too_many_categories_is_refused_with_drop_as_the_fix(tmp_path) -> None:
    rows = "".join(f"{i},name{i}\n" for i in range(30))
    with pytest.raises(ValueError, match="drop them with --drop name"):
        read_table(write(tmp_path, "v,name\n" + rows), categorical="auto", id_column=None)


# ------------------------------------------------------------------ 4. dialects
@pytest.mark.parametrize(
    ("text", "described"),
    [
        ("a;b\n1,5;2\n3,5;4\n", "semicolon-separated, decimal comma, with a header"),
        ("a\tb\n1.5\t2\n3.5\t4\n", "tab-separated, with a header"),
        ("1.5 2\n3.5   4\n", "whitespace-separated, no header"),
        ("1.5|2\n3.5|4\n", "pipe-separated, no header"),
        ("a,b\n1.5,2\n3.5,4\n", "comma-separated, with a header"),
        ('"a","b"\n"1.5","2"\n"3.5","4"\n', "comma-separated, with a header"),
    ],
)
def test_separators_and_headers_are_detected_and_said(tmp_path, text, described) -> None:
    table = read_table(write(tmp_path, text))
    assert table.X.tolist() == [[1.5, 2.0], [3.5, 4.0]]
    assert table.notes[0].startswith(described)


def test_a_header_of_text_over_text_columns(tmp_path) -> None:
    table = read_table(write(tmp_path, "kind,size\ncat,1\ndog,2\ncat,3\n"), categorical="auto")
    assert table.feature_names == ("kind=cat", "kind=dog", "size")
    assert read_table(write(tmp_path, "1,2\n3,4\n"), header=True).feature_names == ("1", "2")


def test_ragged_empty_and_header_only_files(tmp_path) -> None:
    with pytest.raises(ValueError, match="row 3 has 3 cells, row 1 has 2"):
        read_table(write(tmp_path, "a,b\n1,2\n3,4,5\n"))
    with pytest.raises(ValueError, match="is empty"):
        read_table(write(tmp_path, "\n\n"))
    with pytest.raises(ValueError, match="holds a header and no rows"):
        read_table(write(tmp_path, "a,b\n"))
    with pytest.raises(ValueError, match="not a UTF-8 text file"):
        (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00a,b")
        read_table(tmp_path / "bin.csv")


def test_a_quoted_cell_over_two_lines_keeps_spreadsheet_row_numbers(tmp_path) -> None:
    path = write(tmp_path, 'note,v\n"two\nlines",1\nok,\n')
    with pytest.raises(ValueError, match="missing value in row 4 "):
        read_table(path, columns=["v"])


def test_the_schema_round_trips_and_refuses_damage() -> None:
    schema = TableSchema(("id", "a"), ("a",), "id", {}, "mean", {"a": 1.0})
    assert TableSchema.from_json(schema.to_json()) == schema
    damaged = schema.to_json() | {"fill": {"a": float("nan")}}
    with pytest.raises(ValueError, match="fill must map numeric feature columns"):
        TableSchema.from_json(damaged)
    with pytest.raises(ValueError, match="features must be some of the columns"):
        TableSchema.from_json(schema.to_json() | {"features": ["zzz"]})


# ------------------------------------------------------------------ 5. labels
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("label\ncat_0\ncat_1\n", ["cat_0", "cat_1"]),
        ("cat_0\ncat_1\n", ["cat_0", "cat_1"]),
        ("3\n4\n", [3, 4]),
        ("y\n3\n4\n", [3, 4]),
        ("id,label\n1,a\n2,b\n", ["a", "b"]),
        ("x,label,z\n1,a,0\n2,b,0\n", ["a", "b"]),
    ],
)
def test_label_files(tmp_path, text, expected) -> None:
    assert read_labels(write(tmp_path, text)).tolist() == expected


def test_a_label_file_with_several_columns_or_a_gap_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="a labels file holds one column"):
        read_labels(write(tmp_path, "a,b\n1,2\n3,4\n"))
    # A blank line is skipped (as at the end of a file); "NA" on line 5 is a missing label.
    with pytest.raises(ValueError, match="missing label in row 5"):
        read_labels(write(tmp_path, "label\na\n\nb\nNA\n"))


# ------------------------------------------------------------------ hostile text
@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from(["1", "2.5", "", "NA", "x", "1,5", '"', "id", "-3e9", " "])),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from([",", ";", "\t", " "]),
    st.sampled_from(["auto", "none"]),
    st.sampled_from(["error", "drop", "mean"]),
)
def test_any_text_gives_a_table_or_one_value_error(rows, sep, categorical, missing) -> None:
    import tempfile

    text = "\n".join(sep.join(r) for r in rows) + "\n"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.csv"
        path.write_text(text, encoding="utf-8")
        try:
            table = read_table(path, categorical=categorical, missing=missing)
        except ValueError as exc:
            assert "\n" not in str(exc)
            return
        assert table.X.ndim == 2 and np.isfinite(table.X).all()
        assert len(table.ids) == len(table.X) == len(table.rows)
        again = read_table(path, schema=table.schema)
        np.testing.assert_array_equal(again.X, table.X)  # same file, same rules: same values
