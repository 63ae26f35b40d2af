"""`aekit generate MODEL -n N --out DIR`: draw new samples from a saved VAE and a latent
interpolation strip; writes samples.npy and interpolation.npy, and for image models
samples.png and interpolation.png."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from aekit._text import a_or_an, plural
from aekit.cli._common import (
    Output,
    add_array_option,
    check_paths,
    data_input,
    finish_parser,
    load_model,
    model_input,
    verb_parser,
    write_array,
    write_figure,
)
from aekit.datasets import BUILTIN
from aekit.datasets import load as load_data

# What --out receives: the arrays always, the pictures for image models.
ARRAYS = ("samples.npy", "interpolation.npy")
PICTURES = ("samples.png", "interpolation.png")


def add_parser(subparsers: Any) -> None:
    parser = verb_parser(
        subparsers, "generate", "draw samples and an interpolation from a VAE", __doc__
    )
    parser.add_argument("model", metavar="MODEL", help="a saved VAE model directory")
    parser.add_argument("-n", type=int, default=16, help="samples to draw (default 16)")
    parser.add_argument("--out", required=True, help="the folder to write to")
    parser.add_argument(
        "--steps", type=int, default=10, help="points of the interpolation, ends included (10)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the draws (default 0: a run repeats)"
    )
    add_array_option(
        parser,
        "--data",
        "interpolate between two samples of DATA (a file or a built-in name: "
        f"{', '.join(BUILTIN)}) rather than between two generated samples",
    )
    parser.add_argument(
        "--from",
        dest="start",
        type=int,
        default=0,
        metavar="I",
        help="index of the first end point, in DATA or in the samples (default 0)",
    )
    parser.add_argument(
        "--to",
        dest="end",
        type=int,
        default=1,
        metavar="J",
        help="index of the last end point (default 1)",
    )
    parser.add_argument("--ncols", type=int, default=8, help="images per row of samples.png (8)")
    finish_parser(parser, run)


def run(args: argparse.Namespace) -> int:
    from aekit.tasks.generation import generate

    check_paths(
        [model_input(args), data_input(args.data, "--data")],
        [Output(args.out, "--out", kind="folder", writes=ARRAYS + PICTURES)],
    )
    model = load_model("generate", args.model, args.device)
    data = None if args.data is None else load_data(args.data, key=args.key)
    result = generate(
        model,
        args.n,
        steps=args.steps,
        data=data,
        start=args.start,
        end=args.end,
        random_state=args.seed,
        ncols=args.ncols,
    )
    # Written here rather than by generate(out=...), each file atomically.
    folder = Path(args.out)
    written = []
    for name, array in zip(ARRAYS, (result.samples, result.interpolation), strict=True):
        write_array(folder / name, array)
        written.append(name)
    for name, fig_name in zip(PICTURES, ("samples", "interpolation"), strict=True):
        fig = result.figures.get(fig_name)
        if fig is not None:
            write_figure(folder / name, fig)
            written.append(name)
    source = "DATA" if data is not None else "samples"
    line = (
        f"wrote {plural(len(result.samples), 'sample')} and "
        f"{a_or_an(str(len(result.interpolation)))}-step "
        f"interpolation ({source} {args.start} -> {args.end}) to {args.out}: "
        f"{', '.join(written)}"
    )
    if result.image_shape is None:
        line += (
            f" (samples of shape {result.samples.shape[1:]} are not one-channel images: "
            "no PNG written)"
        )
    print(line)
    return 0
