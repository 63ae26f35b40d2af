"""Images read lazily: a folder or glob of image files, or the pages of one multi-page TIFF.

Each sample is one image, decoded when a batch asks for it. TIFF files are read with tifffile
(16-bit, 32-bit and float pixels kept exact; the ``tiff`` extra), the others (PNG, JPEG, BMP,
GIF) with Pillow (the ``images`` extra). Files are sorted naturally (``scan2`` before
``scan10``). Everything that must agree is checked when the source is opened, from the files'
headers only: every image must have one size (else an error names two files, or two pages)
and one pixel type; one colour image makes every image read in colour. Grey images are
(H, W), colour ones (3, H, W), channels first, as the convolutional networks take them (an
alpha channel is left out).
"""

from __future__ import annotations

import io
import math
import struct
import threading
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from aekit._optional import require
from aekit._text import plural
from aekit._untrusted import open_regular
from aekit.datasets._source import RowSource
from aekit.datasets.images import _MODES, _files, _pixels, is_image_source

TIFF_SUFFIXES = (".tif", ".tiff")
# tifffile's photometric interpretation of a palette image (colour map): not read.
_PALETTE = 3


def is_tiff_stack(text: str | Path) -> bool:
    """Whether ``text`` names one TIFF file (whose pages are the samples), by its suffix."""
    return str(text).lower().endswith(TIFF_SUFFIXES) and not is_image_source(text)


def is_stack_source(text: str | Path) -> bool:
    """Whether ``text`` names images: a folder, a glob or one TIFF file."""
    return is_image_source(text) or is_tiff_stack(text)


class _Header(NamedTuple):
    """What a file's header says about its image."""

    height: int
    width: int
    dtype: np.dtype
    colour: bool
    axes: str  # "YX" grey; "YXS" or "SYX" with colour samples; "PIL" decoded by Pillow


def _tiff_errors(tifffile: Any) -> tuple[type[BaseException], ...]:
    # A damaged file or a codec that is not installed (imagecodecs) surfaces as any of these
    # (a zero dimension as a ZeroDivisionError in tifffile's grouping of pages, a file cut
    # inside its header as a struct.error, a tag of several values where one is expected as
    # a TypeError, pages that contradict the file's description as an AssertionError).
    return (
        OSError,
        ValueError,
        KeyError,
        IndexError,
        RuntimeError,
        ArithmeticError,
        TypeError,
        AssertionError,
        struct.error,
        tifffile.TiffFileError,
    )


def _reason(exc: BaseException) -> str:
    # tifffile's assertions carry no message: their type is all there is to say.
    return str(exc) or type(exc).__name__


# Decoded pixels a TIFF page may announce per byte it stores, beyond 64 MiB: compression of
# real images stays far below (an all-zero frame deflates about 1000 times), while a damaged
# or hostile header can announce gigabytes that tifffile would allocate before reading.
_MAX_EXPANSION = 4096
_MIN_PAGE_BYTES = 1 << 26


class _DamagedPage(ValueError):
    """A page refused by :func:`_check_page` (its message names the file already)."""


def _check_page(page: Any, file_size: int, where: str) -> None:
    """Refuse a page whose header announces data past the end of the file, or many more
    pixels than its stored bytes could hold, before tifffile allocates them."""
    stored = 0
    for offset, count in zip(page.dataoffsets, page.databytecounts, strict=False):
        if offset + count > file_size:
            raise _DamagedPage(f"{where} is damaged: its pixels lie past the end of the file")
        stored += count
    pixels = math.prod(page.shape) * np.dtype(page.dtype or np.uint8).itemsize
    if pixels > max(_MIN_PAGE_BYTES, _MAX_EXPANSION * stored):
        raise _DamagedPage(
            f"{where} is damaged: it announces {pixels:,} bytes of pixels from {stored:,} "
            "stored bytes"
        )


def _page_facts(page: Any) -> tuple[str, tuple[int, ...], Any, int]:
    return str(page.axes), tuple(page.shape), page.dtype, int(page.photometric)


