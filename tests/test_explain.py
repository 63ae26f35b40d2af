"""AnomalyDetector.explain, the in-sample threshold, predict_proba's rank, causal series scores,
and `aekit detect --explain`."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aekit import AnomalyDetector
from aekit.estimators.detector import Explanation, _rank_probability
from test_cli import assert_user_error, run_cli

FAST = {"epochs": 5, "n_estimators": 2, "verbose": False, "random_state": 0}
COLUMNS = list("abcdef")
SCALE = 1000.0  # the table is in thousands: residuals must come back in those units
INJECTED = 3  # column "d"
SIGMA = 8.0  # injected standard deviations
# Shares are contributions divided by their sum in float64: they sum to 1 up to a few
# roundings of d terms, far below this.
SUM_TOL = 1e-12


def sine_series(n: int, seed: int, period: int = 50) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.sin(2 * np.pi * np.arange(n) / period) + 0.05 * rng.normal(size=n)


def frame(X: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(X, columns=COLUMNS)


@pytest.fixture(scope="module")
def table() -> np.ndarray:
    """300 correlated Gaussian rows of 6 columns, in thousands."""
    rng = np.random.default_rng(0)
    return rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6)) * SCALE


@pytest.fixture(scope="module")
def fitted(table: np.ndarray) -> AnomalyDetector:
    det = AnomalyDetector(contamination=0.05, epochs=10, n_estimators=2, random_state=0)
    return det.set_params(verbose=False).fit(frame(table))


@pytest.fixture(scope="module")
def injected(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Six training rows with column "d" moved by +8 (rows 0-2) or -8 (rows 3-5) of its
    standard deviations, and the signed shifts (6,)."""
    shift = np.array([1.0, 1.0, 1.0, -1.0, -1.0, -1.0]) * SIGMA * table[:, INJECTED].std()
    rows = table[:6].copy()
    rows[:, INJECTED] += shift
    return rows, shift


# ------------------------------------------------------------------------------ tables
def test_explain_table_shares_name_the_injected_column(fitted, injected) -> None:
    rows, _ = injected
    e = fitted.explain(frame(rows))
    assert e.features == COLUMNS  # the DataFrame's column names
    assert e.scores.shape == (6,)
    assert e.contributions.shape == e.shares.shape == e.residuals.shape == (6, 6)
    np.testing.assert_array_equal(e.scores, fitted.decision_function(frame(rows)))
    assert np.all(e.shares >= 0) and np.all(e.contributions >= 0)
    np.testing.assert_allclose(e.shares.sum(1), 1.0, rtol=0, atol=SUM_TOL)
    np.testing.assert_allclose(
        e.shares, e.contributions / e.contributions.sum(1, keepdims=True), rtol=1e-12
    )
    # The injected column carries most of each row's residual score.
    assert np.all(np.argmax(e.shares, axis=1) == INJECTED)
    assert e.shares[:, INJECTED].min() > 0.6
    top = e.top(2)
    assert [len(t) for t in top] == [2] * 6
    assert all(t[0][0] == "d" and t[0][1] > t[1][1] for t in top)
    assert all(t[0][1] == e.shares[i, INJECTED] for i, t in enumerate(top))


def test_explain_residuals_are_in_the_datas_units_and_sign(fitted, table, injected) -> None:
    rows, shift = injected
    e = fitted.explain(frame(rows))
    before = fitted.explain(frame(table[:6]))
    # residuals = x - x_hat in thousands: moving x by `shift` moves the residual by most of
    # it (the reconstruction follows an off value only a little), same sign.
    moved = e.residuals[:, INJECTED] - before.residuals[:, INJECTED]
    assert np.all(np.sign(e.residuals[:, INJECTED]) == np.sign(shift))
    ratio = moved / shift
    assert np.all((ratio > 0.7) & (ratio < 1.2)), ratio
    sd = table.std(0)
    assert np.all(np.abs(e.residuals[:, INJECTED]) > 5 * sd[INJECTED])
    # The other columns' residuals move by far less than the injection.
    others = np.delete(e.residuals - before.residuals, INJECTED, axis=1)
    assert np.abs(others).max() < 0.25 * np.abs(shift).min()


def test_top_orders_shares_and_skips_rows_without_any() -> None:
    shares = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3], [np.nan, np.nan, np.nan]])
    e = Explanation(np.zeros(3), shares, shares, shares, ["p", "q", "r"])
    assert e.top(2) == [[("q", 0.6), ("r", 0.3)], [("p", 0.5), ("r", 0.3)], []]
    assert e.top(10)[0] == [("q", 0.6), ("r", 0.3), ("p", 0.1)]  # k is capped at d
    assert e.top()[1] == [("p", 0.5), ("r", 0.3), ("q", 0.2)]


