"""`aekit search INDEX QUERIES -k K --out FILE`: the K indexed items nearest to each query.

FILE is a .csv with the header ``query,rank,id,distance`` and one row per (query, neighbour):
``query`` is the row of QUERIES (from 0), ``rank`` 1 for the nearest, ``id`` the item's
position in the indexed data (from 0). Or a .npz with two arrays of shape (n_queries, k):
``ids`` (int64) and ``distances`` (float32), rows nearest first.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from aekit.cli._common import (
    Input,
    Output,
    check_device,
    check_paths,
    data_input,
    read_data,
    save_to,
    write_file,
)
from aekit.datasets import BUILTIN
from aekit.tasks.retrieval import BACKENDS, LatentIndex

SUFFIXES = (".csv", ".npz")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "search",
        help="find the nearest indexed items of queries",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("index", metavar="INDEX", help="an index directory from `aekit index`")
    parser.add_argument(
        "data",
        metavar="QUERIES",
        help=f"a file (.npy, .npz, .csv, IDX) or a built-in name ({', '.join(BUILTIN)})",
    )
    parser.add_argument("--key", help="the array to read from an .npz file")
    parser.add_argument("-k", type=int, default=10, help="neighbours per query (default 10)")
    parser.add_argument("--out", required=True, help="output file (.csv or .npz)")
    parser.add_argument(
        "--backend", choices=BACKENDS, help="override the index's backend (default: as saved)"
    )
    parser.add_argument("--device", help="where to run the model (default: the model's setting)")
    parser.set_defaults(run=run)


def write_results(path: str | Path, distances: np.ndarray, ids: np.ndarray) -> Path:
    """Write search results as .csv (one row per neighbour) or .npz (``ids``, ``distances``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"cannot write {path}: use a .csv or .npz file name")
    if suffix == ".npz":
        return write_file(path, lambda tmp: save_to(tmp, np.savez, ids=ids, distances=distances))
    n, k = ids.shape
    rows = zip(
        np.repeat(np.arange(n), k).tolist(),
        np.tile(np.arange(1, k + 1), n).tolist(),
        ids.ravel().tolist(),
        distances.ravel().tolist(),
        strict=True,
    )

    def write(tmp: Path) -> None:
        with tmp.open("w", encoding="utf-8", newline="") as f:
            f.write("query,rank,id,distance\n")
            f.writelines(f"{q},{r},{i},{d:.8g}\n" for q, r, i, d in rows)

    return write_file(path, write)


def run(args: argparse.Namespace) -> int:
    check_paths(
        [Input(args.index, "INDEX", directory=True), data_input(args.data, "QUERIES")],
        [Output(args.out, "--out", suffixes=SUFFIXES)],
    )
    check_device(args.device)
    out = Path(args.out)
    index = LatentIndex.load(args.index, backend=args.backend, device=args.device)
    distances, ids = index.search(read_data(args), args.k)
    path = write_results(out, distances, ids)
    print(
        f"found the {ids.shape[1]} nearest of {len(index)} items for {ids.shape[0]} queries "
        f"(metric {index.metric_}, backend {index.backend_}); wrote {path}"
    )
    return 0
