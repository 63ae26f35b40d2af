"""The Numenta Anomaly Benchmark's scoring: anomaly windows, the scaled sigmoid, the profiles,
the threshold sweep and the normalised score (Lavin & Ahmad 2015; numenta/NAB).

The rules, as NAB applies them (its ``nab/sweeper.py`` and the scorer that wrote the published
``S(t)_*`` columns):

- The first ``min(floor(0.15 T), 750)`` of a series' T steps are its probationary period: a
  detection there counts for nothing.
- A step is a detection when its score is ``>= threshold``.
- An anomaly window (the labelled steps around an anomaly, both ends included) is credited
  once, by its first detection: ``tpWeight * A(y) / A(-1)`` with ``A(y) = 2 / (1 + e^(5y)) - 1``
  the scaled sigmoid and ``y = -(end - i + 1) / width`` (-1 at the window's first step, near 0
  at its last), so a detection at the start earns the full ``tpWeight``. Later detections in
  the same window add nothing. A window without a detection costs ``-fnWeight``.
- A detection outside every window costs ``fpWeight * A(y)`` with ``y = (i - end) / (width -
  1)`` measured from the end of the closest window before it (``A(y) = -1`` once ``y > 3``),
  so a late detection just after a window costs little; with no window before it, the full
  ``-fpWeight``.
- A file's raw score is the sum of those; the corpus' raw score is the sum over files. NAB
  writes them per step as ``S(t)``: a window's credit (or its ``-fnWeight``) on the window's
  first step, each false positive's cost on its own step, 0 elsewhere (:func:`nab_row_scores`).
- The threshold is one for the whole corpus: the sweep tries every distinct score and keeps
  the one whose summed raw score is highest (the highest threshold among ties).
- Normalised: ``100 (raw - null) / (perfect - null)``, where the null detector (a constant
  score, its threshold swept too) has the best of "nothing detected" (``-fnWeight`` per
  window) and "everything detected", and the perfect one detects each window's first step
  (``tpWeight`` per window). NAB's scoreboard gives Windowed Gaussian 39.6 and Numenta HTM 70.1
  on its 58 series (standard profile).

Two details that NAB's own labels never meet, decided here: a window lying wholly inside the
probationary period is not scored (neither credited nor missed, nor counted in ``perfect``),
as NAB's sweeper does; and a one-step window, whose false-positive spread ``width - 1`` would
divide by zero in NAB, is given the spread of a two-step one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from aekit._repr import result_repr
from aekit._untrusted import read_json
from aekit._validation import is_number
from aekit.datasets import nab_window_bounds, read_series

__all__ = [
    "NAB_PROFILES",
    "NabFileScore",
    "NabResult",
    "nab_row_scores",
    "nab_score",
    "nab_score_windows",
    "nab_windows",
    "read_nab_profiles",
]

# NAB's config/profiles.json, its "CostMatrix" of each profile. tnWeight is listed by NAB
# but used by none of its rules (a true negative scores 0).
NAB_PROFILES: dict[str, dict[str, float]] = {
    "standard": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0},
    "reward_low_FP_rate": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.22, "tnWeight": 1.0},
    "reward_low_FN_rate": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11, "tnWeight": 1.0},
}
_WEIGHTS = ("tpWeight", "fpWeight", "fnWeight")

# NAB's probationary period: this share of a series, at most this share of 5,000 steps.
_PROBATION_SHARE = 0.15
_PROBATION_CAP_STEPS = 5000

# NAB's JSON files are a few tens of kilobytes; a bound far above that refuses a damaged one.
_JSON_LIMIT = 64 << 20


def _scaled_sigmoid(y: np.ndarray) -> np.ndarray:
    """NAB's A(y) = 2 sigmoid(-5y) - 1: about 0.987 at y = -1, 0 at y = 0, -1 beyond y = 3."""
    y = np.asarray(y, dtype=np.float64)
    # Clipped before exp so that far positions do not overflow; they are -1 anyway.
    return np.where(y > 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * np.minimum(y, 3.0))) - 1.0)


_MAX_TP = float(_scaled_sigmoid(-1.0))


def _probation_steps(n_steps: int) -> int:
    """The number of leading steps NAB leaves unscored: ``min(floor(0.15 T), 750)``."""
    # The same float product as NAB's, so that the rounding of 0.15 * T agrees with it.
    return int(min(math.floor(_PROBATION_SHARE * n_steps), _PROBATION_SHARE * _PROBATION_CAP_STEPS))


