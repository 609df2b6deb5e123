"""Data parallelism in a hand-written loop: slice the global batch, ``backward()``, all-reduce, step.

>>> import numpy as np
>>> from rnnkit.autograd import Tensor
>>> w = Tensor(np.ones(3), requires_grad=True); w.grad = np.full(3, 2.0)
>>> all_reduce_gradients([w])[0]  # without a distribution: the gradients as they are
array([2., 2., 2.])
>>> local_slice(10)
slice(0, 10, None)
"""
from __future__ import annotations

import numpy as np

from rnnkit.distribution.sharding import shard_bounds
from rnnkit.distribution.state import current
from rnnkit.errors import ConfigError


def local_slice(rows: int) -> slice:
    """The rows of a global batch of ``rows`` that this rank computes (all of them without a distribution)."""
    strategy = current()
    if strategy is None:
        return slice(0, rows)
    return slice(*shard_bounds(rows, strategy.world_size, strategy.rank))


def all_reduce_gradients(model_or_weights, op: str = "mean") -> list:
    """Combine the ``.grad`` of ``model.trainable_weights`` (or a list of weights) over the ranks, in place, and
    return them; call it after ``loss.backward()`` and before ``optimizer.apply``.

    ``op="mean"`` (PyTorch DDP's rule) averages: right when every rank's loss is the mean over an equal local
    batch. ``op="sum"`` adds: right when each rank's loss is already its share of the global loss (its sum
    divided by the global batch size, e.g. over ``local_slice(global_rows)``), which is exact for uneven shares.
    """
    if op not in ("mean", "sum"):
        raise ConfigError(f"op must be 'mean' or 'sum'; got {op!r}")
    weights = list(getattr(model_or_weights, "trainable_weights", model_or_weights))
    grads = [w.grad for w in weights]
    strategy = current()
    if strategy is None:
        return grads
    scalars = np.zeros(1)
    summed = strategy.reduce_gradients(weights, grads, scalars)
    for w, g in zip(weights, summed):
        if g is not None:
            w.grad = g / strategy.world_size if op == "mean" else np.array(g)
    return [w.grad for w in weights]
