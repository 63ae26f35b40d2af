"""`aekit info MODEL`: what a saved model is, how it was trained, and its size."""

from __future__ import annotations

import argparse
import json
from typing import Any

from aekit.io import describe


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("info", help="describe a saved model", description=__doc__)
    parser.add_argument("model", metavar="MODEL", help="a saved model directory")
    parser.add_argument("--json", action="store_true", help="print the description as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    info = describe(args.model)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    module = info["module"]
    print(f"{info['estimator']} ({info['kind']} module) at {info['path']}")
    if "hidden" in module and "n_features" in module:
        widths = [module["n_features"], *module["hidden"], module["latent_dim"]]
        print(f"  layers     {'-'.join(map(str, widths))} (decoder mirrors)")
    print(f"  size       {info['n_parameters']:,} parameters; loss {info['loss']}")
    print("  module     " + ", ".join(f"{k}={v}" for k, v in module.items()))
    print(f"  input      samples of shape {tuple(info['input_shape'])}; scaling {info['scaling']}")
    print(
        f"  training   {info['epochs_trained']} epochs, kept epoch {info['best_epoch']}"
        + "".join(f", {k} {v:.5g}" for k, v in info["final"].items())
    )
    print(f"  versions   aekit {info['aekit_version']}, torch {info['torch_version']}")
    return 0