def read_nab_profiles(path: str | Path) -> dict[str, dict[str, float]]:
    """The profiles of a NAB ``config/profiles.json``, as in :data:`NAB_PROFILES`.

    Parameters
    ----------
    path : str or Path
        NAB's profiles file: ``{name: {"CostMatrix": {"tpWeight": ..., "fpWeight": ...,
        "fnWeight": ..., "tnWeight": ...}}}``.

    Returns
    -------
    dict
        ``{name: {"tpWeight": ..., ...}}``, the weights as floats.
    """
    table = read_json(path, _JSON_LIMIT, "NAB profiles")
    if not isinstance(table, dict) or not table:
        raise ValueError(f"{path} must map profile names to their CostMatrix")
    profiles = {}
    for name, entry in table.items():
        matrix = entry.get("CostMatrix") if isinstance(entry, dict) else None
        if not isinstance(matrix, dict):
            raise ValueError(f"{path}: profile {name!r} has no CostMatrix")
        profiles[name] = _check_weights(matrix, f"{path}: profile {name!r}")
    return profiles


def _check_weights(weights: Mapping[str, Any], what: str) -> dict[str, float]:
    checked = {}
    for key, value in weights.items():
        if not is_number(value):
            raise ValueError(f"{what}: {key} must be a number, got {value!r}")
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{what}: {key} must be finite and >= 0, got {value!r}")
        checked[key] = float(value)
    missing = [k for k in _WEIGHTS if k not in checked]
    if missing:
        raise ValueError(f"{what} lacks {', '.join(missing)}")
    return checked


def _weights(profile: str | Mapping[str, float]) -> tuple[str, dict[str, float]]:
    """The profile's name ("custom" for a mapping) and its weights."""
    if isinstance(profile, str):
        if profile not in NAB_PROFILES:
            raise ValueError(
                f"unknown NAB profile {profile!r}; NAB's profiles are "
                f"{', '.join(sorted(NAB_PROFILES))} (or pass a mapping of {', '.join(_WEIGHTS)})"
            )
        return profile, NAB_PROFILES[profile]
    if isinstance(profile, Mapping):
        return "custom", _check_weights(profile, "the profile")
    raise ValueError(
        f"profile must be a NAB profile's name or a mapping of weights, got {profile!r}"
    )


def nab_windows(timestamps: Any, spans: Sequence[Sequence[str]]) -> np.ndarray:
    """NAB's anomaly windows (``[start, end]`` timestamps, as in ``combined_windows.json``) as
    the first and last step of each, shape ``(k, 2)``, sorted.

    Parameters
    ----------
    timestamps : array-like of datetime64, shape (T,)
        The series' time index (``aekit.datasets.read_series(path).timestamps``).
    spans : sequence of [start, end] pairs of timestamps (str), both ends included.

    Returns
    -------
    numpy.ndarray of int64, shape (k, 2)

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange("2015-01-01T00:00", "2015-01-01T01:00", 5, dtype="datetime64[m]")
    >>> nab_windows(t, [["2015-01-01 00:20:00.000000", "2015-01-01 00:35:00.000000"]])
    array([[4, 7]])
    """
    timestamps = np.asarray(timestamps)
    if timestamps.ndim != 1 or timestamps.dtype.kind != "M":
        raise ValueError("NAB's anomaly windows need the series' timestamps (datetime64, (T,))")
    rows = []
    for span in spans:
        if not (isinstance(span, Sequence) and len(span) == 2) or not all(
            isinstance(t, str) for t in span
        ):
            raise ValueError(
                f"an anomaly window must be a [start, end] pair of timestamps: {span!r}"
            )
        begin, finish = nab_window_bounds(list(span))
        inside = np.flatnonzero((timestamps >= begin) & (timestamps <= finish))
        if inside.size == 0:
            raise ValueError(f"anomaly window {list(span)!r} holds no step of the series")
        if inside[-1] - inside[0] + 1 != inside.size:
            raise ValueError(
                f"anomaly window {list(span)!r} is not one run of steps: are the timestamps "
                "in order?"
            )
        rows.append((inside[0], inside[-1]))
    return _check_windows(np.array(rows, dtype=np.int64).reshape(-1, 2), len(timestamps), "")