def _tiff_header(facts: tuple[str, tuple[int, ...], Any, int], where: str) -> _Header:
    """The header of a TIFF page from its :func:`_page_facts`."""
    axes, shape, dtype, photometric = facts
    if dtype is None or photometric == _PALETTE or len(axes) != len(shape):
        raise ValueError(f"{where} is a palette or unsupported TIFF image; save it as grey or RGB")
    dtype = np.dtype(dtype).newbyteorder("=")
    if axes == "YX":
        return _Header(shape[0], shape[1], dtype, False, axes)
    if axes in ("YXS", "SYX"):
        samples = shape[2] if axes == "YXS" else shape[0]
        height, width = (shape[0], shape[1]) if axes == "YXS" else (shape[1], shape[2])
        if samples in (3, 4):
            return _Header(height, width, dtype, True, axes)
    raise ValueError(
        f"{where} holds images of axes {axes} and shape {shape}; aekit reads grey or RGB(A) images"
    )


def _size(facts: tuple[str, tuple[int, ...], Any, int]) -> str:
    axes, shape, dtype, _ = facts
    if len(shape) < 2 or len(shape) != len(axes):
        return f"of shape {shape} {dtype}"
    height, width = (shape[1], shape[2]) if axes == "SYX" else (shape[0], shape[1])
    return f"{width}x{height} {dtype}"


