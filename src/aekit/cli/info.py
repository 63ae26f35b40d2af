"""`aekit info MODEL`: what a saved model is, how it was trained, and its size.

Takes every kind of saved model: an autoencoder (dense, convolutional or recurrent), a VAE, a
classifier or an anomaly detector.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from aekit.io import describe


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("info", help="describe a saved model", description=__doc__)
    parser.add_argument("model", metavar="MODEL", help="a saved model directory (of any kind)")
    parser.add_argument("--json", action="store_true", help="print the description as JSON")
    parser.set_defaults(run=run)


def _widths(*parts: Any) -> str:
    return "-".join(str(p) for part in parts for p in (part if isinstance(part, list) else [part]))


def layers(kind: str, module: dict[str, Any]) -> str:
    """One line on the network's layers, for each module kind aekit saves."""
    if kind.startswith("vae-"):
        return layers(kind[4:], module) + "; Gaussian code"
    if kind == "dense":
        line = _widths(module["n_features"], module["hidden"], module["latent_dim"])
        return f"{line} (decoder mirrors)"
    if kind == "conv":
        shape = "x".join(map(str, module["input_shape"]))
        return (
            f"input {shape}, channels {_widths(module['hidden'])} (stride-2 blocks, kernel "
            f"{module['kernel_size']}), code {module['latent_dim']} (decoder mirrors)"
        )
    if kind == "recurrent":
        steps, features = module["input_shape"]
        direction = "bidirectional " if module["bidirectional"] else ""
        return (
            f"{steps} steps of {features} features, {direction}{module['cell']} "
            f"{_widths(module['hidden'])}, code {module['latent_dim']} (decoder mirrors)"
        )
    if kind == "stacked":
        return (
            _widths(module["n_features"], module["hidden"], module["n_classes"])
            + " (stacked encoder, softmax head)"
        )
    if kind == "ensemble":
        members = f"{module['n_members']} members"
        if module.get("conv"):
            return f"{members}, each {layers('conv', module['conv'])}"
        return (
            f"{members}, each "
            f"{_widths(module['n_features'], module['hidden'], module['latent_dim'])} "
            "(decoder mirrors)"
        )
    return "?"


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def run(args: argparse.Namespace) -> int:
    info = describe(args.model)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    module = info["module"]
    print(f"{info['estimator']} ({info['kind']} module) at {info['path']}")
    print(f"  layers     {layers(info['kind'], module)}")
    print(f"  size       {info['n_parameters']:,} parameters; loss {info['loss']}")
    print("  module     " + ", ".join(f"{k}={_value(v)}" for k, v in module.items()))
    print(f"  input      samples of shape {tuple(info['input_shape'])}; scaling {info['scaling']}")
    print(
        f"  training   {info['epochs_trained']} epochs, kept epoch {info['best_epoch']}"
        + "".join(f", {k} {v:.5g}" for k, v in info["final"].items())
    )
    checksum = info.get("weights_sha256")
    print(
        f"  versions   aekit {info['aekit_version']}, torch {info['torch_version']}; weights "
        + (f"sha256 {checksum[:16]}... verified" if checksum else "without a checksum (older save)")
    )
    return 0
