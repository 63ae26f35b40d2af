"""Compact storage of autoencoder codes, and what it costs in bits and in distortion.

A fitted autoencoder is a lossy codec: the encoder f compresses a sample to ``latent_dim``
numbers and the decoder g decompresses them. How many bits each number takes is the other
half of the bargain, so the codes can be stored as float32 (32 bits, lossless for the
network's own output), float16 (16 bits, a relative error of at most 2^-11) or int8 (8 bits,
an affine quantiser per code dimension, see :func:`quantize`).

How sizes are counted (:func:`compression_report`):

- bits per sample are the codes only: ``latent_dim * bits per code``;
- the int8 quantiser's side information, a float32 scale and a float32 offset per code
  dimension (``8 * latent_dim`` bytes), is paid once per data set, not per sample, so it is
  reported apart, as ``side_bytes``;
- the model itself (the decoder's weights, or PCA's mean and basis) is shared by whoever
  compresses and decompresses, like a codec's tables, and is not counted for either method.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from sklearn.decomposition import PCA
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from aekit._repr import result_repr
from aekit._text import plural
from aekit._untrusted import (
    ZIP_ERRORS,
    open_regular,
    read_array,
    read_npy_header,
    same_kind,
    short,
)
from aekit.data import in_unit_interval
from aekit.io.atomic import atomic_file
from aekit.tasks.denoising import _rows, psnr, summed_squared_error

# Storage types of the codes and their bits per code.
CODE_BITS: dict[str, int] = {"float32": 32, "float16": 16, "int8": 8}

# The dtypes compression_report compares by default, widest first.
REPORT_DTYPES = ("float32", "float16", "int8")

# int8 levels: q in [-128, 127] stands for offset + scale * q.
_QMIN, _QMAX = -128, 127

# Marks an .npz file written by save_codes.
CODES_FORMAT = "aekit-codes"


class QuantizedCodes(NamedTuple):
    """Codes as stored: the array, and for int8 the affine map back to real values.

    A code value is ``offset[j] + scale[j] * codes[i, j]`` for int8 codes, the stored value
    itself for float16 and float32 ones (``scale`` and ``offset`` are then ``None``).
    """

    codes: np.ndarray  # (n_samples, latent_dim), of numpy dtype `dtype`
    scale: np.ndarray | None  # (latent_dim,) float32, int8 only: the step between two levels
    offset: np.ndarray | None  # (latent_dim,) float32, int8 only: the value of level 0
    dtype: str  # "float32", "float16" or "int8"

    __repr__ = result_repr

    @property
    def bits_per_sample(self) -> int:
        """Bits of one sample's codes (the side information is per data set)."""
        return int(self.codes.shape[1]) * CODE_BITS[self.dtype]

    @property
    def side_bytes(self) -> int:
        """Bytes of the int8 scale and offset, paid once for the whole data set (0 for
        float codes)."""
        if self.scale is None or self.offset is None:
            return 0
        return int(self.scale.nbytes + self.offset.nbytes)

    @property
    def nbytes(self) -> int:
        """Bytes of the codes and the side information together."""
        return int(self.codes.nbytes) + self.side_bytes


def _check_dtype(dtype: Any) -> str:
    if not isinstance(dtype, str) or dtype not in CODE_BITS:
        raise ValueError(f"dtype must be one of {list(CODE_BITS)}, got {dtype!r}")
    return dtype