def _check_windows(windows: Any, n_steps: int, what: str) -> np.ndarray:
    """``windows`` as sorted, disjoint ``(k, 2)`` int64 first/last steps within ``n_steps``."""
    prefix = f"{what}: " if what else ""
    try:
        array = np.asarray(windows, dtype=np.float64).reshape(-1, 2)
    except (TypeError, ValueError):
        raise ValueError(
            f"{prefix}anomaly windows must be (first, last) step pairs, got {windows!r}"
        ) from None
    if not np.isfinite(array).all() or (array != np.round(array)).any():
        raise ValueError(f"{prefix}anomaly windows must be pairs of whole step numbers")
    array = array.astype(np.int64)
    array = array[np.argsort(array[:, 0], kind="stable")]
    if array.size and (
        (array[:, 0] < 0).any()
        or (array[:, 1] >= n_steps).any()
        or (array[:, 1] < array[:, 0]).any()
    ):
        raise ValueError(
            f"{prefix}every anomaly window must be a (first, last) pair with 0 <= first <= last "
            f"< {n_steps} steps"
        )
    if (array[1:, 0] <= array[:-1, 1]).any():
        raise ValueError(f"{prefix}anomaly windows must not overlap")
    return array


def _check_scores(scores: Any, n_steps: int | None, what: str) -> np.ndarray:
    try:
        array = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: the scores must be numbers") from None
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{what}: the scores must be one per step, shape (T,), got {array.shape}")
    if n_steps is not None and array.size != n_steps:
        raise ValueError(f"{what}: {array.size} scores for a series of {n_steps} steps")
    if not np.isfinite(array).all():
        raise ValueError(f"{what}: the scores hold NaN or infinity")
    return array


class _Values(NamedTuple):
    """What each step of one series would score if it were a detection."""

    value: np.ndarray  # (T,) credit in a window, cost (<= 0) outside
    window_of: np.ndarray  # (T,) the window holding the step, -1 outside every window
    scored: np.ndarray  # (T,) bool: past the probationary period
    counted: np.ndarray  # (k,) bool: windows with a scored step


def _values(windows: np.ndarray, n_steps: int, weights: Mapping[str, float]) -> _Values:
    steps = np.arange(n_steps)
    first, last = windows[:, 0], windows[:, 1]
    width = last - first + 1
    window_of = np.full(n_steps, -1, dtype=np.int64)
    for j, (a, b) in enumerate(windows):
        window_of[a : b + 1] = j
    inside = window_of >= 0
    value = np.empty(n_steps)

    j = window_of[inside]
    position = -(last[j] - steps[inside] + 1) / width[j]
    value[inside] = _scaled_sigmoid(position) * weights["tpWeight"] / _MAX_TP

    outside = steps[~inside]
    # The closest window before a step: the last one that ends before it.
    before = np.searchsorted(last, outside, side="left") - 1
    after_one = before >= 0
    shape = np.full(outside.size, -1.0)  # no window before: as far from one as can be
    w = before[after_one]
    spread = np.maximum(width[w] - 1, 1)  # a one-step window: NAB would divide by 0
    shape[after_one] = _scaled_sigmoid(np.abs(last[w] - outside[after_one]) / spread)
    value[~inside] = shape * weights["fpWeight"]

    probation = _probation_steps(n_steps)
    return _Values(value, window_of, steps >= probation, last >= probation)


def _rows(
    values: _Values, windows: np.ndarray, scores: np.ndarray, threshold: float, fn: float
) -> tuple[np.ndarray, int, int, int]:
    """NAB's per-step S(t) and the counts (detected windows, missed ones, false positives)."""
    detected = values.scored & (scores >= threshold)
    rows = np.zeros(scores.size)
    false_positive = detected & (values.window_of < 0)
    rows[false_positive] = values.value[false_positive]
    hits = 0
    for j, (a, b) in enumerate(windows):
        if not values.counted[j]:
            continue
        found = np.flatnonzero(detected[a : b + 1])
        rows[a] = values.value[a + found[0]] if found.size else -fn
        hits += bool(found.size)
    return rows, hits, int(values.counted.sum()) - hits, int(false_positive.sum())


