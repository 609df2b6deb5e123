"""``get_file``: Keras' ``keras.utils.get_file`` (download once into a cache, check the hash, extract archives).

The cache is rnnkit's data cache, laid out as Keras lays out ``~/.keras``: a file lands in
``<cache_dir>/<cache_subdir>/<fname>``, where ``cache_dir`` defaults to ``$RNNKIT_DATA`` when set, else
``~/.cache/rnnkit`` (the folder the MNIST loaders use too; ``KERAS_HOME`` is not read, so rnnkit never writes
into Keras' cache), and ``cache_subdir`` to ``"datasets"``. An absolute ``cache_subdir`` is used as is.

Downloads go through :func:`rnnkit.datasets.download.download_to`: streamed into a temporary file beside the
target, checked (``file_hash``: SHA-256, or MD5 for a 32-digit hash, as Keras' ``hash_algorithm="auto"``), and
renamed into place atomically, so the cache never holds a partial or corrupt file. A cached file whose hash no
longer matches is downloaded again. Archives (tar, tar.gz, tar.bz2, tar.xz, zip) are extracted into a fresh
folder that replaces the old one only when complete; members that would land outside it (absolute paths, ``..``,
links pointing out, devices) are refused.

>>> import os, tempfile
>>> folder = tempfile.mkdtemp()
>>> with open(os.path.join(folder, "a.txt"), "w") as f:
...     _ = f.write("hello")
>>> path = get_file("a.txt", origin="file://" + os.path.join(folder, "a.txt"), cache_dir=folder,
...                 file_hash="2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
>>> os.path.relpath(path, folder), open(path).read()
('datasets/a.txt', 'hello')
"""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tarfile
import tempfile
import urllib.parse
import zipfile
from pathlib import Path

from rnnkit.datasets.download import DEFAULT_TIMEOUT, cache_dir as data_cache_dir, download_to
from rnnkit.errors import ConfigError, DataError, NetworkError


def resolve_hash_algorithm(algorithm: str, file_hash: str | None = None) -> str:
    """``"sha256"`` or ``"md5"``: ``"auto"`` picks SHA-256 for a 64-digit hash, else MD5 (as Keras)."""
    if algorithm == "sha256" or (algorithm == "auto" and file_hash is not None and len(file_hash) == 64):
        return "sha256"
    if algorithm in ("auto", "md5"):
        return "md5"
    raise ConfigError(f"hash_algorithm must be 'auto', 'sha256' or 'md5'; got {algorithm!r}")


def hash_file(path, algorithm: str = "sha256", chunk_size: int = 1 << 16) -> str:
    """The hex digest of the file at ``path`` (``"sha256"`` or ``"md5"``)."""
    hasher = hashlib.new(resolve_hash_algorithm(algorithm, None if algorithm != "auto" else "0" * 64))
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(path, file_hash: str, algorithm: str = "auto") -> bool:
    """Whether the file at ``path`` has the hash ``file_hash``."""
    return hash_file(path, resolve_hash_algorithm(algorithm, file_hash)) == str(file_hash).lower()


