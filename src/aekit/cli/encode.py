"""`aekit encode MODEL DATA --out CODES`: write the codes of DATA (.npy or .csv).

A .csv holds one row per sample. When DATA names its rows (a table's id column, image file
names, a table's row numbers), the .csv has a header, the ids' column then ``z1``, ``z2``,
..., and each row starts with its id.
"""

from __future__ import annotations

import argparse
from typing import Any

from aekit.cli._common import array_output, finish_parser, model_and_data, model_parser, write_array


def add_parser(subparsers: Any) -> None:
    parser = model_parser(subparsers, "encode", "encode data into codes", __doc__)
    finish_parser(parser, run)


def run(args: argparse.Namespace) -> int:
    model, data = model_and_data(args, [array_output(args.out)])
    codes = model.transform(data.X)
    path = write_array(args.out, codes, data.ids, data.id_name, column="z")
    print(f"wrote codes of shape {codes.shape} to {path}")
    return 0
