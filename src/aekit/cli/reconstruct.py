"""`aekit reconstruct MODEL DATA --out FILE`: write the reconstructions of DATA."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from aekit.cli._common import array_output, finish_parser, model_and_data, model_parser, write_array


def add_parser(subparsers: Any) -> None:
    parser = model_parser(subparsers, "reconstruct", "reconstruct data through a model", __doc__)
    parser.add_argument(
        "--errors", help="also write the per-sample reconstruction errors here (.npy or .csv)"
    )
    finish_parser(parser, run)


def run(args: argparse.Namespace) -> int:
    outputs = [array_output(args.out)]
    if args.errors:
        outputs.append(array_output(args.errors, "--errors"))
    model, data = model_and_data(args, outputs)
    X = data.X
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
