"""`aekit decompress MODEL CODES.npz --out FILE`: decode codes written by `aekit compress`."""

from __future__ import annotations

import argparse
from typing import Any

from aekit.cli._common import (
    ARRAY_SUFFIXES,
    Input,
    Output,
    check_paths,
    load_model,
    write_array,
)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "decompress", help="decode codes written by aekit compress", description=__doc__
    )
    parser.add_argument("model", metavar="MODEL", help="the model directory that compressed")
    parser.add_argument("codes", metavar="CODES", help="a codes file from aekit compress (.npz)")
    parser.add_argument("--out", required=True, help="output file (.npy or .csv)")
    parser.add_argument("--device", help="where to run (default: the model's setting)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from aekit.tasks.compression import decompress, load_codes

    check_paths(
        [Input(args.model, "MODEL", directory=True), Input(args.codes, "CODES")],
        [Output(args.out, "--out", suffixes=ARRAY_SUFFIXES)],
    )
    model = load_model("decompress", args.model, args.device)
    q = load_codes(args.codes)
    recon = decompress(model, q)
    path = write_array(args.out, recon)
    print(f"wrote reconstructions of shape {recon.shape} from {q.dtype} codes to {path}")
    return 0