def nab_row_scores(
    scores: Any,
    windows: Any,
    threshold: float,
    profile: str | Mapping[str, float] = "standard",
) -> np.ndarray:
    """NAB's per-step score ``S(t)`` of one series at a threshold: the column that NAB writes
    as ``S(t)_<profile>`` beside a detector's scores. Its sum is the file's raw score.

    A window's credit (its first detection's scaled sigmoid times ``tpWeight``), or
    ``-fnWeight`` when nothing in it is detected, stands on the window's first step; each false
    positive's cost stands on its own step; every other step is 0.

    Parameters
    ----------
    scores : array-like of float, shape (T,)
        The detector's score per step (higher: more anomalous), finite.
    windows : array-like of int, shape (k, 2)
        The first and last step of each anomaly window (:func:`nab_windows` turns NAB's
        timestamps into these); ``[]`` for a series without anomalies.
    threshold : float
        A step with ``score >= threshold`` is a detection.
    profile : str or mapping, default "standard"
        A name of :data:`NAB_PROFILES`, or a mapping with ``tpWeight``, ``fpWeight`` and
        ``fnWeight``.

    Returns
    -------
    numpy.ndarray of float64, shape (T,)

    Examples
    --------
    A detection on the second step of a four-step window earns ``A(-3/4) / A(-1)``, the one
    after it nothing more; a false positive before any window costs the full ``fpWeight``
    (0.11 in the standard profile); the first 3 of 20 steps are probationary.

    >>> import numpy as np
    >>> scores = np.zeros(20)
    >>> scores[[1, 5, 11, 12]] = 1.0        # 1: probationary, 5: false positive, 11 and 12: hits
    >>> s = nab_row_scores(scores, [[10, 13]], threshold=0.5)
    >>> np.flatnonzero(s).tolist(), np.round(s[[5, 10]], 4).tolist()
    ([5, 10], [-0.11, 0.967])
    """
    _, weights = _weights(profile)
    scores = _check_scores(scores, None, "nab_row_scores")
    windows = _check_windows(windows, scores.size, "nab_row_scores")
    threshold = _check_threshold(threshold)
    rows, *_ = _rows(
        _values(windows, scores.size, weights), windows, scores, threshold, weights["fnWeight"]
    )
    return rows


def _check_threshold(threshold: Any) -> float:
    if not is_number(threshold):
        raise ValueError(f"threshold must be a number, got {threshold!r}")
    if math.isnan(threshold):
        raise ValueError("threshold must be a number, got NaN")
    return float(threshold)


class NabFileScore(NamedTuple):
    """One series' part of a NAB score."""

    name: str
    raw: float  # the sum of its S(t)
    detected: int  # windows credited with a true positive
    missed: int  # windows without a detection
    false_positives: int  # detections outside every window, past the probationary period


class NabResult(NamedTuple):
    """A detector's NAB score over a set of series, for one profile."""

    score: float  # normalised: 100 perfect, 0 the null detector's
    threshold: float  # score >= threshold is a detection; inf: the sweep chose to detect nothing
    raw: float  # the summed raw score of every series at that threshold
    null: float  # the null detector's raw score (a constant score, its threshold swept)
    perfect: float  # tpWeight per anomaly window
    profile: str  # the profile's name, "custom" for a mapping of weights
    files: tuple[NabFileScore, ...]

    __repr__ = result_repr


def _sweep(cases: list[tuple[_Values, np.ndarray, np.ndarray]], fn: float) -> float:
    """The threshold among the scores (or inf, detect nothing) with the highest summed raw
    score; the highest such threshold on a tie, as NAB's sweeper keeps.

    Lowering the threshold past a step's score adds that step as a detection: a false positive
    adds its cost; in a window, the window's credit becomes the best of its detected steps
    (the earliest one), so the change is the rise of that running best, from ``-fnWeight``."""
    at, change = [], []
    for values, windows, scores in cases:
        fp = values.scored & (values.window_of < 0)
        at.append(scores[fp])
        change.append(values.value[fp])
        for j, (a, b) in enumerate(windows):
            if not values.counted[j]:
                continue
            steps = np.arange(a, b + 1)[values.scored[a : b + 1]]
            order = steps[np.argsort(-scores[steps], kind="stable")]
            best = np.maximum.accumulate(np.concatenate([[-fn], values.value[order]]))
            at.append(scores[order])
            change.append(np.diff(best))
    at_all, change_all = np.concatenate(at), np.concatenate(change)
    if at_all.size == 0:
        return math.inf
    order = np.argsort(-at_all, kind="stable")
    thresholds = at_all[order]
    total = np.cumsum(change_all[order])
    # The score at a threshold counts every step at or above it: the end of each run of ties.
    ends = np.append(np.flatnonzero(np.diff(thresholds) != 0), thresholds.size - 1)
    candidates = np.concatenate([[0.0], total[ends]])  # relative to "nothing detected"
    best = int(np.argmax(candidates))  # the first maximum: the highest threshold
    return math.inf if best == 0 else float(thresholds[ends[best - 1]])


