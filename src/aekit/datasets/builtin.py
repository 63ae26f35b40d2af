"""Named data sets: scikit-learn's bundled digits (embedded) and MNIST (from local files)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from aekit.datasets.files import _read_npz_arrays, read_idx

MNIST_FILES = {
    "X_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "X_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


class Split(NamedTuple):
    X_train: np.ndarray  # (n_train, ...) float32
    y_train: np.ndarray  # (n_train,) int64
    X_test: np.ndarray  # (n_test, ...) float32
    y_test: np.ndarray  # (n_test,) int64


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits: images ``(1797, 8, 8)`` in [0, 1] and labels.

    Examples
    --------
    >>> from aekit.datasets import load_digits
    >>> X, y = load_digits()
    >>> X.shape, float(X.max()), y[:5].tolist()
    ((1797, 8, 8), 1.0, [0, 1, 2, 3, 4])
    """
    from sklearn.datasets import load_digits as sk_load_digits

    digits = sk_load_digits()
    return (digits.images / 16.0).astype(np.float32), digits.target.astype(np.int64)


def _candidates(path: str | Path | None) -> list[Path]:
    if path is not None:
        return [Path(path)]
    env = os.environ.get("AEKIT_DATA")
    return [Path(env)] if env else []


def _find_idx(folder: Path, stem: str) -> Path | None:
    for name in (
        stem + ".gz",
        stem,
        stem.replace("-idx", ".idx") + ".gz",
        stem.replace("-idx", ".idx"),
    ):
        if (folder / name).is_file():
            return folder / name
    return None


def load_mnist(path: str | Path | None = None) -> Split:
    """MNIST's official 60,000/10,000 split, pixels scaled to [0, 1], images ``(n, 28, 28)``.

    Reads, from ``path`` or else the directory in the ``AEKIT_DATA`` environment variable:
    an NPZ file (``x_train``, ``y_train``, ``x_test``, ``y_test``; a file path, or
    ``mnist.npz`` inside the directory), or the four official IDX files, gzipped or not,
    inside the directory or its ``mnist`` subfolder. Nothing is downloaded.

    Examples
    --------
    >>> from aekit.datasets import load_mnist
    >>> mnist = load_mnist("data/mnist.npz")  # doctest: +SKIP
    >>> mnist.X_train.shape, mnist.X_test.shape  # doctest: +SKIP
    ((60000, 28, 28), (10000, 28, 28))
    """
    searched: list[str] = []
    for place in _candidates(path):
        if place.is_file() and place.suffix == ".npz":
            return _from_npz(place)
        if place.is_dir():
            if (place / "mnist.npz").is_file():
                return _from_npz(place / "mnist.npz")
            for folder in (place, place / "mnist"):
                files = {k: _find_idx(folder, stem) for k, stem in MNIST_FILES.items()}
                if all(files.values()):
                    arrays = {k: read_idx(f) for k, f in files.items() if f is not None}
                    return _split(arrays, folder)
                searched.append(str(folder))
        elif place.exists():
            raise ValueError(f"{place} is neither a .npz file nor a directory")
        else:
            searched.append(str(place))
    where = (
        f"looked in {', '.join(searched)}"
        if searched
        else "no path was given and AEKIT_DATA is unset"
    )
    raise FileNotFoundError(
        f"MNIST was not found: {where}. Put mnist.npz (arrays x_train, y_train, x_test, "
        f"y_test) or the four IDX files {', '.join(v + '.gz' for v in MNIST_FILES.values())} "
        "in a folder, then pass load_mnist(path=FOLDER) or set AEKIT_DATA=FOLDER."
    )


def _from_npz(path: Path) -> Split:
    def choose(names: list[str]) -> list[str]:
        # The first array of each name in any case (Keras writes x_train, others X_train).
        by_lower: dict[str, str] = {}
        for name in names:
            by_lower.setdefault(name.lower(), name)
        missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in by_lower]
        if missing:
            raise ValueError(f"{path} lacks the arrays {missing}")
        return [by_lower[k.lower()] for k in MNIST_FILES]

    arrays = _read_npz_arrays(path, choose)
    return _split(dict(zip(MNIST_FILES, arrays.values(), strict=True)), path)


def _split(arrays: dict[str, np.ndarray], source: Path) -> Split:
    """The four arrays as a Split, once they are checked to be images and labels that match."""
    for part in ("train", "test"):
        images, labels = arrays[f"X_{part}"], arrays[f"y_{part}"]
        if images.dtype.kind not in "biuf" or images.ndim < 2:
            raise ValueError(
                f"{source}: the {part} images must be a numeric array of samples, got "
                f"{images.dtype} of shape {images.shape}"
            )
        # Labels are class numbers; a cast of NaN or 2.5 to int64 would invent classes.
        if labels.dtype.kind not in "biuf" or labels.shape != (len(images),):
            raise ValueError(
                f"{source}: the {part} labels must be {len(images)} numbers, one per image, "
                f"got {labels.dtype} of shape {labels.shape}"
            )
        if (
            labels.dtype.kind == "f"
            and not (np.isfinite(labels) & (labels == np.round(labels))).all()
        ):
            raise ValueError(f"{source}: the {part} labels hold values that are not class numbers")

    def images(a: np.ndarray) -> np.ndarray:
        return (a.astype(np.float32) / 255.0) if a.dtype == np.uint8 else a.astype(np.float32)

    return Split(
        images(arrays["X_train"]),
        arrays["y_train"].astype(np.int64),
        images(arrays["X_test"]),
        arrays["y_test"].astype(np.int64),
    )


# Name -> loader of the training samples, for the command line's DATA argument.
BUILTIN = {
    "digits": lambda: load_digits()[0],
    "mnist": lambda: load_mnist().X_train,
}

# Built-in name -> the labels of the samples BUILTIN gives.
BUILTIN_LABELS = {
    "digits": lambda: load_digits()[1],
    "mnist": lambda: load_mnist().y_train,
}
