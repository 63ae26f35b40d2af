"""`aekit info MODEL`: what a saved model is, how it was trained, and its size.
`aekit info DATA`: what aekit reads from a data file before any training.

Takes every kind of saved model: an autoencoder (dense, convolutional or recurrent), a VAE, a
classifier or an anomaly detector. It answers without loading torch: the fields it shows and
the weights' SHA-256 are checked; ``--check`` also checks the model as loading it would (every
field, the tensors' shapes against the network), which takes a few seconds more.

Given a table (.csv, .tsv, .txt) it shows the separator and header it detects and, for each
column, its kind, missing and distinct values and what training would do with it (row ids, a
feature, a text column to encode or drop), with the flags that change it. Given a folder or
glob of images, or a multi-page TIFF, it says how many, their size and pixel type. Given an
HDF5 or NeXus file (``file.h5``, or ``file.h5:/path/to/dataset``) it says which dataset is
read (NeXus's default data when none is named) and how many samples of what shape it holds;
likewise for a zarr store (``store.zarr``, ``store.zarr:/group/array``) and a ``.npy`` file.
Given a Parquet table it names its numeric columns and row groups. Only headers are read.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from aekit._text import plural
from aekit._validation import is_int
from aekit.cli._common import finish_parser, verb_parser


def add_parser(subparsers: Any) -> None:
    parser = verb_parser(
        subparsers,
        "info",
        "describe a saved model, or a data file before training",
        __doc__,
        raw=True,
    )
    parser.add_argument(
        "model",
        metavar="MODEL",
        help="a saved model directory (of any kind), or data to preview (a table, images, "
        "HDF5, zarr, .npy, Parquet)",
    )
    parser.add_argument("--json", action="store_true", help="print the description as JSON")
    parser.add_argument(
        "--check", action="store_true", help="check the model as loading it would (slower)"
    )
    finish_parser(parser, run, device_help=None)


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
            f"{plural(steps, 'step')} of {plural(features, 'feature')}, "
            f"{direction}{module['cell']} "
            f"{_widths(module['hidden'])}, code {module['latent_dim']} (decoder mirrors)"
        )
    if kind == "stacked":
        return (
            _widths(module["n_features"], module["hidden"], module["n_classes"])
            + " (stacked encoder, softmax head)"
        )
    if kind == "ensemble":
        members = plural(module["n_members"], "member")
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


def _describe_table(path: str) -> int:
    from aekit.datasets.tables import summarize_table

    notes, columns = summarize_table(path)
    print(f"{path}: {notes[0]}")
    width = max(6, *(len(c.name) for c in columns))
    print(f"  {'column':<{width}}  kind    missing  distinct  example          role")
    for c in columns:
        example = c.example if len(c.example) <= 16 else c.example[:15] + "~"
        print(
            f"  {c.name:<{width}}  {c.kind:<6}  {c.missing:>7}  {c.distinct:>8}  "
            f"{example:<16} {c.role}"
        )
    return 0


def _describe_data(path: str) -> int | None:
    """Preview DATA that is a table or a lazy source (HDF5, zarr, .npy, Parquet, images: from
    their headers, no sample read); None when ``path`` is none (a model directory)."""
    from aekit.cli._common import TABLE_SUFFIXES
    from aekit.datasets.open import open_source, source_kind

    if Path(path).suffix.lower() in TABLE_SUFFIXES and Path(path).is_file():
        return _describe_table(path)
    kind = source_kind(path)
    if kind is None or (kind == "images" and (Path(path) / "config.json").exists()):
        return None
    with open_source(path) as source:
        print(f"{path}: {source.describe()}")
    return 0


def run(args: argparse.Namespace) -> int:
    from aekit.io import describe

    described = _describe_data(args.model)
    if described is not None:
        return described
    info = describe(args.model, check=args.check)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    module = info["module"]
    print(f"{info['estimator']} ({info['kind']} module) at {info['path']}")
    try:
        line = layers(info["kind"], module)
    except (KeyError, TypeError, ValueError):  # unchecked fields (without --check)
        line = "? (run with --check to see what is wrong)"
    hidden = info["params"].get("hidden")
    if (
        info["estimator"] == "AutoRec"
        and isinstance(hidden, list)
        and len(hidden) == 1
        and is_int(hidden[0])
        and module.get("latent_dim") == 2 * hidden[0]
    ):  # fit averaged an early-stopped network and one refitted on every rating, folded in one
        line += f"; the mean of two networks of {hidden[0]} hidden units"
    print(f"  layers     {line}")
    print(f"  size       {info['n_parameters']:,} parameters; loss {info['loss']}")
    print("  module     " + ", ".join(f"{k}={_value(v)}" for k, v in module.items()))
    print(f"  input      samples of shape {tuple(info['input_shape'])}; scaling {info['scaling']}")
    table = info.get("table")
    if isinstance(table, dict):
        features = ", ".join(map(str, table.get("features", [])[:12]))
        more = " ..." if len(table.get("features", [])) > 12 else ""
        print(
            f"  table      features {features}{more}; ids {table.get('id_column') or 'row numbers'}"
            f"; missing values: {table.get('missing')}"
            + (
                f"; one-hot {', '.join(map(str, table['categories']))}"
                if table.get("categories")
                else ""
            )
        )
    print(
        f"  training   {plural(info['epochs_trained'], 'epoch')}, kept epoch {info['best_epoch']}"
        + "".join(f", {k} {v:.5g}" for k, v in info["final"].items())
    )
    checksum = info.get("weights_sha256")
    print(
        f"  versions   aekit {info['aekit_version']}, torch {info['torch_version']}; weights "
        + (f"sha256 {checksum[:16]}... verified" if checksum else "without a checksum (older save)")
    )
    return 0
