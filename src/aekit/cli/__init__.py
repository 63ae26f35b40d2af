"""The `aekit` command: one module per verb, each calling a public library function.

Errors are one line on stderr: ``aekit VERB: error: ...`` with exit status 1 for a mistake in
what was given (a file, a model, an option's value), 2 for a usage mistake (an unknown flag, a
missing argument; with a pointer to ``--help``), 130 when interrupted. Set the environment
variable ``AEKIT_DEBUG=1`` to see the Python traceback behind an error instead.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import importlib
import logging
import os
import re
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any, NoReturn, cast

import aekit

# Verbs, in the order --help lists them; each module has add_parser(subparsers) setting `run`.
# The modules import torch, scikit-learn and the estimators inside `run`, so building the parser
# (--help, --version, a usage error) stays quick.
VERBS = (
    "demo",
    "train",
    "encode",
    "reconstruct",
    "info",
    "index",
    "search",
    "export",
    "compress",
    "decompress",
    "generate",
    "denoise",
    "detect",
    "recommend",
    "report",
)

# How alike a mistyped flag or choice must be to the real one to be suggested: a wrong
# suggestion misleads more than none ("--bogus" is not "--out"), "--latnet-dim" is "--latent-dim".
SUGGEST_CUTOFF = 0.75


def verb_module(verb: str) -> ModuleType:
    """The module of ``verb`` (``aekit.cli.train`` for ``"train"``)."""
    return importlib.import_module(f"aekit.cli.{verb}")


# Exceptions that a user's input produces (a bad file, a bad option value, data torch cannot
# take, a missing extra): reported as one line. Anything else (a TypeError, a KeyError) means
# aekit let a mistake through unchecked: one line too, asking for AEKIT_DEBUG=1 and a report.
USER_ERRORS = (ValueError, OSError, ImportError, FloatingPointError, RuntimeError)


def _closest(word: str, candidates: Sequence[str]) -> str | None:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=SUGGEST_CUTOFF)
    return close[0] if close else None


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line and a pointer to ``--help`` (exit 2),
    not the usage block; ``--help`` itself prints everything. A mistyped flag or choice is
    answered with the closest real one ("did you mean --latent-dim?")."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The main parser's verbs, name -> parser (set by build_parser).
        self.verb_parsers: dict[str, Parser] = {}

    def error(self, message: str) -> NoReturn:
        message = " ".join(message.split())
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        # Unknown flags are refused before argparse parses: argparse would first report a
        # missing --out or take the flag's value for DATA, and never name the flag meant.
        tokens = list(sys.argv[1:] if args is None else args)
        unknown = self._unknown_flags(tokens)
        if unknown:
            self.unrecognized(unknown)
        return super().parse_known_args(tokens, namespace)

    def _unknown_flags(self, tokens: Sequence[str]) -> list[str]:
        flags = [s for action in self._actions for s in action.option_strings]
        unknown = []
        for token in tokens:
            if token == "--":
                break
            # What argparse takes for a word rather than a flag: "-", "-3", "-0.5", "-a b".
            if (
                not token.startswith("-")
                or token == "-"
                or " " in token
                or self._negative_number_matcher.match(token)
            ):
                if self.verb_parsers:  # the verb: what follows is the verb parser's
                    break
                continue
            name = token.split("=", 1)[0]
            known = (
                name in flags
                or (name.startswith("--") and any(f.startswith(name) for f in flags))  # --epoch
                or (not name.startswith("--") and token[:2] in flags)  # -k5
            )
            if not known:
                unknown.append(token)
        return unknown

    def unrecognized(self, extras: Sequence[str]) -> NoReturn:
        """Refuse ``extras`` in one line, suggesting the closest flag for each mistyped one."""
        flags = [s for action in self._actions for s in action.option_strings]
        named = []
        for extra in extras:
            close = _closest(extra.split("=", 1)[0], flags) if extra.startswith("-") else None
            named.append(f"{extra} (did you mean {close}?)" if close else extra)
        self.error(f"unrecognized arguments: {', '.join(named)}")

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        # argparse's own check lists every choice and suggests none (Python 3.14's
        # suggest_on_error aside): a close choice is named instead of the list.
        choices = action.choices
        if choices is None or value in choices:
            return
        close = _closest(str(value), [str(c) for c in choices])
        hint = (
            f"did you mean {close!r}?"
            if close
            else "choose from " + ", ".join(repr(c) for c in choices)
        )
        raise argparse.ArgumentError(action, f"invalid choice: {value!r} ({hint})")


def build_parser() -> Parser:
    """The ``aekit`` parser: one subparser per verb, all raising one-line usage errors."""
    parser = Parser(prog="aekit", description="The autoencoder toolkit for real data.")
    parser.add_argument("--version", action="version", version=f"aekit {aekit.__version__}")
    subparsers = parser.add_subparsers(
        dest="verb", required=True, metavar="VERB", parser_class=Parser
    )
    for verb in VERBS:
        verb_module(verb).add_parser(subparsers)
    parser.verb_parsers = cast("dict[str, Parser]", dict(subparsers.choices))
    return parser


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
    """Run the command line; returns the exit status (0 success, 1 error, 130 interrupted,
    141 when the reader of its output left, as `| head` does).

    A usage mistake (unknown flag, missing argument) exits with status 2 through
    ``SystemExit``, after one line on stderr. ``AEKIT_DEBUG=1`` in the environment re-raises
    errors with their traceback instead of the one-line message.
    """
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:  # words left over, not flags: those the verb's parser refused already
        parser.verb_parsers[args.verb].unrecognized(extras)
    debug = os.environ.get("AEKIT_DEBUG", "") not in ("", "0")
    if not debug:
        # tifffile logs what it finds wrong in a damaged file to stderr; aekit's own one-line
        # error says what matters. (The command line is the application: it may set this.)
        logging.getLogger("tifffile").setLevel(logging.CRITICAL)
    prefix = f"aekit {args.verb}: "
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print(prefix + "interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of stdout left (`aekit info MODEL --json | head`): not an error of
        # aekit's. Later writes, and the flush at exit, go nowhere instead of failing again.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what the shell reports for a program the pipe stopped
    except Exception as exc:
        if debug:
            raise
        # torch is imported by the verbs that need it; one that did not cannot have its error.
        torch = sys.modules.get("torch")
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
