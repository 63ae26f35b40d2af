"""Causal scores of a growing series (aekit.tasks.streaming_scores, onset_scores) and
`aekit detect --nab-profile`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aekit import AnomalyDetector
from aekit.tasks import onset_scores, refit_points, streaming_scores
from test_cli import assert_user_error, run_cli

FAST = {"epochs": 3, "n_estimators": 2, "verbose": False, "random_state": 0}


def sine(n: int, seed: int = 0, period: int = 40) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.sin(2 * np.pi * np.arange(n) / period) + 0.05 * rng.normal(size=n)


def test_refit_points_double_from_the_warmup() -> None:
    assert refit_points(4000, 288) == [600, 1200, 2400]
    assert refit_points(1000, 40, warmup=0.1, growth=3.0) == [100, 300, 900]
    assert refit_points(1000, 100) == [200, 400, 800]  # at least two windows first
    with pytest.raises(ValueError, match="too short to stream"):
        refit_points(300, 200)


def test_onset_scores_peak_once_per_rise() -> None:
    levels = np.array([1.0, 1.0, 4.0, 4.0, 4.0, 1.0, 1.0, 1.0, 8.0])
    onset = onset_scores(levels, window=2)
    np.testing.assert_array_equal(onset, [1.0, 1.0, 4.0, 1.0, 1.0, 0.25, 0.25, 1.0, 8.0])
    assert np.argmax(onset[:8]) == 2  # the rise, not the plateau


def test_streaming_scores_never_look_ahead() -> None:
    x = sine(1200)
    det = AnomalyDetector(window=40, **FAST)
    scores = streaming_scores(det, x)
    changed = x.copy()
    changed[1000:] += 5.0  # only the future of step 999 differs
    again = streaming_scores(det, changed)
    # The refits at 180, 360 and 720 see only steps before 1000, so up to step 999 every
    # score is computed from the same numbers by the same seeded fits: exactly equal.
    np.testing.assert_array_equal(again[:1000], scores[:1000])
    assert again[1000:1040].min() > 1.0 > np.median(scores)  # the jump is flagged


def test_streaming_scores_find_a_burst_in_the_last_part() -> None:
    x = sine(1500, seed=1)
    x[1300:1306] += 1.5
    scores = streaming_scores(AnomalyDetector(window=40, **FAST), x)
    assert scores.shape == (1500,)
    # A level score stays up while the burst is inside the window (40 steps).
    assert 1300 <= int(np.argmax(scores)) < 1346
    onset = streaming_scores(AnomalyDetector(window=40, **FAST), x, output="onset")
    assert 1300 <= int(np.argmax(onset[300:])) + 300 <= 1306  # the onset peaks at the rise


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"warmup": 1.0}, "warmup"),
        ({"growth": 1.0}, "growth"),
        ({"output": "levels"}, "unknown output 'levels'"),
    ],
)
def test_streaming_scores_refuse_bad_settings(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        streaming_scores(AnomalyDetector(window=40, **FAST), sine(1000), **kwargs)


def test_streaming_scores_need_a_series_detector() -> None:
    with pytest.raises(ValueError, match="window=W"):
        streaming_scores(AnomalyDetector(**FAST), sine(1000))


# ------------------------------------------------------------------ aekit detect --nab-profile
@pytest.fixture(scope="module")
def nab_corpus(tmp_path_factory) -> tuple[Path, Path]:
    """A NAB-shaped corpus of one series (5-minute steps, a jump inside the labelled window)
    and a detector trained on it with --window through the CLI."""
    root = tmp_path_factory.mktemp("nab")
    (root / "toy").mkdir()
    times = np.arange("2015-01-01T00:00", "2015-01-05T00:00", 5, dtype="datetime64[m]")
    x = np.sin(2 * np.pi * np.arange(len(times)) / 288) + 0.05 * np.random.default_rng(0).normal(
        size=len(times)
    )
    x[900:910] += 3.0
    lines = [f"{str(t).replace('T', ' ')}:00,{v:.6f}" for t, v in zip(times, x, strict=True)]
    data = root / "toy" / "s.csv"
    data.write_text("timestamp,value\n" + "\n".join(lines) + "\n")
    window = [f"{str(times[s]).replace('T', ' ')}:00.000000" for s in (880, 940)]
    (root / "combined_windows.json").write_text(json.dumps({"toy/s.csv": [window]}))
    return root, data


def test_cli_detect_prints_the_nab_score(nab_corpus, tmp_path, capsys) -> None:
    _, data = nab_corpus
    model = tmp_path / "det"
    argv = ["train", data, "--model", "detector", "--window", 48, "--causal", "true"]
    rc, _, err = run_cli([*argv, "--epochs", 3, "--contamination", 0.01, "--out", model], capsys)
    assert rc == 0, err
    out = tmp_path / "s.csv"
    rc, stdout, err = run_cli(
        ["detect", model, data, "--out", out, "--nab-profile", "standard"], capsys
    )
    assert rc == 0, err
    line = stdout.splitlines()[-1]
    assert line.startswith("NAB standard score of toy/s.csv: ")
    best = float(line.split("; ")[1].split()[0])
    # The jump at step 900 is inside the window (880-940) and the best threshold detects it
    # early: a score near the perfect 100.
    assert best > 80.0, line
    assert "1 of 1 windows detected" in line


def test_cli_detect_nab_profile_mistakes(nab_corpus, tmp_path, capsys) -> None:
    _, data = nab_corpus
    table = tmp_path / "t.csv"
    table.write_text("a,b\n" + "\n".join(f"{i},{i % 7}" for i in range(60)) + "\n")
    model = tmp_path / "tab"
    rc, _, err = run_cli(
        ["train", table, "--model", "detector", "--epochs", 1, "--out", model], capsys
    )
    assert rc == 0, err
    rc, _, err = run_cli(
        ["detect", model, table, "--out", tmp_path / "s.csv", "--nab-profile", "standard"], capsys
    )
    assert "no --window" in err.splitlines()[-1] and rc == 1
    lonely = tmp_path / "elsewhere" / "x" / "s.csv"
    lonely.parent.mkdir(parents=True)
    lonely.write_text(data.read_text())
    series_model = tmp_path / "ser"
    rc, _, err = run_cli(
        [
            "train",
            lonely,
            "--model",
            "detector",
            "--window",
            48,
            "--epochs",
            1,
            "--out",
            series_model,
        ],
        capsys,
    )
    assert rc == 0, err
    rc, _, err = run_cli(
        ["detect", series_model, lonely, "--out", tmp_path / "t.csv", "--nab-profile", "standard"],
        capsys,
    )
    assert rc == 1 and "--nab-windows" in err.splitlines()[-1]
    with pytest.raises(SystemExit) as exc:  # a usage mistake: argparse exits with 2
        run_cli(
            ["detect", series_model, lonely, "--out", tmp_path / "u.csv", "--nab-profile", "typo"],
            capsys,
        )
    assert exc.value.code == 2 and "invalid choice: 'typo'" in capsys.readouterr().err
    rc, _, err = run_cli(
        ["detect", series_model, lonely, "--out", tmp_path / "v.npy", "--explain"], capsys
    )
    assert_user_error(rc, err, "detect")
