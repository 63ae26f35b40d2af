"""`aekit index MODEL DATA --out INDEX`: encode DATA and save a similar-item search index.

When DATA names its rows (a table's id column or row numbers, image file names), the index
keeps the names and `aekit search` reports them.
"""

from __future__ import annotations

import argparse
from typing import Any

from aekit._text import plural
from aekit.cli._common import Output, finish_parser, model_and_data, model_parser

# aekit.tasks.retrieval's METRICS and BACKENDS, spelled out because that module imports torch,
# which --help does without (tests/test_cli_messages.py checks they agree).
METRICS = ("l2", "cosine", "hamming")
BACKENDS = ("auto", "faiss", "exact", "mih")
# index and search run the model of an index.
INDEX_DEVICE_HELP = "where to run the model (default: the model's setting)"


def add_parser(subparsers: Any) -> None:
    parser = model_parser(
        subparsers,
        "index",
        "build a nearest-neighbour index over the codes of data",
        __doc__,
        out_help="the index directory to write",
    )
    parser.add_argument(
        "--metric",
        choices=METRICS,
        default="l2",
        help="l2: Euclidean distance between codes; cosine: 1 - cosine similarity; hamming: "
        "differing bits of binary codes (a model trained with --code-activation binary; "
        "semantic hashing) (default l2)",
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="faiss (pip install 'aekit[index]'), exact (no extra), or auto (faiss when "
        "installed): these are exact and give the same results; mih (with faiss and "
        "--metric hamming): multi-index hashing, approximate and fast on millions of codes",
    )
    finish_parser(parser, run, INDEX_DEVICE_HELP)


def run(args: argparse.Namespace) -> int:
    from aekit.tasks.retrieval import LatentIndex

    model, data = model_and_data(args, [Output(args.out, "--out", kind="index")])
    index = LatentIndex(model, metric=args.metric, backend=args.backend).add(data.X, data.ids)
    path = index.save(args.out)
    size = (
        f"binary ({plural(index.codes_.shape[1], 'byte')})"
        if index.metric_ == "hamming"
        else f"{index.codes_.shape[1]}-d"
    )
    print(
        f"indexed {plural(len(index), 'item')} as {size} codes "
        f"(metric {index.metric_}, backend {index.backend_}) in {path}"
    )
    return 0