def quantize(Z: Any, dtype: str = "int8") -> QuantizedCodes:
    """Store codes ``Z`` as float32, float16 or int8.

    int8 uses an affine quantiser per code dimension j, fitted on ``Z``: the 256 levels
    ``offset_j + scale_j * q`` (q = -128..127) span ``[min_j, max_j]`` of the column, so
    ``scale_j = (max_j - min_j) / 255`` and every value is rounded to the nearest level, within
    ``scale_j / 2`` of where it was. The full range rather than a clipped (percentile) one:
    nothing is clipped, so the error bound holds for every sample, the extreme ones included
    (often the unusual samples one most wants intact), while at 256 levels the step is already
    small beside an autoencoder's own error (on MNIST, int8 codes add well under 1% to the
    squared error of float32 ones; see docs/compression.md). A constant column gets scale 0 and
    is stored exactly.

    Parameters
    ----------
    Z : array-like of shape (n_samples, latent_dim)
        The codes, for example ``estimator.transform(X)``.
    dtype : {"int8", "float16", "float32"}, default="int8"
        Storage type: 8, 16 or 32 bits per code.

    Returns
    -------
    QuantizedCodes
        The stored array and, for int8, the float32 ``scale`` and ``offset`` of each column.

    Examples
    --------
    >>> import numpy as np
    >>> from aekit.tasks import dequantize, quantize
    >>> Z = np.random.RandomState(0).normal(size=(100, 4))
    >>> q = quantize(Z, "int8")
    >>> q.codes.dtype, q.bits_per_sample, q.side_bytes
    (dtype('int8'), 32, 32)
    >>> bool((np.abs(dequantize(q) - Z) <= q.scale / 2 + 1e-6).all())
    True
    """
    _check_dtype(dtype)
    Z = check_array(Z, dtype=np.float64, input_name="Z")
    if dtype != "int8":
        limit = float(np.finfo(dtype).max)
        peak = float(np.abs(Z).max())
        if peak > limit:
            raise ValueError(
                f"codes reach |z| = {peak:.4g}, beyond the range of {dtype} ({limit:.4g}); "
                "use a wider dtype, or int8, which scales each dimension"
            )
        return QuantizedCodes(Z.astype(dtype), None, None, dtype)
    low, high = Z.min(axis=0), Z.max(axis=0)
    scale = ((high - low) / (_QMAX - _QMIN)).astype(np.float32)
    offset = (low - _QMIN * scale.astype(np.float64)).astype(np.float32)
    if not (np.isfinite(scale).all() and np.isfinite(offset).all()):
        raise ValueError("codes span a range that float32 scale and offset cannot hold")
    # Round against the float32 scale and offset that are stored, not their float64 originals,
    # so that dequantize lands on the level nearest to each value.
    step = np.where(scale > 0, scale, 1.0).astype(np.float64)
    q = np.rint((Z - offset.astype(np.float64)) / step)
    codes = np.clip(q, _QMIN, _QMAX).astype(np.int8)
    return QuantizedCodes(codes, scale, offset, dtype)


def _check_quantized(q: Any) -> QuantizedCodes:
    if not isinstance(q, QuantizedCodes):
        raise ValueError(
            f"expected QuantizedCodes (from quantize, compress or load_codes), got "
            f"{type(q).__name__}"
        )
    dtype = _check_dtype(q.dtype)
    codes = q.codes
    if not isinstance(codes, np.ndarray) or codes.ndim != 2 or codes.shape[0] == 0:
        raise ValueError(
            f"codes must be a 2-D array (n_samples, latent_dim) with at least one sample, got "
            f"{getattr(codes, 'shape', type(codes).__name__)}"
        )
    if codes.dtype != np.dtype(dtype):
        raise ValueError(f"codes are stored as {codes.dtype}, but dtype says {dtype}")
    if dtype != "int8":
        if q.scale is not None or q.offset is not None:
            raise ValueError(f"{dtype} codes take no scale or offset")
        if not np.isfinite(codes).all():
            raise ValueError("codes contain NaN or infinity")
        return q
    for name in ("scale", "offset"):
        value = getattr(q, name)
        if not (
            isinstance(value, np.ndarray)
            and value.shape == (codes.shape[1],)
            and value.dtype.kind == "f"
            and np.isfinite(value).all()
        ):
            raise ValueError(
                f"int8 codes need a finite float {name} of shape ({codes.shape[1]},), got "
                f"{getattr(value, 'shape', value)!r}"
            )
    return q


def dequantize(q: QuantizedCodes) -> np.ndarray:
    """Codes back as float32, shape ``(n_samples, latent_dim)``: the input of a decoder.

    Examples
    --------
    >>> import numpy as np
    >>> from aekit.tasks import dequantize, quantize
    >>> Z = np.array([[0.0, 1.0], [0.5, 3.0]])
    >>> dequantize(quantize(Z, "float16"))
    array([[0. , 1. ],
           [0.5, 3. ]], dtype=float32)
    """
    q = _check_quantized(q)
    if q.dtype != "int8":
        return q.codes.astype(np.float32)
    assert q.scale is not None and q.offset is not None  # checked above
    values = q.offset.astype(np.float64) + q.scale.astype(np.float64) * q.codes
    return values.astype(np.float32)


