"""``timeseries_dataset_from_array``: sliding windows over a series, as ``keras.utils.timeseries_dataset_from_array``.

Window ``i`` starts at data index ``s_i = start_index + p_i`` with ``p_i = 0, sequence_stride, 2 * sequence_stride,
...`` and holds the rows

    x_i = data[s_i], data[s_i + r], ..., data[s_i + (sequence_length - 1) * r]      (r = sampling_rate)

with the target ``y_i = targets[s_i]`` (``targets[j]`` is the target of the window that *starts* at ``j``: to
predict the step after a window of length L, pass ``targets = data[L:]`` with ``data = data[:-L]``). Only rows
before ``end_index`` are used. The result is an iterable of NumPy batches ``(x, y)`` (or ``x`` without targets)
that ``Model.fit``, ``evaluate`` and ``predict`` accept directly.

>>> import numpy as np
>>> series = np.arange(10.0)
>>> dataset = timeseries_dataset_from_array(series[:-3], series[3:], sequence_length=3, batch_size=4)
>>> len(dataset)
2
>>> x, y = next(iter(dataset))
>>> x[0], y[0]
(array([0., 1., 2.]), np.float64(3.0))
"""
from __future__ import annotations

import numbers

import numpy as np

from rnnkit.errors import ConfigError, ShapeError


def _integer(name: str, value, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"`{name}` must be an integer{' or None' if allow_none else ''}. Received: {name}={value!r}")
    return int(value)


