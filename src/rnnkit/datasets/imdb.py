"""IMDB movie reviews (Maas et al. 2011) as Keras ships them: 25,000 + 25,000 reviews, each a list of word
indices (most frequent word = 1), labelled 0 (negative) or 1 (positive).

``load_data`` and ``get_word_index`` have Keras' names, arguments, defaults and results
(``keras.datasets.imdb``): the same files (``imdb.npz``, ``imdb_word_index.json`` from Keras' public bucket,
checked by the hashes Keras checks), fetched through :func:`rnnkit.utils.get_file` into
``$RNNKIT_DATA/datasets`` (else ``~/.cache/rnnkit/datasets``), the same shuffle (``np.random.RandomState(seed)``,
train then test), the same index shift, start and out-of-vocabulary marks, and the same ``maxlen`` and
``num_words`` filtering (``tests/datasets/test_imdb.py`` compares with Keras on the same file).

``imdb.npz`` stores its reviews as NumPy object arrays, which NumPy writes as pickle streams; rnnkit reads them
with :mod:`rnnkit.datasets.npy_objects`, which accepts only lists of integers and never unpickles.

``$RNNKIT_KERAS_DATASETS`` (a base URL) replaces Keras' bucket, e.g. for a local mirror.

>>> from rnnkit.datasets import imdb
>>> imdb.ORIGIN_FOLDER
'https://storage.googleapis.com/tensorflow/tf-keras-datasets/'
"""
from __future__ import annotations

import json
import os
import zipfile

import numpy as np

from rnnkit.datasets.npy_objects import read_list_array
from rnnkit.errors import DataError

ORIGIN_FOLDER = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
ORIGIN_ENV = "RNNKIT_KERAS_DATASETS"
NPZ_HASH = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"  # Keras' SHA-256 of imdb.npz
WORD_INDEX_HASH = "bfafd718b763782e994055a2d397834f"  # Keras' MD5 of imdb_word_index.json
MAX_MEMBER_BYTES = 1 << 30


