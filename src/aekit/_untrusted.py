"""Reading bytes that may come from anyone: a model, an index, a codes file, a data file.

The one place that knows how to read a file without trusting it, shared by
:mod:`aekit.io.model_dir`, :mod:`aekit.datasets.files` and :mod:`aekit.tasks`; it depends on
the standard library and numpy only, so any of them can import it. Everything here refuses
cheaply: a FIFO or a device in place of a file is refused before it can block, a size is
checked before it is read, a read allocates only as far as the bytes really go, and every
damaged input ends in a one-line ``ValueError`` naming it (``FileNotFoundError`` for a
missing file).
"""

from __future__ import annotations

import io
import json
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

# numpy's own bound on a .npy header (its ``max_header_size``; it writes under 200 bytes for
# plain arrays), checked before the header is read: a 2.0 header may announce 4 GB.
MAX_NPY_HEADER_BYTES = 10_000
# Bytes read per call: what is held grows with what the file really holds, never with what a
# header announces.
READ_CHUNK = 1 << 20

_NPY_MAGIC = b"\x93NUMPY"

# What zipfile, zlib and the file system raise on a damaged archive besides ValueError (a bad
# offset's OSError, a cut deflate stream's EOFError, a malformed zip64 record's struct.error):
# all mean "not readable".
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    OSError,
    EOFError,
    NotImplementedError,  # an unsupported compression method
    RuntimeError,  # an encrypted member
    struct.error,
    OverflowError,
)


def short(text: str, limit: int = 120) -> str:
    """``text`` cut to one short line, for messages that quote a hostile file."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _not_regular(path: Path, what: str) -> ValueError:
    reads = f"; aekit reads {what} only from plain files" if what else ""
    return ValueError(f"{path} is not a regular file{reads}")


def regular_file(path: str | Path, what: str = "") -> Path:
    """``path`` if it is a regular file (links followed), else ``FileNotFoundError`` when it
    is missing and ``ValueError`` otherwise: a FIFO or a device could block or never end, and
    a directory holds no data. ``what`` names the content in the message."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(f"no such file: {path}") from None
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        raise _not_regular(path, what)
    return path


def open_regular(path: str | Path, what: str = "") -> IO[bytes]:
    """Open ``path`` for reading in binary mode, only if it is a regular file.

    Checked before opening (opening a FIFO blocks until a writer comes; opening a device may
    act on it) and again on the open descriptor, which ``O_NONBLOCK`` keeps from blocking if
    the file was swapped in between. Raises as :func:`regular_file`.
    """
    path = regular_file(path, what)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {path}") from None
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _not_regular(path, what)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_up_to(f: IO[bytes], limit: int) -> bytearray:
    """At most ``limit`` bytes of ``f``, in chunks, so that memory follows the bytes that are
    really there, never the ``limit`` (which a header may have inflated). A bytearray, so an
    array made on it with ``np.frombuffer`` is writeable."""
    buf = bytearray()
    while len(buf) < limit:
        chunk = f.read(min(READ_CHUNK, limit - len(buf)))
        if not chunk:
            break
        buf += chunk
    return buf


def read_exactly(f: IO[bytes], n: int, what: object, part: str = "data") -> bytearray:
    """The next ``n`` bytes of ``f`` (read as :func:`read_up_to`); a ``ValueError`` naming
    ``what`` when the file ends first, in its ``part``."""
    data = read_up_to(f, n)
    if len(data) != n:
        raise ValueError(
            f"{what} is damaged: it ends after {len(data)} of the {n} bytes of its {part}"
        )
    return data


def read_bounded(path: str | Path, limit: int, what: str) -> bytearray:
    """The bytes of the regular file ``path``, refused when larger than ``limit`` (checked
    from its size before reading, and again while reading). ``what`` names the content
    ("model configuration")."""
    with open_regular(path, what) as f:
        size = os.fstat(f.fileno()).st_size
        data = read_up_to(f, limit + 1) if size <= limit else bytearray()
    if size > limit or len(data) > limit:
        raise ValueError(
            f"{path} is {max(size, len(data)):,} bytes; aekit reads {what} files of at most "
            f"{limit:,} bytes (larger than that: damaged or not an aekit file)"
        )
    return data


def parse_json(data: bytes | bytearray) -> Any:
    """The JSON value of the UTF-8 ``data``; a ``ValueError`` saying what is wrong (for the
    caller to prefix with the file), also for JSON nested deeper than Python recurses."""
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise ValueError("its JSON is nested too deeply") from None
    except ValueError as exc:  # UnicodeDecodeError, JSONDecodeError, over-long integers
        raise ValueError(short(str(exc))) from None


