"""NAB's scoring (aekit.tasks.nab): its rules on tiny series, and NAB's own published per-step
scores of the windowedGaussian baseline reproduced on the 50 shared series."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from aekit.tasks import (
    NAB_PROFILES,
    nab_row_scores,
    nab_score,
    nab_score_windows,
    nab_windows,
    read_nab_profiles,
)
from conftest import shared_file


def scaled_sigmoid(y: float) -> float:
    """NAB's A(y), written out independently of the module under test."""
    return -1.0 if y > 3 else 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def detections(n: int, at: list[int]) -> np.ndarray:
    scores = np.zeros(n)
    scores[at] = 1.0
    return scores


# ---------------------------------------------------------------- the rules, on tiny series


def test_detection_at_window_start_earns_full_credit_and_beats_one_at_its_end():
    window = [[50, 59]]  # 10 steps of 100; the first 15 are probationary
    start = nab_row_scores(detections(100, [50]), window, 0.5)
    end = nab_row_scores(detections(100, [59]), window, 0.5)
    # Both stand on the window's first step, and nowhere else.
    assert np.flatnonzero(start).tolist() == np.flatnonzero(end).tolist() == [50]
    assert start[50] == 1.0  # A(-1) / A(-1) * tpWeight
    assert end[50] == pytest.approx(scaled_sigmoid(-1 / 10) / scaled_sigmoid(-1.0), rel=1e-12)
    assert end[50] == pytest.approx(0.2482, abs=1e-4)
    middle = nab_row_scores(detections(100, [54]), window, 0.5)
    assert start[50] > middle[50] > end[50] > 0


@pytest.mark.parametrize("profile", sorted(NAB_PROFILES))
def test_a_missed_window_costs_fn_weight(profile):
    scores = np.zeros(100)
    scores[30] = 0.4  # below the threshold: no detection anywhere
    rows = nab_row_scores(scores, [[50, 59], [80, 84]], 0.5, profile)
    fn = NAB_PROFILES[profile]["fnWeight"]
    assert rows[[50, 80]].tolist() == [-fn, -fn]
    assert rows.sum() == -2 * fn
    assert np.count_nonzero(rows) == 2


def test_false_positives_before_any_window_cost_full_fp_weight_and_after_one_less():
    rows = nab_row_scores(detections(200, [40, 41, 61, 100]), [[50, 59]], 0.5)
    assert rows[[40, 41]].tolist() == [-0.11, -0.11]  # no window before them
    # Two steps after a 10-step window: A(2 / 9) * fpWeight, a far smaller cost.
    assert rows[61] == pytest.approx(0.11 * scaled_sigmoid(2 / 9), rel=1e-12)
    assert -0.11 < rows[61] < -0.05
    assert rows[100] == -0.11  # (100 - 59) / 9 > 3: as far as can be
    assert rows[50] == -1.0  # the window itself is missed
    low_fp = nab_row_scores(detections(200, [40]), [[50, 59]], 0.5, "reward_low_FP_rate")
    assert low_fp[40] == -0.22


def test_only_the_first_detection_in_a_window_counts():
    window = [[50, 59]]
    first = nab_row_scores(detections(100, [52]), window, 0.5)
    several = nab_row_scores(detections(100, [52, 53, 57, 59]), window, 0.5)
    np.testing.assert_array_equal(several, first)
    assert first[50] == pytest.approx(scaled_sigmoid(-8 / 10) / scaled_sigmoid(-1.0), rel=1e-12)


def test_probationary_steps_are_ignored():
    # 15% of 100 steps: steps 0-14 are probationary, a false alarm there costs nothing.
    assert not nab_row_scores(detections(100, list(range(15))), [[50, 59]], 0.5)[:15].any()
    assert nab_row_scores(detections(100, [15]), [[50, 59]], 0.5)[15] == -0.11
    # Capped at 750 steps (15% of 5,000): a 10,000-step series scores from step 750 on.
    long = nab_row_scores(detections(10_000, [749, 750]), [[5000, 5099]], 0.5)
    assert long[749] == 0.0 and long[750] == -0.11


