"""The `aekit` command: one module per verb, each calling a public library function."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import aekit
from aekit.cli import (
    compress,
    decompress,
    demo,
    denoise,
    detect,
    encode,
    export,
    generate,
    index,
    info,
    reconstruct,
    report,
    search,
    train,
)

# Verb modules, each with add_parser(subparsers) setting `run`.
VERBS = {
    "demo": demo,
    "train": train,
    "encode": encode,
    "reconstruct": reconstruct,
    "info": info,
    "index": index,
    "search": search,
    "export": export,
    "compress": compress,
    "decompress": decompress,
    "generate": generate,
    "denoise": denoise,
    "detect": detect,
    "report": report,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aekit", description="The autoencoder toolkit for real data."
    )
    parser.add_argument("--version", action="version", version=f"aekit {aekit.__version__}")
    subparsers = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for module in VERBS.values():
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 success, 1 error, 2 usage)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (ValueError, OSError, ImportError, FloatingPointError) as exc:
        # A user's mistake (bad file, bad option value, missing extra): one line, no traceback.
        print(f"aekit {args.verb}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"aekit {args.verb}: interrupted", file=sys.stderr)
        return 130
