"""Pieces shared by the verbs: reading DATA, writing arrays, one-line output helpers."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from aekit.datasets import BUILTIN, BUILTIN_LABELS, load, read_array


def add_data_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "data",
        metavar="DATA",
        help=f"a file (.npy, .npz, .csv, IDX) or a built-in name ({', '.join(BUILTIN)})",
    )
    parser.add_argument("--key", help="the array to read from an .npz file")


def read_data(args: argparse.Namespace) -> np.ndarray:
    return load(args.data, key=args.key)


def read_labels(args: argparse.Namespace, n: int) -> np.ndarray | None:
    """Labels of the ``n`` samples of DATA: ``--labels FILE``, else a built-in set's own, else
    None."""
    if getattr(args, "labels", None):
        y = read_array(args.labels)
    elif args.data in BUILTIN_LABELS:
        y = BUILTIN_LABELS[args.data]()
    else:
        return None
    y = np.asarray(y).reshape(-1)
    if len(y) != n:
        raise ValueError(f"{args.labels or args.data} holds {len(y)} labels for {n} samples")
    return y


def write_array(path: str | Path, array: np.ndarray) -> Path:
    """Write ``array`` as .npy (any shape) or .csv (rows of flattened samples)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        np.save(path, array)
    elif suffix == ".csv":
        np.savetxt(path, array.reshape(len(array), -1), delimiter=",", fmt="%.8g")
    else:
        raise ValueError(f"cannot write {path}: use a .npy or .csv file name")
    return path
