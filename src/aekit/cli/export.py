"""`aekit export MODEL --out DIR`: write the model as ONNX graphs (encoder, decoder, model)."""

from __future__ import annotations

import argparse
from typing import Any

from aekit.cli._common import (
    Output,
    check_model_kind,
    check_paths,
    data_input,
    finish_parser,
    model_input,
    model_parser,
)

# Samples of --data used by the check: enough to exercise the graphs, quick on any data set.
CHECK_ROWS = 256


def add_parser(subparsers: Any) -> None:
    parser = model_parser(
        subparsers,
        "export",
        "export a model to ONNX (encoder.onnx, decoder.onnx, model.onnx)",
        __doc__,
        out_help="directory for the graphs and export.json",
        data=False,
    )
    parser.add_argument("--opset", type=int, help="ONNX opset (default: the exporter's)")
    parser.add_argument(
        "--no-check",
        dest="check",
        action="store_false",
        help="do not compare the graphs with the model in onnxruntime",
    )
    parser.add_argument(
        "--atol",
        type=float,
        default=1e-5,
        help="largest difference the check accepts, times max(1, largest output) (default: 1e-5)",
    )
    parser.add_argument(
        "--data",
        metavar="DATA",
        help="samples to check with (a file or a built-in name; the first "
        f"{CHECK_ROWS} are used; default: a seeded normal batch)",
    )
    parser.add_argument("--key", help="the array to read from an .npz --data file")
    finish_parser(parser, run, device_help=None)  # the graphs are traced on the CPU


def run(args: argparse.Namespace) -> int:
    from aekit.io.onnx import GRAPHS, MANIFEST, export_onnx

    inputs = [model_input(args)]
    if args.check:
        inputs.append(data_input(args.data, "--data"))
    check_paths(
        inputs,
        [
            Output(
                args.out,
                "--out",
                kind="folder",
                writes=(*(f"{part}.onnx" for part in GRAPHS), MANIFEST),
                noun="directory",
            )
        ],
    )
    check_model_kind("export", args.model)
    X = None
    if args.data is not None and args.check:
        from aekit.datasets import load

        X = load(args.data, key=args.key)[:CHECK_ROWS]
    result = export_onnx(
        args.model, args.out, opset=args.opset, check=args.check, X=X, atol=args.atol
    )
    files = ", ".join(p.name for p in (result.encoder, result.decoder, result.model))
    if result.max_abs_diff:
        diffs = ", ".join(f"{k} {v:.2g}" for k, v in result.max_abs_diff.items())
        checked = f"max |onnxruntime - torch| {diffs} (atol {args.atol:g})"
    else:
        checked = "not checked"
    print(
        f"wrote {files} and {result.manifest.name} to {result.manifest.parent} "
        f"(opset {result.opset}); {checked}"
    )
    return 0
