"""Read a digit image for ``rnnkit predict``: a PNG (decoded here with zlib, no imaging library) or a .npy.

Only what a digit image needs: 8-bit non-interlaced PNG, grayscale, RGB, with or without alpha. Sizes are
bounded before decompression, so a hostile file cannot make it allocate without limit.

>>> import numpy as np, os, tempfile
>>> from rnnkit.cli.images import write_png_gray, read_image
>>> path = os.path.join(tempfile.mkdtemp(), "digit.png")
>>> write_png_gray(path, np.arange(28 * 28, dtype=np.uint8).reshape(28, 28))
>>> image = read_image(path)
>>> image.shape, image.dtype.name, float(image.max()) <= 1.0
((28, 28), 'float32', True)
"""
from __future__ import annotations

import os
import struct
import zlib

import numpy as np

from rnnkit.errors import DataError
from rnnkit.fileio import atomic_write

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_SIDE = 2048
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # PNG colour type -> samples per pixel


def read_image(path) -> np.ndarray:
    """A 2-D float32 image in [0, 1] from a PNG or .npy file (uint8 .npy is scaled by 1/255)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f"image file not found: {path}")
    if path.lower().endswith(".npy"):
        return _read_npy(path)
    with open(path, "rb") as f:
        head = f.read(8)
    if head != PNG_SIGNATURE:
        raise DataError(f"{path} is neither a PNG image nor a .npy array (it does not start with the PNG signature)")
    return _decode_png(path)


MAX_NPY_BYTES = 1 << 28  # an image array far larger than MAX_SIDE x MAX_SIDE is refused before reading


def _read_npy(path: str) -> np.ndarray:
    from rnnkit.models.saving import parse_npy

    size = os.path.getsize(path)
    if size > MAX_NPY_BYTES:
        raise DataError(f"{path} holds {size:,} bytes; an image .npy is expected to be at most {MAX_NPY_BYTES:,}")
    with open(path, "rb") as f:
        data = f.read()
    try:
        array = parse_npy(data, path)  # header checked against the file's length; no pickles
    except DataError as exc:
        raise DataError(f"{path} is not a readable .npy array: {exc}") from None
    if array.dtype.kind not in "uif":
        raise DataError(f"{path} holds {array.dtype} values; expected numbers")
    array = np.squeeze(array)
    if array.ndim != 2:
        raise DataError(f"{path} holds an array of shape {array.shape}; expected one 2-D image such as (28, 28)")
    if array.dtype == np.uint8:
        return (array / 255.0).astype(np.float32)
    array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise DataError(f"{path} contains NaN or infinite values")
    if array.max() > 1.0:  # 0..255 stored as numbers
        array = array / 255.0
    return array


def _chunks(data: bytes, path: str):
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length:
            raise DataError(f"{path} is a truncated PNG (chunk {kind!r} cut short)")
        yield kind, body
        pos += 12 + length
        if kind == b"IEND":
            return
    raise DataError(f"{path} is a truncated PNG (no IEND chunk)")


def _decode_png(path: str) -> np.ndarray:
    with open(path, "rb") as f:
        data = f.read()
    header, idat = None, []
    for kind, body in _chunks(data, path):
        if kind == b"IHDR":
            if len(body) != 13:
                raise DataError(f"{path} is not a valid PNG (IHDR chunk of {len(body)} bytes; expected 13)")
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
    if header is None:
        raise DataError(f"{path} is not a valid PNG (no IHDR chunk)")
    width, height, depth, colour, _, _, interlace = header
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise DataError(f"{path}: image size {width}x{height} is outside 1..{MAX_SIDE} pixels per side")
    if depth != 8 or colour not in _CHANNELS or interlace != 0:
        raise DataError(
            f"{path}: unsupported PNG (bit depth {depth}, colour type {colour}, interlace {interlace}); "
            "expected an 8-bit non-interlaced grayscale or RGB(A) image"
        )
    channels = _CHANNELS[colour]
    stride = width * channels
    expected = height * (stride + 1)
    try:
        raw = zlib.decompressobj().decompress(b"".join(idat), expected + 1)
    except zlib.error as exc:
        raise DataError(f"{path}: corrupt PNG image data ({exc})") from None
    if len(raw) != expected:
        raise DataError(f"{path}: PNG image data has {len(raw)} bytes; expected {expected}")
    pixels = _unfilter(np.frombuffer(raw, np.uint8).reshape(height, stride + 1), channels, path)
    pixels = pixels.reshape(height, width, channels).astype(np.float32)  # (H, W*C) -> (H, W, C)
    colour_samples = pixels[..., :3] if channels >= 3 else pixels[..., :1]
    if colour_samples.shape[-1] == 3:
        gray = colour_samples @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    else:
        gray = colour_samples[..., 0]
    return gray / 255.0


def _unfilter(rows: np.ndarray, bpp: int, path: str) -> np.ndarray:
    """Undo PNG's per-row filters (None, Sub, Up, Average, Paeth)."""
    height, stride = rows.shape[0], rows.shape[1] - 1
    out = np.zeros((height, stride), dtype=np.int32)
    previous = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:].astype(np.int32)
        if kind == 0:
            current = line
        elif kind == 2:
            current = (line + previous) & 0xFF
        elif kind in (1, 3, 4):
            current = line.copy()
            for x in range(stride):
                left = current[x - bpp] if x >= bpp else 0
                up = previous[x]
                if kind == 1:
                    predictor = left
                elif kind == 3:
                    predictor = (left + up) >> 1
                else:
                    upper_left = previous[x - bpp] if x >= bpp else 0
                    predictor = _paeth(left, up, upper_left)
                current[x] = (current[x] + predictor) & 0xFF
        else:
            raise DataError(f"{path}: corrupt PNG (unknown row filter {kind})")
        out[y] = current
        previous = current
    return out


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def write_png_gray(path, image: np.ndarray) -> None:
    """Write a 2-D uint8 array as an 8-bit grayscale PNG (atomically)."""
    image = np.asarray(image, dtype=np.uint8)
    height, width = image.shape
    raw = b"".join(b"\x00" + image[y].tobytes() for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    with atomic_write(path) as f:
        f.write(PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