# ------------------------------------------------------------------------------ images
def test_explain_images_gives_heat_maps() -> None:
    rng = np.random.default_rng(0)
    bump = np.outer(np.hanning(8), np.hanning(8))
    images = (bump + 0.1 * rng.normal(size=(80, 8, 8))).astype(np.float32)
    det = AnomalyDetector(**FAST).fit(images)
    odd = images[:3].copy()
    odd[:, 2:4, 5:7] += 2.0  # a bright 2 x 2 patch
    e = det.explain(odd)
    assert e.features is None
    assert e.contributions.shape == e.shares.shape == e.residuals.shape == (3, 8, 8)
    np.testing.assert_allclose(e.shares.sum((1, 2)), 1.0, rtol=0, atol=SUM_TOL)
    # The four hottest pixels of each heat map are the patch (4 of 64 pixels, over half the
    # score).
    for heat in e.contributions:
        hottest = set(zip(*np.unravel_index(np.argsort(heat.ravel())[-4:], (8, 8)), strict=True))
        assert hottest == {(2, 5), (2, 6), (3, 5), (3, 6)}
    assert e.shares[:, 2:4, 5:7].sum((1, 2)).min() > 0.5
    with pytest.raises(ValueError, match="heat map"):
        e.top(3)


# ------------------------------------------------------------------------------ series
def test_explain_series_shares_point_at_the_burst() -> None:
    series = sine_series(400, 0)
    det = AnomalyDetector(window=20, **FAST).fit(series)
    burst = series.copy()
    burst[300:305] += 3.0
    e = det.explain(burst)
    assert e.contributions.shape == e.shares.shape == e.residuals.shape == (400, 1)
    assert e.features == ["x0"] and e.scores.shape == (400,)
    assert e.shares.sum() == pytest.approx(1.0, abs=SUM_TOL)  # over the whole series
    assert set(np.argsort(e.contributions[:, 0])[-5:]) == set(range(300, 305))
    # The burst's residual is in the series' units: about +3 of the 3 added.
    assert np.all(e.residuals[300:305, 0] > 1.5)

    two = np.column_stack([series, np.cos(np.arange(400) / 8.0)])
    det2 = AnomalyDetector(window=20, **FAST).fit(two)
    burst2 = two.copy()
    burst2[300:305, 1] += 3.0
    e2 = det2.explain(burst2)
    assert e2.contributions.shape == e2.shares.shape == (400, 2)
    assert e2.features == ["x0", "x1"]
    assert e2.shares.sum() == pytest.approx(1.0, abs=SUM_TOL)
    steps, channels = np.unravel_index(np.argsort(e2.contributions.ravel())[-5:], (400, 2))
    assert set(steps) == set(range(300, 305)) and set(channels) == {1}


