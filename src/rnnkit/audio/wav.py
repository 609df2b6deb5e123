"""WAV files read with NumPy: RIFF chunks parsed here, samples returned as float32 in [-1, 1].

Supported: 1 or 2 channels (more are accepted too), 8-48 kHz, PCM with 8 (unsigned), 16, 24 or 32 bits, IEEE
float with 32 or 64 bits, as plain ``WAVE_FORMAT_PCM`` / ``WAVE_FORMAT_IEEE_FLOAT`` or inside
``WAVE_FORMAT_EXTENSIBLE``. Anything else (compressed encodings, a truncated or empty file, a wrong header) is a
``DataError`` of one line that names the file and what was found.

>>> import os, tempfile
>>> import numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "tone.wav")
>>> write_wav(path, np.array([0.0, 0.5, -0.5, 1.0]), 8000)
>>> samples, rate = read_wav(path)
>>> samples.dtype, rate, samples.round(3).tolist()
(dtype('float32'), 8000, [0.0, 0.5, -0.5, 1.0])
"""
from __future__ import annotations

import os
import struct

import numpy as np

from rnnkit.errors import DataError

PCM, IEEE_FLOAT, EXTENSIBLE = 0x0001, 0x0003, 0xFFFE
MIN_RATE, MAX_RATE = 8000, 48000
_KNOWN_TAGS = {0x0002: "MS ADPCM", 0x0006: "A-law", 0x0007: "mu-law", 0x0011: "IMA ADPCM", 0x0055: "MP3"}
# the sub-format GUID of WAVE_FORMAT_EXTENSIBLE ends with these 14 bytes; its first two bytes are the format tag
_GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")


def _fail(path, message: str):
    raise DataError(f"{path}: {message}")


def _chunks(data: bytes, path):
    """``(name, start, declared size)`` of each chunk after the 12-byte RIFF header."""
    position = 12
    while position + 8 <= len(data):
        name, size = struct.unpack_from("<4sI", data, position)
        yield name, position + 8, size
        position += 8 + size + (size & 1)  # chunks are padded to an even size


def _parse_format(body: bytes, path) -> tuple:
    """``(tag, channels, rate, bits)`` from a ``fmt `` chunk; the sub-format tag of EXTENSIBLE."""
    if len(body) < 16:
        _fail(path, f"the 'fmt ' chunk has {len(body)} bytes; a WAV format chunk has at least 16")
    tag, channels, rate, _, block_align, bits = struct.unpack_from("<HHIIHH", body, 0)
    if tag == EXTENSIBLE:
        if len(body) < 40:
            _fail(path, f"WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk has {len(body)} bytes; expected 40")
        guid = body[24:40]
        if guid[2:] != _GUID_TAIL:
            _fail(path, f"WAVE_FORMAT_EXTENSIBLE with unknown sub-format {guid.hex()}; expected PCM or IEEE float")
        tag = struct.unpack_from("<H", guid, 0)[0]
    if channels < 1:
        _fail(path, f"the header declares {channels} channels")
    if tag in (PCM, IEEE_FLOAT) and bits and block_align and block_align != channels * ((bits + 7) // 8):
        _fail(path, f"inconsistent header: block align {block_align} for {channels} channel(s) of {bits} bits")
    return tag, channels, rate, bits


def _decode(raw: bytes, tag: int, bits: int, path) -> np.ndarray:
    """Interleaved samples as float64 in [-1, 1]."""
    if tag == PCM:
        if bits == 8:
            return (np.frombuffer(raw, np.uint8).astype(np.float64) - 128.0) / 128.0
        if bits == 16:
            return np.frombuffer(raw, "<i2") / 32768.0
        if bits == 24:
            triples = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)  # (N, 3) little-endian bytes
            value = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
            return np.where(value >= 1 << 23, value - (1 << 24), value) / float(1 << 23)
        if bits == 32:
            return np.frombuffer(raw, "<i4") / 2147483648.0
        _fail(path, f"{bits}-bit PCM is not supported; expected 8, 16, 24 or 32 bits")
    if tag == IEEE_FLOAT:
        if bits not in (32, 64):
            _fail(path, f"{bits}-bit float is not supported; expected 32 or 64 bits")
        values = np.frombuffer(raw, "<f4" if bits == 32 else "<f8").astype(np.float64)
        if not np.all(np.isfinite(values)):
            _fail(path, "the float samples contain NaN or infinity")
        return np.clip(values, -1.0, 1.0)
    name = _KNOWN_TAGS.get(tag, "unknown")
    _fail(path, f"unsupported encoding: format tag 0x{tag:04x} ({name}); expected PCM (1), IEEE float (3) or "
                "WAVE_FORMAT_EXTENSIBLE with one of them")


