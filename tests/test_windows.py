import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from aekit.datasets import sliding_windows, window_scores_to_steps


def test_univariate_windows_and_stride():
    series = np.arange(10.0)
    w = sliding_windows(series, window=4)
    assert w.shape == (7, 4)
    assert_array_equal(w[0], [0, 1, 2, 3])
    assert_array_equal(w[-1], [6, 7, 8, 9])
    w = sliding_windows(series, window=4, stride=3)
    assert_array_equal(w, [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]])
    w = sliding_windows(series, window=4, stride=4)  # (10 - 4) // 4 + 1 = 2: steps 8, 9 left out
    assert_array_equal(w, [[0, 1, 2, 3], [4, 5, 6, 7]])
    assert sliding_windows(series, window=10).shape == (1, 10)
    assert sliding_windows([1, 2, 3], window=1).shape == (3, 1)


def test_multivariate_windows_are_time_major():
    series = np.arange(24.0).reshape(12, 2)  # (T, F)
    w = sliding_windows(series, window=5, stride=2)
    assert w.shape == (4, 5, 2)
    for i in range(4):
        assert_array_equal(w[i], series[2 * i : 2 * i + 5])
    # Flat rows hold step after step, which is the layout the recurrent autoencoder reshapes.
    assert_array_equal(w.reshape(4, -1)[1], series[2:7].ravel())


def test_windows_are_a_writeable_copy():
    series = np.arange(8)
    w = sliding_windows(series, window=8)
    assert w.flags.writeable and w.flags.c_contiguous
    assert not np.shares_memory(w, series)
    w[0, 0] = 99
    assert series[0] == 0
    assert w.dtype == series.dtype


@pytest.mark.parametrize(
    ("series", "kwargs", "match"),
    [
        (np.arange(5.0), {"window": 0}, "window must be a positive integer"),
        (np.arange(5.0), {"window": 2.5}, "window must be a positive integer"),
        (np.arange(5.0), {"window": True}, "window must be a positive integer"),
        (np.arange(5.0), {"window": 2, "stride": 0}, "stride must be a positive integer"),
        (np.arange(5.0), {"window": 6}, "longer than the series"),
        (np.array([0.0, np.nan, 1.0]), {"window": 2}, "NaN or infinite"),
        (np.array([0.0, np.inf, 1.0]), {"window": 2}, "NaN or infinite"),
        (np.float64(3.0), {"window": 1}, "1-D"),
        (np.zeros((4, 2, 2)), {"window": 2}, "1-D"),
        (np.array(["a", "b", "c"]), {"window": 2}, "real numbers"),
        ([1, None, 3], {"window": 2}, "real numbers"),
        (np.array([1 + 1j, 2]), {"window": 1}, "real numbers"),
    ],
)
def test_sliding_windows_errors(series, kwargs, match):
    with pytest.raises(ValueError, match=match):
        sliding_windows(series, **kwargs)


def test_mean_and_max_of_covering_windows():
    # Windows [0, 3), [1, 4), [2, 5) with scores 1, 2, 3.
    assert_allclose(window_scores_to_steps([1, 2, 3], 5, window=3), [1, 1.5, 2, 2.5, 3])
    assert_allclose(window_scores_to_steps([1, 2, 3], 5, 3, reduce="max"), [1, 2, 3, 3, 3])
    assert_allclose(window_scores_to_steps([3, 2, 1], 5, 3, reduce="max"), [3, 3, 3, 2, 1])
    # Non-overlapping windows copy their score onto their steps.
    assert_allclose(window_scores_to_steps([5, 7], 4, window=2, stride=2), [5, 5, 7, 7])


def test_window_of_one_step_is_the_identity():
    scores = np.random.default_rng(0).normal(size=20)
    assert_allclose(window_scores_to_steps(scores, 20, window=1), scores)


def test_tail_takes_the_last_window():
    # T = 8, window 3, stride 2: windows start at 0, 2, 4 and step 7 is covered by none.
    n_steps, window, stride = 8, 3, 2
    windows = sliding_windows(np.arange(n_steps), window, stride)
    steps = window_scores_to_steps([1.0, 2.0, 4.0], n_steps, window, stride)
    assert windows.shape[0] == 3
    assert_allclose(steps, [1, 1, 1.5, 2, 3, 4, 4, 4])
    steps = window_scores_to_steps([1.0, 2.0, 4.0], n_steps, window, stride, reduce="max")
    assert_allclose(steps, [1, 1, 2, 2, 4, 4, 4, 4])


def test_gaps_take_the_nearest_window():
    # window 2, stride 4: windows cover steps {0, 1}, {4, 5}, {8, 9}.
    steps = window_scores_to_steps([1.0, 2.0, 3.0], 10, window=2, stride=4)
    assert_allclose(steps, [1, 1, 1, 2, 2, 2, 2, 3, 3, 3])
    # window 1, stride 4: step 2 lies as far from window 0 as from window 1; the earlier wins.
    steps = window_scores_to_steps([1.0, 2.0, 3.0], 9, window=1, stride=4)
    assert_allclose(steps, [1, 1, 1, 2, 2, 2, 2, 3, 3])


def test_round_trip_of_a_per_window_statistic():
    rng = np.random.default_rng(1)
    series = rng.normal(size=50)
    windows = sliding_windows(series, window=7, stride=3)
    steps = window_scores_to_steps(np.ones(len(windows)), 50, window=7, stride=3)
    assert_array_equal(steps, np.ones(50))
    steps = window_scores_to_steps(windows.max(axis=1), 50, 7, 3, reduce="max")
    covered = 3 * (len(windows) - 1) + 7
    # Every window holding a step has a maximum at least as large as the step's value.
    assert np.all(steps[:covered] >= series[:covered])
    assert np.isin(steps, windows.max(axis=1)).all()


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (([1.0, 2.0], 5, 3), {}, "one score per window, 3"),
        (([[1.0, 2.0, 3.0]], 5, 3), {}, "one score per window"),
        (([1.0, 2.0, 3.0], 5, 3), {"reduce": "median"}, "unknown reduce"),
        (([1.0], 2, 3), {}, "longer than the series"),
        (([1.0], 0, 1), {}, "n_steps must be a positive integer"),
        (([1.0, 2.0], 3, 2), {"stride": -1}, "stride must be a positive integer"),
        (([1.0, np.nan, 3.0], 5, 3), {}, "NaN or infinite"),
        ((["a", "b", "c"], 5, 3), {}, "real numbers"),
    ],
)
def test_window_scores_to_steps_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        window_scores_to_steps(*args, **kwargs)