def test_a_window_detected_only_during_probation_is_missed_and_one_inside_it_is_not_scored():
    # Window 10-19 of 100 straddles the probationary end (15): a hit at 12 is not seen.
    rows = nab_row_scores(detections(100, [12]), [[10, 19]], 0.5)
    assert rows[10] == -1.0 and np.count_nonzero(rows) == 1
    # A window wholly inside the probationary period counts for nothing (NAB's sweeper).
    inside = nab_score_windows([detections(100, [50])], [[[2, 8], [60, 69]]], threshold=0.5)
    assert inside.perfect == 1.0 and inside.files[0].missed == 1
    assert not nab_row_scores(np.zeros(100), [[2, 8]], 0.5).any()


def test_counts_raw_null_perfect_and_the_normalised_score():
    scores = [detections(300, [46, 52, 250]), detections(300, [])]  # 0-44: probation
    windows = [[[50, 59], [150, 159]], [[100, 119]]]
    r = nab_score_windows(scores, windows, threshold=0.5, names=["a", "b"])
    a, b = r.files
    assert (a.name, a.detected, a.missed, a.false_positives) == ("a", 1, 1, 2)
    assert (b.name, b.detected, b.missed, b.false_positives) == ("b", 0, 1, 0)
    hit = scaled_sigmoid(-8 / 10) / scaled_sigmoid(-1.0)
    late = 0.11 * scaled_sigmoid((250 - 159) / 9)  # beyond 3 spreads: -0.11
    assert a.raw == pytest.approx(-0.11 + hit - 1.0 + late, rel=1e-12)
    assert r.raw == pytest.approx(a.raw - 1.0, rel=1e-12)
    # Detecting nothing (-1 per window) beats detecting every step on series this long.
    assert (r.null, r.perfect) == (-3.0, 3.0)
    assert r.score == pytest.approx(100 * (r.raw + 3) / 6, rel=1e-12)


def test_null_detector_flags_everything_when_that_scores_better():
    # 20 steps, a 4-step window: flagging all 17 scored steps earns the window's full credit
    # for 7 early false alarms (-0.77) and a few cheap late ones, better than -1.
    r = nab_score_windows([np.zeros(20)], [[[10, 13]]])
    everything = nab_row_scores(np.zeros(20), [[10, 13]], -np.inf).sum()
    assert everything > -1.0
    assert r.null == pytest.approx(everything, rel=1e-12)
    # Constant scores: the sweep too flags every step, which is the null detector itself.
    assert (r.threshold, r.raw, r.score) == (0.0, r.null, 0.0)


def brute_force(scores, windows, profile):
    """The best threshold by scoring every distinct score (and "nothing"), highest on a tie."""
    candidates = [math.inf, *sorted({float(s) for x in scores for s in x}, reverse=True)]
    raws = [nab_score_windows(scores, windows, profile, threshold=t).raw for t in candidates]
    best = max(raws)
    return next(t for t, raw in zip(candidates, raws, strict=True) if raw == best), best


