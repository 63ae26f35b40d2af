"""`aekit encode MODEL DATA --out CODES`: write the codes of DATA (.npy or .csv)."""

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
    codes = load_model("encode", args.model, args.device).transform(read_data(args))
    path = write_array(args.out, codes)
    print(f"wrote codes of shape {codes.shape} to {path}")
    return 0