def _check_codec(estimator: Any) -> None:
    """A fitted estimator that encodes (transform) and decodes (inverse_transform)."""
    if not (
        callable(getattr(estimator, "transform", None))
        and callable(getattr(estimator, "inverse_transform", None))
    ):
        raise ValueError(
            f"{type(estimator).__name__} cannot compress: it needs transform (encode) and "
            "inverse_transform (decode), as Autoencoder and VAE have"
        )
    if hasattr(estimator, "get_params"):
        check_is_fitted(estimator)


def compress(estimator: Any, X: Any, dtype: str = "int8") -> QuantizedCodes:
    """Encode ``X`` with a fitted autoencoder and store the codes as ``dtype``.

    Parameters
    ----------
    estimator : fitted Autoencoder or VAE
        Anything with ``transform`` and ``inverse_transform`` (a VAE's code is its posterior
        mean).
    X : array-like
        Samples in the shape the estimator was fitted on.
    dtype : {"int8", "float16", "float32"}, default="int8"
        Storage type of the codes (see :func:`quantize`).

    Returns
    -------
    QuantizedCodes

    Examples
    --------
    >>> from aekit import Autoencoder
    >>> from aekit.datasets import load_digits
    >>> from aekit.tasks import compress, decompress
    >>> X, _ = load_digits()
    >>> ae = Autoencoder(latent_dim=8, epochs=2, random_state=0, verbose=False).fit(X)
    >>> q = compress(ae, X, "int8")
    >>> q.codes.shape, q.nbytes  # 8 bytes a digit, and 64 bytes of scale and offset
    ((1797, 8), 14440)
    >>> decompress(ae, q).shape
    (1797, 8, 8)
    """
    _check_dtype(dtype)
    _check_codec(estimator)
    return quantize(estimator.transform(X), dtype)


def decompress(estimator: Any, q: QuantizedCodes) -> np.ndarray:
    """Decode stored codes with the estimator that made them: data of its samples' shape.

    See :func:`compress` for an example.
    """
    _check_codec(estimator)
    return estimator.inverse_transform(dequantize(q))


# ------------------------------------------------------------------------------ files
# The arrays of a codes file (``NAME.npy`` members of the .npz); "format" is optional, so
# files written by hand without the marker still load.
CODES_MEMBERS = ("codes", "scale", "offset", "dtype", "format")
_REQUIRED_MEMBERS = ("codes", "scale", "offset", "dtype")

# Characters of the "dtype" and "format" strings ("float32", "aekit-codes"): bounded, as
# every other size in a file that may come from anyone.
_MAX_TEXT = 64

# zipfile's own ValueErrors are caught too, to be told apart from ours (see _read_codes_file).
_ZIP_ERRORS = (*ZIP_ERRORS, ValueError)


class _Member(NamedTuple):
    """One array of a codes file, as its zip entry and .npy header announce it."""

    info: zipfile.ZipInfo
    shape: tuple[int, ...]
    fortran: bool
    dtype: np.dtype


def save_codes(path: str | Path, q: QuantizedCodes) -> Path:
    """Write quantised codes to an ``.npz`` file of plain arrays (never pickled objects).

    The file holds ``codes``, ``scale`` and ``offset`` (empty for float codes), ``dtype`` and
    ``format``; ``np.load(path, allow_pickle=False)`` reads it. Uncompressed, so the file
    size is the code bytes plus a few hundred bytes of headers. Written to a temporary file,
    flushed to disk and renamed into place (:func:`aekit.io.atomic.atomic_file`), so a failed
    or killed write leaves an earlier file intact. ``path`` is checked first
    (:func:`check_codes_output`): only an earlier codes file is replaced.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> from aekit.tasks import load_codes, quantize, save_codes
    >>> q = quantize(np.random.RandomState(0).normal(size=(10, 3)), "int8")
    >>> path = save_codes(tempfile.mkdtemp() + "/codes.npz", q)
    >>> bool((load_codes(path).codes == q.codes).all())
    True
    """
    q = _check_quantized(q)
    path = check_codes_output(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    empty = np.zeros(0, dtype=np.float32)
    arrays = {
        "codes": q.codes,
        "scale": empty if q.scale is None else q.scale,
        "offset": empty if q.offset is None else q.offset,
        "dtype": np.array(q.dtype),
        "format": np.array(CODES_FORMAT),
    }
    with atomic_file(path, "wb") as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]
    return path