def get_file(fname=None, origin=None, untar=False, md5_hash=None, file_hash=None, cache_subdir="datasets",
             hash_algorithm="auto", extract=False, archive_format="auto", cache_dir=None, force_download=False,
             timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> str:
    """Download ``origin`` into the cache unless it is there already; return its path (or, with ``extract``,
    the folder it was extracted into).

    Args:
        fname: the file's name in the cache (default: the last part of ``origin``'s path). A name with a path
            separator is refused, as in Keras 3. With ``extract``, Keras' names: ``fname`` with an extension is
            the archive's name and ``<stem>_extracted`` the folder; without, ``<fname>_archive`` and ``<fname>``.
        origin: the URL (``http://``, ``https://``, ``file://``).
        untar: deprecated Keras spelling of ``extract=True, archive_format="tar"``.
        md5_hash: deprecated Keras spelling of ``file_hash=..., hash_algorithm="md5"``.
        file_hash: the expected SHA-256 (or MD5) hex digest; None: not checked.
        cache_subdir: the folder inside ``cache_dir`` (an absolute path is used as is).
        hash_algorithm: ``"auto"``, ``"sha256"`` or ``"md5"``.
        extract: extract a tar or zip archive.
        archive_format: ``"auto"`` (tar, then zip), ``"tar"``, ``"zip"``, or None / ``[]`` (nothing matches).
        cache_dir: the cache root (default ``$RNNKIT_DATA`` or ``~/.cache/rnnkit``).
        force_download: download again even when the file is cached.
        timeout: seconds to wait for the server.
        verbose: print one line to stderr when a download starts.

    Raises:
        ConfigError: no ``origin``, a ``fname`` with a path, an unknown ``hash_algorithm``.
        NetworkError: the download failed or its hash differs from ``file_hash``.
        DataError: the archive cannot be extracted, or a member would land outside the extraction folder.
    """
    if origin is None:
        raise ConfigError('get_file() needs origin= the URL of the file to download')
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    algorithm = resolve_hash_algorithm(hash_algorithm, file_hash)
    root = Path(os.path.expanduser(os.fspath(cache_dir))) if cache_dir is not None else data_cache_dir()
    folder = root / cache_subdir
    provided = os.fspath(fname) if fname is not None else None
    if not provided:
        provided_name = None
        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not fname:
            raise ConfigError(f"cannot take a file name from origin={origin!r}; pass fname=")
    else:
        provided_name = fname = provided
        if os.sep in fname or (os.altsep and os.altsep in fname):
            raise ConfigError(f"fname must be a file name, not a path (got fname={fname!r}); choose the folder "
                              "with cache_dir= or cache_subdir=")
    if extract or untar:
        if provided_name and "." in fname:
            target, extraction = folder / fname, folder / f"{fname[: fname.find('.')]}_extracted"
        else:
            target, extraction = folder / f"{fname}_archive", folder / fname
    else:
        target, extraction = folder / fname, None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise NetworkError(f"cannot create the cache folder {str(folder)!r} ({error.strerror or error}); set "
                           "RNNKIT_DATA or pass cache_dir= a writable folder") from None

    fetched = force_download or not target.is_file() or (
        file_hash is not None and not validate_file(target, file_hash, algorithm))
    if fetched:
        download_to(origin, target, file_hash=file_hash, algorithm=algorithm, timeout=timeout, verbose=verbose)
    if extraction is None:
        return str(target)
    if fetched or not extraction.is_dir():
        extract_archive(target, extraction, "tar" if untar else archive_format)
    return str(extraction)


def _formats(archive_format) -> list:
    if archive_format is None:
        return []
    if archive_format == "auto":
        return ["tar", "zip"]
    return [archive_format] if isinstance(archive_format, str) else list(archive_format)


def extract_archive(path, destination, archive_format="auto") -> bool:
    """Extract the tar or zip archive ``path`` into the folder ``destination`` (replaced when complete).
    Returns False when the file is none of ``archive_format``'s formats (Keras' convention)."""
    path, destination = Path(path), Path(destination)
    for kind in _formats(archive_format):
        if kind == "tar" and tarfile.is_tarfile(path):
            _extract_into(destination, lambda into: _extract_tar(path, into))
            return True
        if kind == "zip" and zipfile.is_zipfile(path):
            _extract_into(destination, lambda into: _extract_zip(path, into))
            return True
        if kind not in ("tar", "zip"):
            raise ConfigError(f"archive_format must be 'auto', 'tar', 'zip' or a list of them; got {kind!r}")
    if _formats(archive_format):
        raise DataError(f"{path} is not a {' or '.join(_formats(archive_format))} archive; cannot extract it")
    return False


def _extract_into(destination: Path, extract) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".part"))
    try:
        extract(work)
        if destination.exists():
            shutil.rmtree(destination) if destination.is_dir() else destination.unlink()
        os.replace(work, destination)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


def _inside(root: Path, name: str, archive) -> Path:
    """The path ``name`` names under ``root``; ``DataError`` when it would land anywhere else."""
    if not name or os.path.isabs(name) or name.startswith(("/", "\\")) or ":" in Path(name).parts[0]:
        raise DataError(f"{archive}: member {name!r} has an absolute path; refusing to extract it")
    resolved = (root / name).resolve()
    base = root.resolve()
    if resolved != base and base not in resolved.parents:
        raise DataError(f"{archive}: member {name!r} would be written outside the extraction folder; refusing "
                        "to extract it")
    return resolved


def _extract_tar(path: Path, into: Path) -> None:
    try:
        with tarfile.open(path) as archive:
            members = archive.getmembers()
            for member in members:
                _inside(into, member.name, path)
                if member.issym() or member.islnk():
                    base = (into / member.name).parent if member.issym() else into
                    _inside(into, os.path.relpath(os.path.normpath(base / member.linkname), into), path)
                elif not (member.isfile() or member.isdir()):
                    raise DataError(f"{path}: member {member.name!r} is a device or pipe; refusing to extract it")
            archive.extractall(into, members=members, filter="data")  # the standard library's checks as well
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DataError(f"{path}: the tar archive is damaged or unsafe ({error})") from None


def _extract_zip(path: Path, into: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                target = _inside(into, info.filename, path)
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise DataError(f"{path}: member {info.filename!r} is a symbolic link; refusing to extract it")
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out)
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as error:
        raise DataError(f"{path}: the zip archive is damaged ({error})") from None