def _origin(name: str, origin_folder) -> str:
    folder = origin_folder or os.environ.get(ORIGIN_ENV) or ORIGIN_FOLDER
    return folder.rstrip("/") + "/" + name


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1, oov_char=2,
              index_from=3, *, origin_folder=None, file_hash=NPZ_HASH, cache_dir=None):
    """Load IMDB as ``((x_train, y_train), (x_test, y_test))``, exactly as ``keras.datasets.imdb.load_data``.

    Args:
        path: the file's name in the cache (``datasets/`` under rnnkit's data cache).
        num_words: keep the ``num_words`` most frequent words (indices below it); others become ``oov_char``.
            None: all words (as in Keras, the largest index present is then the bound, and itself excluded).
        skip_top: indices below it become ``oov_char`` too.
        maxlen: drop (not truncate) every sequence whose length with the start mark is not below ``maxlen``.
        seed: the shuffle's seed (``np.random.RandomState``; train first, then test).
        start_char: the mark put before each sequence (None: no mark).
        oov_char: the mark of dropped words (None: dropped words are removed).
        index_from: added to every word index (0 pad, 1 start, 2 OOV are reserved with the default 3).
        origin_folder: base URL of the files (default ``$RNNKIT_KERAS_DATASETS`` or Keras' bucket).
        file_hash: the expected SHA-256 of the file (Keras' by default; None: not checked).
        cache_dir: the cache root (default ``$RNNKIT_DATA`` or ``~/.cache/rnnkit``).

    Returns:
        ``x_*``: object arrays of lists of ints; ``y_*``: int arrays of 0/1.

    Raises:
        NetworkError: the download failed or the file's hash differs.
        DataError: the file is not a Keras IMDB archive (or holds anything but lists of integers).
        ValueError: ``maxlen`` keeps no sequence (Keras' error).
    """
    from rnnkit.utils.files import get_file

    path = get_file(fname=path, origin=_origin("imdb.npz", origin_folder), file_hash=file_hash,
                    cache_dir=cache_dir)
    x_train, labels_train, x_test, labels_test = _read_npz(path)

    rng = np.random.RandomState(seed)
    indices = np.arange(len(x_train))
    rng.shuffle(indices)
    x_train = [x_train[i] for i in indices]
    labels_train = labels_train[indices]
    indices = np.arange(len(x_test))
    rng.shuffle(indices)
    x_test = [x_test[i] for i in indices]
    labels_test = labels_test[indices]

    if start_char is not None:
        x_train = [[start_char] + [w + index_from for w in x] for x in x_train]
        x_test = [[start_char] + [w + index_from for w in x] for x in x_test]
    elif index_from:
        x_train = [[w + index_from for w in x] for x in x_train]
        x_test = [[w + index_from for w in x] for x in x_test]
    else:
        x_train = [list(x) for x in x_train]
        x_test = [list(x) for x in x_test]

    if maxlen:
        x_train, labels_train = _shorter_than(maxlen, x_train, labels_train)
        x_test, labels_test = _shorter_than(maxlen, x_test, labels_test)
        if not x_train or not x_test:
            raise ValueError(f"After filtering for sequences shorter than maxlen={maxlen}, no sequence was kept. "
                             "Increase maxlen.")

    xs = x_train + x_test
    labels = np.concatenate([labels_train, labels_test])
    if not num_words:
        num_words = max(max(x) for x in xs)
    if oov_char is not None:
        xs = [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    else:
        xs = [[w for w in x if skip_top <= w < num_words] for x in xs]

    split = len(x_train)
    x_train, y_train = np.array(xs[:split], dtype="object"), labels[:split]
    x_test, y_test = np.array(xs[split:], dtype="object"), labels[split:]
    return (x_train, y_train), (x_test, y_test)


def _shorter_than(maxlen: int, sequences: list, labels) -> tuple:
    """The sequences (and their labels) strictly shorter than ``maxlen``, as Keras' ``remove_long_seq``."""
    kept = [i for i, x in enumerate(sequences) if len(x) < maxlen]
    return [sequences[i] for i in kept], labels[np.asarray(kept, dtype=np.int64)]


def _read_npz(path: str) -> tuple:
    """``(x_train, y_train, x_test, y_test)`` of a Keras IMDB ``.npz``, read without unpickling."""
    from rnnkit.models.saving import parse_npy

    names = ("x_train", "y_train", "x_test", "y_test")
    try:
        with zipfile.ZipFile(path) as archive:
            members = {}
            for name in names:
                try:
                    info = archive.getinfo(name + ".npy")
                except KeyError:
                    raise DataError(f"{path} is not Keras' imdb.npz: it has no {name}.npy (it holds "
                                    f"{', '.join(archive.namelist()[:6])})") from None
                if info.file_size > MAX_MEMBER_BYTES:
                    raise DataError(f"{path}: {name}.npy declares {info.file_size:,} bytes; more than an IMDB "
                                    "array can hold")
                members[name] = archive.read(info)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise DataError(f"{path} is not a readable .npz archive ({error})") from None
    x_train = read_list_array(members["x_train"], f"{path}: x_train")
    x_test = read_list_array(members["x_test"], f"{path}: x_test")
    labels = []
    for name, xs in (("y_train", x_train), ("y_test", x_test)):
        y = parse_npy(members[name], f"{path}: {name}")
        if y.ndim != 1 or y.dtype.kind not in "iu" or len(y) != len(xs):
            raise DataError(f"{path}: {name} is {y.dtype} {y.shape}; expected {len(xs)} integer labels")
        labels.append(y)
    return x_train, labels[0], x_test, labels[1]


def get_word_index(path="imdb_word_index.json", *, origin_folder=None, file_hash=WORD_INDEX_HASH,
                   cache_dir=None) -> dict:
    """The word -> index dictionary of ``load_data``'s indices (before ``index_from`` is added), as
    ``keras.datasets.imdb.get_word_index``.

    >>> index = {"the": 1, "and": 2}  # the shape of the result
    >>> inverted = {i + 3: word for word, i in index.items()}  # index_from=3, as load_data's default
    >>> inverted[5]
    'and'
    """
    from rnnkit.utils.files import get_file

    path = get_file(fname=path, origin=_origin("imdb_word_index.json", origin_folder), file_hash=file_hash,
                    cache_dir=cache_dir)
    try:
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
    except (ValueError, UnicodeDecodeError) as error:
        raise DataError(f"{path} is not a JSON word index ({error})") from None
    if not isinstance(index, dict):
        raise DataError(f"{path} holds a {type(index).__name__}; expected a word -> index object")
    return index