def check_codes_output(path: str | Path) -> Path:
    """Refuse ``path`` as the target of :func:`save_codes` unless it is a ``.npz`` name that is
    absent or an earlier codes file (one :func:`load_codes` reads: nothing else is replaced);
    returns the absolute path.

    Cheap (an existing file's headers only): call it before computing the codes, so a bad
    ``--out`` costs nothing.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from aekit.tasks.compression import check_codes_output
    >>> data = pathlib.Path(tempfile.mkdtemp()) / "data.npz"
    >>> np.savez(data, X=np.zeros(3))
    >>> check_codes_output(data)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: ... exists and is not a file of aekit codes; not overwriting it
    """
    path = Path(path).absolute()
    if path.suffix.lower() != ".npz":
        raise ValueError(f"cannot write codes to {path}: use a .npz file name")
    if path.is_symlink():
        raise ValueError(f"{path} is a symbolic link; not replacing it")
    if path.is_dir():
        raise ValueError(f"{path} is a directory; give a .npz file name")
    if path.exists():
        try:
            _read_codes_file(path, read_codes=False)
        except (ValueError, OSError):
            raise ValueError(
                f"{path} exists and is not a file of aekit codes; not overwriting it"
            ) from None
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write {path}: {parent} is not a writable folder")
    return path


def load_codes(path: str | Path) -> QuantizedCodes:
    """Read codes written by :func:`save_codes` (without unpickling anything).

    The file is read as what it may be, a stranger's: a regular file only (a FIFO does not
    block), an archive of the members the format defines and no other, stored uncompressed
    (as :func:`save_codes` writes them). Each member's .npy header must announce what the
    format expects (int8, float16 or float32 codes of shape ``(n, latent_dim)``; a float
    ``scale`` and ``offset`` of shape ``(latent_dim,)``; short strings), consistent with the
    member's size, before its data is read; so a damaged or hostile file costs about as much
    as its own size, never more, and gives a ``ValueError``.

    See :func:`save_codes` for an example.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When ``path`` is not a file of aekit codes, or is damaged.
    """
    return _read_codes_file(Path(path), read_codes=True)


def _read_codes_file(path: Path, read_codes: bool) -> QuantizedCodes:
    """Check ``path`` as a codes file and read it (without the codes when ``read_codes`` is
    False: their header only, enough to recognise the file)."""
    with open_regular(path, "codes") as f:
        if f.read(6) == b"\x93NUMPY":
            raise ValueError(f"{path} is a single array, not an .npz file of codes")
        file_size = os.fstat(f.fileno()).st_size
        try:
            archive = zipfile.ZipFile(f)
        except _ZIP_ERRORS as exc:
            raise ValueError(
                f"{path} could not be read as an .npz file: {short(str(exc))}"
            ) from None
        with archive:
            try:
                members = _members(path, archive, file_size)
                name, scale, offset = _check_members(path, archive, members)
                codes = members["codes"]
                if not read_codes:
                    values = np.zeros((1, codes.shape[1]), dtype=np.dtype(name))
                else:
                    values = _read_member(path, archive, codes)
            except _ZIP_ERRORS as exc:
                if isinstance(exc, ValueError):
                    raise  # ours, or zipfile's: clear enough, and of the promised type
                raise ValueError(f"{path} is damaged: {short(str(exc))}") from None
    return _check_quantized(QuantizedCodes(values, scale, offset, name))


def _members(path: Path, archive: zipfile.ZipFile, file_size: int) -> dict[str, _Member]:
    """The members of the archive by name, from their headers; refuses unknown, repeated,
    compressed, encrypted or truncated members before reading any data."""
    members: dict[str, _Member] = {}
    for info in archive.infolist():
        key = info.filename[: -len(".npy")] if info.filename.endswith(".npy") else None
        if key not in CODES_MEMBERS:
            raise ValueError(
                f"{path} is not a file of aekit codes: it holds "
                f"{short(repr(info.filename))}, which the format does not define"
            )
        if key in members:
            raise ValueError(f"{path} is damaged: it holds {info.filename} twice")
        if info.flag_bits & 0x1:
            raise ValueError(f"{path} is damaged: {info.filename} is encrypted")
        if info.compress_type != zipfile.ZIP_STORED:
            raise ValueError(
                f"{path}: {info.filename} is compressed; aekit reads codes stored "
                "uncompressed, as save_codes writes them"
            )
        if info.compress_size != info.file_size or info.header_offset + info.file_size > file_size:
            raise ValueError(f"{path} is damaged: {info.filename} runs past the end of the file")
        with archive.open(info) as member:
            # Refuses Python objects, which would need unpickling.
            shape, fortran, dtype = read_npy_header(member, f"{path}: {info.filename}")
            header_size = member.tell()
        data_size = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if header_size + data_size != info.file_size:
            raise ValueError(
                f"{path} is damaged: {info.filename} announces {data_size} bytes of data in "
                f"{info.file_size - header_size}"
            )
        members[key] = _Member(info, shape, fortran, dtype)
    missing = [k for k in _REQUIRED_MEMBERS if k not in members]
    if missing:
        raise ValueError(f"{path} is not a file of aekit codes: it lacks {missing}")
    return members


