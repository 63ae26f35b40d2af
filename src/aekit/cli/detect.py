"""`aekit detect MODEL DATA --out SCORES.csv`: outlier scores and labels of DATA.

MODEL is an anomaly detector saved by ``aekit train DATA --model detector``. The CSV has one
row per sample (per time step for a detector trained with ``--window``): ``index`` (from 0),
the row's id when DATA has one (a table's id column, such as a series' ``timestamp``, under
its own name; ``row``, the spreadsheet row number, when rows with missing values were left
out; ``file`` for images), ``score`` (higher is more abnormal), ``probability`` (of being an
outlier, PyOD's linear scaling) and ``label`` (1 above the detector's threshold). ``.npy``
writes the scores alone.
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
    finish_parser(parser, run)


def write_scores(
    path: str | Path,
    scores: np.ndarray,
    proba: np.ndarray,
    labels: np.ndarray,
    ids: np.ndarray | None = None,
    id_name: str = "id",
) -> Path:
    """Write one CSV row per sample, atomically (a temporary file renamed into place)."""
    id_column = [id_name] if ids is not None else []
    rows = (
        [i, *([ids[i]] if ids is not None else []), f"{s:.8g}", f"{p:.6f}", int(label)]
        for i, (s, p, label) in enumerate(zip(scores, proba, labels, strict=True))
    )
    return write_csv(path, ["index", *id_column, "score", "probability", "label"], rows)


def run(args: argparse.Namespace) -> int:
    detector, data = model_and_data(args, [Output(args.out, "--out", suffixes=(".csv", ".npy"))])
    suffix = Path(args.out).suffix.lower()
    X = data.X
    scores = detector.decision_function(X)
    labels = (scores > detector.threshold_).astype(np.int64)
    if suffix == ".npy":
        path = write_array(args.out, scores)
    else:
        proba = detector.predict_proba(X)[:, 1]
        ids = data.ids if data.ids is not None and len(data.ids) == len(scores) else None
        path = write_scores(args.out, scores, proba, labels, ids, data.id_name)
    what = "time step" if detector.window is not None else "sample"
    print(
        f"scored {plural(len(scores), what)}: {int(labels.sum())} above the threshold "
        f"{detector.threshold_:.5g} ({labels.mean():.1%}); wrote {path}"
    )
    return 0
