"""Atomic file writes: a temporary file in the target's directory, flushed, fsynced, then renamed.

A crash or an exception while writing leaves the previous file intact and no temporary file behind.

>>> import os, tempfile
>>> from rnnkit.fileio import atomic_write
>>> path = os.path.join(tempfile.mkdtemp(), "notes.txt")
>>> with atomic_write(path) as f:
...     _ = f.write(b"hello")
>>> open(path, "rb").read()
b'hello'
>>> oct(os.stat(path).st_mode & 0o777) == oct(0o666 & ~_umask())
True
"""
from __future__ import annotations

import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb"):
    """Yield a file object whose contents replace ``path`` only if the block finishes without error."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the mode open() would
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (best effort; not every platform allows opening a directory)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_text(path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_write(path, "wb") as f:
        f.write(text.encode("utf-8"))
