"""Images from a folder or a glob of files (PNG, JPEG, BMP, GIF through Pillow; TIFF through
tifffile), read into memory; :class:`aekit.datasets.stacks.ImageSource` reads them lazily.

The pixels keep their type (uint8 for 8-bit images, uint16 for 16-bit ones), so that the
estimators can scale them by their range. Files are sorted naturally (``img2`` before
``img10``); all must have one size.
"""

from __future__ import annotations

import glob
import re
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from aekit._text import plural

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")
# Pillow mode -> numpy dtype of its pixels and whether it has colour channels.
_MODES: dict[str, tuple[Any, bool]] = {
    "1": (np.uint8, False),  # bilevel, read as 0 and 255
    "L": (np.uint8, False),
    "P": (np.uint8, True),  # palette: converted to RGB
    "RGB": (np.uint8, True),
    "RGBA": (np.uint8, True),
    "I;16": (np.uint16, False),
    "I;16B": (np.uint16, False),
    "I;16L": (np.uint16, False),
    "I": (np.int32, False),
    "F": (np.float32, False),
}
# Images read into memory at most (larger sets are streamed: aekit.datasets.open_source).
MAX_IMAGES = 1_000_000


class Images(NamedTuple):
    """Images read by :func:`read_images`."""

    X: np.ndarray  # (n, H, W) grey, or (n, C, H, W) colour, channels first
    files: list[str]  # (n,) file names, relative to the folder (or as the glob matched them)

    def describe(self) -> str:
        """One line for a user: "12 grey images of 10x8 pixels, uint8"."""
        kind = "colour" if self.X.ndim == 4 else "grey"
        size = "x".join(str(s) for s in self.X.shape[-2:][::-1])
        return f"{plural(len(self.files), kind + ' image')} of {size} pixels, {self.X.dtype}"

    def __repr__(self) -> str:
        return f"Images(X=<{self.X.shape} {self.X.dtype}>, files=[{len(self.files)} names])"


def _natural(name: str) -> list[Any]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def is_image_source(source: str | Path) -> bool:
    """Whether ``source`` names a folder (of images) or a glob pattern."""
    text = str(source)
    return Path(text).is_dir() or any(c in text for c in "*?[")


def _files(source: str | Path) -> tuple[list[Path], Path | None]:
    text = str(source)
    if Path(text).is_dir():
        folder = Path(text)
        files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
        if not files:
            raise ValueError(
                f"{folder} is a folder with no image files ({', '.join(IMAGE_SUFFIXES)})"
            )
        return sorted(files, key=lambda p: _natural(p.name)), folder
    files = [Path(p) for p in glob.glob(text) if Path(p).is_file()]
    if not files:
        raise ValueError(f"no file matches {text!r}")
    return sorted(files, key=lambda p: _natural(str(p))), None


def _pixels(image: Any, colour: bool) -> np.ndarray:
    if image.mode == "1":
        return np.asarray(image.convert("L"))
    if colour and image.mode != "RGB":
        return np.asarray(image.convert("RGB"))
    return np.asarray(image)


def read_images(source: str | Path) -> Images:
    """Read every image of a folder, or the files a glob pattern matches, into one array:
    :class:`aekit.datasets.stacks.ImageSource` read whole.

    Parameters
    ----------
    source : str or Path
        A folder (its image files, not its subfolders), a pattern such as ``"scans/*.png"``,
        or one multi-page ``.tif`` (its pages, named ``stack.tif[0]``, ...).

    Returns
    -------
    Images
        ``X``: (n, H, W) for grey images, (n, 3, H, W) for colour ones (channels first, as
        the convolutional networks take them; a folder mixing both is read in colour), in the
        pixels' own type (uint8, uint16, ...); ``files``: the names, in natural order.

    Raises
    ------
    ValueError
        For no image, an unreadable file, or images of different sizes (naming two).
    ImportError
        Without Pillow (``pip install 'aekit[images]'``), or tifffile for TIFF files
        (``pip install 'aekit[tiff]'``).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for i in (1, 2, 10):
    ...     Image.fromarray(np.full((4, 6), i, np.uint8)).save(folder / f"img{i}.png")
    >>> images = read_images(folder)
    >>> images.X.shape, images.X.dtype, images.files
    ((3, 4, 6), dtype('uint8'), ['img1.png', 'img2.png', 'img10.png'])
    """
    from aekit.datasets.stacks import ImageSource

    with ImageSource(source) as images:  # every header is checked before any pixel is read
        if len(images) > MAX_IMAGES:
            raise ValueError(
                f"{source} holds {len(images)} images; at most {MAX_IMAGES} are read into "
                "memory (stream larger sets: aekit.datasets.open_source)"
            )
        files = images.files
        if files is None:  # the pages of one TIFF
            files = [f"{Path(source).name}[{i}]" for i in range(len(images))]
        return Images(images.read(), files)
