"""`aekit train DATA --out MODEL_DIR [options]`: fit an autoencoder and save it."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from aekit.cli._common import add_data_argument, read_data
from aekit.estimators import Autoencoder


def _widths(text: str) -> tuple[int, ...]:
    text = text.strip()
    if text.lower() in ("", "none", "()"):
        return ()
    try:
        widths = tuple(int(w) for w in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    return widths


def _activation(text: str) -> str | None:
    return None if text.lower() == "none" else text


# (flag, estimator parameter, type, help). Flags default to argparse.SUPPRESS, so a flag that was
# not given is absent from the namespace and --config keeps its value; None stays a real value
# ("--activation none" is a linear net).
OPTIONS: list[tuple[str, str, Any, str]] = [
    ("--architecture", "architecture", str, "network family (dense)"),
    ("--latent-dim", "latent_dim", int, "size of the code"),
    ("--hidden", "hidden", _widths, "encoder widths, e.g. 256,64 ('none' for no hidden layer)"),
    ("--activation", "activation", _activation, "relu, leaky_relu, tanh, sigmoid, linear or none"),
    ("--code-activation", "code_activation", str, "activation of the code (auto)"),
    ("--output-activation", "output_activation", str, "auto, sigmoid, linear, tanh"),
    ("--loss", "loss", str, "auto, bce or mse"),
    ("--scaling", "scaling", _activation, "auto, standard, minmax or none"),
    ("--epochs", "epochs", int, "maximum number of epochs"),
    ("--batch-size", "batch_size", int, "samples per step"),
    ("--lr", "lr", float, "learning rate"),
    ("--optimizer", "optimizer", str, "adam or sgd"),
    ("--validation-fraction", "validation_fraction", float, "share held out for validation"),
    ("--patience", "patience", int, "epochs without improvement before stopping"),
    ("--device", "device", str, "auto, cpu, cuda or mps"),
    ("--seed", "random_state", int, "random seed (bit-identical CPU runs)"),
]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "train", help="train an autoencoder and save it", description=__doc__
    )
    add_data_argument(parser)
    parser.add_argument("--out", required=True, metavar="MODEL_DIR", help="where to save the model")
    parser.add_argument("--config", metavar="FILE", help="JSON file of estimator parameters")
    for flag, dest, kind, text in OPTIONS:
        parser.add_argument(flag, dest=dest, type=kind, default=argparse.SUPPRESS, help=text)
    parser.add_argument(
        "--no-early-stopping",
        dest="early_stopping",
        action="store_false",
        default=argparse.SUPPRESS,
        help="train for all epochs and keep the last weights",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def estimator_params(args: argparse.Namespace) -> dict[str, Any]:
    """Parameters from --config, overridden by the flags given on the command line."""
    params: dict[str, Any] = {}
    if args.config:
        try:
            params = json.loads(Path(args.config).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{args.config} is not valid JSON: {exc}") from None
        if not isinstance(params, dict):
            raise ValueError(f"{args.config} must hold a JSON object of estimator parameters")
        unknown = set(params) - set(Autoencoder().get_params())
        if unknown:
            raise ValueError(f"{args.config} names unknown parameters: {sorted(unknown)}")
    given = vars(args)
    for dest in [option[1] for option in OPTIONS] + ["early_stopping"]:
        if dest in given:
            params[dest] = given[dest]
    params["verbose"] = not args.quiet
    return params


def run(args: argparse.Namespace) -> int:
    X = read_data(args)
    ae = Autoencoder(**estimator_params(args))
    start = time.perf_counter()
    ae.fit(X)
    elapsed = time.perf_counter() - start
    path = ae.save(args.out)
    last = ae.history_[ae.best_epoch_ - 1] if ae.best_epoch_ else ae.history_[-1]
    losses = ", ".join(f"{k} {v:.5g}" for k, v in last.items() if k in ("loss", "val_loss"))
    print(
        f"trained {len(ae.history_)} epochs in {elapsed:.1f} s on {ae.device_}; "
        f"kept epoch {ae.best_epoch_} ({losses}); saved {path}"
    )
    return 0