# ---------------------------------------------------------------------------- overflow
@pytest.fixture(scope="module")
def narrow() -> tuple[AnomalyDetector, np.ndarray]:
    """A detector fitted on data of spread 0.01, and three rows, the second all 1e38 (it
    leaves float32 once z-scored)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4)) * 0.01
    rows = X[:3].copy()
    rows[1] = 1e38
    return AnomalyDetector(**FAST).fit(X), rows


def test_explain_a_row_that_overflows_float32(narrow) -> None:
    det, rows = narrow
    e = det.explain(rows)
    assert e.scores[1] == np.inf
    assert np.isnan(e.contributions[1]).all() and np.isnan(e.residuals[1]).all()
    assert np.isfinite(e.contributions[[0, 2]]).all() and np.isfinite(e.scores[[0, 2]]).all()
    assert det.predict(rows)[1] == 1
    np.testing.assert_array_equal(det.predict_proba(rows)[1], [0.0, 1.0])


def test_an_unscorable_row_has_no_shares(narrow) -> None:
    det, rows = narrow
    e = det.explain(rows)
    assert np.isnan(e.shares[1]).all()
    assert e.top(2)[1] == []


# ------------------------------------------------------------------ threshold, probability
def test_predict_on_the_training_table_flags_the_contamination(fitted, table) -> None:
    labels = fitted.predict(frame(table))
    np.testing.assert_array_equal(labels, fitted.labels_)
    # threshold_ is the 0.95 quantile of 300 distinct in-sample scores: it lies between the
    # 285th and 286th, so exactly 15 rows lie above it.
    assert int(labels.sum()) == 15


@pytest.mark.parametrize("causal", [False, True])
def test_predict_on_the_training_series_flags_the_contamination(causal: bool) -> None:
    series = sine_series(400, 0)
    det = AnomalyDetector(window=20, contamination=0.05, causal=causal, **FAST).fit(series)
    labels = det.predict(series)
    np.testing.assert_array_equal(labels, det.labels_)
    # Per-step scores are distinct, but with causal=True the first W - 1 = 19 steps share the
    # first window's score: one tie of 20 steps may fall either side of the quantile.
    tolerance = (20 if causal else 1) / 400
    assert labels.mean() == pytest.approx(0.05, abs=tolerance)


def test_rank_probability_maps_the_threshold_to_one_half() -> None:
    train = np.arange(1.0, 11.0)  # the ECDF F steps by 0.1
    scores = np.array([0.0, 5.0, 8.5, 9.0, 10.0, 11.0, np.inf])
    p = _rank_probability(scores, train, threshold=8.5)  # F(8.5) = 0.8
    # Below: 0.5 F / 0.8; above: 0.5 + 0.5 (F - 0.8) / 0.2.
    np.testing.assert_allclose(p[:, 1], [0.0, 0.3125, 0.5, 0.75, 1.0, 1.0, 1.0], atol=1e-15)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-15)
    # A score above the threshold that ties its ECDF step still lands above one half.
    tied = _rank_probability(np.array([8.7]), train, threshold=8.5)[0, 1]
    assert tied == np.nextafter(0.5, 1)


def test_predict_proba_ranks_scores_against_the_training_data(fitted, table, narrow) -> None:
    X = frame(np.vstack([table, table[:20] * 3.0]))  # some new rows far outside
    scores = fitted.decision_function(X)
    proba = fitted.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=0, atol=1e-15)  # 1 - p + p
    np.testing.assert_array_equal(proba[:, 1] > 0.5, fitted.predict(X) == 1)
    order = np.argsort(scores, kind="stable")
    assert np.all(np.diff(proba[order, 1]) >= 0)  # monotone in the score
    # A training inlier's probability is half its rank among the 285 inliers (their scores
    # are distinct).
    ranked = np.argsort(fitted.decision_scores_)
    assert np.all(np.diff(fitted.decision_scores_[ranked]) > 0)
    train_proba = fitted.predict_proba(frame(table))[ranked, 1]
    np.testing.assert_allclose(train_proba[:285], 0.5 * np.arange(1, 286) / 285, rtol=1e-12)
    beyond = scores > fitted.decision_scores_.max()
    assert beyond.sum() >= 5 and np.all(proba[beyond, 1] == 1.0)
    det, rows = narrow
    assert det.predict_proba(rows)[1, 1] == 1.0  # +inf


# -------------------------------------------------------------------------------- causal
def test_causal_scores_use_only_the_past() -> None:
    series = sine_series(400, 0)
    later = series.copy()
    later[251:] += 2.0  # differs from step 251 on
    causal = AnomalyDetector(window=20, causal=True, **FAST).fit(series)
    a, b = causal.decision_function(series), causal.decision_function(later)
    # The windows ending at steps <= 250 are the same numbers in both series; only float
    # rounding of a different batch could differ, and none does on the CPU.
    np.testing.assert_allclose(a[:251], b[:251], rtol=1e-12)
    assert np.all(np.abs(b[251:] - a[251:]) > 0)
    assert np.all(a[:19] == a[19])  # the first W - 1 steps take the first window's score
    centred = AnomalyDetector(window=20, causal=False, **FAST).fit(series)
    a, b = centred.decision_function(series), centred.decision_function(later)
    # Steps 232-250 lie in windows that reach step 251: their mean scores change.
    assert np.all(np.abs(b[232:251] - a[232:251]) > 1e-3 * np.abs(a[232:251]))
    np.testing.assert_allclose(a[:232], b[:232], rtol=1e-12)


# ---------------------------------------------------------------------------------- CLI
def write_table(path: Path, X: np.ndarray) -> Path:
    lines = [",".join(["alpha", "beta", "gamma", "delta"])]
    lines += [",".join(f"{v:.6f}" for v in row) for row in X]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def cli_table(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 4-column CSV whose rows 0-4 have "gamma" moved by 10 standard deviations, and a
    detector trained on it through the CLI."""
    folder = tmp_path_factory.mktemp("explain_cli")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4)) @ rng.normal(size=(4, 4))
    X[:5, 2] += 10 * X[:, 2].std()
    data = write_table(folder / "table.csv", X)
    model = folder / "D"
    from aekit.cli import main

    rc = main(
        ["train", str(data), "--model", "detector", "--epochs", "5", "--n-estimators", "2",
         "--seed", "0", "--contamination", "0.05", "--out", str(model), "--quiet"]
    )  # fmt: skip
    assert rc == 0
    return data, model


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def parse_top(text: str) -> list[tuple[str, float]]:
    """``"name (0.95); name (0.02)"`` as pairs."""
    pairs = []
    for item in text.split("; "):
        name, share = item.rsplit(" (", 1)
        pairs.append((name, float(share.rstrip(")"))))
    return pairs


