"""`aekit search INDEX QUERIES -k K --out FILE`: the K indexed items nearest to each query.

FILE is a .csv with the header ``query,rank,id,distance`` and one row per (query, neighbour):
``query`` is the row of QUERIES (from 0), ``rank`` 1 for the nearest, ``id`` the item's
position in the indexed data (from 0). When the queries or the items have names (a table's
id column or row numbers, image file names), they follow: ``query_name`` and ``item_name``.
Or a .npz with two arrays of shape (n_queries, k): ``ids`` (int64 positions) and
``distances`` (float32), rows nearest first.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from aekit._text import plural
from aekit.cli._common import (
    Input,
    Output,
    add_data_argument,
    check_device,
    check_paths,
    data_input,
    finish_parser,
    read_data,
    save_to,
    verb_parser,
    write_csv,
    write_file,
)
from aekit.cli.index import BACKENDS, INDEX_DEVICE_HELP

SUFFIXES = (".csv", ".npz")


def add_parser(subparsers: Any) -> None:
    parser = verb_parser(
        subparsers, "search", "find the nearest indexed items of queries", __doc__, raw=True
    )
    parser.add_argument("index", metavar="INDEX", help="an index directory from `aekit index`")
    add_data_argument(parser, "QUERIES")
    parser.add_argument("-k", type=int, default=10, help="neighbours per query (default 10)")
    parser.add_argument("--out", required=True, help="output file (.csv or .npz)")
    parser.add_argument(
        "--backend", choices=BACKENDS, help="override the index's backend (default: as saved)"
    )
    finish_parser(parser, run, INDEX_DEVICE_HELP)


def write_results(
    path: str | Path,
    distances: np.ndarray,
    ids: np.ndarray,
    query_names: np.ndarray | None = None,
    item_names: np.ndarray | None = None,
) -> Path:
    """Write search results as .csv (one row per neighbour) or .npz (``ids``, ``distances``).

    ``query_names`` (n_queries,) and ``item_names`` (n_items,) add the ``query_name`` and
    ``item_name`` columns to a .csv."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"cannot write {path}: use a .csv or .npz file name")
    if suffix == ".npz":
        return write_file(path, lambda tmp: save_to(tmp, np.savez, ids=ids, distances=distances))
    n, k = ids.shape
    found = zip(
        np.repeat(np.arange(n), k).tolist(),
        np.tile(np.arange(1, k + 1), n).tolist(),
        ids.ravel().tolist(),
        distances.ravel().tolist(),
        strict=True,
    )
    named = ["query_name"] * (query_names is not None) + ["item_name"] * (item_names is not None)
    rows = (
        [q, r, i, f"{d:.8g}"]
        + ([query_names[q]] if query_names is not None else [])
        + ([item_names[i]] if item_names is not None else [])
        for q, r, i, d in found
    )
    return write_csv(path, ["query", "rank", "id", "distance", *named], rows, newline="\n")


def run(args: argparse.Namespace) -> int:
    from aekit.tasks.retrieval import LatentIndex

    check_paths(
        [Input(args.index, "INDEX", directory=True), data_input(args.data, "QUERIES")],
        [Output(args.out, "--out", suffixes=SUFFIXES)],
    )
    check_device(args.device)
    out = Path(args.out)
    index = LatentIndex.load(args.index, backend=args.backend, device=args.device)
    data = read_data(args, index.estimator)
    distances, ids = index.search(data.X, args.k)
    path = write_results(out, distances, ids, data.ids, index.item_ids_)
    nearest = "the nearest" if ids.shape[1] == 1 else f"the {ids.shape[1]} nearest"
    print(
        f"found {nearest} of {plural(len(index), 'item')} for "
        f"{plural(ids.shape[0], 'query', 'queries')} "
        f"(metric {index.metric_}, backend {index.backend_}); wrote {path}"
    )
    return 0
