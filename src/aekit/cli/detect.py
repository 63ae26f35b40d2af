"""`aekit detect MODEL DATA --out SCORES.csv`: outlier scores and labels of DATA.

MODEL is an anomaly detector saved by ``aekit train DATA --model detector``. The CSV has one
row per sample (per time step for a detector trained with ``--window``): ``index`` (from 0),
the row's id when DATA has one (a table's id column, such as a series' ``timestamp``, under
its own name; ``row``, the spreadsheet row number, when rows with missing values were left
out; ``file`` for images), ``score`` (higher is more abnormal), ``probability`` (the score's
rank among the training scores, 0.5 at the threshold: see ``AnomalyDetector.predict_proba``)
and ``label`` (1 above the detector's threshold). ``.npy`` writes the scores alone.

``--explain K`` adds ``top``: for each flagged row, its K leading features with their share
of the row's score (``AnomalyDetector.explain``): columns of a table, pixels ``(row, col)``
of an image, and for a series the K steps (by index) that weigh most in the windows behind
the step's score.

``--nab-profile PROFILE`` scores a NAB series (DATA a file of NAB's corpus, its anomaly
windows in NAB's ``combined_windows.json``, found beside DATA or one or two folders up, or
given with ``--nab-windows``) with NAB's rules (``aekit.tasks.nab_score_windows``) and prints
the score at the detector's threshold and at the best threshold for this series.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from aekit._text import plural
from aekit.cli._common import (
    Output,
    finish_parser,
    model_and_data,
    model_parser,
    write_array,
    write_csv,
)


def add_parser(subparsers: Any) -> None:
    parser = model_parser(
        subparsers,
        "detect",
        "score data with an anomaly detector",
        __doc__,
        model_help="a saved anomaly detector directory",
        out_help="output file (.csv, or .npy for scores)",
        raw=True,
    )
    parser.add_argument(
        "--explain",
        type=int,
        nargs="?",
        const=3,
        default=None,
        metavar="K",
        help="add each flagged row's K leading features (3) to the CSV",
    )
    parser.add_argument(
        "--nab-profile",
        choices=["standard", "reward_low_FP_rate", "reward_low_FN_rate"],
        help="score a NAB series with NAB's rules under this profile",
    )
    parser.add_argument(
        "--nab-windows", metavar="FILE", help="NAB's combined_windows.json (found beside DATA)"
    )
    finish_parser(parser, run)


def write_scores(
    path: str | Path,
    scores: np.ndarray,
    proba: np.ndarray,
    labels: np.ndarray,
    ids: np.ndarray | None = None,
    id_name: str = "id",
    top: list[str] | None = None,
) -> Path:
    """Write one CSV row per sample, atomically (a temporary file renamed into place)."""
    id_column = [id_name] if ids is not None else []
    top_column = ["top"] if top is not None else []
    rows = (
        [
            i,
            *([ids[i]] if ids is not None else []),
            f"{s:.8g}",
            f"{p:.6f}",
            int(label),
            *([top[i]] if top is not None else []),
        ]
        for i, (s, p, label) in enumerate(zip(scores, proba, labels, strict=True))
    )
    header = ["index", *id_column, "score", "probability", "label", *top_column]
    return write_csv(path, header, rows)


def _pixel_names(shape: tuple[int, ...]) -> list[str]:
    return [str(index) for index in np.ndindex(*shape)]


def top_features(
    detector: Any, X: Any, labels: np.ndarray, k: int, names: list[str] | None = None
) -> list[str]:
    """``"name (share); ..."`` of the ``k`` leading features of each flagged row ("" for the
    others, and for a row without a score): table columns (``names``, else the detector's),
    image pixels, or the steps behind a series step's score."""
    flagged = np.flatnonzero(labels)
    text = [""] * len(labels)
    if flagged.size == 0:
        return text
    if detector.window is not None:
        from aekit.estimators.detector import leading_steps

        contributions = detector.explain(X).contributions
        found = leading_steps(contributions, flagged, int(detector.window), detector.causal, k)
        for t, pairs in zip(flagged.tolist(), found, strict=True):
            text[t] = "; ".join(f"step {step} ({share:.2f})" for step, share in pairs)
        return text
    explanation = detector.explain(X[flagged])
    shares = explanation.shares.reshape(len(flagged), -1)
    names = names or explanation.features or _pixel_names(tuple(detector.input_shape_))
    for row, i in zip(shares, flagged, strict=True):
        if not np.isfinite(row).all():
            continue  # a row that overflows float32 has a score of +inf and no shares
        best = np.argsort(-row, kind="stable")[:k]
        text[i] = "; ".join(f"{names[j]} ({row[j]:.2f})" for j in best)
    return text


def _windows_file(args: argparse.Namespace) -> tuple[Path, str]:
    """NAB's windows file for DATA and DATA's key in it (``<category>/<file>.csv``)."""
    data = Path(args.data)
    key = f"{data.parent.name}/{data.name}"
    if args.nab_windows:
        return Path(args.nab_windows), key
    for folder in (data.parent, data.parent.parent, data.parent.parent.parent):
        for candidate in (
            folder / "combined_windows.json",
            folder / "labels" / "combined_windows.json",
        ):
            if candidate.is_file():
                return candidate, key
    raise ValueError(
        f"--nab-profile: no combined_windows.json beside {data} or in the folders above it; "
        "give NAB's windows file with --nab-windows"
    )


def nab_labels(args: argparse.Namespace, detector: Any) -> tuple[str, np.ndarray]:
    """DATA's key in NAB's windows file and its anomaly windows as steps ``(k, 2)``, read
    before any scoring so that a mistake costs nothing."""
    from aekit._untrusted import read_json
    from aekit.datasets import read_series
    from aekit.tasks import nab_windows

    if detector.window is None:
        raise ValueError("--nab-profile scores a time series: the detector has no --window")
    path, key = _windows_file(args)
    table = read_json(path, 64 << 20, "NAB anomaly windows")
    if not isinstance(table, dict) or key not in table:
        raise ValueError(f"--nab-profile: {path} has no anomaly windows for {key!r}")
    series = read_series(args.data)
    if series.timestamps.dtype.kind != "M":
        raise ValueError(f"--nab-profile: {args.data} has no time column for NAB's windows")
    return key, nab_windows(series.timestamps, table[key])


def nab_report(profile: str, key: str, windows: np.ndarray, detector: Any, scores: Any) -> str:
    """NAB's score of one series under ``profile``, as one line."""
    from aekit.tasks import nab_score_windows

    finite = np.where(np.isfinite(scores), scores, np.finfo(np.float64).max)
    fixed = nab_score_windows([finite], [windows], profile, detector.threshold_)
    best = nab_score_windows([finite], [windows], profile)
    file = best.files[0]
    return (
        f"NAB {profile} score of {key}: {fixed.score:.2f} at the detector's threshold "
        f"{detector.threshold_:.5g}; {best.score:.2f} at the best threshold for this series "
        f"({best.threshold:.5g}: {file.detected} of {file.detected + file.missed} windows "
        f"detected, {plural(file.false_positives, 'false positive')})"
    )


def run(args: argparse.Namespace) -> int:
    if args.explain is not None and args.explain < 1:
        raise ValueError(f"--explain K needs K >= 1, got {args.explain}")
    suffix = Path(args.out).suffix.lower()
    if args.explain is not None and suffix == ".npy":
        raise ValueError("--explain adds a column to the CSV; give --out FILE.csv")
    detector, data = model_and_data(args, [Output(args.out, "--out", suffixes=(".csv", ".npy"))])
    nab = nab_labels(args, detector) if args.nab_profile else None
    X = data.X
    scores = detector.decision_function(X)
    labels = (scores > detector.threshold_).astype(np.int64)
    if suffix == ".npy":
        path = write_array(args.out, scores)
    else:
        proba = detector._probability(scores)[:, 1]
        ids = data.ids if data.ids is not None and len(data.ids) == len(scores) else None
        schema = getattr(detector, "table_", None)
        names = list(schema.feature_names()) if schema is not None else None
        top = None
        if args.explain is not None:
            top = top_features(detector, X, labels, args.explain, names)
        path = write_scores(args.out, scores, proba, labels, ids, data.id_name, top)
    what = "time step" if detector.window is not None else "sample"
    print(
        f"scored {plural(len(scores), what)}: {int(labels.sum())} above the threshold "
        f"{detector.threshold_:.5g} ({labels.mean():.1%}); wrote {path}"
    )
    if nab is not None:
        print(nab_report(args.nab_profile, *nab, detector, scores))
    return 0
