"""`aekit report MODEL_DIR [--data DATA] [--out FILE]`: one self-contained HTML file showing
what the model learned (configuration, metrics beside PCA, plots, an interactive latent map)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from aekit.cli._common import (
    Input,
    Output,
    add_array_option,
    add_table_options,
    check_paths,
    data_input,
    finish_parser,
    load_model,
    read_data,
    read_labels,
    verb_parser,
)
from aekit.datasets import BUILTIN
from aekit.plot.latent import PROJECTIONS


def add_parser(subparsers: Any) -> None:
    parser = verb_parser(subparsers, "report", "write an HTML report of a saved model", __doc__)
    parser.add_argument("model", metavar="MODEL_DIR", help="a saved model directory")
    add_array_option(
        parser,
        "--data",
        "data for the metrics and the latent map: a file or a built-in name "
        f"({', '.join(BUILTIN)})",
    )
    add_table_options(parser)
    parser.add_argument(
        "--labels",
        metavar="FILE",
        help="labels of DATA (.npy, .csv, or a column of the table DATA), the map's colours; "
        "built-in data bring their own",
    )
    parser.add_argument(
        "--out",
        metavar="FILE",
        help="the HTML file (default: MODEL_DIR/report.html, the one file it may add there)",
    )
    parser.add_argument("--title", help="the page title")
    parser.add_argument(
        "--max-points", type=int, default=2000, help="points on the latent map (default 2000)"
    )
    parser.add_argument(
        "--projection",
        choices=sorted(PROJECTIONS),
        default="pca",
        help="how codes wider than 2 are placed on the map (default pca)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of subsets and projections")
    finish_parser(parser, run)


def run(args: argparse.Namespace) -> int:
    from aekit.report import write_report

    if args.labels and not args.data:
        raise ValueError("--labels needs --data: they label the samples of DATA")
    beside = Path(args.model) / "report.html"
    out = Path(args.out) if args.out else beside
    # The report may sit beside the model's files, by default; nothing else goes in there.
    inside_ok = os.path.realpath(out) == os.path.realpath(beside)
    check_paths(
        [
            Input(args.model, "MODEL_DIR", directory=True),
            data_input(args.data, "--data"),
            Input(args.labels, "--labels"),
        ],
        [Output(out, "--out", suffixes=(".html", ".htm"), inside_ok=inside_ok)],
    )
    model = load_model("report", args.model, args.device)
    X = y = ids = names = None
    if args.data:
        data = read_data(args, model)
        X, ids = data.X, data.ids
        names = list(data.table.feature_names()) if data.table is not None else None
        y = read_labels(args, data)
    out = write_report(
        model,
        out,
        X,
        y,
        title=args.title,
        data_name=args.data,
        path=args.model,
        max_points=args.max_points,
        projection=args.projection,
        random_state=args.seed,
        ids=ids,
        feature_names=names,
    )
    size = out.stat().st_size / 1e6
    print(f"wrote {out} ({size:.2f} MB; open it in a browser, it loads nothing else)")
    return 0
