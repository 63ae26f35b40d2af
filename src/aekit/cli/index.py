"""`aekit index MODEL DATA --out INDEX`: encode DATA and save a similar-item search index.

When DATA names its rows (a table's id column or row numbers, image file names), the index
keeps the names and `aekit search` reports them.
"""

from __future__ import annotations

import argparse
from typing import Any

from aekit._text import plural
from aekit.cli._common import (
    Input,
    Output,
    add_data_argument,
    check_paths,
    data_input,
    load_model,
    read_data,
)

# aekit.tasks.retrieval's METRICS and BACKENDS, spelled out because that module imports torch,
# which --help does without (tests/test_cli_messages.py checks they agree).
METRICS = ("l2", "cosine")
BACKENDS = ("auto", "faiss", "exact")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "index", help="build a nearest-neighbour index over the codes of data", description=__doc__
    )
    parser.add_argument("model", metavar="MODEL", help="a saved model directory")
    add_data_argument(parser)
    parser.add_argument("--out", required=True, help="the index directory to write")
    parser.add_argument(
        "--metric",
        choices=METRICS,
        default="l2",
        help="l2: Euclidean distance between codes; cosine: 1 - cosine similarity (default l2)",
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="faiss (pip install 'aekit[index]'), exact (no extra), or auto (faiss when "
        "installed); both are exact and give the same results",
    )
    parser.add_argument("--device", help="where to run the model (default: the model's setting)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from aekit.tasks.retrieval import LatentIndex

    check_paths(
        [Input(args.model, "MODEL", directory=True), data_input(args.data)],
        [Output(args.out, "--out", kind="index")],
    )
    model = load_model("index", args.model, args.device)
    data = read_data(args, model)
    index = LatentIndex(model, metric=args.metric, backend=args.backend).add(data.X, data.ids)
    path = index.save(args.out)
    print(
        f"indexed {plural(len(index), 'item')} as {index.codes_.shape[1]}-d codes "
        f"(metric {index.metric_}, backend {index.backend_}) in {path}"
    )
    return 0
