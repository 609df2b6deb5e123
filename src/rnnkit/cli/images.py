"""Read an image for ``rnnkit predict`` (and the OCR commands): any format Pillow reads, or a ``.npy`` array.

Pillow (``pip install 'rnnkit[images]'``) decodes the file: PNG of every colour type and depth (palette, 1-bit,
16-bit, with alpha), JPEG, BMP, GIF, TIFF, WebP... The picture becomes one 2-D float32 array in [0, 1]:
colour is converted to grayscale with ITU-R 601-2 luma (Pillow's ``convert("L")``: 0.299 R + 0.587 G +
0.114 B), 16-bit gray keeps its precision (``value / 65535``), a palette is looked up, 1-bit pixels become
0 or 1. Transparency is ignored (the colour under it is read).

The size is bounded before any pixel is decoded: at most ``MAX_SIDE`` pixels per side (Pillow reads only the
header in ``Image.open``), and Pillow's own decompression-bomb check (``Image.MAX_IMAGE_PIXELS``) is turned
into the same clear error. A file that is not an image, or is truncated or corrupt, gets one line naming it.

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
import warnings
import zlib

import numpy as np

from rnnkit.errors import DataError
from rnnkit.fileio import atomic_write

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_SIDE = 2048  # pixels per side: far above a digit or a text line, far below what exhausts memory
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N")


def read_image(path) -> np.ndarray:
    """A 2-D float32 image in [0, 1] from an image file (through Pillow) or a .npy file (uint8 .npy is scaled
    by 1/255)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f"image file not found: {path}" if not os.path.isdir(path) else
                        f"{path} is a folder; expected an image file")
    if path.lower().endswith(".npy"):
        return _read_npy(path)
    return _read_picture(path)


def _read_picture(path: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError  # the 'images' extra: main names it when missing

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as picture:  # reads the header only
                width, height = picture.size
                if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
                    raise DataError(f"{path}: image size {width}x{height} is outside 1..{MAX_SIDE} pixels per side")
                picture.load()
                return _gray(picture, path)
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
            raise DataError(f"{path}: the image is too large to decode safely ({error})") from None
        except UnidentifiedImageError:
            raise DataError(f"{path} is neither an image (PNG, JPEG, BMP, ... as Pillow reads them) nor a .npy "
                            "array") from None
        except (OSError, SyntaxError, ValueError, struct.error, zlib.error, EOFError) as error:
            # Pillow reports truncated or corrupt data as OSError (and a few decoders as SyntaxError/ValueError)
            raise DataError(f"{path}: the image data is truncated or corrupt ({error})") from None


def _gray(picture, path: str) -> np.ndarray:
    """The picture as float32 gray levels in [0, 1], shape (height, width)."""
    mode = picture.mode
    if mode in _SIXTEEN_BIT:
        return (np.asarray(picture, dtype=np.uint16) / 65535.0).astype(np.float32)
    if mode == "I":  # 32-bit integer: 16-bit PNGs open this way in some Pillow versions
        values = np.asarray(picture, dtype=np.int64)
        top = 65535.0 if values.max(initial=0) > 255 else 255.0
        return (np.clip(values, 0, top) / top).astype(np.float32)
    if mode == "F":
        values = np.asarray(picture, dtype=np.float32)
        if not np.all(np.isfinite(values)):
            raise DataError(f"{path} contains NaN or infinite values")
        return np.clip(values / (255.0 if values.max(initial=0) > 1.0 else 1.0), 0.0, 1.0).astype(np.float32)
    if mode == "1":
        return np.asarray(picture.convert("L"), dtype=np.float32) / 255.0
    if mode == "P":  # palette: look the colours up (with or without transparency), then to gray
        picture = picture.convert("RGBA")
    if mode == "LA":
        picture = picture.getchannel("L")
    return np.asarray(picture.convert("L"), dtype=np.float32) / 255.0


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


def write_png_gray(path, image: np.ndarray) -> None:
    """Write a 2-D uint8 array as an 8-bit grayscale PNG (atomically; no imaging library needed)."""
    image = np.asarray(image, dtype=np.uint8)
    height, width = image.shape
    raw = b"".join(b"\x00" + image[y].tobytes() for y in range(height))  # filter byte 0 (None) per row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    with atomic_write(path) as f:
        f.write(PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
