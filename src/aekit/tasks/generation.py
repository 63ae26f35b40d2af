"""New data from a fitted VAE: samples from the prior and a latent interpolation strip."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from sklearn.utils.validation import check_is_fitted

from aekit._repr import result_repr
from aekit._text import plural
from aekit._untrusted import holds_only
from aekit._validation import is_int
from aekit.io.atomic import atomic_directory, check_replaceable

# What `generate` writes to its folder, and all that folder may hold to be replaced.
OUTPUT_FILES = ("samples.npy", "interpolation.npy", "samples.png", "interpolation.png")


def _index(name: str, value: Any, n: int, source: str) -> int:
    if not is_int(value):
        raise ValueError(f"{name} must be an integer index, got {value!r}")
    if not -n <= value < n:
        raise ValueError(f"{name}={value} is out of range for {plural(n, 'sample')}{source}")
    return int(value)


def is_generation_dir(path: Path) -> bool:
    """Whether ``path`` holds nothing but files that :func:`generate` writes."""
    return holds_only(path, files=OUTPUT_FILES)


def check_generation_output(out: str | Path) -> Path:
    """Refuse ``out`` as :func:`generate`'s folder unless it is absent, empty or an earlier
    output of ``generate`` (``samples.npy``, ``interpolation.npy`` and their PNGs, nothing
    else); returns the absolute path. Cheap: call it before any work."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a folder")
    return check_replaceable(out, is_generation_dir, "an output of aekit generate")


class Generation(NamedTuple):
    samples: np.ndarray  # (n, *sample_shape): decoded draws z ~ N(0, I)
    interpolation: np.ndarray  # (steps, *sample_shape): from the first end point to the second
    image_shape: tuple[int, int] | None  # (h, w) of image samples; None for tables
    figures: dict[str, Any]  # "samples", "interpolation" -> matplotlib Figure (images only)
    files: dict[str, Path]  # what was written under `out`, by name

    __repr__ = result_repr


def generate(
    model: Any,
    n: int = 16,
    *,
    steps: int = 10,
    data: Any = None,
    start: int = 0,
    end: int = 1,
    random_state: int | np.random.RandomState | None = None,
    ncols: int = 8,
    out: str | Path | None = None,
    figures: bool = True,
) -> Generation:
    """Draw ``n`` samples from a fitted VAE and interpolate between two points in its latent
    space; optionally draw the figures and write everything to a folder.

    The samples are ``model.sample(n, random_state)``: z ~ N(0, I) decoded to the mean of
    p(x|z) (pixel probabilities for a Bernoulli likelihood). The interpolation is
    ``model.interpolate(a, b, steps)``: the decoded straight line between the posterior means
    of ``a`` and ``b``, which are ``data[start]`` and ``data[end]`` when ``data`` is given and
    otherwise the generated ``samples[start]`` and ``samples[end]`` (whose codes are re-inferred
    by the encoder, so the strip's ends are close to, not equal to, those samples).

    Parameters
    ----------
    model : fitted VAE
        Anything with ``sample``, ``interpolate`` and ``image_shape``.
    n : int, default=16
        Samples to draw.
    steps : int, default=10
        Points of the interpolation, both ends included (at least 2).
    data : array-like, optional
        Samples to take the interpolation's end points from.
    start, end : int, default=0, 1
        Indices of the end points in ``data``, or in the samples without ``data``.
    random_state : int, RandomState instance or None, default=None
        Seeds the draws; an int repeats them.
    ncols : int, default=8
        Images per row of the samples' grid.
    out : str or Path, optional
        Folder to write ``samples.npy`` and ``interpolation.npy`` to, and for image models
        ``samples.png`` and ``interpolation.png``. It must be absent, empty or an earlier
        output of ``generate`` (checked before anything is drawn); it is replaced as a whole
        (:func:`aekit.io.atomic.atomic_directory`), so a failure leaves the earlier one.
    figures : bool, default=True
        Draw the figures (image models only; needs matplotlib).

    Returns
    -------
    Generation
        The arrays, the image shape (``None`` for a table), the figures and the files written.

    Examples
    --------
    >>> from aekit import VAE
    >>> from aekit.datasets import load_digits
    >>> from aekit.tasks import generate
    >>> X, _ = load_digits()
    >>> vae = VAE(latent_dim=2, epochs=2, random_state=0, verbose=False).fit(X)
    >>> result = generate(vae, 12, steps=6, data=X, start=0, end=5, random_state=0)
    >>> result.samples.shape, result.interpolation.shape, sorted(result.figures)
    ((12, 8, 8), (6, 8, 8), ['interpolation', 'samples'])
    """
    if not all(callable(getattr(model, name, None)) for name in ("sample", "interpolate")):
        raise ValueError(
            f"generating needs a VAE (a model with sample and interpolate); got "
            f"{type(model).__name__}"
        )
    check_is_fitted(model, "module_")
    folder = None if out is None else check_generation_output(out)
    samples = model.sample(n, random_state=random_state)
    if data is None:
        pool, source = samples, ""
    else:
        pool, source = np.asarray(data), " of data"
        if pool.ndim == 0 or len(pool) == 0:
            raise ValueError("data must hold at least one sample")
    a = pool[_index("start", start, len(pool), source)]
    b = pool[_index("end", end, len(pool), source)]
    interpolation = model.interpolate(a, b, steps=steps)

    shape = model.image_shape()
    drawn: dict[str, Any] = {}
    if figures and shape is not None:
        from aekit import plot

        drawn["samples"] = plot.image_grid(samples, ncols=ncols, image_shape=shape)
        drawn["interpolation"] = plot.interpolation(interpolation, image_shape=shape)

    files: dict[str, Path] = {}
    if folder is not None:
        with atomic_directory(folder, is_generation_dir, "an output of aekit generate") as tmp:
            for name, array in (("samples", samples), ("interpolation", interpolation)):
                np.save(tmp / f"{name}.npy", array, allow_pickle=False)
                files[f"{name}.npy"] = folder / f"{name}.npy"
            for name, fig in drawn.items():
                fig.savefig(tmp / f"{name}.png", dpi=100)
                files[f"{name}.png"] = folder / f"{name}.png"
    return Generation(samples, interpolation, shape, drawn, files)