def read_wav(path, mono: bool = True) -> tuple:
    """``(samples, rate)`` of the WAV file at ``path``.

    ``samples`` is float32 in [-1, 1]: shape ``(N,)`` with ``mono`` (channels averaged), else ``(N, channels)``.
    Raises ``DataError`` (one line, naming the file) for files that are not WAV, truncated, empty, or in an
    unsupported encoding or rate.
    """
    with open(path, "rb") as f:
        data = f.read()
    if len(data) == 0:
        _fail(path, "the file is empty (0 bytes); expected a RIFF/WAVE file")
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        found = data[:4].decode("latin-1")
        what = "RIFF/WAVE" if data[:4] == b"RIFF" else ("RIFX (big-endian WAV)" if data[:4] == b"RIFX" else repr(found))
        _fail(path, f"not a WAV file: the header starts with {what}; expected 'RIFF' ... 'WAVE'")
    form = None
    raw = None
    for name, start, size in _chunks(data, path):
        if name == b"fmt ":
            if start + size > len(data):
                _fail(path, f"truncated: the 'fmt ' chunk declares {size} bytes but only {len(data) - start} are "
                            "present")
            form = _parse_format(data[start:start + size], path)
        elif name == b"data":
            if form is None:
                _fail(path, "the 'data' chunk comes before the 'fmt ' chunk")
            available = len(data) - start
            if size > available:
                _fail(path, f"truncated: the 'data' chunk declares {size} bytes but only {available} are present")
            raw = data[start:start + size]
            break
    if form is None:
        _fail(path, "no 'fmt ' chunk: the file is truncated or not a WAV file")
    if raw is None:
        _fail(path, "no 'data' chunk: the file is truncated")
    tag, channels, rate, bits = form
    if not MIN_RATE <= rate <= MAX_RATE:
        _fail(path, f"sample rate {rate} Hz is not supported; expected {MIN_RATE}-{MAX_RATE} Hz")
    frame = channels * ((bits + 7) // 8)
    if len(raw) < frame:
        _fail(path, "zero length: the 'data' chunk holds no samples")
    raw = raw[: len(raw) - len(raw) % frame]  # a partial last frame (cut file) is dropped
    samples = _decode(raw, tag, bits, path).reshape(-1, channels)  # (N, channels)
    if mono:
        samples = samples.mean(axis=1)
    return samples.astype(np.float32), int(rate)


def write_wav(path, samples, rate: int, bits: int = 16, encoding: str = "pcm", extensible: bool = False) -> None:
    """Write ``samples`` (``(N,)`` or ``(N, channels)``, values in [-1, 1]) as a WAV file: ``encoding`` "pcm"
    with 8, 16, 24 or 32 bits, or "float" with 32 or 64; ``extensible`` writes WAVE_FORMAT_EXTENSIBLE."""
    from rnnkit.fileio import atomic_write

    x = np.asarray(samples, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x  # (N,) -> (N, 1)
    channels = x.shape[1]
    x = np.clip(x, -1.0, 1.0).reshape(-1)  # interleaved
    if encoding == "float":
        tag, raw = IEEE_FLOAT, x.astype("<f4" if bits == 32 else "<f8").tobytes()
    elif bits == 8:
        tag, raw = PCM, np.clip(np.round(x * 128 + 128), 0, 255).astype(np.uint8).tobytes()
    elif bits == 24:
        value = np.clip(np.round(x * (1 << 23)), -(1 << 23), (1 << 23) - 1).astype(np.int64) % (1 << 24)
        raw = np.stack([value & 255, (value >> 8) & 255, value >> 16], axis=1).astype(np.uint8).tobytes()
        tag = PCM
    else:
        scale = {16: 32768, 32: 2147483648}[bits]
        tag, raw = PCM, np.clip(np.round(x * scale), -scale, scale - 1).astype(f"<i{bits // 8}").tobytes()
    align = channels * bits // 8
    fmt = struct.pack("<HHIIHH", EXTENSIBLE if extensible else tag, channels, rate, rate * align, align, bits)
    if extensible:
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", tag) + _GUID_TAIL
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(raw)) + raw
    if len(raw) & 1:
        body += b"\0"
    with atomic_write(os.fspath(path)) as f:
        f.write(b"RIFF" + struct.pack("<I", len(body)) + body)
