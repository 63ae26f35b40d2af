"""Images from a folder or a glob of files (PNG, JPEG, BMP, GIF, TIFF), through Pillow.

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

from aekit._optional import require
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
# Images read at most (a folder is read into memory whole; larger stacks are for the
# streaming readers).
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
    """Read every image of a folder, or the files a glob pattern matches, into one array.

    Parameters
    ----------
    source : str or Path
        A folder (its image files, not its subfolders) or a pattern such as
        ``"scans/*.png"``.

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
        Without Pillow (``pip install 'aekit[images]'``).

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
    pil = require("PIL.Image", "images")
    files, folder = _files(source)
    if len(files) > MAX_IMAGES:
        raise ValueError(f"{source} holds {len(files)} images; at most {MAX_IMAGES} are read")
    errors = (OSError, ValueError, pil.DecompressionBombError)

    def opened(path: Path) -> Any:
        try:
            return pil.open(path)  # reads the header only
        except errors as exc:
            raise ValueError(f"{path} could not be read as an image: {exc}") from None

    # Modes from the headers first: one colour image makes every image read in colour.
    modes = set()
    for path in files:
        with opened(path) as image:
            modes.add(image.mode)
    unknown = modes - set(_MODES)
    if unknown:
        raise ValueError(f"{source}: images of mode {sorted(unknown)} are not supported")
    colour = any(_MODES[m][1] for m in modes)
    arrays = []
    for path in files:  # one decoded image at a time beside the arrays
        with opened(path) as image:
            try:
                arrays.append((path, _pixels(image, colour)))
            except errors as exc:
                raise ValueError(f"{path} could not be read as an image: {exc}") from None
    first_path, first = arrays[0]
    for path, pixels in arrays[1:]:
        if pixels.shape != first.shape:
            raise ValueError(
                f"images of different sizes: {first_path.name} is "
                f"{first.shape[1]}x{first.shape[0]}, {path.name} is "
                f"{pixels.shape[1]}x{pixels.shape[0]}; resize them to one size first"
            )
    # Pillow opens some 16-bit images (PNG) as 32-bit integers ("I"): back to uint16 when
    # every value fits, so that they are scaled by the 16-bit range like other such images.
    if modes == {"I"}:
        low = min(int(p.min()) for _, p in arrays)
        high = max(int(p.max()) for _, p in arrays)
        if 0 <= low and high <= np.iinfo(np.uint16).max:
            arrays = [(path, pixels.astype(np.uint16)) for path, pixels in arrays]
    dtypes = {pixels.dtype for _, pixels in arrays}
    if len(dtypes) > 1:
        raise ValueError(f"{source} mixes pixel types {sorted(map(str, dtypes))}")
    X = np.stack([pixels for _, pixels in arrays])  # (n, H, W) or (n, H, W, C)
    if colour:
        X = np.ascontiguousarray(X[..., :3].transpose(0, 3, 1, 2))  # (n, C, H, W)
    names = [str(p.relative_to(folder)) if folder is not None else str(p) for p, _ in arrays]
    return Images(X, names)
