"""`aekit decompress MODEL CODES.npz --out FILE`: decode codes written by `aekit compress`."""

from __future__ import annotations

import argparse
from typing import Any

from aekit.cli._common import (
    Input,
    array_output,
    check_paths,
    finish_parser,
    load_model,
    model_input,
    verb_parser,
    write_array,
)


def add_parser(subparsers: Any) -> None:
    parser = verb_parser(
        subparsers, "decompress", "decode codes written by aekit compress", __doc__
    )
    parser.add_argument("model", metavar="MODEL", help="the model directory that compressed")
    parser.add_argument("codes", metavar="CODES", help="a codes file from aekit compress (.npz)")
    parser.add_argument("--out", required=True, help="output file (.npy or .csv)")
    finish_parser(parser, run)


def run(args: argparse.Namespace) -> int:
    from aekit.tasks.compression import decompress, load_codes

    check_paths([model_input(args), Input(args.codes, "CODES")], [array_output(args.out)])
    model = load_model("decompress", args.model, args.device)
    q = load_codes(args.codes)
    recon = decompress(model, q)
    path = write_array(args.out, recon)
    print(f"wrote reconstructions of shape {recon.shape} from {q.dtype} codes to {path}")
    return 0