def test_cli_detect_explain_fills_top_on_flagged_rows(cli_table, tmp_path, capsys) -> None:
    data, model = cli_table
    out = tmp_path / "s.csv"
    rc, stdout, err = run_cli(["detect", model, data, "--out", out, "--explain", 2], capsys)
    assert rc == 0, err
    assert "10 above the threshold" in stdout  # 5% of 200
    rows = read_rows(out)
    assert list(rows[0])[-1] == "top"
    flagged = [r for r in rows if r["label"] == "1"]
    assert len(flagged) == 10
    assert all((r["top"] != "") == (r["label"] == "1") for r in rows)
    for r in flagged:
        pairs = parse_top(r["top"])
        assert len(pairs) == 2 and 1.0 >= pairs[0][1] >= pairs[1][1] >= 0.0
    leading = {parse_top(r["top"])[0][0] for r in rows[:5]}
    assert len(leading) == 1  # the injected column leads all five injected rows
    assert all(parse_top(r["top"])[0][1] > 0.8 for r in rows[:5])


def test_cli_detect_explain_names_the_csv_columns(cli_table, tmp_path, capsys) -> None:
    data, model = cli_table
    out = tmp_path / "s.csv"
    rc, _, err = run_cli(["detect", model, data, "--out", out, "--explain", 2], capsys)
    assert rc == 0, err
    rows = read_rows(out)
    assert all(parse_top(r["top"])[0][0] == "gamma" for r in rows[:5])
    names = {name for r in rows if r["top"] for name, _ in parse_top(r["top"])}
    assert names <= {"alpha", "beta", "gamma", "delta"}


def test_cli_detect_explain_mistakes(cli_table, tmp_path, capsys) -> None:
    data, model = cli_table
    rc, _, err = run_cli(
        ["detect", model, data, "--out", tmp_path / "s.csv", "--explain", 0], capsys
    )
    line = assert_user_error(rc, err, "detect")
    assert line == "aekit detect: error: --explain K needs K >= 1, got 0"
    rc, _, err = run_cli(["detect", model, data, "--out", tmp_path / "s.npy", "--explain"], capsys)
    # The data's notes come first on stderr; the error is the last line, alone.
    assert rc == 1 and "Traceback" not in err
    assert err.splitlines()[-1] == (
        "aekit detect: error: --explain adds a column to the CSV; give --out FILE.csv"
    )
    assert not (tmp_path / "s.npy").exists() and not (tmp_path / "s.csv").exists()


def test_cli_detect_explain_names_the_steps_of_a_series(tmp_path, capsys) -> None:
    series = sine_series(300, 0)
    series[200:204] += 3.0
    data = tmp_path / "series.csv"
    lines = ["timestamp,value"] + [
        f"2020-01-01 {i // 60:02d}:{i % 60:02d}:00,{v:.6f}" for i, v in enumerate(series)
    ]
    data.write_text("\n".join(lines) + "\n")
    model = tmp_path / "S"
    rc, _, err = run_cli(
        ["train", data, "--model", "detector", "--window", 20, "--epochs", 5,
         "--n-estimators", 2, "--seed", 0, "--contamination", 0.05, "--out", model, "--quiet"],
        capsys,
    )  # fmt: skip
    assert rc == 0, err
    out = tmp_path / "s.csv"
    rc, stdout, err = run_cli(["detect", model, data, "--out", out, "--explain"], capsys)
    assert rc == 0, err
    assert "15 above the threshold" in stdout
    rows = read_rows(out)
    assert list(rows[0]) == ["index", "timestamp", "score", "probability", "label", "top"]
    flagged = [r for r in rows if r["label"] == "1"]
    assert len(flagged) == 15  # 5% of 300
    assert all((r["top"] != "") == (r["label"] == "1") for r in rows)
    for r in flagged:
        pairs = parse_top(r["top"])
        assert len(pairs) == 3  # --explain alone: K = 3
        assert all(name.startswith("step ") for name, _ in pairs)
        # The steps behind every flagged step's score are steps of the burst.
        assert {int(name.split()[1]) for name, _ in pairs} <= set(range(200, 204))
