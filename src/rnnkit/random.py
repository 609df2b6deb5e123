"""Seeds for everything random in rnnkit (initial weights, dropout masks, shuffling).

Each random thing owns a NumPy ``Generator``. It is seeded from an explicit ``seed`` argument when one is given,
otherwise from the package's seed stream, which ``set_random_seed`` makes reproducible, as
``keras.utils.set_random_seed`` does.

>>> from rnnkit.random import set_random_seed, next_seed
>>> set_random_seed(7); a = next_seed()
>>> set_random_seed(7); a == next_seed()
True
"""
from __future__ import annotations

import numpy as np

_stream = np.random.default_rng()


def set_random_seed(seed: int) -> None:
    """Make every later unseeded initializer, dropout layer and shuffle reproducible."""
    global _stream
    _stream = np.random.default_rng(int(seed))


def next_seed() -> int:
    """A fresh seed drawn from the package's seed stream."""
    return int(_stream.integers(0, 2**31 - 1))


def generator(seed: int | None = None) -> np.random.Generator:
    """A Generator from ``seed``, or from the package's seed stream when ``seed`` is None."""
    return np.random.default_rng(next_seed() if seed is None else int(seed))


def get_state() -> dict:
    """The seed stream's state (a JSON-able dict), for checkpoints: ``set_state`` continues it exactly."""
    return _stream.bit_generator.state


def set_state(state: dict) -> None:
    """Continue the seed stream from a ``get_state()`` result."""
    global _stream
    stream = np.random.default_rng()
    stream.bit_generator.state = state
    _stream = stream
