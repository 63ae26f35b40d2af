"""`aekit compress MODEL DATA --out CODES.npz`: store the codes of DATA compactly (float32,
float16 or int8) and print what that costs, in bits and in error, beside PCA at the same size."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from aekit._text import plural
from aekit.cli._common import (
    Output,
    add_array_option,
    data_input,
    finish_parser,
    model_and_data,
    model_parser,
)
from aekit.datasets import load as load_data

# The keys of aekit.tasks.compression.CODE_BITS, spelled out because that module imports
# scikit-learn, which --help does without (tests/test_cli_messages.py checks they agree).
DTYPES = ("float32", "float16", "int8")


def add_parser(subparsers: Any) -> None:
    parser = model_parser(
        subparsers,
        "compress",
        "store the codes of data compactly and report the cost",
        __doc__,
        out_help="the codes file to write (.npz)",
    )
    parser.add_argument(
        "--dtype",
        choices=DTYPES,
        default="int8",
        help="storage type of the codes written: int8 (an affine quantiser per dimension), "
        "float16 or float32 (default int8); the report compares all three",
    )
    add_array_option(
        parser,
        "--pca-fit",
        "data to fit the PCA baseline on, such as the model's training data "
        "(default: DATA itself, the best linear code for it)",
        key="--pca-key",
    )
    parser.add_argument("--no-pca", action="store_true", help="leave the PCA baseline out")
    finish_parser(parser, run)


def run(args: argparse.Namespace) -> int:
    from aekit.tasks.compression import compress, compression_report, save_codes

    model, data = model_and_data(
        args, [Output(args.out, "--out", suffixes=(".npz",))], data_input(args.pca_fit, "--pca-fit")
    )
    X = data.X
    q = compress(model, X, args.dtype)
    X_fit = None if args.pca_fit is None else load_data(args.pca_fit, key=args.pca_key)
    fit = X if X_fit is None else X_fit
    # PCA cannot have more components than min(samples, values per sample) of its data.
    room = min(len(fit), int(np.prod(np.shape(fit)[1:])))
    use_pca = not args.no_pca and q.codes.shape[1] <= room
    report = compression_report(model, X, X_fit=X_fit, pca=use_pca)
    print(report.to_text())
    if not args.no_pca and not use_pca:
        print(
            f"no PCA baseline: the codes have {plural(q.codes.shape[1], 'dimension')}, and PCA "
            f"on its data allows at most {plural(room, 'component')}"
        )
    path = save_codes(args.out, q)
    print(
        f"wrote {args.dtype} codes of shape {q.codes.shape} to {path}: {q.codes.nbytes} bytes of "
        f"codes and {q.side_bytes} of scale and offset"
    )
    return 0
