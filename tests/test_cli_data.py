"""The command line on users' own files (issue 15, points 1-7): tables with ids, gaps and
text, label files, image folders, .npz archives."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from aekit.cli import main
from conftest import shared_file

FAST = ["--epochs", "2", "--seed", "0", "--quiet"]


def run(argv: list[object], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def cardio_id(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ODDS cardio (21 features) as a CSV with an id column first, as a user exports it."""
    data = np.load(shared_file("odds/cardio.npz"))
    X = data["X"]
    path = tmp_path_factory.mktemp("cardio") / "cardio_id.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", *(f"f{j}" for j in range(X.shape[1]))])
        for i, row in enumerate(X):
            writer.writerow([1000 + i, *(f"{v:.6g}" for v in row)])
    return path


def test_point1_an_id_column_is_not_a_feature_and_names_the_outputs(
    cardio_id, tmp_path, capsys
) -> None:
    model = tmp_path / "det"
    code, _, err = run(["train", cardio_id, "--model", "detector", "--out", model, *FAST], capsys)
    assert code == 0
    assert "column 'id' taken as the row ids" in err
    config = json.loads((model / "config.json").read_text())
    assert config["state"]["n_features_in_"] == 21  # not 22: the id is left out
    assert config["table"]["id_column"] == "id"

    scores = tmp_path / "scores.csv"
    assert run(["detect", model, cardio_id, "--out", scores], capsys)[0] == 0
    table = rows(scores)
    assert list(table[0]) == ["index", "id", "score", "probability", "label"]
    assert [r["id"] for r in table[:3]] == ["1000", "1001", "1002"]

    codes = tmp_path / "codes.csv"
    assert run(["encode", model, cardio_id, "--out", codes], capsys)[0] == 0
    assert rows(codes)[-1]["id"] == str(1000 + 1830)

    index, found = tmp_path / "index", tmp_path / "found.csv"
    assert run(["index", model, cardio_id, "--out", index], capsys)[0] == 0
    assert run(["search", index, cardio_id, "-k", "2", "--out", found], capsys)[0] == 0
    first = rows(found)[0]
    assert first["query_name"] == "1000" and first["rank"] == "1"
    assert first["item_name"] == str(1000 + int(first["id"]))


def test_columns_drop_and_a_named_id_column(tmp_path, capsys) -> None:
    data = tmp_path / "t.csv"
    data.write_text("name,a,b,c\nx,1,2,3\ny,2,3,5\nz,3,5,8\nw,4,7,13\n")
    model = tmp_path / "m"
    argv = ["train", data, "--out", model, "--id-column", "name", "--drop", "c", *FAST]
    assert run(argv, capsys)[0] == 0
    config = json.loads((model / "config.json").read_text())
    assert config["table"]["features"] == ["a", "b"]
    # At inference the model's own choices apply; options that would change them are refused.
    code, _, err = run(["encode", model, data, "--out", tmp_path / "z.csv", "--drop", "b"], capsys)
    assert code == 1 and "leave these options out" in err
    assert run(["encode", model, data, "--out", tmp_path / "z.csv"], capsys)[0] == 0
    assert [r["name"] for r in rows(tmp_path / "z.csv")] == ["x", "y", "z", "w"]
    code, _, err = run(["train", data, "--out", model, "--columns", "q", *FAST], capsys)
    assert code == 1 and "--columns names 'q', which is not a column" in err


