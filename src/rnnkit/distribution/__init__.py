"""Data-parallel training on several processes or machines (``torch.distributed``, gloo backend, ``torchrun``).

Keras 3's API: ``set_distribution(DataParallel())`` once (before building the model), then the unchanged
``fit``, ``evaluate`` and ``predict`` split every global batch (``batch_size`` is the global size) across the
ranks; a run under ``torchrun`` with more than one process picks a ``DataParallel`` up by itself. The results
equal one process's on the same global batches: weights, logged losses and metrics, dropout masks, predictions
(see ``steps`` and ``sharding``). Only rank 0 prints progress and writes checkpoints. torch is imported only
when a strategy connects (``pip install 'rnnkit[distributed]'``).

A custom loop calls ``all_reduce_gradients(model)`` after ``loss.backward()``; ``local_slice(rows)`` says
which rows of a global batch this rank computes.

>>> from rnnkit import distribution
>>> distribution.distribution() is None, distribution.is_chief(), distribution.world_size()
(True, True, 1)
"""
from rnnkit.distribution.custom_loop import all_reduce_gradients, local_slice
from rnnkit.distribution.data_parallel import DataParallel, RankFailedError, set_distribution
from rnnkit.distribution.state import current as distribution
from rnnkit.distribution.state import is_chief, rank, world_size

__all__ = ["DataParallel", "RankFailedError", "all_reduce_gradients", "distribution", "is_chief", "local_slice",
           "rank", "set_distribution", "world_size"]
