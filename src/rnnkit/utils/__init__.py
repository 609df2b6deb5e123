"""Helpers with Keras' names: ``to_categorical``, ``pad_sequences`` and ``set_random_seed``.

>>> from rnnkit.utils import to_categorical
>>> to_categorical([0, 2], num_classes=3)
array([[1., 0., 0.],
       [0., 0., 1.]], dtype=float32)
"""
from rnnkit.random import set_random_seed
from rnnkit.utils.categorical import to_categorical
from rnnkit.utils.sequences import pad_sequences

__all__ = ["set_random_seed", "to_categorical", "pad_sequences"]
