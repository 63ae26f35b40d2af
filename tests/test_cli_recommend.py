"""`aekit train RATINGS --model autorec` and `aekit recommend`, in-process."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

import aekit
from aekit.cli import main

FLAGS = ["--hidden", "16", "--epochs", "20", "--seed", "0", "--device", "cpu", "--quiet"]


def run_cli(argv: list[object], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def write_ratings(path: Path, users: list[str] | None = None) -> Path:
    rng = np.random.default_rng(0)
    truth = 3 + rng.normal(size=(30, 2)) @ rng.normal(size=(2, 20))
    lines = ["userId,movieId,rating,timestamp"]
    for u, i in zip(*np.nonzero(rng.random((30, 20)) < 0.5), strict=True):
        name = u if users is None else users[u]
        lines.append(f"{name},{100 + i},{np.clip(np.round(truth[u, i] * 2) / 2, 0.5, 5)},0")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    ratings = write_ratings(tmp_path / "ratings.csv")
    rc, out, err = run_cli(
        ["train", ratings, "--model", "autorec", "--out", tmp_path / "m", *FLAGS], capsys
    )
    assert rc == 0, err
    assert out.startswith("trained ") and "saved" in out
    return tmp_path / "m"


def test_train_reads_a_ratings_table_and_maps_the_flags(model: Path) -> None:
    fitted = aekit.load(model)
    assert type(fitted).__name__ == "AutoRec"
    assert fitted.hidden == (16,) and fitted.epochs == 20 and fitted.random_state == 0
    assert fitted.item_ids_.min() == 100 and len(fitted.user_ids_) == 30


def test_info_names_the_loss_of_an_autorec_model(model: Path, capsys) -> None:
    rc, out, err = run_cli(["info", model], capsys)
    assert rc == 0, err
    assert out.startswith("AutoRec ")
    assert "loss squared error over the observed ratings" in out
    assert "; the mean of two networks of 16 hidden units\n" in out  # FLAGS: --hidden 16


def test_recommend_prints_the_top_k(model: Path, capsys) -> None:
    rc, out, err = run_cli(["recommend", model, "--user", "3", "-k", "4"], capsys)
    assert rc == 0, err
    rows = list(csv.reader(out.splitlines()))
    assert rows[0] == ["rank", "item", "rating"] and [r[0] for r in rows[1:]] == [
        "1",
        "2",
        "3",
        "4",
    ]
    fitted = aekit.load(model)
    expected = fitted.recommend(3, k=4)
    assert [int(r[1]) for r in rows[1:]] == expected.items.tolist()
    assert [float(r[2]) for r in rows[1:]] == pytest.approx(expected.ratings.tolist(), abs=5e-5)
    seen = set(fitted.ratings_[3].indices.tolist())
    assert not seen & {int(r[1]) - 100 for r in rows[1:]}


def test_include_seen_and_out_file(model: Path, tmp_path: Path, capsys) -> None:
    out_file = tmp_path / "top.csv"
    rc, out, err = run_cli(
        ["recommend", model, "--user", "3", "-k", "20", "--include-seen", "--out", out_file], capsys
    )
    assert rc == 0, err
    assert out == "" and "wrote 20 items" in err
    rows = list(csv.reader(out_file.read_text().splitlines()))
    assert len(rows) == 21 and {int(r[1]) for r in rows[1:]} == set(range(100, 120))


def test_an_unknown_user_is_ranked_by_the_baseline(model: Path, capsys) -> None:
    rc, out, err = run_cli(["recommend", model, "--user", "999", "-k", "3"], capsys)
    assert rc == 0
    assert "user 999 is not in the training ratings; items ranked by their baseline" in err
    fitted = aekit.load(model)
    best = np.argsort(-fitted.item_bias_, kind="stable")[:3] + 100
    assert [int(line.split(",")[1]) for line in out.splitlines()[1:]] == best.tolist()


def test_string_user_ids(tmp_path: Path, capsys) -> None:
    names = [f"user-{u}" for u in range(30)]
    ratings = write_ratings(tmp_path / "named.csv", names)
    rc, _, err = run_cli(
        ["train", ratings, "--model", "autorec", "--out", tmp_path / "m", *FLAGS], capsys
    )
    assert rc == 0, err
    rc, out, err = run_cli(["recommend", tmp_path / "m", "--user", "user-7", "-k", "2"], capsys)
    assert rc == 0, err
    assert len(out.splitlines()) == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--user", "3", "-k", "0"], "-k must be at least 1, got 0"),
        (["--user", "three"], "--user 'three': the model's user ids are integers"),
        (["--user", "3", "--out", "top.txt"], "use a .csv file name"),
    ],
)
def test_recommend_mistakes_are_one_line(model: Path, argv, message, capsys, monkeypatch) -> None:
    monkeypatch.chdir(model.parent)
    rc, out, err = run_cli(["recommend", model, *argv], capsys)
    assert rc == 1 and out == ""
    assert err == f"aekit recommend: error: {message}\n" or message in err
    assert err.count("\n") == 1


def test_recommend_refuses_another_kind_of_model(tmp_path: Path, capsys) -> None:
    rc, _, err = run_cli(
        ["train", "digits", "--out", tmp_path / "ae", "--epochs", "1", "--quiet"], capsys
    )
    assert rc == 0, err
    rc, _, err = run_cli(["recommend", tmp_path / "ae", "--user", "1"], capsys)
    assert rc == 1
    assert "holds an Autoencoder; recommend takes an AutoRec" in err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--latent-dim", "3"], "--latent-dim is not an option of --model autorec"),
        (["--delimiter", ";"], "--delimiter: not options of --model autorec"),
        (["--rating-column", "stars"], "no column 'stars'"),
    ],
)
def test_train_autorec_mistakes(tmp_path: Path, flags, message, capsys) -> None:
    ratings = write_ratings(tmp_path / "ratings.csv")
    rc, _, err = run_cli(
        ["train", ratings, "--model", "autorec", "--out", tmp_path / "m", "--quiet", *flags], capsys
    )
    assert rc == 1 and message in err and err.count("\n") == 1


def test_train_autorec_refuses_an_array(tmp_path: Path, capsys) -> None:
    np.save(tmp_path / "x.npy", np.ones((3, 3)))
    rc, _, err = run_cli(
        ["train", tmp_path / "x.npy", "--model", "autorec", "--out", tmp_path / "m"], capsys
    )
    assert rc == 1 and "--model autorec reads a ratings table" in err
