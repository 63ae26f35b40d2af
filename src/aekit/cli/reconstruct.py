"""`aekit reconstruct MODEL DATA --out FILE`: write the reconstructions of DATA."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from aekit.cli._common import add_data_argument, read_data, write_array
from aekit.io import load


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "reconstruct", help="reconstruct data through a model", description=__doc__
    )
    parser.add_argument("model", metavar="MODEL", help="a saved model directory")
    add_data_argument(parser)
    parser.add_argument("--out", required=True, help="output file (.npy or .csv)")
    parser.add_argument("--errors", help="also write the per-sample reconstruction errors here")
    parser.add_argument("--device", help="where to run (default: the model's setting)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    model = load(args.model, device=args.device)
    X = read_data(args)
    recon = model.reconstruct(X)
    path = write_array(args.out, recon)
    errors = model.reconstruction_error(X)
    if args.errors:
        write_array(args.errors, errors)
    print(
        f"wrote reconstructions of shape {recon.shape} to {path}; "
        f"mean reconstruction error ({model.loss_}) {float(np.mean(errors)):.5g}"
    )
    return 0
