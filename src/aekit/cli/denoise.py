"""`aekit denoise MODEL DATA --out FILE`: write the model's denoised version of DATA;
`--clean` measures the gain in PSNR, `--png` shows noisy images above denoised ones."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from aekit.cli._common import (
    Output,
    add_array_option,
    array_output,
    check_model_paths,
    data_input,
    finish_parser,
    load_model,
    model_parser,
    read_data,
    write_array,
    write_figure,
)
from aekit.datasets import load as load_data


def add_parser(subparsers: Any) -> None:
    parser = model_parser(
        subparsers, "denoise", "denoise data through a (denoising) autoencoder", __doc__
    )
    add_array_option(
        parser,
        "--clean",
        "the clean data DATA was made from: print the PSNR of DATA and of the output against it",
        metavar="FILE",
        key="--clean-key",
    )
    parser.add_argument("--png", metavar="FILE", help="also draw noisy above denoised images")
    parser.add_argument(
        "--n-images", type=int, default=10, help="images shown in the --png figure (default 10)"
    )
    finish_parser(parser, run)


def _is_image_stack(X: np.ndarray) -> bool:
    shape = X.shape[1:]
    return len(shape) == 2 or (len(shape) == 3 and shape[0] == 1)


def run(args: argparse.Namespace) -> int:
    from aekit.tasks.denoising import denoise_figure, run_denoise

    # Refuse a wrong file name or option before the work, not after it.
    outputs = [array_output(args.out)]
    if args.png is not None:
        outputs.append(Output(args.png, "--png", suffixes=(".png",)))
    check_model_paths(args, outputs, data_input(args.clean, "--clean"))
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
        png = write_figure(args.png, fig)
        print(f"wrote {png}")
    return 0
