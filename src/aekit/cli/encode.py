"""`aekit encode MODEL DATA --out CODES`: write the codes of DATA (.npy or .csv).

A .csv holds one row per sample. When DATA names its rows (a table's id column, image file
names, a table's row numbers), the .csv has a header, the ids' column then ``z1``, ``z2``,
..., and each row starts with its id.
"""

from __future__ import annotations

import argparse
from typing import Any

from aekit.cli._common import (
    ARRAY_SUFFIXES,
    Input,
    Output,
    add_data_argument,
    check_paths,
    data_input,
    load_model,
    read_data,
    write_array,
)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("encode", help="encode data into codes", description=__doc__)
    parser.add_argument("model", metavar="MODEL", help="a saved model directory")
    add_data_argument(parser)
    parser.add_argument("--out", required=True, help="output file (.npy or .csv)")
    parser.add_argument("--device", help="where to run (default: the model's setting)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_paths(
        [Input(args.model, "MODEL", directory=True), data_input(args.data)],
        [Output(args.out, "--out", suffixes=ARRAY_SUFFIXES)],
    )
    model = load_model("encode", args.model, args.device)
    data = read_data(args, model)
    codes = model.transform(data.X)
    path = write_array(args.out, codes, data.ids, data.id_name, column="z")
    print(f"wrote codes of shape {codes.shape} to {path}")
    return 0