def test_point2_missing_values_on_the_command_line(tmp_path, capsys) -> None:
    data = tmp_path / "gaps.csv"
    data.write_text("id,age,chol\n1,63,233\n2,37,250\n3,,204\n4,56,NA\n5,57,354\n6,41,300\n")
    model = tmp_path / "m"
    code, _, err = run(["train", data, "--out", model, *FAST], capsys)
    assert code == 1
    assert "missing value in row 4" in err and "column 'age'" in err
    assert run(["train", data, "--out", model, "--missing", "median", *FAST], capsys)[0] == 0
    fill = json.loads((model / "config.json").read_text())["table"]["fill"]
    assert fill == {"age": 56.0, "chol": 250.0}  # the medians of the rows with a value
    code, _, err = run(["encode", model, data, "--out", tmp_path / "z.csv"], capsys)
    assert code == 0 and "with the training data's median" in err
    # drop: the outputs name the rows that are left.
    argv = ["train", data, "--out", tmp_path / "d", "--missing", "drop", "--model", "detector"]
    assert run([*argv, *FAST], capsys)[0] == 0
    assert run(["detect", tmp_path / "d", data, "--out", tmp_path / "s.csv"], capsys)[0] == 0
    assert [r["id"] for r in rows(tmp_path / "s.csv")] == ["1", "2", "5", "6"]


def test_point3_text_columns(tmp_path, capsys) -> None:
    data = tmp_path / "t.csv"
    lines = [f"{i % 7},{['red', 'blue', 'green'][i % 3]},{i % 5}" for i in range(30)]
    data.write_text("a,color,b\n" + "\n".join(lines) + "\n")
    code, _, err = run(["train", data, "--out", tmp_path / "m", *FAST], capsys)
    assert code == 1 and "text in column 'color'" in err and "--categorical auto" in err
    argv = ["train", data, "--out", tmp_path / "m", "--categorical", "auto", *FAST]
    assert run(argv, capsys)[0] == 0
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["state"]["n_features_in_"] == 5  # a, 3 colours, b
    assert config["table"]["categories"] == {"color": ["blue", "green", "red"]}


def test_point4_semicolons_and_tabs_are_sniffed_and_said(tmp_path, capsys) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    semi = tmp_path / "semi.csv"
    semi.write_text(
        "a;b;c\n" + "".join(";".join(f"{v:.4f}".replace(".", ",") for v in r) + "\n" for r in X)
    )
    tab = tmp_path / "tab.tsv"
    tab.write_text("".join("\t".join(f"{v:.4f}" for v in r) + "\n" for r in X))
    for path, said in [
        (semi, "semicolon-separated, decimal comma, with a header; 40 rows, 3 columns"),
        (tab, "tab-separated, no header; 40 rows, 3 columns"),
    ]:
        code, _, err = run(["train", path, "--out", tmp_path / path.stem, *FAST], capsys)
        assert code == 0 and said in err
        codes = tmp_path / f"{path.stem}.npy"
        assert run(["encode", tmp_path / path.stem, path, "--out", codes], capsys)[0] == 0
        assert np.load(codes).shape[0] == 40
    code, _, err = run(["train", tab, "--out", tmp_path / "x", "--delimiter", ";", *FAST], capsys)
    assert code == 1 and "text in column 1" in err


def test_point5_text_labels_train_a_classifier(digits, tmp_path, capsys) -> None:
    X, y = digits
    np.save(tmp_path / "X.npy", X[:300])
    labels = tmp_path / "labels.csv"
    labels.write_text("label\n" + "".join(f"cat_{v}\n" for v in y[:300]))
    model = tmp_path / "c"
    argv = ["train", tmp_path / "X.npy", "--model", "classifier", "--labels", labels, "--out"]
    assert run([*argv, model, "--pretrain-epochs", "1", *FAST], capsys)[0] == 0
    classes = json.loads((model / "config.json").read_text())["state"]["classes_"]
    assert classes == [f"cat_{k}" for k in range(10)]


def test_point6_an_npz_says_which_array_it_took_and_uint8_is_scaled(tmp_path, capsys) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(64, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "mnist.npz", x_train=images, y_train=np.zeros(64), x_test=images[:8])
    model = tmp_path / "m"
    code, _, err = run(["train", tmp_path / "mnist.npz", "--out", model, *FAST], capsys)
    assert code == 0
    assert "took the array 'x_train' of ['x_train', 'y_train', 'x_test']" in err
    assert "uint8 values scaled to [0, 1]" in err
    recon = tmp_path / "r.npy"
    argv = ["reconstruct", model, tmp_path / "mnist.npz", "--key", "x_test", "--out", recon]
    assert run(argv, capsys)[0] == 0
    out = np.load(recon)
    # A sigmoid output, unscaled by 255: every reconstruction lies in the pixels' range.
    assert out.shape == (8, 8, 8) and out.min() >= 0.0 and out.max() <= 255.0


