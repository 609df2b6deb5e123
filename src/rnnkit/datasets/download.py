"""Download data files once, into a cache, checked against a known size and SHA-256.

The cache directory is ``$RNNKIT_DATA`` when that is set, else ``~/.cache/rnnkit``; each data set has a
sub-folder (``mnist/``, ``fashion-mnist/``). A file is fetched from each mirror in turn until one delivers it
whole: the body streams into a temporary file beside the target while its SHA-256 is computed, and only a
body of the expected size and checksum is renamed into place (``os.replace``, atomic), so the cache never holds
a partial or corrupt file. Every failure is a :class:`rnnkit.errors.NetworkError` that lists what each mirror
answered (refused, timed out, truncated, wrong checksum).

>>> cache_dir("mnist").name
'mnist'
>>> mirrors_from_env("RNNKIT_NO_SUCH_VAR", ("https://example.org/a/",))
('https://example.org/a/',)
"""
from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rnnkit.errors import NetworkError

DEFAULT_TIMEOUT = 30.0  # seconds without a byte from the server before a mirror is given up
_CHUNK = 1 << 16


@dataclass(frozen=True)
class RemoteFile:
    """A file the loaders may download: its name on the mirrors, its size in bytes and its SHA-256.

    >>> RemoteFile("t10k-labels-idx1-ubyte.gz", 4542, "f7ae" + "0" * 60).name
    't10k-labels-idx1-ubyte.gz'
    """

    name: str
    size: int
    sha256: str


def cache_dir(subdir: str = "") -> Path:
    """The cache folder: ``$RNNKIT_DATA/<subdir>`` if ``RNNKIT_DATA`` is set, else ``~/.cache/rnnkit/<subdir>``."""
    root = os.environ.get("RNNKIT_DATA") or os.path.join(os.path.expanduser("~"), ".cache", "rnnkit")
    return Path(root) / subdir if subdir else Path(root)


def mirrors_from_env(var: str, default: Sequence[str]) -> tuple[str, ...]:
    """Base URLs from the environment variable ``var`` (comma or space separated), else ``default``."""
    value = os.environ.get(var, "").replace(",", " ").split()
    return tuple(value) if value else tuple(default)


def fetch(remote: RemoteFile, mirrors: Sequence[str], subdir: str, timeout: float = DEFAULT_TIMEOUT,
          hint: str = "", verbose: bool = True) -> Path:
    """Return the cached copy of ``remote``, downloading it from the first mirror that delivers it intact.

    A file already in the cache is used as is: it got there only after its size and SHA-256 were checked.

    Args:
        remote: name, size and SHA-256 of the file.
        mirrors: base URLs tried in order; the file's URL is ``mirror.rstrip("/") + "/" + remote.name``.
        subdir: the data set's folder inside :func:`cache_dir`.
        timeout: seconds to wait for the server (connection and each read) before trying the next mirror.
        hint: a sentence appended to the error when every mirror fails (how to do without the download).
        verbose: print one line to stderr when a mirror answers and the download starts.

    Raises:
        NetworkError: no mirror delivered the file with the expected size and SHA-256.
    """
    folder = cache_dir(subdir)
    target = folder / remote.name
    if target.is_file():
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise NetworkError(f"cannot create the cache folder {str(folder)!r} ({e}); set RNNKIT_DATA to a "
                           "writable folder") from None
    if not mirrors:
        raise NetworkError(f"no mirror configured for {remote.name}. {hint}".strip())
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + remote.name
        try:
            download(url, target, remote, timeout, verbose=verbose)
            return target
        except NetworkError as e:
            failures.append(f"{url}: {e}")
    # One line, so that a command-line tool can print it as is.
    raise NetworkError(f"could not download {remote.name} from any of {len(mirrors)} mirror(s) ("
                       + "; ".join(failures) + ")" + (f". {hint}" if hint else ""))