def read_json(path: str | Path, limit: int, what: str) -> Any:
    """The JSON in the regular file ``path`` of at most ``limit`` bytes (:func:`read_bounded`);
    ``ValueError`` for anything else (not UTF-8, not JSON, nested too deep)."""
    data = read_bounded(path, limit, what)
    try:
        return parse_json(data)
    except ValueError as exc:
        raise ValueError(f"{path} is damaged: {exc}") from None


def read_npy_header(f: IO[bytes], what: object) -> tuple[tuple[int, ...], bool, np.dtype]:
    """The shape, Fortran order and dtype that the .npy header at ``f``'s position announces;
    ``f`` is left at the first byte of data. ``what`` names the array in messages.

    Only versions 1.0 and 2.0 are read (3.0 differs only for structured dtypes with
    non-Latin-1 field names); the header's length is bounded before it is read; arrays of
    Python objects (which would need unpickling) and of zero-size items are refused.
    """
    magic = read_exactly(f, len(_NPY_MAGIC) + 2, what, ".npy header")
    if not magic.startswith(_NPY_MAGIC):
        raise ValueError(f"{what} is not a .npy array (bad magic string)")
    version = (magic[-2], magic[-1])
    if version == (1, 0):
        length_format, parse = "<H", np.lib.format.read_array_header_1_0
    elif version == (2, 0):
        length_format, parse = "<I", np.lib.format.read_array_header_2_0
    else:
        raise ValueError(
            f"{what} has .npy format version {version[0]}.{version[1]}, which aekit does not read"
        )
    length_bytes = read_exactly(f, struct.calcsize(length_format), what, ".npy header")
    (length,) = struct.unpack(length_format, length_bytes)
    if length > MAX_NPY_HEADER_BYTES:
        raise ValueError(f"{what} announces a .npy header of {length} bytes; a real one is shorter")
    header = io.BytesIO(length_bytes + read_exactly(f, length, what, ".npy header"))
    try:
        shape, fortran, dtype = parse(header, max_header_size=MAX_NPY_HEADER_BYTES)
    except Exception as exc:
        # numpy parses the header with ast, a tokenizer and np.dtype, which raise ValueError,
        # SyntaxError, TokenError, TypeError, RecursionError or MemoryError on hostile text:
        # all of it means "damaged".
        raise ValueError(f"{what} has a damaged .npy header: {short(str(exc))}") from None
    if any(d < 0 for d in shape):
        raise ValueError(f"{what} has a damaged .npy header: negative shape {shape}")
    if dtype.hasobject:
        raise ValueError(
            f"{what} is damaged or not a numeric .npy array: it holds Python objects, which "
            "aekit does not read (they would need unpickling)"
        )
    if dtype.itemsize == 0:
        # 10**12 items of no size: nothing to read, but any use would allocate terabytes.
        raise ValueError(f"{what} is damaged or not a numeric .npy array: dtype {dtype}")
    return tuple(shape), bool(fortran), dtype


def read_array(
    f: IO[bytes], shape: tuple[int, ...], fortran: bool, dtype: np.dtype, what: object
) -> np.ndarray:
    """The array whose .npy header :func:`read_npy_header` has just read from ``f``, read in
    chunks (:func:`read_exactly`): a file shorter than announced is found without allocating
    more than it holds. The array is writeable and keeps the file's byte order."""
    count = int(np.prod(shape, dtype=object))
    data = read_exactly(f, count * dtype.itemsize, what)
    array = np.frombuffer(data, dtype=dtype, count=count)
    return array.reshape(shape, order="F" if fortran else "C")


def same_kind(dtype: np.dtype, expected: np.dtype) -> bool:
    """Whether ``dtype`` is ``expected`` in either byte order (no fields, no sub-arrays)."""
    return (
        dtype.fields is None
        and dtype.subdtype is None
        and dtype.kind == expected.kind
        and dtype.itemsize == expected.itemsize
    )


def holds_only(
    path: Path,
    files: Collection[str] = (),
    folders: Mapping[str, Callable[[Path], bool]] | None = None,
) -> bool:
    """Whether the directory ``path`` (not a link) holds no entries but the regular ``files``
    and the ``folders`` (each accepted by its check); all entries are optional. Recognises
    aekit's own output directories, the only ones a save may replace."""
    folders = folders or {}
    if path.is_symlink() or not path.is_dir():
        return False
    try:
        for entry in path.iterdir():
            mode = entry.lstat().st_mode
            if entry.name in files and stat.S_ISREG(mode):
                continue
            if entry.name in folders and stat.S_ISDIR(mode) and folders[entry.name](entry):
                continue
            return False
    except OSError:  # gone or unreadable meanwhile: not recognisably ours
        return False
    return True