def test_a_folder_of_pngs_is_data_with_file_names_as_ids(tmp_path, capsys) -> None:
    image = pytest.importorskip("PIL.Image")
    folder = tmp_path / "scans"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        pixels = rng.integers(0, 256, size=(8, 10), dtype=np.uint8)
        image.fromarray(pixels).save(folder / f"scan{i}.png")
    model = tmp_path / "m"
    code, _, err = run(["train", folder, "--out", model, *FAST], capsys)
    assert code == 0 and "12 grey images of 10x8 pixels, uint8" in err
    assert json.loads((model / "config.json").read_text())["state"]["input_shape_"] == [8, 10]
    assert run(["encode", model, folder, "--out", tmp_path / "z.csv"], capsys)[0] == 0
    names = [r["file"] for r in rows(tmp_path / "z.csv")]
    assert names[:3] == ["scan0.png", "scan1.png", "scan2.png"] and names[-1] == "scan11.png"
    image.fromarray(np.zeros((5, 5), np.uint8)).save(folder / "odd.png")
    code, _, err = run(["encode", model, folder, "--out", tmp_path / "z.csv"], capsys)
    assert code == 1 and "images of different sizes" in err


def test_table_options_on_other_data_are_refused(tmp_path, capsys) -> None:
    np.save(tmp_path / "X.npy", np.ones((4, 3)))
    code, _, err = run(
        ["train", tmp_path / "X.npy", "--out", tmp_path / "m", "--drop", "a"], capsys
    )
    assert code == 1 and "the table options apply to .csv, .tsv, .txt files" in err
    code, _, err = run(["train", tmp_path, "--out", tmp_path / "m"], capsys)
    assert code == 1 and "no image files" in err


def test_labels_can_be_a_column_of_the_table(digits, tmp_path, capsys) -> None:
    X, y = digits
    data = tmp_path / "digits.csv"
    header = ",".join(f"p{j}" for j in range(64))
    lines = [
        ",".join(f"{v:g}" for v in row) + f",digit_{k}"
        for row, k in zip(X[:300].reshape(300, -1), y[:300], strict=True)
    ]
    data.write_text(header + ",label\n" + "\n".join(lines) + "\n")
    model = tmp_path / "c"
    argv = ["train", data, "--model", "classifier", "--labels", "label", "--out", model]
    assert run([*argv, "--pretrain-epochs", "1", *FAST], capsys)[0] == 0
    config = json.loads((model / "config.json").read_text())
    assert config["state"]["n_features_in_"] == 64  # the label column is no feature
    assert config["state"]["classes_"][:2] == ["digit_0", "digit_1"]
    code, _, err = run([*argv[:4], "--labels", "lable", "--out", model, *FAST], capsys)
    assert code == 1 and "has no column 'lable'" in err


def test_a_series_table_keeps_its_timestamps_as_ids(tmp_path, capsys) -> None:
    stamps = np.arange("2024-01-01T00:00", 200, dtype="datetime64[h]")
    values = np.sin(np.arange(200) / 5.0)
    data = tmp_path / "series.csv"
    data.write_text(
        "timestamp,value\n"
        + "".join(
            f"{str(t).replace('T', ' ')},{v:.5f}\n" for t, v in zip(stamps, values, strict=True)
        )
    )
    model = tmp_path / "m"
    argv = ["train", data, "--model", "detector", "--window", "12", "--out", model]
    code, _, err = run([*argv, *FAST], capsys)
    assert code == 0 and "column 'timestamp' holds timestamps: taken as the row ids" in err
    assert run(["detect", model, data, "--out", tmp_path / "s.csv"], capsys)[0] == 0
    table = rows(tmp_path / "s.csv")
    # The ids are the timestamps as the file writes them.
    assert len(table) == 200 and table[0]["timestamp"] == "2024-01-01 00"
