"""`aekit recommend MODEL --user U [-k 10] [--include-seen] [--out FILE.csv]`: a user's top items.

MODEL is an AutoRec saved by ``aekit train RATINGS.csv --model autorec``. The answer is a CSV,
best item first: ``rank`` (from 1), ``item`` (its id as in the ratings) and ``rating`` (the
predicted rating, within the range of the training ratings). It is printed, or written to
``--out`` (atomically). Items the user rated in the training data are left out unless
``--include-seen`` is given.

A user who is not in the training ratings has no ratings to read: the items are ranked by
their baseline (mean rating plus the item's regularised bias), and a note on stderr says so.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from aekit._text import a_or_an
from aekit.cli._common import (
    Output,
    check_device,
    check_paths,
    finish_parser,
    model_input,
    say,
    verb_parser,
    write_csv,
)

# The estimator this verb takes (as config.json names it).
RECOMMENDERS = ("AutoRec",)


def add_parser(subparsers: Any) -> None:
    parser = verb_parser(subparsers, "recommend", "recommend items to a user", __doc__, raw=True)
    parser.add_argument("model", metavar="MODEL", help="a saved AutoRec directory")
    parser.add_argument("--user", required=True, help="the user id, as in the training ratings")
    parser.add_argument("-k", type=int, default=10, help="how many items (10)")
    parser.add_argument(
        "--include-seen",
        action="store_true",
        help="also rank the items the user rated in the training data",
    )
    parser.add_argument("--out", help="write the items to this .csv instead of printing them")
    finish_parser(parser, run)


def _load(args: argparse.Namespace) -> Any:
    """The AutoRec at MODEL (its kind and --device checked before the weights are read)."""
    from aekit.io import load
    from aekit.io.loading import read_config

    check_device(args.device)
    name = read_config(args.model).get("estimator")
    if name not in RECOMMENDERS:
        shown = a_or_an(name) if isinstance(name, str) else "an unknown estimator"
        raise ValueError(
            f"{args.model} holds {shown}; recommend takes an AutoRec: train one with: "
            "aekit train RATINGS.csv --model autorec --out MODEL"
        )
    return load(args.model, device=args.device)


def _user(model: Any, text: str) -> Any:
    """--user as the model's ids are: an integer when they are integers."""
    if model.user_ids_.dtype.kind not in "iu":
        return text
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"--user {text!r}: the model's user ids are integers") from None


def run(args: argparse.Namespace) -> int:
    if args.k < 1:
        raise ValueError(f"-k must be at least 1, got {args.k}")
    outputs = [] if args.out is None else [Output(args.out, "--out", suffixes=(".csv",))]
    check_paths([model_input(args)], outputs)
    model = _load(args)
    user = _user(model, args.user)
    found = model.recommend(user, k=args.k, exclude_seen=not args.include_seen)
    if not found.known_user:
        say(args, f"user {user!r} is not in the training ratings; items ranked by their baseline")
    header = ["rank", "item", "rating"]
    pairs = zip(found.items.tolist(), found.ratings, strict=True)
    rows = [[rank, item, f"{rating:.4f}"] for rank, (item, rating) in enumerate(pairs, start=1)]
    if args.out is None:
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    else:
        path = write_csv(args.out, header, rows)
        say(args, f"wrote {len(rows)} items to {path}")
    return 0
