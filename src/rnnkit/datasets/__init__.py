"""Data sets with Keras' ``load_data()`` shape, and the IDX reader they share.

- :mod:`~rnnkit.datasets.mnist`: MNIST digits, from a folder, the cache, or a checked download.
- :mod:`~rnnkit.datasets.fashion_mnist`: Fashion-MNIST, also found in Debian's ``dataset-fashion-mnist``.
- :mod:`~rnnkit.datasets.mnist_sample`: 8,000 + 2,000 real MNIST digits shipped with rnnkit (no network).
- :mod:`~rnnkit.datasets.idx`: ``idx.load(path)`` reads one IDX file, raw or gzip.
- :mod:`~rnnkit.datasets.imdb`: Keras' IMDB reviews as word indices (``load_data``, ``get_word_index``).

Every ``load_data()`` returns ``((x_train, y_train), (x_test, y_test))`` as uint8 arrays.

>>> from rnnkit import datasets
>>> (x_train, y_train), (x_test, y_test) = datasets.mnist_sample.load_data()
>>> x_train.shape, int(y_train.max())
((8000, 28, 28), 9)
"""
from rnnkit.datasets import fashion_mnist, idx, imdb, mnist, mnist_sample

__all__ = ["fashion_mnist", "idx", "imdb", "mnist", "mnist_sample"]