def nab_score_windows(
    scores: Sequence[Any],
    windows: Sequence[Any],
    profile: str | Mapping[str, float] = "standard",
    threshold: float | None = None,
    names: Sequence[str] | None = None,
) -> NabResult:
    """NAB's score of a detector over series whose anomaly windows are given as step numbers.

    :func:`nab_score` reads a NAB corpus from disk and calls this; use this one for series
    held in memory or labelled in another way.

    Parameters
    ----------
    scores : sequence of array-like, each shape (T_i,)
        The detector's score per step of each series, finite.
    windows : sequence of array-like, each shape (k_i, 2)
        The first and last step of each anomaly window of each series (``[]`` for none).
    profile : str or mapping, default "standard"
        A name of :data:`NAB_PROFILES`, or a mapping with ``tpWeight``, ``fpWeight`` and
        ``fnWeight``.
    threshold : float, optional
        ``score >= threshold`` is a detection. ``None`` (default) sweeps it as NAB does: the
        one threshold for all series that maximises their summed raw score.
    names : sequence of str, optional
        The series' names in the result (by default "0", "1", ...).

    Returns
    -------
    NabResult

    Examples
    --------
    >>> import numpy as np
    >>> scores = np.zeros(20)
    >>> scores[11] = 0.9                        # inside the window, near its start
    >>> r = nab_score_windows([scores], [[[10, 13]]])
    >>> r.threshold, round(r.raw, 4), r.perfect, round(r.null, 4), round(r.score, 2)
    (0.9, 0.967, 1.0, -0.3857, 97.62)

    On so short a series the null detector does better by flagging every step (the window's
    full credit, less 0.11 for each of the 7 scored steps before it and a little for those
    after) than by flagging none (-1).
    """
    name, weights = _weights(profile)
    if (isinstance(scores, np.ndarray) and scores.ndim < 2) or len(scores) == 0:
        raise ValueError("scores must be a sequence of one score array per series")
    if len(windows) != len(scores):
        raise ValueError(f"{len(scores)} score arrays but {len(windows)} lists of windows")
    names = [str(i) for i in range(len(scores))] if names is None else [str(n) for n in names]
    if len(names) != len(scores):
        raise ValueError(f"{len(scores)} score arrays but {len(names)} names")
    fn, tp = weights["fnWeight"], weights["tpWeight"]
    cases = []
    for label, series_scores, series_windows in zip(names, scores, windows, strict=True):
        series_scores = _check_scores(series_scores, None, label)
        series_windows = _check_windows(series_windows, series_scores.size, label)
        cases.append(
            (_values(series_windows, series_scores.size, weights), series_windows, series_scores)
        )

    threshold = _sweep(cases, fn) if threshold is None else _check_threshold(threshold)
    files, raw, null_all = [], 0.0, 0.0
    for label, (values, series_windows, series_scores) in zip(names, cases, strict=True):
        rows, hits, misses, fps = _rows(values, series_windows, series_scores, threshold, fn)
        files.append(NabFileScore(label, float(rows.sum()), hits, misses, fps))
        raw += float(rows.sum())
        everything, *_ = _rows(values, series_windows, series_scores, -math.inf, fn)
        null_all += float(everything.sum())
    n_windows = sum(f.detected + f.missed for f in files)
    null = max(-fn * n_windows, null_all)
    perfect = tp * n_windows
    if n_windows == 0:
        raise ValueError(
            "NAB's normalised score needs at least one anomaly window past the probationary "
            "period; these series have none"
        )
    if perfect <= null:
        raise ValueError(
            f"with tpWeight {tp:g}, fpWeight {weights['fpWeight']:g} and fnWeight {fn:g}, "
            "the null detector flagging every step scores as well as a perfect one, so NAB's "
            "normalised score is undefined"
        )
    return NabResult(
        score=100.0 * (raw - null) / (perfect - null),
        threshold=threshold,
        raw=raw,
        null=null,
        perfect=perfect,
        profile=name,
        files=tuple(files),
    )


