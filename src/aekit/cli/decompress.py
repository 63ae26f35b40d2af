"""`aekit decompress MODEL CODES.npz --out FILE`: decode codes written by `aekit compress`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from aekit.cli._common import write_array
from aekit.io import load
from aekit.tasks.compression import decompress, load_codes


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
    if Path(args.out).suffix.lower() not in (".npy", ".csv"):
        raise ValueError(f"cannot write {args.out}: use a .npy or .csv file name")
    q = load_codes(args.codes)
    recon = decompress(load(args.model, device=args.device), q)
    path = write_array(args.out, recon)
    print(f"wrote reconstructions of shape {recon.shape} from {q.dtype} codes to {path}")
    return 0
