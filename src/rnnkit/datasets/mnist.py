"""MNIST handwritten digits (LeCun, Cortes, Burges): 60,000 training and 10,000 test images, 28 x 28 uint8.

``load_data`` returns Keras' ``((x_train, y_train), (x_test, y_test))``: ``x`` of shape ``(N, 28, 28)`` and ``y`` of
shape ``(N,)``, both ``uint8``. It reads, in this order: the folder given as ``path``; the cache
(``$RNNKIT_DATA/mnist`` or ``~/.cache/rnnkit/mnist``); else it downloads the four standard IDX files into the
cache, checking each one's size and SHA-256. Mirrors are tried in turn; ``$RNNKIT_MNIST_MIRRORS`` (base URLs,
comma or space separated) or the ``mirrors=`` argument replace the built-in list.

Without network, use :mod:`rnnkit.datasets.mnist_sample` (8,000 + 2,000 real MNIST digits shipped inside rnnkit).

>>> from rnnkit.datasets import mnist
>>> [f.name for f in mnist.FILES]  # doctest: +NORMALIZE_WHITESPACE
['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz',
 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rnnkit.datasets import idx
from rnnkit.datasets.download import DEFAULT_TIMEOUT, RemoteFile, cache_dir, fetch, mirrors_from_env
from rnnkit.errors import DataError

# Sizes and SHA-256 of the gzip files as distributed since 1998 (the same bytes on every mirror below).
FILES = (
    RemoteFile("train-images-idx3-ubyte.gz", 9_912_422,
               "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    RemoteFile("train-labels-idx1-ubyte.gz", 28_881,
               "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    RemoteFile("t10k-images-idx3-ubyte.gz", 1_648_877,
               "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    RemoteFile("t10k-labels-idx1-ubyte.gz", 4_542,
               "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
)
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",  # PyTorch's mirror
    "https://storage.googleapis.com/cvdf-datasets/mnist/",  # TensorFlow's mirror
    "http://yann.lecun.com/exdb/mnist/",  # the original page (often refuses downloads)
)
MIRRORS_ENV = "RNNKIT_MNIST_MIRRORS"
SUBDIR = "mnist"
OFFLINE_HINT = (
    "Working offline? rnnkit.datasets.mnist_sample.load_data() returns 8,000 + 2,000 real MNIST digits shipped "
    "with rnnkit, or pass path= a folder holding the four IDX files (.gz or uncompressed)."
)


def load_data(path: str | os.PathLike | None = None, *, mirrors: Sequence[str] | None = None,
              timeout: float = DEFAULT_TIMEOUT, hint: str | None = None):
    """Load MNIST as ``((x_train, y_train), (x_test, y_test))``, uint8, shapes ``(60000, 28, 28)``, ``(60000,)``,
    ``(10000, 28, 28)``, ``(10000,)``.

    Args:
        path: a folder that holds the four IDX files ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
            ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each gzip (``.gz``) or uncompressed. When
            given, nothing is downloaded. ``None`` (default): the cache, else a download into the cache.
        mirrors: base URLs to download from, in order (default: ``$RNNKIT_MNIST_MIRRORS`` or ``MIRRORS``).
        timeout: seconds to wait for a mirror before trying the next.
        hint: the sentence that ends a download error (default ``OFFLINE_HINT``; the command line names its own
            ways).

    Raises:
        DataError: a file is missing from ``path`` or is not a valid IDX file.
        NetworkError: the files are not cached and no mirror delivered them intact; the message names
            ``rnnkit.datasets.mnist_sample`` and ``path=`` as offline alternatives.
    """
    return load_idx_dataset(FILES, SUBDIR, path=path, mirrors=mirrors or mirrors_from_env(MIRRORS_ENV, MIRRORS),
                            timeout=timeout, hint=OFFLINE_HINT if hint is None else hint)


def load_test_data(path: str | os.PathLike | None = None, *, mirrors: Sequence[str] | None = None,
                   timeout: float = DEFAULT_TIMEOUT, hint: str | None = None):
    """Only the test split ``(x_test, y_test)``, as ``load_data`` finds or downloads it: the two training files
    are neither read nor downloaded."""
    return load_idx_dataset(FILES, SUBDIR, path=path, mirrors=mirrors or mirrors_from_env(MIRRORS_ENV, MIRRORS),
                            timeout=timeout, hint=OFFLINE_HINT if hint is None else hint, only_test=True)


def load_idx_dataset(files: Sequence[RemoteFile], subdir: str, path=None, local_dirs: Sequence[Path] = (),
                     mirrors: Sequence[str] = (), timeout: float = DEFAULT_TIMEOUT, hint: str = "",
                     num_classes: int = 10, only_test: bool = False):
    """Load a four-file IDX data set (train images, train labels, test images, test labels).

    Looks in ``path`` only when it is given; otherwise in the cache folder ``subdir``, then in each of
    ``local_dirs``, and downloads what the cache lacks from ``mirrors``. With ``only_test`` only the last two
    files are looked for (and downloaded), and ``(x_test, y_test)`` is returned.
    """
    if only_test:
        files = tuple(files)[2:]
    if path is not None:
        folder = Path(path)
        if not folder.is_dir():
            raise DataError(f"path={os.fspath(path)!r} is not a folder; expected a folder holding "
                            + ", ".join(f.name for f in files) + " (gzip or uncompressed)")
        found = find_files(folder, files)
        missing = [f.name for f, p in zip(files, found, strict=True) if p is None]
        if missing:
            raise DataError(f"path={os.fspath(path)!r} lacks {', '.join(missing)} (gzip or uncompressed)")
        return _read(found, num_classes, only_test)
    for folder in (cache_dir(subdir), *local_dirs):
        found = find_files(folder, files)
        if all(p is not None for p in found):
            return _read(found, num_classes, only_test)
    paths = [fetch(f, mirrors, subdir, timeout=timeout, hint=hint) for f in files]
    return _read(paths, num_classes, only_test)


def _read(paths, num_classes: int, only_test: bool):
    if only_test:  # the test pair checked as read_arrays checks it
        return read_arrays([paths[0], paths[1], paths[0], paths[1]], num_classes)[1]
    return read_arrays(paths, num_classes)


def find_files(folder: Path, files: Sequence[RemoteFile]) -> list[Path | None]:
    """Each file's path in ``folder`` as ``name.gz``, ``name``, or ``name`` with ``-idx`` spelled ``.idx``."""
    found = []
    for f in files:
        stem = f.name.removesuffix(".gz")
        alt = stem.replace("-idx", ".idx")  # the spelling of some re-distributions (train-images.idx3-ubyte)
        names = (f.name, stem, alt + ".gz", alt)
        found.append(next((folder / n for n in names if (folder / n).is_file()), None))
    return found


def read_arrays(paths: Sequence[Path], num_classes: int = 10):
    """Read the four IDX files and check they form a labelled image set: ``((x, y), (x, y))`` uint8."""
    x_train, y_train, x_test, y_test = (idx.load(p) for p in paths)
    for x, y, px, py in ((x_train, y_train, paths[0], paths[1]), (x_test, y_test, paths[2], paths[3])):
        if x.dtype != np.uint8 or x.ndim != 3:
            raise DataError(f"{str(px)!r}: expected uint8 images of shape (N, rows, cols), got {x.dtype} {x.shape}")
        if y.dtype != np.uint8 or y.ndim != 1:
            raise DataError(f"{str(py)!r}: expected uint8 labels of shape (N,), got {y.dtype} {y.shape}")
        if len(x) != len(y):
            raise DataError(f"{str(px)!r} holds {len(x)} images but {str(py)!r} holds {len(y)} labels")
        if y.size and int(y.max()) >= num_classes:
            raise DataError(f"{str(py)!r}: label {int(y.max())} found, expected labels 0 to {num_classes - 1}")
    return (x_train, y_train), (x_test, y_test)
