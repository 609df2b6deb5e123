"""Batches that ``fit`` / ``evaluate`` / ``predict`` read one at a time: generators, iterables and PyDatasets.

``BatchFeed`` wraps what Keras 3 accepts besides arrays and reads it with Keras' ``EpochIterator`` rules:

* a **Python generator or iterator** is read once: without ``steps`` an epoch lasts until it runs out; with
  ``steps`` an epoch takes the next ``steps`` batches, carrying on where the previous epoch stopped;
* an **iterable** that is not an iterator (a list of batches, an object with ``__iter__``) is read afresh
  every pass, and its ``len()`` (if any) is the number of batches;
* a **PyDataset** (``rnnkit.utils.PyDataset``) is read by index, ``len()`` batches a pass (in a new random
  order each epoch when ``fit`` shuffles), with ``on_epoch_begin`` / ``on_epoch_end`` called as Keras calls
  them (``on_epoch_end`` also once when ``fit`` / ``evaluate`` start: Keras' ``reset``).

A batch is ``x`` (an array or a dict), ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``; a list is read as a
tuple, as Keras reads it. When the data run out before ``steps`` (or a generator without ``steps`` ends),
Keras' warning "Your input ran out of data; interrupting training..." is given and the epoch ends there.

>>> import numpy as np
>>> feed = BatchFeed([(np.ones((2, 1)), np.zeros((2, 1)))] * 3, steps=2, caller="fit()")
>>> [(step, x.shape, y.shape) for step, (x, y, sw) in feed.epoch()]
[(0, (2, 1), (2, 1)), (1, (2, 1), (2, 1))]
>>> feed.steps, feed.num_batches, feed.position
(2, 3, 2)
"""
from __future__ import annotations

import itertools
import types
import warnings

import numpy as np

from rnnkit.autograd import Tensor
from rnnkit.errors import ConfigError, ShapeError

RAN_OUT_WARNING = ("Your input ran out of data; interrupting training. Make sure that your dataset or generator can "
                   "generate at least `steps_per_epoch * epochs` batches. You may need to use the `.repeat()` "
                   "function when building your dataset.")


def _is_py_dataset(x) -> bool:
    from rnnkit.utils.py_dataset import PyDataset

    return isinstance(x, PyDataset)


def _is_leaf(value) -> bool:
    return isinstance(value, (np.ndarray, Tensor, dict))


def is_batch_data(x) -> bool:
    """Whether ``x`` is read batch by batch (a generator, iterator, iterable of batches or PyDataset) rather
    than as arrays."""
    if x is None or isinstance(x, (np.ndarray, Tensor, dict, str, bytes, tuple)) or np.isscalar(x):
        return False
    if _is_py_dataset(x) or isinstance(x, types.GeneratorType) or hasattr(x, "__next__"):
        return True
    if isinstance(x, list):  # a list of (x, y) tuples is a list of batches; any other list is array data
        return bool(x) and all(isinstance(b, tuple) and b and all(_is_leaf(a) or a is None for a in b) for b in x)
    from rnnkit.utils.timeseries import TimeseriesDataset

    return hasattr(x, "__iter__") and not isinstance(x, TimeseriesDataset) and not hasattr(x, "__array__")


def describe(x) -> str:
    if _is_py_dataset(x):
        return "PyDataset"
    if isinstance(x, types.GeneratorType):
        return "generator"
    if hasattr(x, "__next__"):
        return "iterator"
    return "iterable of batches"


def unpack_batch(batch, caller: str):
    """``(x, y, sample_weight)`` of one batch, as Keras' ``unpack_x_y_sample_weight``."""
    if isinstance(batch, list):
        batch = tuple(batch)
    if isinstance(batch, (np.ndarray, Tensor, dict)):
        return batch, None, None
    if isinstance(batch, tuple) and len(batch) in (1, 2, 3):
        return tuple(batch) + (None,) * (3 - len(batch))
    got = f"a tuple of {len(batch)} items" if isinstance(batch, tuple) else f"{type(batch).__name__} {batch!r:.80}"
    raise ShapeError(f"{caller}: each batch must be a tuple (x,), (x, y) or (x, y, sample_weight), or an array or a "
                     f"dict of inputs; got {got}")


