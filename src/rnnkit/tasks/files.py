"""Reading the text files users give the applications, with one-line errors that say what was expected.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "notes.txt")
>>> _ = open(path, "wb").write(b"caf\\xc3\\xa9\\n")
>>> read_utf8(path, "a text file")
'café\\n'
>>> _ = open(path, "wb").write(b"\\x7fELF\\x00\\x01")
>>> read_utf8(path, "a text file")
Traceback (most recent call last):
...
rnnkit.errors.DataError: ... is a binary file (it holds NUL bytes); expected a text file
"""
from __future__ import annotations

import os

from rnnkit.errors import DataError


def read_utf8(path: str, expected: str, missing: str | None = None) -> str:
    """The UTF-8 text of ``path``; ``DataError`` naming the file and ``expected`` (what it should hold) for a
    missing file (``missing``, if given, is that message), a folder, NUL bytes or bytes that are not UTF-8."""
    if not os.path.exists(path):
        raise DataError(missing or f"no such file: {path} (expected {expected})")
    if os.path.isdir(path):
        raise DataError(f"{path} is a folder; expected {expected}")
    with open(path, "rb") as f:
        raw = f.read()
    if b"\x00" in raw:
        raise DataError(f"{path} is a binary file (it holds NUL bytes); expected {expected}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not UTF-8 text (byte {error.start} cannot be decoded); expected {expected}") \
            from None
