"""Text helpers for recurrent models: parallel streams for truncated back-propagation through time, and sampling.

- ``rnnkit.text.streams``: ``stream_batches`` cuts one long id sequence into ``batch_size`` parallel streams so
  that a ``stateful=True`` model trained with ``shuffle=False`` carries each row's state into the next batch;
  ``ResetStatesEachEpoch`` starts every epoch (and every validation pass) from zero states; ``stream_evaluate``
  gives a model's loss over a whole sequence read in order.
- ``rnnkit.text.sampling``: ``sample_text`` runs a trained character model step by step from a prime text,
  carrying its recurrent states, with ``temperature``, ``top_k`` and ``seed``.

>>> import numpy as np
>>> from rnnkit.text import stream_batches
>>> x, y = stream_batches(np.arange(13), batch_size=2, seq_len=3)
>>> x.tolist(), y.tolist()
([[0, 1, 2], [6, 7, 8], [3, 4, 5], [9, 10, 11]], [[1, 2, 3], [7, 8, 9], [4, 5, 6], [10, 11, 12]])
"""
from rnnkit.text.streams import ResetStatesEachEpoch, stepping_copy, stream_batches, stream_evaluate, stream_length

__all__ = [
    "stream_batches", "stream_length", "stream_evaluate", "stepping_copy", "ResetStatesEachEpoch", "sample_text",
]


def __getattr__(name):
    if name == "sample_text":  # imported on use: sampling needs the models package
        from rnnkit.text.sampling import sample_text

        return sample_text
    raise AttributeError(f"module 'rnnkit.text' has no attribute {name!r}")