def _text(path: Path, archive: zipfile.ZipFile, member: _Member, key: str) -> str:
    """The string of a scalar string member (``dtype``, ``format``)."""
    if member.dtype.kind != "U" or member.shape != () or member.dtype.itemsize > 4 * _MAX_TEXT:
        raise ValueError(
            f"{path}: {key!r} must be a short string, got {member.dtype} of shape {member.shape}"
        )
    return str(_read_member(path, archive, member)[()])


def _check_members(
    path: Path, archive: zipfile.ZipFile, members: dict[str, _Member]
) -> tuple[str, np.ndarray | None, np.ndarray | None]:
    """Check the headers against each other; read the small members. Returns the dtype name
    and, for int8 codes, the scale and offset."""
    # Files without the marker are accepted (written by hand); another marker is not.
    if "format" in members:
        marker = _text(path, archive, members["format"], "format")
        if marker != CODES_FORMAT:
            raise ValueError(f"{path} is not a file of aekit codes (format {short(repr(marker))})")
    text = _text(path, archive, members["dtype"], "dtype")
    if text not in CODE_BITS:
        raise ValueError(f"{path}: 'dtype' must be one of {list(CODE_BITS)}, got {short(text)!r}")
    codes = members["codes"]
    if len(codes.shape) != 2 or min(codes.shape) < 1:
        raise ValueError(
            f"{path}: codes must be a 2-D array (n_samples, latent_dim) with at least one "
            f"sample and one dimension, got shape {codes.shape}"
        )
    if not same_kind(codes.dtype, np.dtype(text)):
        raise ValueError(f"{path}: codes are stored as {codes.dtype}, but dtype says {text}")
    dim = codes.shape[1]
    side = {}
    for key in ("scale", "offset"):
        member = members[key]
        if text == "int8":
            floats = (np.dtype(np.float32), np.dtype(np.float64))
            if member.shape != (dim,) or not any(same_kind(member.dtype, t) for t in floats):
                raise ValueError(
                    f"{path}: int8 codes need a float {key} of shape ({dim},), got "
                    f"{member.dtype} of shape {member.shape}"
                )
            side[key] = _read_member(path, archive, member)
        elif member.shape not in ((0,), (dim,)) or member.dtype.kind != "f":
            # Unused for float codes, but a large or odd array here is no file aekit wrote.
            raise ValueError(
                f"{path}: {text} codes take an empty {key}, got {member.dtype} of shape "
                f"{member.shape}"
            )
    return text, side.get("scale"), side.get("offset")


def _read_member(path: Path, archive: zipfile.ZipFile, member: _Member) -> np.ndarray:
    """The data of a member whose header has been checked (its size matches the entry's)."""
    with archive.open(member.info) as f:
        read_npy_header(f, f"{path}: {member.info.filename}")
        array = read_array(f, member.shape, member.fortran, member.dtype, path)
    return array.astype(member.dtype.newbyteorder("="), copy=False)


# ----------------------------------------------------------------------------- report
class CompressionRow(NamedTuple):
    """One (method, dtype) line of a :class:`CompressionReport`."""

    method: str  # "aekit" (the estimator) or "pca" (PCA with latent_dim components)
    dtype: str  # storage type of the codes
    bits_per_sample: int  # latent_dim * bits per code; side information not included
    side_bytes: int  # per data set: int8 scale and offset (8 bytes per code dimension)
    ratio_float32: float  # raw float32 bits per sample / bits_per_sample
    ratio_8bit: float | None  # raw 8-bit values per sample / bits_per_sample ([0, 1] data)
    sse: float  # squared error summed over features, mean over samples, in the data's units
    psnr: float | None  # dB, with peak 1, for data in [0, 1]

    __repr__ = result_repr


