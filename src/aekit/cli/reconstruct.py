"""`aekit reconstruct MODEL DATA --out FILE`: write the reconstructions of DATA."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

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
    parser = subparsers.add_parser(
        "reconstruct", help="reconstruct data through a model", description=__doc__
    )
    parser.add_argument("model", metavar="MODEL", help="a saved model directory")
    add_data_argument(parser)
    parser.add_argument("--out", required=True, help="output file (.npy or .csv)")
    parser.add_argument(
        "--errors", help="also write the per-sample reconstruction errors here (.npy or .csv)"
    )
    parser.add_argument("--device", help="where to run (default: the model's setting)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    outputs = [Output(args.out, "--out", suffixes=ARRAY_SUFFIXES)]
    if args.errors:
        outputs.append(Output(args.errors, "--errors", suffixes=ARRAY_SUFFIXES))
    check_paths([Input(args.model, "MODEL", directory=True), data_input(args.data)], outputs)
    model = load_model("reconstruct", args.model, args.device)
    X = read_data(args, model).X
    # Both results before either file: a failure leaves no half of the output behind.
    recon = model.reconstruct(X)
    errors = model.reconstruction_error(X)
    path = write_array(args.out, recon)
    if args.errors:
        write_array(args.errors, errors)
    print(
        f"wrote reconstructions of shape {recon.shape} to {path}; "
        f"mean reconstruction error ({model.loss_}) {float(np.mean(errors)):.5g}"
    )
    return 0