def _native(pixels: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``pixels`` in the machine's byte order (Pillow's I;16B, a big-endian TIFF)."""
    if pixels.dtype != dtype and pixels.dtype.newbyteorder("=") == dtype:
        return pixels.astype(dtype)
    return pixels


def _arrange(pixels: np.ndarray, axes: str, colour: bool) -> np.ndarray:
    """Pixels as a sample: (H, W) grey, or (3, H, W) colour."""
    if axes in ("YX", "PIL") and pixels.ndim == 2:
        return np.repeat(pixels[None], 3, axis=0) if colour else pixels
    if axes == "SYX":
        return np.ascontiguousarray(pixels[:3])
    return np.ascontiguousarray(pixels[..., :3].transpose(2, 0, 1))  # YXS, or Pillow's RGB


class ImageSource(RowSource):
    """Images read one by one when asked for: a folder, a glob, or one multi-page TIFF.

    Parameters
    ----------
    source : str or Path
        A folder (its image files, not its subfolders), a pattern such as ``"scans/*.tif"``,
        or one ``.tif``/``.tiff`` file whose pages are the samples.

    Attributes
    ----------
    shape : tuple of int
        ``(n, H, W)`` for grey images, ``(n, 3, H, W)`` for colour ones.
    dtype : numpy.dtype
        The pixels' own type (uint8, uint16, float32, ...).
    files : list of str or None
        The file of each sample, relative to the folder (or as the glob matched it), in
        natural order; ``None`` for the pages of one TIFF.
    chunk_rows : int
        1: each image is read on its own.

    Raises
    ------
    ValueError
        For no image, a file that is not an image, images of different sizes or pixel types
        (naming two), or a TIFF file of several pages among others.
    ImportError
        Without tifffile for TIFF files (``pip install 'aekit[tiff]'``), or Pillow for the
        others (``pip install 'aekit[images]'``).

    Examples
    --------
    >>> import pathlib, tempfile, tifffile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "stack.tif"
    >>> frames = np.arange(3 * 4 * 5, dtype=np.uint16).reshape(3, 4, 5) * 1000
    >>> tifffile.imwrite(path, frames, photometric="minisblack")
    >>> source = ImageSource(path)
    >>> source.shape, source.dtype, int(source[-1][3, 4])
    ((3, 4, 5), dtype('uint16'), 59000)
    >>> source.describe()
    '3 grey images of 5x4 pixels, uint16 (the pages of stack.tif)'
    """

    _handles = ("_tiff",)
    chunk_rows = 1

    def __init__(self, source: str | Path) -> None:
        self.source = str(source)
        if is_tiff_stack(source):
            self.path: Path | None = Path(source)
            self.files: list[str] | None = None
            self._paths: list[Path] = []
            header = self._open_stack(Path(source))
            self._headers = [header]
            colour = header.colour
        else:
            self.path = None
            self._paths, folder = _files(source)
            self.files = [
                str(p.relative_to(folder)) if folder is not None else str(p) for p in self._paths
            ]
            self._headers = self._read_headers()
            colour = any(h.colour for h in self._headers)
            self._n_pages = len(self._paths)
        self.colour = colour
        first = self._headers[0]
        self.dtype = np.dtype(first.dtype)
        size = (first.height, first.width)
        self.shape = (self._n_pages, *((3, *size) if colour else size))
        self._lock = threading.Lock()
        self._tiff: Any = None

    # ------------------------------------------------------------------ opening
    def _open_stack(self, path: Path) -> _Header:
        tifffile = require("tifffile", "tiff")
        if not path.is_file():
            if path.exists():
                raise ValueError(f"{path} is not a regular file")
            raise FileNotFoundError(f"no file at {path}")
        self._file_size = path.stat().st_size
        try:
            with tifffile.TiffFile(path) as tif:
                self._n_pages = len(tif.pages)
                if self._n_pages:
                    _check_page(tif.pages[0], self._file_size, f"{path}, page 0,")
                # tifffile groups the pages by shape and type from their headers (from the
                # first page alone when the file says its pages are one array): the first
                # page of each group stands for it. Pages outside any group (thumbnails):
                # every header is read.
                groups = [s.pages for s in tif.series if len(s.pages)]
                covered = sum(len(g) for g in groups) == self._n_pages
                pages = [g[0] for g in groups] if covered else tif.pages
                firsts, seen = [], set()
                for page in pages:
                    facts = _page_facts(page)
                    if facts[:3] not in seen:  # one page of each shape and type
                        seen.add(facts[:3])
                        firsts.append((page.index, facts))
        except _DamagedPage:
            raise
        except _tiff_errors(tifffile) as exc:
            raise ValueError(f"{path} could not be read as a TIFF file: {_reason(exc)}") from None
        if not firsts:
            raise ValueError(f"{path} holds no image")
        if len(firsts) > 1:
            (i, a), (j, b) = firsts[:2]
            raise ValueError(
                f"pages of different sizes or types in {path}: page {i} is {_size(a)}, page "
                f"{j} is {_size(b)}; the pages of a stack must share one"
            )
        return _tiff_header(firsts[0][1], f"{path}, page {firsts[0][0]}")

    def _read_headers(self) -> list[_Header]:
        headers = [self._header(path) for path in self._paths]
        unknown = {h.axes[4:] for h in headers if h.axes.startswith("PIL:")}
        if unknown:
            raise ValueError(f"{self.source}: images of mode {sorted(unknown)} are not supported")
        colour = any(h.colour for h in headers)
        # Pillow's colour images are RGB, 8 bits: the type of every Pillow image read in colour.
        headers = [
            h._replace(dtype=np.dtype(np.uint8)) if colour and h.axes.startswith("PIL") else h
            for h in headers
        ]
        first = headers[0]
        for path, h in zip(self._paths, headers, strict=True):
            if (h.height, h.width) != (first.height, first.width):
                raise ValueError(
                    f"images of different sizes: {self._paths[0].name} is "
                    f"{first.width}x{first.height}, {path.name} is {h.width}x{h.height}; "
                    "resize them to one size first"
                )
            if h.dtype != first.dtype:
                raise ValueError(
                    f"{self.source} mixes pixel types: {self._paths[0].name} is {first.dtype}, "
                    f"{path.name} is {h.dtype}"
                )
        return headers

    def _header(self, path: Path) -> _Header:
        if path.suffix.lower() in TIFF_SUFFIXES:
            tifffile = require("tifffile", "tiff")
            try:
                with tifffile.TiffFile(path) as tif:
                    n_pages, facts = len(tif.pages), _page_facts(tif.pages[0])
                    _check_page(tif.pages[0], path.stat().st_size, str(path))
            except _DamagedPage:
                raise
            except _tiff_errors(tifffile) as exc:
                raise ValueError(f"{path} could not be read as an image: {_reason(exc)}") from None
            if n_pages != 1:
                raise ValueError(
                    f"{path} holds {plural(n_pages, 'page')}; the TIFF files of a folder or "
                    "glob hold one image each (give a multi-page TIFF alone to read its pages "
                    "as samples)"
                )
            return _tiff_header(facts, str(path))
        pil = require("PIL.Image", "images")
        try:
            with pil.open(path) as image:  # reads the header only
                mode, (width, height), fmt = image.mode, image.size, image.format
        except (OSError, ValueError, pil.DecompressionBombError) as exc:
            raise ValueError(f"{path} could not be read as an image: {exc}") from None
        known = _MODES.get(mode)
        if known is None:
            return _Header(height, width, np.dtype(np.uint8), False, f"PIL:{mode}")
        dtype = np.dtype(known[0])
        if mode == "I" and fmt == "PNG":
            # Older Pillow opens 16-bit PNGs as 32-bit integers: their values fit 16 bits, and
            # as uint16 they are scaled by that range like other 16-bit images.
            dtype = np.dtype(np.uint16)
        return _Header(height, width, dtype, known[1], "PIL")

    # ------------------------------------------------------------------ reading
    def describe(self) -> str:
        """One line for a user: "12 grey images of 10x8 pixels, uint8"."""
        kind = "colour" if self.colour else "grey"
        height, width = self.shape[-2:]
        text = f"{plural(len(self), kind + ' image')} of {width}x{height} pixels, {self.dtype}"
        return text if self.path is None else f"{text} (the pages of {self.path.name})"

    def _read_span(self, start: int, stop: int) -> np.ndarray:
        out = np.empty((stop - start, *self.sample_shape), dtype=self.dtype)
        for i in range(start, stop):
            out[i - start] = self._checked(self._image(i)[None], 1)[0]
        return out

    def _image(self, i: int) -> np.ndarray:
        if self.path is not None:
            return self._page(i)
        path = self._paths[i]
        header = self._headers[i]
        if header.axes.startswith("PIL"):
            pil = require("PIL.Image", "images")
            try:
                # Decoded from the file's bytes in memory: Pillow skips the rest of a PNG's
                # pixel data by reading as many bytes as its chunk announces (2 GB for a
                # damaged length) into a buffer of that size, while a read from memory stops
                # at the bytes there are.
                with open_regular(path, "images") as f:
                    data = io.BytesIO(f.read())
                with pil.open(data) as image:
                    pixels = _pixels(image, self.colour)
            # A damaged PNG chunk met while decoding is Pillow's SyntaxError.
            except (OSError, ValueError, SyntaxError, pil.DecompressionBombError) as exc:
                raise ValueError(f"{path} could not be read as an image: {exc}") from None
            if header.dtype == np.uint16 and pixels.dtype == np.int32:
                pixels = pixels.astype(np.uint16)  # the 16-bit PNG opened as 32-bit
            return _arrange(_native(pixels, self.dtype), "PIL", self.colour)
        tifffile = require("tifffile", "tiff")
        try:
            with tifffile.TiffFile(path) as tif:
                page = tif.pages[0]
                _check_page(page, path.stat().st_size, str(path))
                pixels = page.asarray()
        except _DamagedPage:
            raise
        except _tiff_errors(tifffile) as exc:
            raise ValueError(f"{path} could not be read as an image: {_reason(exc)}") from None
        return _arrange(_native(pixels, self.dtype), header.axes, self.colour)

    def _page(self, i: int) -> np.ndarray:
        tifffile = require("tifffile", "tiff")
        with self._lock:  # one file position per handle: one page read at a time
            tif = self._own("_tiff", lambda: tifffile.TiffFile(self.path))
            try:
                page = tif.pages[i]
                _check_page(page, self._file_size, f"{self.path}, page {i},")
                pixels = page.asarray()
            except _DamagedPage:
                raise
            except _tiff_errors(tifffile) as exc:
                raise ValueError(
                    f"{self.path}, page {i}, could not be read: {_reason(exc)}"
                ) from None
        return _arrange(_native(pixels, self.dtype), self._headers[0].axes, self.colour)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        del state["_lock"]  # a lock does not pickle; each process makes its own
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