@dataclass(frozen=True)
class CompressionReport:
    """Size and distortion of each (method, dtype); iterate over it for the rows."""

    rows: list[CompressionRow]
    n_samples: int
    n_features: int
    latent_dim: int
    unit_interval: bool  # pixels stored as bytes (data in [0, 1] or uint8): 8-bit ratio reported

    __repr__ = result_repr

    def __iter__(self) -> Iterator[CompressionRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def row(self, method: str, dtype: str) -> CompressionRow:
        """The row of ``method`` ("aekit" or "pca") at ``dtype``."""
        for row in self.rows:
            if row.method == method and row.dtype == dtype:
                return row
        raise KeyError(f"no row for method={method!r}, dtype={dtype!r}")

    def distortion_ratio(self, dtype: str) -> float:
        """The estimator's squared error over PCA's at the same ``dtype`` (below 1: the
        autoencoder wins at the same bit budget)."""
        return self.row("aekit", dtype).sse / self.row("pca", dtype).sse

    def to_text(self) -> str:
        """The table as aligned text, with a note on how bits are counted."""
        header = (
            f"{'method':<7}{'dtype':<9}{'bits/sample':>12}{'side bytes':>12}"
            f"{'vs float32':>12}{'vs 8-bit':>10}{'SSE/sample':>12}{'PSNR dB':>9}"
        )
        lines = [
            f"{plural(self.n_samples, 'sample')} of {plural(self.n_features, 'value')}, "
            f"codes of {plural(self.latent_dim, 'dimension')}",
            header,
        ]
        for r in self.rows:
            ratio8 = "-" if r.ratio_8bit is None else f"{r.ratio_8bit:.1f}x"
            peak = "-" if r.psnr is None else f"{r.psnr:.2f}"
            lines.append(
                f"{r.method:<7}{r.dtype:<9}{r.bits_per_sample:>12}{r.side_bytes:>12}"
                f"{r.ratio_float32:>11.1f}x{ratio8:>10}{r.sse:>#12.4g}{peak:>9}"
            )
        methods = {r.method for r in self.rows}
        if {"aekit", "pca"} <= methods:
            ratios = ", ".join(
                f"{r.dtype} {self.distortion_ratio(r.dtype):.3f}"
                for r in self.rows
                if r.method == "aekit"
            )
            lines.append(f"distortion aekit/PCA at the same size: {ratios}")
        side = max((r.side_bytes for r in self.rows), default=0)
        if side:
            lines.append(
                "bits/sample count the codes; the side bytes (int8 scale and offset) are paid "
                f"once per data set,\n+{8 * side / self.n_samples:.3g} bits/sample over these "
                f"{plural(self.n_samples, 'sample')}"
            )
        return "\n".join(lines)


def _check_dtypes(dtypes: Any) -> tuple[str, ...]:
    if isinstance(dtypes, str):
        dtypes = (dtypes,)
    if not isinstance(dtypes, Sequence) or len(dtypes) == 0:
        raise ValueError(f"dtypes must be a non-empty sequence of {list(CODE_BITS)}")
    checked = tuple(_check_dtype(d) for d in dtypes)
    if len(set(checked)) != len(checked):
        raise ValueError(f"dtypes must not repeat, got {list(checked)}")
    return checked


def compression_report(
    estimator: Any,
    X: Any,
    dtypes: Sequence[str] = REPORT_DTYPES,
    X_fit: Any = None,
    *,
    pca: bool = True,
    random_state: int | None = 0,
) -> CompressionReport:
    """Bits and distortion of the estimator's codes at each dtype, beside PCA at the same size.

    For each dtype the codes of ``X`` are quantised (:func:`quantize`) and decoded, and the
    result is compared with ``X``. PCA with ``n_components = latent_dim``, fitted on ``X_fit``,
    gives the classical baseline at the same bit budget: its scores are quantised the same way.

    Parameters
    ----------
    estimator : fitted Autoencoder or VAE
        Anything with ``transform`` and ``inverse_transform``.
    X : array-like
        The samples to compress, in the shape the estimator was fitted on.
    dtypes : sequence of {"float32", "float16", "int8"}, default=("float32", "float16", "int8")
        Storage types to compare.
    X_fit : array-like, optional
        Data to fit PCA on, with ``X``'s features; by default ``X`` itself, which is the best
        linear code for these very samples (an optimistic baseline). Pass the estimator's
        training data for a like-for-like comparison.
    pca : bool, default=True
        Add the PCA rows (needs ``latent_dim <= min(n_samples, n_features)`` of ``X_fit``).
    random_state : int or None, default=0
        Seed of PCA's solver (only its randomised solver, for large data, draws numbers).

    Returns
    -------
    CompressionReport
        One :class:`CompressionRow` per (method, dtype), the estimator's first. Sizes: bits
        per sample are ``latent_dim * bits per code``; the int8 side information (a float32
        scale and offset per dimension) is per data set, in ``side_bytes``; model weights are
        not counted. Ratios compare with the raw samples as float32 and, for data in [0, 1]
        or 8-bit data (pixels, normally stored as bytes, against which the float32 ratio
        flatters 4x), as 8-bit values. Distortion: squared error summed over each sample's
        values, averaged over the samples, in the data's units, and for pixel data the PSNR
        of the mean squared error over all values (see :func:`psnr`), with peak 1 for [0, 1]
        data and the type's range (255, 65535) for 8- and 16-bit data that the model scaled
        by it.

    Examples
    --------
    >>> from aekit import Autoencoder
    >>> from aekit.datasets import load_digits
    >>> from aekit.tasks import compression_report
    >>> X, _ = load_digits()
    >>> ae = Autoencoder(latent_dim=8, epochs=2, random_state=0, verbose=False).fit(X)
    >>> report = compression_report(ae, X)
    >>> [(r.method, r.dtype, r.bits_per_sample) for r in report][:3]
    [('aekit', 'float32', 256), ('aekit', 'float16', 128), ('aekit', 'int8', 64)]
    >>> report.row("pca", "int8").ratio_float32
    32.0
    >>> print(report.to_text())  # doctest: +ELLIPSIS
    1797 samples of 64 values, codes of 8 dimensions
    method dtype     bits/sample  side bytes  vs float32  vs 8-bit  SSE/sample  PSNR dB
    aekit  float32           256           0        8.0x      2.0x ...
    ...
    pca    int8               64          64       32.0x      8.0x ...
    distortion aekit/PCA at the same size: float32 ..., float16 ..., int8 ...
    ...
    """
    _check_codec(estimator)
    dtypes = _check_dtypes(dtypes)
    Z = estimator.transform(X)
    rows_X = _rows(X, "X")
    n_samples, n_features = rows_X.shape
    latent_dim = int(Z.shape[1])
    # The peak value of pixel data: 1 for data in [0, 1]; for 8- or 16-bit data the model
    # scaled by its type's range, that range (255, 65535).
    scaling = getattr(estimator, "scaling_", None)
    peak: float | None = 1.0 if in_unit_interval(rows_X) else None
    if scaling is not None and scaling.kind == "range" and not np.any(scaling.offset):
        peak = float(np.max(scaling.scale))
    unit = peak in (1.0, 255.0)  # bytes are the raw size: the 8-bit ratio applies

    def row(method: str, q: QuantizedCodes, R: np.ndarray) -> CompressionRow:
        bits = q.bits_per_sample
        return CompressionRow(
            method=method,
            dtype=q.dtype,
            bits_per_sample=bits,
            side_bytes=q.side_bytes,
            ratio_float32=32 * n_features / bits,
            ratio_8bit=8 * n_features / bits if unit else None,
            sse=float(summed_squared_error(rows_X, R).mean()),
            psnr=psnr(rows_X, R, data_range=peak) if peak is not None else None,
        )

    rows = []
    for dtype in dtypes:
        q = quantize(Z, dtype)
        rows.append(row("aekit", q, estimator.inverse_transform(dequantize(q))))
    if pca:
        rows_fit = rows_X if X_fit is None else _rows(X_fit, "X_fit")
        if rows_fit.shape[1] != n_features:
            raise ValueError(f"X_fit has {rows_fit.shape[1]} values per sample, X has {n_features}")
        if latent_dim > min(rows_fit.shape):
            raise ValueError(
                f"PCA at the same size needs {latent_dim} components, more than "
                f"min(n_samples, n_features) = {min(rows_fit.shape)} of the data it is fitted "
                "on; pass pca=False"
            )
        baseline = PCA(latent_dim, random_state=random_state).fit(rows_fit)
        scores = baseline.transform(rows_X)
        for dtype in dtypes:
            q = quantize(scores, dtype)
            rows.append(row("pca", q, baseline.inverse_transform(dequantize(q))))
    return CompressionReport(rows, n_samples, n_features, latent_dim, unit)