def nab_score(
    scores_by_file: Mapping[str, Any],
    corpus_dir: str | Path,
    profile: str | Mapping[str, float] = "standard",
    threshold: float | None = None,
    windows: str | Path | None = None,
) -> NabResult:
    """NAB's score of a detector on series of the NAB corpus, normalised as NAB's scoreboard.

    Parameters
    ----------
    scores_by_file : mapping of str to array-like
        ``{"<category>/<file>.csv": scores}``, NAB's keys (``"realKnownCause/nyc_taxi.csv"``),
        one finite score per step of that series. Any subset of the corpus may be scored; the
        null and perfect scores are those of the same subset.
    corpus_dir : str or Path
        The folder holding NAB's ``<category>/<file>.csv`` series (NAB's ``data`` folder).
    profile : str or mapping, default "standard"
        ``"standard"``, ``"reward_low_FP_rate"``, ``"reward_low_FN_rate"``
        (:data:`NAB_PROFILES`), or a mapping of weights (:func:`read_nab_profiles`).
    threshold : float, optional
        ``score >= threshold`` is a detection; ``None`` (default) sweeps it over every distinct
        score of these series, as NAB's optimiser does, and keeps the best.
    windows : str or Path, optional
        NAB's ``combined_windows.json``; by default the one in ``corpus_dir``.

    Returns
    -------
    NabResult
        ``score`` (normalised), ``threshold``, ``raw``, ``null``, ``perfect``, the ``profile``
        and one :class:`NabFileScore` per series, in the order given.

    Examples
    --------
    A corpus of one series of 40 five-minute steps with one anomaly window:

    >>> import json, pathlib, tempfile
    >>> import numpy as np
    >>> corpus = pathlib.Path(tempfile.mkdtemp())
    >>> (corpus / "toy").mkdir()
    >>> times = np.arange("2015-01-01T00:00", "2015-01-01T03:20", 5, dtype="datetime64[m]")
    >>> rows = "".join(f"{str(t).replace('T', ' ')}:00,1.0\\n" for t in times)
    >>> _ = (corpus / "toy" / "s.csv").write_text("timestamp,value\\n" + rows)
    >>> window = ["2015-01-01 02:00:00.000000", "2015-01-01 02:35:00.000000"]  # steps 24-31
    >>> _ = (corpus / "combined_windows.json").write_text(json.dumps({"toy/s.csv": [window]}))
    >>> scores = np.zeros(40)
    >>> scores[[10, 25]] = [0.6, 0.9]       # a false alarm, then a hit early in the window
    >>> r = nab_score({"toy/s.csv": scores}, corpus)
    >>> r.threshold, round(r.raw, 4), round(r.score, 2), r.files[0].detected
    (0.9, 0.9884, 99.42, 1)
    >>> round(nab_score({"toy/s.csv": scores}, corpus, threshold=0.5).raw, 4)  # and the alarm
    0.8784
    """
    if not isinstance(scores_by_file, Mapping) or not scores_by_file:
        raise ValueError(
            "scores_by_file must map NAB's file keys ('<category>/<file>.csv') to scores"
        )
    corpus_dir = Path(corpus_dir)
    windows_path = corpus_dir / "combined_windows.json" if windows is None else Path(windows)
    table = read_json(windows_path, _JSON_LIMIT, "NAB anomaly windows")
    if not isinstance(table, dict):
        raise ValueError(f"{windows_path} must map NAB's series files to their anomaly windows")
    all_scores, all_windows = [], []
    for key, scores in scores_by_file.items():
        if key not in table:
            raise ValueError(
                f"{windows_path} has no anomaly windows for {key!r}; NAB's keys are "
                "'<category>/<file>.csv', e.g. 'realKnownCause/nyc_taxi.csv'"
            )
        spans = table[key]
        if not isinstance(spans, list):
            raise ValueError(f"{windows_path}: the windows of {key} must be a list of pairs")
        series = read_series(corpus_dir / key)
        if series.timestamps.dtype.kind != "M":
            raise ValueError(f"{corpus_dir / key} has no time column to place NAB's windows on")
        all_scores.append(_check_scores(scores, len(series.timestamps), key))
        try:
            all_windows.append(nab_windows(series.timestamps, spans))
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
    return nab_score_windows(all_scores, all_windows, profile, threshold, list(scores_by_file))