class TimeseriesDataset:
    """The windows of ``timeseries_dataset_from_array``: iterate for batches, ``len()`` for the number of batches,
    ``arrays()`` for all windows at once (``(x, y)``, or ``x`` without targets).

    Windows are gathered batch by batch (a window is never copied before its batch is asked for). Iterating twice
    gives the same batches in the same order (Keras' ``tf.data`` version also reshuffles locally, within 8
    batches, on each pass; ``Model.fit`` reshuffles a shuffled dataset's samples every epoch instead).

    >>> dataset = timeseries_dataset_from_array(np.arange(6), None, sequence_length=4, batch_size=None)
    >>> [window.tolist() for window in dataset]
    [[0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5]]
    """

    def __init__(self, data, targets, starts, sequence_length: int, sampling_rate: int, batch_size, shuffle: bool):
        self.data = data
        self.targets = targets
        self.starts = starts  # (N,) absolute data index of each window's first row, in the order served
        self.offsets = np.arange(sequence_length) * sampling_rate  # (L,) rows of a window after its first
        self.batch_size = batch_size
        self.shuffle = shuffle

    @property
    def num_samples(self) -> int:
        return len(self.starts)

    def __len__(self) -> int:
        if self.batch_size is None:
            return self.num_samples
        return -(-self.num_samples // self.batch_size)

    def _gather(self, starts):
        x = self.data[starts[:, None] + self.offsets]  # (B, L, ...) windows
        if self.targets is None:
            return x
        return x, self.targets[starts]  # (B, ...) targets

    def __iter__(self):
        if self.batch_size is None:
            for start in self.starts:
                out = self._gather(np.array([start]))
                yield tuple(a[0] for a in out) if isinstance(out, tuple) else out[0]
            return
        for first in range(0, self.num_samples, self.batch_size):
            yield self._gather(self.starts[first:first + self.batch_size])

    def arrays(self):
        """Every window at once, in the order served: ``(x, y)`` with ``x`` of shape ``(N, sequence_length,
        ...)``, or ``x`` alone when the dataset has no targets."""
        return self._gather(self.starts)

    def __repr__(self) -> str:
        return (f"TimeseriesDataset(samples={self.num_samples}, sequence_length={len(self.offsets)}, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, targets={self.targets is not None})")


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1, sampling_rate=1, batch_size=128,
                                  shuffle=False, seed=None, start_index=None, end_index=None) -> TimeseriesDataset:
    """Sliding windows over ``data`` (time along axis 0) with Keras' arguments, checks and messages.

    Args:
        data: array of shape ``(T, ...)``.
        targets: ``targets[j]`` is the target of the window starting at ``data[j]``, or None (batches are ``x``).
        sequence_length: rows per window.
        sequence_stride: steps between the starts of successive windows.
        sampling_rate: steps between successive rows of a window.
        batch_size: windows per batch (the last may be smaller); None yields single windows.
        shuffle: serve the windows in the order of ``numpy.random.RandomState(seed).shuffle`` (Keras' order of
            window starts); ``seed`` None draws one from NumPy's global generator, as Keras does.
        start_index, end_index: only rows ``start_index <= j < end_index`` enter windows (end exclusive).

    Returns:
        a ``TimeseriesDataset`` (iterable of NumPy batches; ``Model.fit/evaluate/predict`` accept it as ``x``).
    """
    data = np.asarray(data)
    if data.ndim == 0:
        raise ShapeError(f"`data` must be an array with time along axis 0; got a scalar {data!r}")
    sequence_length = _integer("sequence_length", sequence_length)
    sequence_stride = _integer("sequence_stride", sequence_stride)
    sampling_rate = _integer("sampling_rate", sampling_rate)
    start_index = _integer("start_index", start_index, allow_none=True)
    end_index = _integer("end_index", end_index, allow_none=True)
    batch_size = _integer("batch_size", batch_size, allow_none=True)
    if batch_size is not None and batch_size < 1:
        raise ConfigError(f"`batch_size` must be a positive integer or None. Received: batch_size={batch_size}")
    if sequence_length < 1:
        raise ConfigError(f"`sequence_length` must be higher than 0. Received: sequence_length={sequence_length}")
    length = len(data)
    # Keras' checks, in Keras' order and words (a start or end of 0 is not checked, as in Keras)
    if start_index:
        if start_index < 0:
            raise ConfigError(f"`start_index` must be 0 or greater. Received: start_index={start_index}")
        if start_index >= length:
            raise ConfigError("`start_index` must be lower than the length of the data. Received: "
                              f"start_index={start_index}, for data of length {length}")
    if end_index:
        if start_index and end_index <= start_index:
            raise ConfigError("`end_index` must be higher than `start_index`. Received: "
                              f"start_index={start_index}, and end_index={end_index}")
        if end_index >= length:
            raise ConfigError("`end_index` must be lower than the length of the data. Received: "
                              f"end_index={end_index}, for data of length {length}")
        if end_index <= 0:
            raise ConfigError(f"`end_index` must be higher than 0. Received: end_index={end_index}")
    if sampling_rate <= 0:
        raise ConfigError(f"`sampling_rate` must be higher than 0. Received: sampling_rate={sampling_rate}")
    if sampling_rate >= length:
        raise ConfigError("`sampling_rate` must be lower than the length of the data. Received: "
                          f"sampling_rate={sampling_rate}, for data of length {length}")
    if sequence_stride <= 0:
        raise ConfigError(f"`sequence_stride` must be higher than 0. Received: sequence_stride={sequence_stride}")
    if sequence_stride >= length:
        raise ConfigError("`sequence_stride` must be lower than the length of the data. Received: "
                          f"sequence_stride={sequence_stride}, for data of length {length}")
    start = 0 if start_index is None else start_index
    end = length if end_index is None else end_index
    count = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        targets = np.asarray(targets)
        if targets.ndim == 0:
            raise ShapeError(f"`targets` must be an array (one target per window start) or None; got {targets!r}")
        count = min(count, len(targets))
    positions = np.arange(0, max(count, 0), sequence_stride, dtype=np.int64)  # window starts, relative to start
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        np.random.RandomState(seed).shuffle(positions)
    starts = positions + start
    if targets is not None and len(starts) and starts.max() >= len(targets):
        raise ShapeError(f"`targets` has {len(targets)} entries but the window starting at data index "
                         f"{int(starts.max())} needs targets[{int(starts.max())}] (targets[j] is the target of the "
                         "window starting at data[j])")
    return TimeseriesDataset(data, targets, starts, sequence_length, sampling_rate, batch_size, bool(shuffle))
