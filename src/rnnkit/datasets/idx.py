"""Read IDX files, the array format MNIST and Fashion-MNIST are distributed in.

An IDX file is a 4-byte magic number, one big-endian uint32 per dimension, then the data, big-endian, C order:

    magic = 0x00 0x00 <type code> <number of dimensions>
    type codes: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64

``load`` accepts a raw or gzip-compressed file (recognised by its first two bytes, not by its name). It checks
the magic number, the dimensions and the body length against the header before it trusts the header, and it
never allocates more than the bytes the file really holds: a header that claims 10^12 elements over a short body
fails at once with a :class:`rnnkit.errors.DataError`, as do a bad magic number, an unknown type code, a truncated
body, trailing bytes and a corrupt gzip stream.

>>> import io, struct
>>> raw = struct.pack(">BBBBII", 0, 0, 0x08, 2, 2, 3) + bytes(range(6))
>>> load(io.BytesIO(raw))
array([[0, 1, 2],
       [3, 4, 5]], dtype=uint8)
"""
from __future__ import annotations

import gzip
import io
import os
import struct
import zlib
from typing import BinaryIO

import numpy as np

from rnnkit.errors import DataError

# type code -> big-endian dtype of the body, as in the IDX specification.
DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
MAX_NDIM = 16  # far above any real data set; bounds the header read
MAX_BYTES = 1 << 33  # 8 GiB: a header that claims more is refused before anything is read
_CHUNK = 1 << 24  # body is read in 16 MiB pieces, so memory follows the bytes really present
_GZIP_MAGIC = b"\x1f\x8b"


def load(path: str | os.PathLike | BinaryIO, max_bytes: int = MAX_BYTES) -> np.ndarray:
    """Read one IDX file (raw or gzip) into a NumPy array of the file's shape and native-endian dtype.

    Args:
        path: a file name, or an open binary file object positioned at the start of the IDX data.
        max_bytes: largest body (in bytes) accepted; a header that claims more raises ``DataError``.

    Returns:
        ``np.ndarray`` of shape ``header dims`` and dtype ``uint8``, ``int8``, ``int16``, ``int32``,
        ``float32`` or ``float64``.

    Raises:
        DataError: the file is missing, or its header, length or compression is not a valid IDX file.

    >>> import io, struct
    >>> load(io.BytesIO(struct.pack(">BBBBI", 0, 0, 0x0C, 1, 2) + struct.pack(">ii", -1, 7)))
    array([-1,  7], dtype=int32)
    """
    if isinstance(path, (str, bytes, os.PathLike)):
        name = os.fsdecode(path)
        try:
            with open(path, "rb") as f:
                return _read(f, name, max_bytes, os.fstat(f.fileno()).st_size)
        except FileNotFoundError:
            raise DataError(f"IDX file not found: {name!r}") from None
        except IsADirectoryError:
            raise DataError(f"expected an IDX file, got the directory {name!r}") from None
    return _read(path, getattr(path, "name", "<stream>"), max_bytes, None)


def _read(f: BinaryIO, name: str, max_bytes: int, file_size: int | None) -> np.ndarray:
    head = f.read(2)
    f.seek(-len(head), io.SEEK_CUR)
    if head == _GZIP_MAGIC:
        try:
            with gzip.GzipFile(fileobj=f, mode="rb") as g:
                return _parse(g, name + " (gzip)", max_bytes, None)
        except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError; truncation is an EOFError
            raise DataError(f"corrupt or truncated gzip data in {name!r}: {e}") from None
    return _parse(f, name, max_bytes, file_size)


def _parse(f: BinaryIO, name: str, max_bytes: int, file_size: int | None) -> np.ndarray:
    magic = f.read(4)
    if len(magic) < 4:
        raise DataError(f"{name!r} is not an IDX file: {len(magic)} bytes, expected at least a 4-byte magic number")
    zero0, zero1, code, ndim = magic
    if zero0 != 0 or zero1 != 0:
        raise DataError(
            f"{name!r} is not an IDX file: magic number 0x{magic.hex()}, expected 0x0000 followed by a type code "
            "and a dimension count (for example 0x00000803 for uint8 images)"
        )
    if code not in DTYPES:
        known = ", ".join(f"0x{c:02X} {d.name}" for c, d in DTYPES.items())
        raise DataError(f"{name!r}: unknown IDX type code 0x{code:02X}, expected one of {known}")
    if not 1 <= ndim <= MAX_NDIM:
        raise DataError(f"{name!r}: IDX header gives {ndim} dimensions, expected 1 to {MAX_NDIM}")
    raw_dims = f.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise DataError(f"{name!r}: IDX header truncated: {ndim} dimensions announced, file ends after "
                        f"{len(raw_dims) // 4}")
    dims = struct.unpack(f">{ndim}I", raw_dims)
    dtype = DTYPES[code]
    n_bytes = dtype.itemsize * int(np.prod(dims, dtype=object))  # Python ints: no overflow
    if n_bytes > max_bytes:
        raise DataError(f"{name!r}: IDX header claims shape {dims} of {dtype.name} = {n_bytes:,} bytes, "
                        f"more than max_bytes={max_bytes:,}; the header is corrupt or the file too large")
    held = None if file_size is None else file_size - 4 - 4 * ndim
    if held is not None and held != n_bytes:
        problem = "truncated file" if held < n_bytes else "trailing bytes"
        raise DataError(f"{name!r}: IDX header claims shape {dims} of {dtype.name} = {n_bytes:,} data bytes, "
                        f"but the file holds {held:,} ({problem} or wrong header)")
    body = _read_exactly(f, n_bytes, name, dims, dtype)
    return np.frombuffer(body, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="), copy=False)


def _read_exactly(f: BinaryIO, n_bytes: int, name: str, dims: tuple, dtype: np.dtype) -> bytearray:
    """Read ``n_bytes`` in chunks, never asking for more memory than the stream really delivers."""
    body = bytearray()
    while len(body) < n_bytes:
        chunk = f.read(min(_CHUNK, n_bytes - len(body)))
        if not chunk:
            raise DataError(f"{name!r}: IDX body truncated: header claims shape {dims} of {dtype.name} = "
                            f"{n_bytes:,} bytes, the data ends after {len(body):,}")
        body += chunk
    if f.read(1):
        raise DataError(f"{name!r}: trailing bytes after the {n_bytes:,} data bytes the IDX header announces "
                        f"(shape {dims} of {dtype.name})")
    return body