def download(url: str, target: Path, remote: RemoteFile, timeout: float = DEFAULT_TIMEOUT,
             verbose: bool = False) -> None:
    """Stream ``url`` to a temporary file beside ``target``, check size and SHA-256, then rename it to ``target``.

    Raises:
        NetworkError: the server could not be reached, timed out, or sent a body of the wrong size or checksum.
    """
    download_to(url, Path(target), size=remote.size, file_hash=remote.sha256, timeout=timeout, verbose=verbose,
                name=remote.name)


MAX_UNSIZED = 1 << 36  # 64 GiB: the most a download of unknown size may bring


def download_to(url: str, target: Path, size: int | None = None, file_hash: str | None = None,
                algorithm: str = "sha256", timeout: float = DEFAULT_TIMEOUT, verbose: bool = False,
                name: str | None = None) -> str:
    """Stream ``url`` into a temporary file beside ``target``; only a body of the expected ``size`` (when given)
    and hash (``file_hash`` under ``algorithm``, when given) is renamed to ``target`` (atomically). Returns the
    body's hex digest under ``algorithm``.

    Raises:
        NetworkError: the server could not be reached, timed out, or sent a body of the wrong size or hash.
    """
    target = Path(target)
    name = name or target.name
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            got, digest = _stream(url, out, size, timeout, verbose, hashlib.new(algorithm))
        limit = MAX_UNSIZED if size is None else size
        if size is not None and got < size:
            raise NetworkError(f"truncated download: got {got:,} of {size:,} bytes")
        if got > limit:
            raise NetworkError(f"body larger than expected: more than {limit:,} bytes")
        if file_hash is not None and digest != file_hash.lower():
            raise NetworkError(f"{algorithm.upper().replace('SHA', 'SHA-')} mismatch: got {digest}, expected "
                               f"{file_hash} (corrupt download or the server sends a different file)")
        os.chmod(tmp, 0o644)  # mkstemp made it private; a cached data file is readable like any other
        os.replace(tmp, target)
        return digest
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _stream(url: str, out, size: int | None, timeout: float, verbose: bool = False, hasher=None) -> tuple[int, str]:
    """Copy at most ``size + 1`` bytes (``MAX_UNSIZED + 1`` when ``size`` is None) of ``url`` into ``out``;
    return the byte count and the hex digest (SHA-256 unless ``hasher`` is given)."""
    sha = hasher if hasher is not None else hashlib.sha256()
    got = 0
    limit = MAX_UNSIZED if size is None else size
    shown = "unknown size" if size is None else f"{size:,} bytes"
    of = "" if size is None else f" of {size:,}"
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "rnnkit"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if verbose:
                print(f"rnnkit: downloading {url} ({shown})", file=sys.stderr)
            while got <= limit:
                chunk = response.read(min(_CHUNK, limit + 1 - got))
                if not chunk:
                    break
                sha.update(chunk)
                out.write(chunk)
                got += len(chunk)
            announced = (response.headers.get("Content-Length") or "").strip()
            if size is None and announced.isdigit() and got < int(announced):
                raise NetworkError(f"truncated download: got {got:,} of the {int(announced):,} bytes announced")
    except NetworkError:
        raise
    except ValueError as e:  # "unknown url type": a mirror without http:// or https://
        raise NetworkError(f"invalid URL ({e})") from None
    except urllib.error.HTTPError as e:
        raise NetworkError(f"HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise NetworkError(f"cannot connect ({e.reason})") from None
    except TimeoutError:
        raise NetworkError(f"timed out after {timeout} s without data (got {got:,}{of} bytes)") from None
    except OSError as e:  # connection reset or refused mid-body
        raise NetworkError(f"connection failed after {got:,}{of} bytes ({e})") from None
    except http.client.HTTPException as e:  # IncompleteRead, a malformed status line, ...
        raise NetworkError(f"bad HTTP response after {got:,}{of} bytes ({type(e).__name__}: {e})") from None
    return got, sha.hexdigest()
