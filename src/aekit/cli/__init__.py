"""The `aekit` command: one module per verb, each calling a public library function.

Errors are one line on stderr: ``aekit VERB: error: ...`` with exit status 1 for a mistake in
what was given (a file, a model, an option's value), 2 for a usage mistake (an unknown flag, a
missing argument; with a pointer to ``--help``), 130 when interrupted. Set the environment
variable ``AEKIT_DEBUG=1`` to see the Python traceback behind an error instead.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import torch

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

# Exceptions that a user's input produces (a bad file, a bad option value, data torch cannot
# take, a missing extra): reported as one line. Anything else (a TypeError, a KeyError) means
# aekit let a mistake through unchecked: one line too, asking for AEKIT_DEBUG=1 and a report.
USER_ERRORS = (ValueError, OSError, ImportError, FloatingPointError, RuntimeError)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line and a pointer to ``--help`` (exit 2),
    not the usage block; ``--help`` itself prints everything."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The main parser's verbs, name -> parser (set by build_parser).
        self.verb_parsers: dict[str, argparse.ArgumentParser] = {}

    def error(self, message: str) -> NoReturn:
        message = " ".join(message.split())
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> Parser:
    """The ``aekit`` parser: one subparser per verb, all raising one-line usage errors."""
    parser = Parser(prog="aekit", description="The autoencoder toolkit for real data.")
    parser.add_argument("--version", action="version", version=f"aekit {aekit.__version__}")
    subparsers = parser.add_subparsers(
        dest="verb", required=True, metavar="VERB", parser_class=Parser
    )
    for module in VERBS.values():
        module.add_parser(subparsers)
    parser.verb_parsers = dict(subparsers.choices)
    return parser


def _unrecognized(parser: Parser, verb: str, extras: list[str]) -> NoReturn:
    """Report unknown arguments as the verb's own usage error, suggesting the closest flag."""
    sub = parser.verb_parsers[verb]
    message = f"unrecognized arguments: {' '.join(extras)}"
    flags = [s for action in sub._actions for s in action.option_strings]
    unknown = [e.split("=", 1)[0] for e in extras if e.startswith("-")]
    # A high cutoff: a wrong suggestion misleads more than none ("--bogus" is not "--out").
    close = difflib.get_close_matches(unknown[0], flags, n=1, cutoff=0.75) if unknown else []
    if close:
        message += f" (did you mean {close[0]}?)"
    sub.error(message)


def _one_line(exc: BaseException) -> str:
    """The exception's message on one line (torch's span several)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _out_of_memory(verb: str, exc: BaseException) -> str:
    # numpy's message names the array it could not allocate; torch's names the device, then
    # goes on about allocator settings that are no help here.
    what = _one_line(exc)
    what = re.sub(r" ?(Of the allocated memory|If reserved but unallocated).*", "", what)
    advice = "a smaller --batch-size or model, or less data" if verb == "train" else "less data"
    line = f"out of memory ({what}); try {advice} at a time"
    if not isinstance(exc, MemoryError):  # a device's memory: the host may have more
        line += ", or --device cpu"
    return line


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 success, 1 error, 130 interrupted).

    A usage mistake (unknown flag, missing argument) exits with status 2 through
    ``SystemExit``, after one line on stderr. ``AEKIT_DEBUG=1`` in the environment re-raises
    errors with their traceback instead of the one-line message.
    """
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        _unrecognized(parser, args.verb, extras)
    debug = os.environ.get("AEKIT_DEBUG", "") not in ("", "0")
    prefix = f"aekit {args.verb}: "
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print(prefix + "interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        oom = getattr(torch, "OutOfMemoryError", MemoryError)
        if isinstance(exc, (MemoryError, oom)):
            line = _out_of_memory(args.verb, exc)
        elif isinstance(exc, USER_ERRORS):
            line = _one_line(exc)
        else:
            line = (
                f"unexpected {type(exc).__name__}: {_one_line(exc)} (run again with "
                "AEKIT_DEBUG=1 to see where, and please report it)"
            )
        print(f"{prefix}error: {line}", file=sys.stderr)
        return 1