@pytest.mark.parametrize("seed", range(12))
def test_sweep_finds_the_threshold_a_brute_force_finds(seed):
    rng = np.random.default_rng(seed)
    scores, windows = [], []
    for _ in range(3):
        n = int(rng.integers(40, 160))
        # Rounded, so that ties between steps occur as they do with real detectors.
        scores.append(np.round(rng.random(n) ** 3, 2))
        starts = np.sort(rng.choice(np.arange(n // 5, n - 12, 12), size=2, replace=False))
        windows.append([[s, s + int(rng.integers(1, 10))] for s in starts])
        scores[-1][starts] += rng.random() * 0.3  # some windows stand out
    profile = sorted(NAB_PROFILES)[seed % 3]
    threshold, raw = brute_force(scores, windows, profile)
    swept = nab_score_windows(scores, windows, profile)
    assert swept.threshold == threshold
    assert swept.raw == pytest.approx(raw, abs=1e-12)


def test_sweep_keeps_the_highest_of_tied_thresholds():
    # Lowering the threshold from 0.9 to 0.5 adds a second alarm in the same window: the same
    # score, so NAB's sweeper keeps 0.9 (the first best in its list, highest first).
    scores = np.zeros(100)
    scores[[50, 55]] = [0.9, 0.5]
    r = nab_score_windows([scores], [[[50, 59]]])
    assert (r.threshold, r.raw) == (0.9, 1.0)
    assert nab_score_windows([scores], [[[50, 59]]], threshold=0.5).raw == 1.0


def test_nab_windows_places_timestamps_on_steps():
    t = np.arange("2015-01-01T00:00", "2015-01-01T02:00", 5, dtype="datetime64[m]")
    spans = [["2015-01-01 01:00:00.000000", "2015-01-01 01:10:00"], ["2015-01-01 00:20", "00:20"]]
    with pytest.raises(ValueError, match="anomaly window"):
        nab_windows(t, spans)
    spans[1] = ["2015-01-01 00:20:00", "2015-01-01 00:22:00"]  # one step
    assert nab_windows(t, spans).tolist() == [[4, 4], [12, 14]]
    with pytest.raises(ValueError, match="holds no step"):
        nab_windows(t, [["2016-01-01 00:00:00", "2016-01-02 00:00:00"]])


def write_corpus(root: Path, series: dict[str, int], windows: dict[str, list]) -> None:
    times = np.arange("2015-01-01T00:00", 5 * max(series.values()), 5, dtype="datetime64[m]")
    for key, n in series.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        lines = [f"{str(t).replace('T', ' ')}:00,{i % 7}" for i, t in enumerate(times[:n])]
        (root / key).write_text("timestamp,value\n" + "\n".join(lines) + "\n")
    (root / "combined_windows.json").write_text(json.dumps(windows))


def test_nab_score_reads_a_corpus_in_nabs_layout(tmp_path):
    write_corpus(
        tmp_path,
        {"a/x.csv": 100, "b/y.csv": 60},
        {
            "a/x.csv": [["2015-01-01 04:10:00.000000", "2015-01-01 04:55:00.000000"]],  # 50-59
            "b/y.csv": [],
            "c/unscored.csv": [["2015-01-01 00:00:00", "2015-01-01 00:05:00"]],
        },
    )
    x, y = detections(100, [52]), detections(60, [30])
    r = nab_score({"a/x.csv": x, "b/y.csv": y}, tmp_path, "reward_low_FP_rate", threshold=0.5)
    assert [f.name for f in r.files] == ["a/x.csv", "b/y.csv"]
    assert r.files[1].raw == -0.22  # a series without windows: every detection is a false alarm
    assert (r.perfect, r.null) == (1.0, -1.0)  # the unscored series' window does not count
    expected = nab_score_windows([x, y], [[[50, 59]], []], "reward_low_FP_rate", 0.5)
    assert r.raw == expected.raw and r.score == expected.score
    custom = {"tpWeight": 2.0, "fpWeight": 0.05, "fnWeight": 1.0}
    swept = nab_score({"a/x.csv": x, "b/y.csv": y}, tmp_path, custom)
    assert (swept.profile, swept.threshold, swept.null, swept.perfect) == ("custom", 1.0, -1, 2)
    hit = 2.0 * scaled_sigmoid(-8 / 10) / scaled_sigmoid(-1.0)
    assert swept.score == pytest.approx(100 * (hit - 0.05 + 1) / 3, rel=1e-12)
    free_alarms = {"tpWeight": 1.0, "fpWeight": 0.0, "fnWeight": 1.0}
    with pytest.raises(ValueError, match="flagging every step scores as well as a perfect"):
        nab_score({"a/x.csv": x, "b/y.csv": y}, tmp_path, free_alarms)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: nab_row_scores(np.zeros(10), [], 0.5, "strict"), "unknown NAB profile 'strict'"),
        (lambda: nab_row_scores(np.zeros(10), [], 0.5, {"tpWeight": 1.0}), "lacks fpWeight"),
        (lambda: nab_row_scores([0.1, np.nan], [], 0.5), "NaN or infinity"),
        (lambda: nab_row_scores(np.zeros(10), [[3, 5], [5, 7]], 0.5), "must not overlap"),
        (lambda: nab_row_scores(np.zeros(10), [[3, 10]], 0.5), "0 <= first <= last < 10"),
        (lambda: nab_row_scores(np.zeros(10), [], float("nan")), "threshold must be a number"),
        (lambda: nab_score_windows([], []), "one score array per series"),
        (lambda: nab_score_windows([np.zeros(30)], [[]]), "at least one anomaly window"),
    ],
)
def test_bad_input_is_a_value_error_that_says_what(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_nab_score_refuses_unknown_files_and_scores_of_the_wrong_length(tmp_path):
    write_corpus(tmp_path, {"a/x.csv": 40}, {"a/x.csv": []})
    with pytest.raises(ValueError, match=r"no anomaly windows for 'x\.csv'.*<category>/<file>"):
        nab_score({"x.csv": np.zeros(40)}, tmp_path)
    with pytest.raises(ValueError, match=r"a/x\.csv: 39 scores for a series of 40 steps"):
        nab_score({"a/x.csv": np.zeros(39)}, tmp_path)
    with pytest.raises(ValueError, match=r"a/x\.csv: the scores hold NaN"):
        nab_score({"a/x.csv": np.full(40, np.nan)}, tmp_path)


def test_read_nab_profiles(tmp_path):
    path = tmp_path / "profiles.json"
    path.write_text(json.dumps({"p": {"CostMatrix": {"tpWeight": 1, "fpWeight": 0.5}}}))
    with pytest.raises(ValueError, match="profile 'p' lacks fnWeight"):
        read_nab_profiles(path)
    path.write_text(json.dumps({"p": {"weights": {}}}))
    with pytest.raises(ValueError, match="has no CostMatrix"):
        read_nab_profiles(path)


# ------------------------------------------------- NAB's published results on the shared data


def test_built_in_profiles_are_nabs():
    assert read_nab_profiles(shared_file("nab/config/profiles.json")) == NAB_PROFILES
    assert NAB_PROFILES["standard"] == {
        "tpWeight": 1.0,
        "fnWeight": 1.0,
        "fpWeight": 0.11,
        "tnWeight": 1.0,
    }


@pytest.fixture(scope="module")
def windowed_gaussian():
    """NAB's published windowedGaussian output on the shared series: ``{key: (timestamps,
    {column: values})}``, with NAB's anomaly windows and thresholds."""
    results = shared_file("nab/results/windowedGaussian")
    published = {}
    for path in sorted(results.glob("*/windowedGaussian_*.csv")):
        key = f"{path.parent.name}/{path.name.removeprefix('windowedGaussian_')}"
        header = path.open().readline().strip().split(",")
        # np.loadtxt rather than read_series: four times faster on these 7-column files.
        values = np.loadtxt(path, delimiter=",", skiprows=1, usecols=range(1, len(header)))
        times = np.loadtxt(path, delimiter=",", skiprows=1, usecols=0, dtype=str)
        timestamps = np.char.replace(times, " ", "T").astype("datetime64[s]")
        published[key] = (timestamps, dict(zip(header[1:], values.T, strict=True)))
    labels = json.loads(shared_file("nab/combined_windows.json").read_text())
    thresholds = json.loads(shared_file("nab/config/thresholds.json").read_text())
    return published, labels, thresholds["windowedGaussian"]


@pytest.mark.parametrize("profile", sorted(NAB_PROFILES))
def test_row_scores_reproduce_nabs_published_windowed_gaussian_columns(windowed_gaussian, profile):
    published, labels, thresholds = windowed_gaussian
    assert len(published) == 50
    threshold = thresholds[profile]["threshold"]  # 1.0 for all three profiles
    worst, rows = 0.0, 0
    for key, (timestamps, columns) in published.items():
        ours = nab_row_scores(
            columns["anomaly_score"], nab_windows(timestamps, labels[key]), threshold, profile
        )
        theirs = columns[f"S(t)_{profile}"]
        # NAB wrote its floats with Python 2's str(), 12 significant digits
        # ("-0.109998982738"): ours, written the same way, must be the very same text.
        # Measured: every one of the 318,199 steps agrees, in all three profiles.
        written = np.array([float(f"{v:.12g}") for v in ours])
        np.testing.assert_array_equal(written, theirs, err_msg=key)
        worst = max(worst, float(np.abs(ours - theirs).max()))
        rows += len(ours)
    assert rows == 318_199
    # Half a unit of the 12th digit of a value below 1 in magnitude (those of 1 or more, -1
    # and -2 for missed windows, are exact): measured 5.0e-13 in each profile.
    assert worst <= 5e-13


# The windowedGaussian figures on these 50 series (104 anomaly windows), NAB's threshold 1.0.
WINDOWED_GAUSSIAN_50 = {
    "standard": (41.9268, -16.7922, -104.0),
    "reward_low_FP_rate": (22.0359, -58.1653, -104.0),
    "reward_low_FN_rate": (50.0666, -51.7922, -208.0),
}


def test_windowed_gaussian_normalised_score_on_the_50_series(windowed_gaussian):
    published, labels, thresholds = windowed_gaussian
    keys = list(published)
    scores = [published[k][1]["anomaly_score"] for k in keys]
    windows = [nab_windows(published[k][0], labels[k]) for k in keys]
    raws = {}
    for profile, (score, raw, null) in WINDOWED_GAUSSIAN_50.items():
        r = nab_score_windows(scores, windows, profile)
        # The sweep over these 50 series lands on the threshold NAB's optimiser found for the
        # whole corpus.
        assert r.threshold == thresholds[profile]["threshold"] == 1.0
        assert (r.null, r.perfect) == (null, 104.0)
        assert r.raw == pytest.approx(raw, abs=1e-4)
        assert r.score == pytest.approx(score, abs=1e-4)
        # The raw score is the sum of NAB's own published S(t) column.
        total = sum(published[k][1][f"S(t)_{profile}"].sum() for k in keys)
        assert r.raw == pytest.approx(total, abs=1e-9)
        raws[profile] = r.raw

    # NAB's published final scores (windowedGaussian: standard 39.65) are over its 58 series
    # (116 windows); 8 of them are not in the shared data, so they are not ours to match.
    # What they do pin down is our normalisation: undone with null = -fnWeight and perfect =
    # tpWeight per window, the standard and reward_low_FN_rate raw scores (which differ only
    # by fnWeight, 1 against 2) must differ by a whole number of missed windows.
    final = json.loads(shared_file("nab/results/final_results.json").read_text())
    n_windows = sum(len(v) for v in labels.values())
    assert n_windows == 116
    full = {}
    for profile, weights in NAB_PROFILES.items():
        null = -weights["fnWeight"] * n_windows
        perfect = weights["tpWeight"] * n_windows
        full[profile] = final["windowedGaussian"][profile] / 100 * (perfect - null) + null
    missed_58 = full["standard"] - full["reward_low_FN_rate"]
    missed_50 = raws["standard"] - raws["reward_low_FN_rate"]
    assert missed_58 == pytest.approx(43, abs=1e-9)
    assert missed_50 == pytest.approx(35, abs=1e-9)
    # The 8 absent series hold 12 windows; they can only add false-alarm costs (<= 0).
    assert 0 <= missed_58 - missed_50 <= 12
    false_alarms_58 = full["reward_low_FP_rate"] - full["standard"]  # fpWeight 0.22 vs 0.11
    false_alarms_50 = raws["reward_low_FP_rate"] - raws["standard"]
    assert false_alarms_58 <= false_alarms_50 <= 0


def test_nab_score_on_the_shared_corpus_matches_the_published_files(windowed_gaussian):
    published = windowed_gaussian[0]
    corpus = shared_file("nab")
    r = nab_score({k: cols["anomaly_score"] for k, (_, cols) in published.items()}, corpus)
    assert r.threshold == 1.0 and r.profile == "standard"
    assert r.score == pytest.approx(WINDOWED_GAUSSIAN_50["standard"][0], abs=1e-4)
    nyc = next(f for f in r.files if f.name == "realKnownCause/nyc_taxi.csv")
    assert (nyc.detected, nyc.missed, nyc.false_positives, nyc.raw) == (0, 5, 0, -5.0)
