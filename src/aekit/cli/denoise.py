"""`aekit denoise MODEL DATA --out FILE`: write the model's denoised version of DATA;
`--clean` measures the gain in PSNR, `--png` shows noisy images above denoised ones."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from aekit.cli._common import (
    ARRAY_SUFFIXES,
    Input,
    Output,
    add_data_argument,
    check_paths,
    data_input,
    load_model,
    read_data,
    write_array,
    write_file,
)
from aekit.datasets import load as load_data


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "denoise", help="denoise data through a (denoising) autoencoder", description=__doc__
    )
    parser.add_argument("model", metavar="MODEL", help="a saved model directory")
    add_data_argument(parser)
    parser.add_argument("--out", required=True, help="output file (.npy or .csv)")
    parser.add_argument(
        "--clean",
        metavar="FILE",
        help="the clean data DATA was made from: print the PSNR of DATA and of the output "
        "against it",
    )
    parser.add_argument("--clean-key", help="the array to read from a --clean .npz file")
    parser.add_argument("--png", metavar="FILE", help="also draw noisy above denoised images")
    parser.add_argument(
        "--n-images", type=int, default=10, help="images shown in the --png figure (default 10)"
    )
    parser.add_argument("--device", help="where to run (default: the model's setting)")
    parser.set_defaults(run=run)


def _is_image_stack(X: np.ndarray) -> bool:
    shape = X.shape[1:]
    return len(shape) == 2 or (len(shape) == 3 and shape[0] == 1)


def run(args: argparse.Namespace) -> int:
    from aekit.tasks.denoising import denoise_figure, run_denoise

    # Refuse a wrong file name or option before the work, not after it.
    outputs = [Output(args.out, "--out", suffixes=ARRAY_SUFFIXES)]
    if args.png is not None:
        outputs.append(Output(args.png, "--png", suffixes=(".png",)))
    check_paths(
        [
            Input(args.model, "MODEL", directory=True),
            data_input(args.data),
            data_input(args.clean, "--clean"),
        ],
        outputs,
    )
    if args.n_images < 1:
        raise ValueError(f"--n-images must be at least 1, got {args.n_images}")
    model = load_model("denoise", args.model, args.device)
    X = read_data(args, model).X
    if args.png is not None and not _is_image_stack(X):
        raise ValueError(
            f"--png draws images, but DATA has samples of shape {X.shape[1:]}, not (h, w)"
        )
    clean = None if args.clean is None else load_data(args.clean, key=args.clean_key)
    result = run_denoise(model, X, clean=clean)
    fig = None
    if args.png is not None:
        # Drawn before anything is written, so a failure leaves no output behind.
        fig = denoise_figure(
            X, result.denoised, n=args.n_images, title="noisy (top) and denoised (bottom)"
        )
    path = write_array(args.out, result.denoised)
    line = f"wrote denoised data of shape {result.denoised.shape} to {path}"
    if not result.trained_with_noise:
        line += " (the model was trained without noise: this is its plain reconstruction)"
    print(line)
    if result.psnr_noisy is not None and result.psnr_denoised is not None:
        gain = result.psnr_denoised - result.psnr_noisy
        print(
            f"PSNR against the clean data: noisy {result.psnr_noisy:.2f} dB, denoised "
            f"{result.psnr_denoised:.2f} dB ({gain:+.2f} dB)"
        )
    if fig is not None:
        png = write_file(args.png, lambda tmp, f=fig: f.savefig(tmp, dpi=100))
        print(f"wrote {png}")
    return 0
