"""`aekit demo [--out DIR]`: train on the embedded digits, save the model and its pictures."""

from __future__ import annotations

import argparse
from typing import Any

from aekit._text import plural
from aekit.cli._common import Output, check_paths


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="train on the bundled digits and show what was learned", description=__doc__
    )
    parser.add_argument("--out", default="aekit-demo", help="output folder (default: aekit-demo)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from aekit.tasks import run_demo

    # What run_demo writes, checked before its minutes of training.
    check_paths(
        [],
        [
            Output(
                args.out,
                "--out",
                kind="folder",
                writes=("reconstructions.png", "latent_map.png", "report.html"),
                models=("model",),
            )
        ],
    )
    result = run_demo(args.out, random_state=args.seed, verbose=not args.quiet)
    print(
        f"trained a {result.architecture} autoencoder on {result.n_train} digits "
        f"in {result.fit_seconds:.1f} s ({plural(result.epochs, 'epoch')})"
    )
    print(
        f"test squared error per image (summed over its pixels): autoencoder "
        f"{result.ae_error:.3f}, PCA({result.latent_dim}) {result.pca_error:.3f}, PCA fitted "
        f"to the same test images ({result.pca_error / result.ae_error:.2f}x the "
        "autoencoder's; the report shows the same figures)"
    )
    for label, path in result.files.items():
        print(f"{label:>16}: {path}")
    return 0
