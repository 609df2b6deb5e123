"""Fashion-MNIST (Xiao, Rasul, Vollgraf, Zalando Research, MIT licence): 60,000 + 10,000 clothing images,
28 x 28 uint8, ten classes, a drop-in replacement for MNIST.

``load_data`` returns Keras' ``((x_train, y_train), (x_test, y_test))``, shapes ``(N, 28, 28)`` and ``(N,)``,
uint8. It reads, in this order: the folder given as ``path``; the cache (``$RNNKIT_DATA/fashion-mnist`` or
``~/.cache/rnnkit/fashion-mnist``); the files of Debian's ``dataset-fashion-mnist`` package
(``/usr/share/datasets/fashion-mnist/``, ``apt-get install dataset-fashion-mnist``); else it downloads the four
IDX files into the cache, checking each one's size and SHA-256. ``$RNNKIT_FASHION_MNIST_MIRRORS`` or
``mirrors=`` replace the built-in mirrors.

Label ``i`` is ``CLASS_NAMES[i]``:

>>> from rnnkit.datasets import fashion_mnist
>>> fashion_mnist.CLASS_NAMES[9]
'Ankle boot'
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from rnnkit.datasets.download import DEFAULT_TIMEOUT, RemoteFile, mirrors_from_env
from rnnkit.datasets.mnist import load_idx_dataset

# Sizes and SHA-256 of the gzip files published by Zalando Research (their MD5s are in the project's README).
FILES = (
    RemoteFile("train-images-idx3-ubyte.gz", 26_421_880,
               "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
    RemoteFile("train-labels-idx1-ubyte.gz", 29_515,
               "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
    RemoteFile("t10k-images-idx3-ubyte.gz", 4_422_102,
               "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
    RemoteFile("t10k-labels-idx1-ubyte.gz", 5_148,
               "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
)
MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # the project's own download links
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",  # its repository
)
MIRRORS_ENV = "RNNKIT_FASHION_MNIST_MIRRORS"
SUBDIR = "fashion-mnist"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian/Ubuntu package dataset-fashion-mnist
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
OFFLINE_HINT = (
    "Working offline? Install Debian's package (apt-get install dataset-fashion-mnist), or pass path= a folder "
    "holding the four IDX files (.gz or uncompressed); for digits, rnnkit.datasets.mnist_sample.load_data() "
    "needs no download."
)


def load_data(path: str | os.PathLike | None = None, *, mirrors: Sequence[str] | None = None,
              timeout: float = DEFAULT_TIMEOUT, hint: str | None = None):
    """Load Fashion-MNIST as ``((x_train, y_train), (x_test, y_test))``, uint8, shapes ``(60000, 28, 28)``,
    ``(60000,)``, ``(10000, 28, 28)``, ``(10000,)``.

    Args:
        path: a folder that holds the four IDX files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
            ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each ``.gz`` or uncompressed). When given,
            nothing else is searched and nothing is downloaded. ``None`` (default): cache, Debian folder, download.
        mirrors: base URLs to download from, in order (default: ``$RNNKIT_FASHION_MNIST_MIRRORS`` or ``MIRRORS``).
        timeout: seconds to wait for a mirror before trying the next.
        hint: the sentence that ends a download error (default ``OFFLINE_HINT``).

    Raises:
        DataError: a file is missing from ``path`` or is not a valid IDX file.
        NetworkError: the files are nowhere on this machine and no mirror delivered them intact.
    """
    return load_idx_dataset(FILES, SUBDIR, path=path, local_dirs=(DEBIAN_DIR,),
                            mirrors=mirrors or mirrors_from_env(MIRRORS_ENV, MIRRORS),
                            timeout=timeout, hint=OFFLINE_HINT if hint is None else hint)


def load_test_data(path: str | os.PathLike | None = None, *, mirrors: Sequence[str] | None = None,
                   timeout: float = DEFAULT_TIMEOUT, hint: str | None = None):
    """Only the test split ``(x_test, y_test)``: the training files are neither read nor downloaded."""
    return load_idx_dataset(FILES, SUBDIR, path=path, local_dirs=(DEBIAN_DIR,),
                            mirrors=mirrors or mirrors_from_env(MIRRORS_ENV, MIRRORS),
                            timeout=timeout, hint=OFFLINE_HINT if hint is None else hint, only_test=True)