def check_feed_arguments(x, y, sample_weight, batch_size, caller: str) -> None:
    """Keras' rule: with batches as ``x``, the targets, weights and batch size come from the batches."""
    kind = describe(x)
    for name, value, what in (("y", y, "the targets"), ("sample_weight", sample_weight, "the sample weights")):
        if value is not None:
            raise ConfigError(f"{caller}: when providing `x` as a {kind}, `{name}` should not be passed. Instead, "
                              f"{what} should be included as part of the {kind}")
    if batch_size is not None:
        raise ConfigError(f"{caller}: `batch_size` must not be given when `x` is a {kind} (its batches are made "
                          f"already); got batch_size={batch_size!r}")


def _check_steps(steps, name: str):
    if steps is None:
        return None
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ConfigError(f"{name} must be None or a positive integer; got {steps!r}")
    return int(steps)


class BatchFeed:
    """One source of batches read epoch after epoch by Keras' rules (see the module docstring).

    Args:
        data: a generator, iterator, iterable of batches or PyDataset.
        steps: batches per epoch (``steps_per_epoch`` / ``validation_steps`` / ``steps``); None: one pass.
        shuffle: visit a PyDataset's batches in a new order every pass (``rng`` draws it); other data: ignored
            with Keras' warning.
        rng: NumPy Generator for the PyDataset order.
        caller: ``"fit()"`` ... for messages.
        cache: keep the batches of a one-shot generator read without ``steps`` and replay them in later passes
            (validation data).
    """

    def __init__(self, data, steps=None, shuffle=False, rng=None, caller="fit()", steps_name="steps",
                 cache=False, warn_shuffle=False):
        self.data = data
        self.caller = caller
        self.kind = describe(data)
        self.steps_arg = _check_steps(steps, steps_name)
        self.py_dataset = _is_py_dataset(data)
        self.one_shot = not self.py_dataset and iter(data) is data if hasattr(data, "__next__") else False
        if self.py_dataset:
            self.num_batches = data.num_batches
            if self.num_batches is not None:
                self.num_batches = int(self.num_batches)
                if self.num_batches < 0:
                    raise ShapeError(f"{caller}: the PyDataset's len() is {self.num_batches}; expected >= 0")
        elif not self.one_shot and hasattr(data, "__len__"):
            self.num_batches = len(data)
        else:
            self.num_batches = None
        self.shuffle = bool(shuffle) and self.py_dataset and self.num_batches is not None
        if shuffle and warn_shuffle and not self.shuffle:
            warnings.warn(f"`shuffle=True` was passed, but will be ignored since the data `x` was provided as a "
                          f"{self.kind}. The {self.kind} is expected to yield already-shuffled data.", stacklevel=3)
        self.rng = rng if rng is not None else np.random.default_rng()
        self.cache = cache and self.one_shot and self.steps_arg is None
        self._cached = None
        self._iterator = None
        self._seen = 0  # batches read from the current pass
        self.order = None  # the current pass's PyDataset order (None: 0, 1, 2, ...)
        self.exhausted = False  # a one-shot generator ran out: it has nothing more to give
        self.batches_read = 0

    @property
    def steps(self):
        """Batches per epoch, or None when unknown (a generator without ``steps``)."""
        return self.steps_arg or self.num_batches

    @property
    def position(self) -> int:
        """Batches already read from the current pass (where a resumed PyDataset pass continues)."""
        return self._seen if self._iterator is not None else 0

    # ----------------------------------------------------------------------------- passes
    def _new_pass(self, order=None, start=0):
        self._seen = start
        if self.py_dataset:
            if order is None and self.shuffle:
                order = self.rng.permutation(self.num_batches)
            self.order = order
            indices = range(start, self.num_batches) if self.num_batches is not None else itertools.count(start)
            return (self.data[int(i) if order is None else int(order[i])] for i in indices)
        if self.one_shot:
            if self._cached is not None and self.exhausted:
                return iter(self._cached)
            if self.cache:
                self._cached = []
            return iter(self.data)
        return iter(self.data)

    def restore(self, order, position: int) -> None:
        """Continue a PyDataset pass at batch ``position`` of ``order`` (a resumed ``fit``)."""
        if self.py_dataset and position > 0:
            self._iterator = self._new_pass(order, position)

    def reset(self) -> None:
        """Keras' ``EpochIterator.reset``: drop the current pass and call the PyDataset's ``on_epoch_end``."""
        self._iterator = None
        self._seen = 0
        if self.py_dataset:
            self.data.on_epoch_end()

    def _next(self):
        try:
            batch = next(self._iterator)
        except StopIteration:
            warnings.warn(RAN_OUT_WARNING, stacklevel=4)
            if self.num_batches is None:
                self.num_batches = self._seen
            if self.one_shot:
                self.exhausted = True
            self._iterator = None
            return None
        if self._cached is not None and not self.exhausted:
            self._cached.append(batch)
        self._seen += 1
        self.batches_read += 1
        return unpack_batch(batch, self.caller)

    def peek(self) -> None:
        """What Keras does before the first ``fit`` / ``evaluate`` of a freshly compiled model (it reads one
        batch to build the metrics): for a PyDataset, ``on_epoch_begin()`` and ``data[0]``."""
        if self.py_dataset and self.num_batches != 0:
            self.data.on_epoch_begin()
            self.data[0]

    def epoch(self, first: int = 0):
        """Yield ``(step, (x, y, sample_weight))`` for one epoch (from step ``first`` when a resumed epoch
        continues), calling the PyDataset's hooks around it."""
        if self.py_dataset:
            self.data.on_epoch_begin()
        per_epoch = self.steps
        if per_epoch:
            if self._iterator is None or self.steps_arg is None and self._seen == 0:
                self._iterator = self._new_pass()
            for step in range(first, per_epoch):
                if self.num_batches and self._seen >= self.num_batches:
                    if self.steps_arg:
                        warnings.warn(RAN_OUT_WARNING, stacklevel=3)
                    break
                batch = self._next()
                if batch is None:
                    break
                yield step, batch
            if self.num_batches and self._seen >= self.num_batches:
                self._iterator = None
                self._seen = 0
        else:
            self._iterator = self._new_pass()
            for step in itertools.count(first):
                batch = self._next()
                if batch is None:
                    break
                yield step, batch
        if self.py_dataset:
            self.data.on_epoch_end()


