"""Which rows of a global batch each rank computes, and dropout masks that do not depend on the split.

Rank ``r`` of ``R`` takes the contiguous rows ``[lo, hi)`` of a global batch of ``B`` rows: ``B // R`` rows each,
plus one more for the first ``B % R`` ranks (``np.array_split``'s rule). A rank whose share is empty (``B < R``,
e.g. a last batch of 1 row on 3 ranks) computes row 0 as a stand-in with loss weight 0: it runs the same
layers (so its collectives and random draws stay in step with the others) and adds exact zeros.

Dropout: every rank holds the same layer generators (same seeds). During a sharded training step each layer's
``Generator`` is temporarily replaced by a ``SlicedGenerator`` that draws the mask for the whole global batch,
exactly as a single process would, and hands back this rank's rows. So the masks of an R-rank run are, row for
row, the masks of the one-process run, and every generator advances identically on every rank.

>>> shard_bounds(7, 3, 0), shard_bounds(7, 3, 1), shard_bounds(7, 3, 2), shard_bounds(1, 3, 2)
((0, 3), (3, 5), (5, 7), (1, 1))
>>> rng_a, rng_b = np.random.default_rng(0), np.random.default_rng(0)
>>> part = SlicedGenerator(rng_a, lo=2, hi=4, rows=5, local_rows=2).random((2, 3))
>>> bool(np.array_equal(part, rng_b.random((5, 3))[2:4]))
True
"""
from __future__ import annotations

import contextlib
import dataclasses

import numpy as np


def shard_bounds(rows: int, world: int, rank: int) -> tuple:
    """``(lo, hi)``: the rows of a global batch of ``rows`` that ``rank`` of ``world`` computes."""
    base, extra = divmod(rows, world)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (1 if rank < extra else 0)


@dataclasses.dataclass
class Shard:
    """This rank's part of one global batch."""

    rows: int  # rows in the global batch
    lo: int  # first global row of this rank
    hi: int  # one past the last
    stand_in: bool  # the share is empty: row 0 is computed with weight 0

    @property
    def local_rows(self) -> int:
        return 1 if self.stand_in else self.hi - self.lo

    @property
    def index(self) -> slice:
        return slice(0, 1) if self.stand_in else slice(self.lo, self.hi)

    def take(self, array):
        """This rank's rows of a global-batch array (a view: basic slicing), or None for None."""
        if array is None:
            return None
        return array[self.index]


def make_shard(rows: int, world: int, rank: int) -> Shard:
    lo, hi = shard_bounds(rows, world, rank)
    return Shard(rows=rows, lo=lo, hi=hi, stand_in=hi == lo)


class SlicedGenerator:
    """Stands in for a layer's ``Generator`` during a sharded step: a draw whose first axis is this rank's row
    count is drawn for the whole global batch and sliced; any other draw passes through unchanged."""

    def __init__(self, generator: np.random.Generator, lo: int, hi: int, rows: int, local_rows: int):
        self._generator, self._lo, self._hi, self._rows, self._local = generator, lo, hi, rows, local_rows

    def random(self, size=None, dtype=np.float64, out=None):
        shape = () if size is None else ((size,) if np.isscalar(size) else tuple(size))
        if out is None and shape and shape[0] == self._local:
            whole = self._generator.random((self._rows,) + shape[1:], dtype=dtype)  # (B, ...) as one process
            return whole[self._lo:self._hi] if self._hi > self._lo else whole[:1]
        return self._generator.random(size, dtype=dtype, out=out)

    def __getattr__(self, name):  # any other method: the real generator (not sliced)
        return getattr(self._generator, name)


@contextlib.contextmanager
def sliced_dropout(model, shard: Shard, generators=None):
    """Within the block, every layer generator of ``model`` (or the ``(layer, attribute, Generator)`` list
    ``generators`` from ``find_generators``) draws global-batch masks and returns ``shard``'s rows."""
    swapped = []
    for layer, attr, generator in find_generators(model) if generators is None else generators:
        setattr(layer, attr, SlicedGenerator(generator, shard.lo, shard.hi, shard.rows, shard.local_rows))
        swapped.append((layer, attr, generator))
    try:
        yield
    finally:
        for layer, attr, generator in swapped:
            object.__setattr__(layer, attr, generator)


def find_generators(model) -> list:
    """``[(layer, attribute, Generator)]`` for every NumPy Generator a layer of ``model`` holds."""
    from rnnkit.models.checkpoint import layer_generators

    found = []
    for path, attr, generator in layer_generators(model):
        layer = model
        for i in path:
            layer = layer.__dict__["_layers"][i]
        found.append((layer, attr, generator))
    return found
