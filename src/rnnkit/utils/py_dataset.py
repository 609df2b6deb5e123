"""PyDataset (alias ``Sequence``): Keras 3's indexable dataset of batches, for ``fit`` / ``evaluate`` / ``predict``.

Subclass it, call ``super().__init__(**kwargs)``, and define ``__len__`` (the number of batches) and
``__getitem__(index)`` (one whole batch: ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``).
``on_epoch_begin`` / ``on_epoch_end`` are called around every pass, as Keras calls them. ``fit`` with the
default ``shuffle=True`` visits the batches in a new random order every epoch (the order of the batches, not of
the samples inside them); ``shuffle=False`` keeps 0, 1, 2, ...

>>> import numpy as np
>>> class Squares(PyDataset):
...     def __init__(self, batches, **kwargs):
...         super().__init__(**kwargs)
...         self.batches = batches
...     def __len__(self):
...         return self.batches
...     def __getitem__(self, index):
...         x = np.full((2, 1), float(index))
...         return x, x ** 2
>>> data = Squares(3)
>>> len(data), data[2][1].ravel().tolist(), data.num_batches
(3, [4.0, 4.0], 3)
"""
from __future__ import annotations

import itertools
import warnings


class PyDataset:
    """Base class of an indexable dataset of batches (Keras' ``keras.utils.PyDataset``).

    Args:
        workers, use_multiprocessing, max_queue_size: accepted for Keras compatibility and stored; rnnkit reads
            the batches in the training thread, one at a time.
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    def _check_super_called(self) -> None:
        if not hasattr(self, "_workers"):
            self._workers, self._use_multiprocessing, self._max_queue_size = 1, False, 10
            warnings.warn("Your `PyDataset` class should call `super().__init__(**kwargs)` in its constructor. "
                          "`**kwargs` can include `workers`, `use_multiprocessing`, `max_queue_size`. Do not pass "
                          "these arguments to `fit()`, as they will be ignored.", stacklevel=3)

    @property
    def workers(self):
        self._check_super_called()
        return self._workers

    @property
    def use_multiprocessing(self):
        self._check_super_called()
        return self._use_multiprocessing

    @property
    def max_queue_size(self):
        self._check_super_called()
        return self._max_queue_size

    def __getitem__(self, index):
        """The batch at position ``index``."""
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index) returning one batch")

    @property
    def num_batches(self):
        """The number of batches (``len(self)``), or None for an endless dataset."""
        if hasattr(self, "__len__"):
            return len(self)
        return None

    def __iter__(self):
        count = self.num_batches
        for index in (range(count) if count is not None else itertools.count()):
            yield self[index]

    def on_epoch_begin(self):
        """Called before every pass over the dataset."""

    def on_epoch_end(self):
        """Called after every pass over the dataset (and once when ``fit``/``evaluate`` start, as Keras)."""


Sequence = PyDataset  # Keras 3 exports the same class under both names