class ArrayFeed(BatchFeed):
    """Prepared arrays read with ``steps_per_epoch``, by Keras' rules: an epoch takes the next
    ``steps_per_epoch`` batches, carrying on in the current pass; every pass reshuffles the samples when
    ``shuffle`` (``order`` is then the pass's sample permutation, saved in checkpoints).

    >>> import numpy as np
    >>> feed = ArrayFeed([np.arange(5.0)[:, None]], False, [np.zeros((5, 1))], None, batch_size=2, steps=2)
    >>> [[len(x) for _, (x, y, sw) in feed.epoch()] for epoch in range(2)]
    [[2, 2], [1]]
    """

    def __init__(self, xs, is_list, ys, sw, batch_size, steps, shuffle=False, rng=None):
        self.xs, self.is_list, self.ys, self.sw, self.batch_size = xs, is_list, ys, sw, int(batch_size)
        self.samples = len(xs[0])
        self.data, self.caller, self.kind = None, "fit()", "array"
        self.steps_arg = _check_steps(steps, "steps_per_epoch")
        self.py_dataset = self.one_shot = self.cache = self.exhausted = False
        self.num_batches = -(-self.samples // self.batch_size)
        self.shuffle = bool(shuffle)
        self.rng = rng if rng is not None else np.random.default_rng()
        self._cached, self._iterator, self._seen, self.order, self.batches_read = None, None, 0, None, 0

    def _new_pass(self, order=None, start=0):
        self._seen = start
        if order is None and self.shuffle:
            order = self.rng.permutation(self.samples)
        self.order = order
        return self._batches(order, start)

    def _batches(self, order, start):
        for step in range(start, self.num_batches):
            index = slice(step * self.batch_size, (step + 1) * self.batch_size)
            if order is not None:
                index = order[index]
            x = [a[index] for a in self.xs]
            y = [a[index] for a in self.ys]
            yield (x if self.is_list else x[0], y if len(y) > 1 else y[0], None if self.sw is None else self.sw[index])

    def restore(self, order, position: int) -> None:
        if position > 0:
            self._iterator = self._new_pass(order, position)
