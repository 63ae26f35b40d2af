"""`aekit encode MODEL DATA --out CODES`: write the codes of DATA (.npy, .csv, .h5, .parquet).

A .csv holds one row per sample. When DATA names its rows (a table's id column, image file
names, a table's row numbers), the .csv has a header, the ids' column then ``z1``, ``z2``,
..., and each row starts with its id. DATA that aekit streams (HDF5, zarr, .npy, image stacks,
Parquet) is read in chunks; to a .npy, .h5 (dataset ``/data``) or .parquet (columns ``z1``,
``z2``, ...) the codes are written chunk by chunk too, so neither is ever whole in memory.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from aekit._lazy import is_lazy
from aekit.cli._common import (
    ARRAY_SUFFIXES,
    Output,
    finish_parser,
    make_parent,
    model_and_data,
    model_parser,
    write_array,
)

# .npy and .csv as every verb writes them; HDF5 and Parquet written chunk by chunk.
SUFFIXES = (*ARRAY_SUFFIXES, ".h5", ".hdf5", ".parquet")


def add_parser(subparsers: Any) -> None:
    parser = model_parser(subparsers, "encode", "encode data into codes", __doc__)
    finish_parser(parser, run)


def run(args: argparse.Namespace) -> int:
    from aekit.tasks.outputs import WRITERS, infer_to_file

    output = Output(args.out, "--out", suffixes=SUFFIXES)
    model, data = model_and_data(args, [output], stream=True)
    suffix = Path(args.out).suffix.lower()
    if suffix in WRITERS and (is_lazy(data.X) or suffix != ".npy"):
        path = infer_to_file(model, "transform", data.X, make_parent(args.out), column="z")
        shape = (len(data.X), *model.transform(data.X[:1]).shape[1:])
        print(f"wrote codes of shape {shape} to {path}")
        return 0
    codes = model.transform(data.X)
    path = write_array(args.out, codes, data.ids, data.id_name, column="z")
    print(f"wrote codes of shape {codes.shape} to {path}")
    return 0
