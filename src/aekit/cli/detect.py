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
import csv
from pathlib import Path
from typing import Any

import numpy as np

from aekit._text import plural
from aekit.cli._common import (
    Input,
    Output,
    add_data_argument,
    check_paths,
    data_input,
    load_model,
    read_data,
    write_array,
    write_file,
)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "detect",
        help="score data with an anomaly detector",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="a saved anomaly detector directory")
    add_data_argument(parser)
    parser.add_argument("--out", required=True, help="output file (.csv, or .npy for scores)")
    parser.add_argument("--device", help="where to run (default: the model's setting)")
    parser.set_defaults(run=run)


def write_scores(
    path: str | Path,
    scores: np.ndarray,
    proba: np.ndarray,
    labels: np.ndarray,
    ids: np.ndarray | None = None,
    id_name: str = "id",
) -> Path:
    """Write one CSV row per sample, atomically (a temporary file renamed into place)."""

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            id_column = [id_name] if ids is not None else []
            writer.writerow(["index", *id_column, "score", "probability", "label"])
            for i, (s, p, label) in enumerate(zip(scores, proba, labels, strict=True)):
                name = [ids[i]] if ids is not None else []
                writer.writerow([i, *name, f"{s:.8g}", f"{p:.6f}", int(label)])

    return write_file(path, write)


def run(args: argparse.Namespace) -> int:
    check_paths(
        [Input(args.model, "MODEL", directory=True), data_input(args.data)],
        [Output(args.out, "--out", suffixes=(".csv", ".npy"))],
    )
    detector = load_model("detect", args.model, args.device)
    suffix = Path(args.out).suffix.lower()
    data = read_data(args, detector)
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
